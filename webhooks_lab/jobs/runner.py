"""The job runner: accept work now, finish it later, on the lab loop.

``lab.jobs.submit(fn, *args, **kwargs)`` hands back a :class:`Job` at once, before the work has
even started. The job runs on the lab loop (a plain function runs in a worker thread, so it can
never freeze the lab's server) and moves through ``queued → running → succeeded | failed |
cancelled``. Meanwhile the cell that submitted it is free: it can look at ``job.status`` and
``job.progress``, ``job.wait()`` for it, ``await job``, or ask to be called back when it is done.

A job reports its own progress: give the function a parameter named ``progress`` and call it::

    async def encode(frames, *, progress):
        for frame in range(frames):
            await asyncio.sleep(0.01)
            progress(frame + 1, of=frames)
        return f"{frames} frames"

    job = lab.jobs.submit(encode, 120)

Kinds of job registered by name (``lab.jobs.register("video.encode", fn)``) can also be started by
name with checked parameters, from Python (``lab.jobs.start(...)``) or over HTTP
(``POST /jobs``, see :mod:`webhooks_lab.jobs.api`), and a job started with a ``callback_url``
sends a signed ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` webhook when it ends.

The runner bounds everything it holds: at most ``concurrency`` jobs run at once, at most
``queue_size`` wait (one more is refused with :class:`QueueFull`, never queued without bound), and
only the newest ``keep`` finished jobs are remembered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import ipaddress
import json
import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from webhooks_lab import signing
from webhooks_lab.events import Event, iso_utc, new_id
from webhooks_lab.jobs.params import (
    INJECTED,
    InvalidParams,
    object_schema,
    schema_from_signature,
    validate,
)
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.loop import LabLoop

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

Listener = Callable[["Job"], Any]
#: Sends a completion webhook: ``await notify(url, event, secret=...)``. The lab and
#: ``webhooks-lab serve`` pass their sender's ``deliver_to`` (signed, retried, logged);
#: a runner made without one uses :func:`post_once`.
Notify = Callable[..., Awaitable[Any]]

_KIND_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


# -- what can go wrong ----------------------------------------------------------------------------


class JobError(Exception):
    """Base class of the runner's own errors."""


class QueueFull(JobError):
    """The queue is full: come back later (``retry_after`` seconds is a fair guess)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobCancelled(JobError):
    """Raised by ``job.wait()`` / ``await job`` for a cancelled job (and to a job told to stop)."""


class JobTimeout(JobError, TimeoutError):
    """The job ran longer than its timeout; the job failed with this as its exception."""


class UnknownKind(JobError, LookupError):
    """No job kind is registered under that name."""

    def __init__(self, kind: str, known: list[str]) -> None:
        listed = ", ".join(known) or "none yet"
        super().__init__(f"there is no job kind {kind!r}; registered kinds: {listed}")
        self.kind, self.known = kind, known


class CallbackRefused(JobError, ValueError):
    """The callback URL is not one the lab will send to (it only talks to loopback)."""


class IdempotencyConflict(JobError):
    """An Idempotency-Key was reused for a different request."""

    def __init__(self, key: str, job: Job) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request "
            f"(job {job.id}); use a new key for new work"
        )
        self.key, self.job = key, job


# -- a job and how it reports ---------------------------------------------------------------------


class Progress:
    """Handed to a job function that has a parameter named ``progress``: say how far along it is.

    ``progress(40)`` means 40 %; ``progress(3, of=10)`` means 30 %; a message may ride along:
    ``progress(3, "frame 3 of 10", of=10)``. It works from async jobs and from plain functions in a
    thread alike. Once the job is cancelled or has timed out, calling it raises
    :class:`JobCancelled` (or :class:`JobTimeout`): that is how a plain function in a thread, which
    nothing can interrupt from outside, learns to stop. ``progress.stopped`` asks without raising.
    """

    __slots__ = ("_runner", "_job", "_pending", "_scheduled")

    def __init__(self, runner: JobRunner, job: Job) -> None:
        self._runner, self._job = runner, job
        self._pending: tuple[float, str | None] | None = None
        self._scheduled = False

    @property
    def stopped(self) -> bool:
        """True once the job has been cancelled or has timed out: time to stop working."""
        return self._job.status != RUNNING

    def __call__(self, done: float, message: str | None = None, *, of: float = 100) -> None:
        job = self._job
        if job.status != RUNNING:
            raise job.exception if isinstance(job.exception, JobError) else JobCancelled(job.id)
        if not of or of < 0:
            raise ValueError(f"progress(..., of={of!r}): 'of' must be a positive number")
        percent = max(0.0, min(100.0, 100.0 * float(done) / float(of)))
        runner = self._runner
        if runner._on_loop():
            runner._set_progress(job, percent, message)
            return
        # From a worker thread: hand the newest value to the loop, at most one hop in flight.
        self._pending = (percent, message)
        if not self._scheduled:
            self._scheduled = True
            runner._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, None
        if pending is not None:
            self._runner._set_progress(self._job, *pending)

    def __repr__(self) -> str:
        return f"<Progress of {self._job.id}: {self._job.progress:g}%>"


class Job:
    """One piece of work: ``id``, ``status``, ``progress`` (0-100), ``result``, ``error``.

    Times (``created_at``, ``started_at``, ``finished_at``, ``updated_at``) are lab-clock Unix
    seconds. Wait for it with ``job.wait()`` in a plain cell or ``await job`` in an async one;
    both give the result, or raise what the job raised (:class:`JobCancelled` if it was cancelled).
    """

    def __init__(
        self,
        runner: JobRunner,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        kind: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        retry_after: int = 1,
    ) -> None:
        self.id = new_job_id()
        self.kind = kind
        self.name = name or kind or getattr(fn, "__name__", None) or type(fn).__name__
        self.params = params
        self.status = QUEUED
        self.progress = 0.0
        self.message: str | None = None
        self.result: Any = None
        self.error: str | None = None
        self.exception: BaseException | None = None
        self.timeout = timeout
        self.callback_url = callback_url
        self.idempotency_key = idempotency_key
        self.retry_after = retry_after
        #: What the completion webhook's sender answered (or why it could not send).
        self.notification: Any = None
        self.created_at = self.updated_at = runner.clock.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._runner = runner
        self._call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None = (
            fn,
            args,
            kwargs,
        )
        # Made only when someone waits: most jobs in a burst are never waited on one by one.
        self._thread_waiter: concurrent.futures.Future[None] | None = None
        self._waiters: list[asyncio.Future[None] | concurrent.futures.Future[None]] = []
        self._callbacks: list[Callable[[Job], Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reporter: Progress | None = None
        self._fingerprint: str | None = None

    # -- looking -----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the job has succeeded, failed or been cancelled."""
        return self.status in FINAL

    @property
    def duration(self) -> float | None:
        """Lab seconds from start to finish (``None`` until both happened)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-ready data (times as ISO 8601), without its result."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "progress": round(self.progress, 1),
            "message": self.message,
            "error": self.error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }

    def __repr__(self) -> str:
        message = f" {self.message!r}" if self.message else ""
        if self.status == SUCCEEDED:
            shown = repr(self.result)
            tail = f" -> {shown if len(shown) <= 60 else shown[:57] + '...'}"
        elif self.error:
            tail = f" ({self.error})"
        else:
            tail = ""
        return f"<Job {self.id} {self.name} {self.status} {self.progress:.0f}%{message}{tail}>"

    # -- waiting -----------------------------------------------------------------------------

    def wait(self, timeout: float | None = 30.0) -> Any:
        """Block this (non-lab) thread until the job ends; return its result or raise its error.

        If it is still going after ``timeout`` seconds, raise ``TimeoutError``; the job goes on.
        """
        if self._runner._on_loop():
            raise RuntimeError("job.wait() would block the lab loop; use 'await job' there")
        waiter = self._thread_future()
        if waiter is not None:
            try:
                waiter.result(timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"{self.id} is still {self.status} after {timeout:g} s; it goes on "
                    "(wait longer, or stop it with job.cancel())"
                ) from None
        return self._outcome()

    def __await__(self) -> Any:
        runner = self._runner
        if runner._on_loop():
            with runner._lock:
                waiter = None if self.done else runner._loop.create_future()
                if waiter is not None:
                    self._waiters.append(waiter)
            if waiter is not None:
                yield from waiter.__await__()
        else:
            thread_waiter = self._thread_future()
            if thread_waiter is not None:
                yield from asyncio.wrap_future(thread_waiter).__await__()
        return self._outcome()

    def _thread_future(self) -> concurrent.futures.Future[None] | None:
        """A future that another thread can block on until the job ends (None if it has)."""
        with self._runner._lock:
            if self.done:
                return None
            if self._thread_waiter is None:
                self._thread_waiter = concurrent.futures.Future()
                self._waiters.append(self._thread_waiter)
            return self._thread_waiter

    def _outcome(self) -> Any:
        if self.status == SUCCEEDED:
            return self.result
        assert self.exception is not None
        raise self.exception

    def add_done_callback(self, fn: Callable[[Job], Any]) -> None:
        """Call ``fn(job)`` on the lab loop once the job ends (at once if it already has).

        An exception in ``fn`` is kept in ``runner.errors``, never raised into the lab.
        """
        runner = self._runner
        with runner._lock:
            if not self.done:
                self._callbacks.append(fn)
                return
        runner._loop.call_soon_threadsafe(runner._run_callback, fn, self)

    def cancel(self) -> bool:
        """Cancel the job if it is queued or running; ``False`` if it had already ended."""
        return self._runner.cancel(self)


@dataclass
class Kind:
    """A job kind registered by name: its function, parameters (JSON Schema) and description."""

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any]
    description: str = ""
    timeout: float | None = None
    retry_after: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "params": self.params,
            "timeout": self.timeout,
            "retry_after": self.retry_after,
        }

    def __repr__(self) -> str:
        names = ", ".join(self.params.get("properties", {})) or "no parameters"
        return f"<Kind {self.name}({names}): {self.description}>"


class Submitter:
    """What ``runner.options(timeout=...)`` returns: submit with options, kwargs stay the job's."""

    def __init__(self, runner: JobRunner, options: dict[str, Any]) -> None:
        self._runner, self._options = runner, options

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        return self._runner._submit(fn, args, kwargs, **self._options)

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[Job]:
        return [self.submit(fn, item) for item in items]


# -- the runner -----------------------------------------------------------------------------------


class JobRunner:
    """Runs jobs on an event loop: at most ``concurrency`` at once, at most ``queue_size`` waiting.

    ``loop`` is the lab loop (or ``None`` to use the loop running in this thread, as the command
    line's server does). ``timeout`` is a default per-job limit in lab seconds. ``notify`` sends
    completion webhooks; they are signed with ``secret`` (made up if not given).
    """

    def __init__(
        self,
        loop: LabLoop | None = None,
        *,
        clock: Clock | None = None,
        concurrency: int = 8,
        queue_size: int = 10_000,
        timeout: float | None = None,
        keep: int = 10_000,
        notify: Notify | None = None,
        secret: str | None = None,
    ) -> None:
        if isinstance(loop, LabLoop):
            self._loop, self._loop_thread_id = loop.loop, loop.thread.ident
        else:
            self._loop, self._loop_thread_id = asyncio.get_running_loop(), threading.get_ident()
        self.clock = clock or Clock()
        self.queue_size = queue_size
        self.timeout = timeout
        self.keep = keep
        self.notify: Notify = notify or post_once
        self.secret = secret or signing.generate_secret()
        self.errors: deque[str] = deque(maxlen=100)
        #: Recent requests the HTTP API refused, and why (see :mod:`webhooks_lab.jobs.api`).
        self.refusals: deque[dict[str, Any]] = deque(maxlen=1000)
        self.peak_running = 0
        self._concurrency = _positive(concurrency, "concurrency")
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._fresh: list[Job] = []
        self._jobs: dict[str, Job] = {}
        self._finished: deque[str] = deque()
        self._by_key: dict[str, Job] = {}
        self._kinds: dict[str, Kind] = {}
        self._listeners: list[Listener] = []
        self._counts = dict.fromkeys(STATUSES, 0)
        self._running = 0  # jobs whose status is "running"
        self._active = 0  # slots in use (a cancelled thread keeps its slot until it returns)
        self._pump_scheduled = False
        self._closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._workers = 0
        self._background: set[asyncio.Task[Any]] = set()

    # -- settings ----------------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        """How many jobs may run at once. Raise it and queued jobs start at once."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        self._concurrency = _positive(value, "concurrency")
        self._schedule_pump()

    # -- submitting --------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Queue ``fn(*args, **kwargs)`` and return its :class:`Job` at once.

        ``fn`` may be ``async def`` (it runs on the lab loop) or plain (it runs in a worker
        thread). If it has a ``progress`` parameter it gets a :class:`Progress`; a ``clock``
        parameter gets the lab clock. Raises :class:`QueueFull` if the queue is full.
        """
        return self._submit(fn, args, kwargs)

    def options(
        self,
        *,
        name: str | None = None,
        timeout: float | None = None,
        callback_url: str | None = None,
    ) -> Submitter:
        """Submit with options: ``runner.options(timeout=2).submit(fn, ...)``."""
        return Submitter(self, {"name": name, "timeout": timeout, "callback_url": callback_url})

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[Job]:
        """Fan out: one job per item, ``fn(item)``; returns the jobs in order."""
        return [self.submit(fn, item) for item in items]

    def start(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Start a registered kind by name with checked ``params``.

        Raises :class:`UnknownKind`, :class:`InvalidParams`, :class:`CallbackRefused`,
        :class:`IdempotencyConflict` or :class:`QueueFull` before anything is queued. With an
        ``idempotency_key`` already used for the same request, returns that job instead.
        """
        spec = self._kinds.get(kind) if isinstance(kind, str) else None
        if spec is None:
            raise UnknownKind(str(kind), sorted(self._kinds))
        checked = validate(spec.params, dict(params) if params is not None else None)
        url = check_callback_url(callback_url) if callback_url is not None else None
        fingerprint = json.dumps([kind, checked, url], sort_keys=True, default=repr)
        with self._lock:
            if idempotency_key is not None:
                existing = self._by_key.get(idempotency_key)
                if existing is not None:
                    if existing._fingerprint != fingerprint:
                        raise IdempotencyConflict(idempotency_key, existing)
                    return existing
            job = Job(
                self,
                spec.fn,
                (),
                checked,
                kind=spec.name,
                params=checked,
                timeout=timeout if timeout is not None else spec.timeout,
                callback_url=url,
                idempotency_key=idempotency_key,
                retry_after=spec.retry_after,
            )
            job._fingerprint = fingerprint
            self._enqueue_locked(job)
            if idempotency_key is not None:
                self._by_key[idempotency_key] = job
        self._schedule_pump()
        return job

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        name: str | None = None,
        timeout: float | None = None,
        callback_url: str | None = None,
    ) -> Job:
        if not callable(fn):
            raise TypeError(f"submit() needs a function to run, got {type(fn).__name__}")
        url = check_callback_url(callback_url) if callback_url is not None else None
        job = Job(self, fn, args, kwargs, name=name, timeout=timeout, callback_url=url)
        with self._lock:
            self._enqueue_locked(job)
        self._schedule_pump()
        return job

    def _enqueue_locked(self, job: Job) -> None:
        if self._closed:
            raise JobError("the job runner is stopped; start the lab again")
        if len(self._queue) >= self.queue_size:
            raise QueueFull(
                f"the job queue is full ({self.queue_size} waiting, {self._running} running); "
                "try again shortly",
                retry_after=1,
            )
        if job.timeout is None:
            job.timeout = self.timeout
        self._queue.append(job)
        self._fresh.append(job)
        self._jobs[job.id] = job
        self._counts[QUEUED] += 1

    # -- kinds -------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        description: str | None = None,
        timeout: float | None = None,
        retry_after: int = 1,
    ) -> Any:
        """Register a job kind by name, so it can be started by name (and over HTTP).

        ``params`` is a JSON Schema object, or just its properties
        (``{"width": {"type": "integer", "minimum": 1}}``); by default it is read from ``fn``'s
        signature. Returns the :class:`Kind`; without ``fn``, works as a decorator.
        """
        if fn is None:

            def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
                self.register(
                    name,
                    func,
                    params=params,
                    description=description,
                    timeout=timeout,
                    retry_after=retry_after,
                )
                return func

            return decorate
        if not isinstance(name, str) or not _KIND_NAME.match(name):
            raise ValueError(f"a kind name looks like 'video.encode', got {name!r}")
        if params is None:
            schema = schema_from_signature(fn)
        elif params.get("type") == "object":
            schema = dict(params)
        else:
            schema = object_schema(params)
        if description is None:
            doc = inspect.getdoc(fn) or ""
            description = doc.strip().splitlines()[0] if doc.strip() else ""
        kind = Kind(name, fn, schema, description, timeout, max(1, int(retry_after)))
        self._kinds[name] = kind
        return kind

    def kinds(self) -> list[Kind]:
        """The registered kinds, by name."""
        return [self._kinds[name] for name in sorted(self._kinds)]

    def kind(self, name: str) -> Kind | None:
        return self._kinds.get(name)

    # -- looking at jobs ---------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if the runner still remembers it."""
        return self._jobs.get(job_id)

    def by_idempotency_key(self, key: str) -> Job | None:
        return self._by_key.get(key)

    def list(self, status: str | None = None) -> list[Job]:
        """Remembered jobs, oldest first (only those with ``status``, if given)."""
        with self._lock:
            jobs = list(self._jobs.values())
        return jobs if status is None else [job for job in jobs if job.status == status]

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def queued(self) -> int:
        """Jobs waiting for a slot right now."""
        return len(self._queue)

    @property
    def running(self) -> int:
        """Jobs running right now."""
        return self._running

    def counts(self) -> dict[str, int]:
        """How many jobs are queued and running now, and how many ended each way so far."""
        return {
            QUEUED: len(self._queue),
            RUNNING: self._running,
            SUCCEEDED: self._counts[SUCCEEDED],
            FAILED: self._counts[FAILED],
            CANCELLED: self._counts[CANCELLED],
        }

    def wait_all(
        self, jobs: Iterable[Job] | None = None, timeout: float | None = 30.0
    ) -> list[Job]:
        """Fan in: block until every job (default: all remembered) has ended; return them.

        Raises ``TimeoutError`` saying how many are unfinished if ``timeout`` passes first.
        """
        if self._on_loop():
            raise RuntimeError("wait_all() would block the lab loop; use asyncio.gather there")
        jobs = self.list() if jobs is None else list(jobs)
        waiters = [w for w in (job._thread_future() for job in jobs) if w is not None]
        _, pending = concurrent.futures.wait(waiters, timeout)
        if pending:
            unfinished = f"{len(pending)} of {len(jobs)} jobs"
            raise TimeoutError(f"{unfinished} had not ended after {timeout} s")
        return jobs

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(job)`` on the lab loop at every status or progress change.

        Returns a function that unsubscribes. A listener must be quick (it runs on the loop);
        one that raises is noted in ``runner.errors`` and never breaks the runner.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def __repr__(self) -> str:
        counts = self.counts()
        kinds = ", ".join(sorted(self._kinds)) or "none"
        return (
            f"<JobRunner concurrency={self.concurrency}, queue {counts[QUEUED]}/{self.queue_size}: "
            f"{counts[RUNNING]} running, {counts[SUCCEEDED]} succeeded, {counts[FAILED]} failed, "
            f"{counts[CANCELLED]} cancelled; kinds: {kinds}>"
        )

    # -- cancelling and stopping ---------------------------------------------------------------

    def cancel(self, job: Job | str) -> bool:
        """Cancel a queued or running job; ``False`` if it had already ended (or is unknown)."""
        found = self._jobs.get(job) if isinstance(job, str) else job
        if found is None:
            return False
        if self._on_loop():
            return self._cancel(found)
        return self._call_on_loop(self._cancel, found)

    def close(self) -> None:
        """Stop: cancel what is queued and running, refuse new jobs. From outside the loop."""
        if self._on_loop():
            raise RuntimeError("close() from outside the loop; use 'await runner.aclose()' there")
        if self._loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.aclose(), self._loop)
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            future.result(5)

    async def aclose(self) -> None:
        """Stop on the loop: cancel every queued and running job and refuse new ones."""
        with self._lock:
            self._closed = True
            waiting = list(self._queue)
        for job in waiting:
            self._cancel(job, "the job runner stopped")
        remembered = self.list()
        tasks = [job._task for job in remembered if job._task and not job._task.done()]
        for job in remembered:
            if job.status == RUNNING:
                self._cancel(job, "the job runner stopped")
        if tasks:
            await asyncio.wait(tasks, timeout=1)
        for task in list(self._background):
            task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- on the loop ---------------------------------------------------------------------------

    def _on_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread_id

    def _call_on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def _schedule_pump(self) -> None:
        with self._lock:
            if self._pump_scheduled:
                return
            self._pump_scheduled = True
        if self._on_loop():
            self._loop.call_soon(self._pump)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                self._loop.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        """Announce new jobs and start queued ones while there are free slots."""
        with self._lock:
            self._pump_scheduled = False
            fresh, self._fresh = self._fresh, []
        if self._listeners:
            for job in fresh:
                self._changed(job)
        while self._active < self._concurrency:
            with self._lock:
                if not self._queue:
                    return
                job = self._queue.popleft()
            self._begin(job)

    def _begin(self, job: Job) -> None:
        now = self.clock.time()
        job.status, job.started_at, job.updated_at = RUNNING, now, now
        self._active += 1
        self._running += 1
        self.peak_running = max(self.peak_running, self._running)
        if job.timeout is not None:
            delay = max(0.0, job.timeout) / self.clock.speed
            job._timer = self._loop.call_later(delay, self._expire, job)
        job._task = self._loop.create_task(self._run(job))
        self._changed(job)

    async def _run(self, job: Job) -> None:
        try:
            result = await self._call(job)
        except asyncio.CancelledError:
            self._finish(job, CANCELLED, error="cancelled")
            if self._closed:
                raise
        except Exception as exc:
            self._finish(job, FAILED, exc=exc)
        except BaseException as exc:  # SystemExit/KeyboardInterrupt inside a job: not the lab's
            self._finish(job, FAILED, exc=exc)
        else:
            self._finish(job, SUCCEEDED, result=result)
        finally:
            self._active -= 1
            job._call = None  # let go of arguments that may be large
            if not self._closed:
                self._pump()

    async def _call(self, job: Job) -> Any:
        assert job._call is not None
        fn, args, kwargs = job._call
        wants = _injections(fn)
        if wants:
            kwargs = dict(kwargs)
            if "progress" in wants:
                kwargs["progress"] = job._reporter = Progress(self, job)
            if "clock" in wants:
                kwargs["clock"] = self.clock
        if _is_async(fn):
            return await fn(*args, **kwargs)
        result = await self._in_thread(job, functools.partial(fn, *args, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _in_thread(self, job: Job, call: Callable[[], Any]) -> Any:
        if self._executor is None or self._workers < self._concurrency:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
            self._workers = self._concurrency
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self._workers, thread_name_prefix="job-thread"
            )
        started = self._executor.submit(call)
        future = asyncio.wrap_future(started)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be stopped from outside. Keep this job's slot until it returns
            # (its next progress() call raises), so the limit counts real threads.
            if not started.cancel() and not self._closed:
                with contextlib.suppress(BaseException):
                    await asyncio.wait({future})
            raise

    def _expire(self, job: Job) -> None:
        if job.status == RUNNING:
            took = f"{job.timeout:g}" if job.timeout is not None else "?"
            error = JobTimeout(f"{job.id} took longer than its {took} s timeout and was stopped")
            self._finish(job, FAILED, exc=error)
            if job._task is not None:
                job._task.cancel()

    def _cancel(self, job: Job, why: str = "cancelled") -> bool:
        if job.done:
            return False
        if job.status == QUEUED:
            with self._lock, contextlib.suppress(ValueError):
                self._queue.remove(job)
            self._finish(job, CANCELLED, error=why)
            return True
        self._finish(job, CANCELLED, error=why)
        if job._task is not None:
            job._task.cancel()
        return True

    def _set_progress(self, job: Job, percent: float, message: str | None) -> None:
        if job.status != RUNNING:
            return
        job.progress = round(percent, 1)
        if message is not None:
            job.message = str(message)
        job.updated_at = self.clock.time()
        self._changed(job)

    def _finish(
        self,
        job: Job,
        status: str,
        *,
        result: Any = None,
        exc: BaseException | None = None,
        error: str | None = None,
    ) -> None:
        if job.status in FINAL:  # only the loop changes a status, so this check is safe
            return
        # Everything a waiter reads is set before the status says "done".
        if status == SUCCEEDED:
            job.result, job.progress = result, 100.0
        elif status == FAILED:
            assert exc is not None
            job.exception = exc
            job.error = error or _describe(exc)
        else:
            job.error = error or "cancelled"
            why = "" if job.error == "cancelled" else f" ({job.error})"
            job.exception = JobCancelled(f"{job.id} was cancelled{why}")
        job.finished_at = job.updated_at = self.clock.time()
        with self._lock:
            was = job.status
            job.status = status
            callbacks, job._callbacks = job._callbacks, []
            waiters, job._waiters = job._waiters, []
        if was == RUNNING:
            self._running -= 1
        self._counts[status] += 1
        if job._timer is not None:
            job._timer.cancel()
            job._timer = None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._remember_finished(job)
        for callback in callbacks:
            self._run_callback(callback, job)
        self._changed(job)
        if job.callback_url is not None:
            task = self._loop.create_task(self._send_completion(job))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _remember_finished(self, job: Job) -> None:
        self._finished.append(job.id)
        if len(self._finished) <= self.keep:
            return
        with self._lock:  # other threads read these dicts (list(), start())
            while len(self._finished) > self.keep:
                old = self._jobs.pop(self._finished.popleft(), None)
                if old is not None and old.idempotency_key is not None:
                    self._by_key.pop(old.idempotency_key, None)

    def _changed(self, job: Job) -> None:
        for listener in list(self._listeners):
            try:
                listener(job)
            except Exception as exc:  # a broken view must never break the runner
                self.errors.append(f"listener {_name(listener)} raised {_describe(exc)}")

    def _run_callback(self, fn: Callable[[Job], Any], job: Job) -> None:
        try:
            fn(job)
        except Exception as exc:
            self.errors.append(f"done callback {_name(fn)} for {job.id} raised {_describe(exc)}")

    async def _send_completion(self, job: Job) -> None:
        assert job.callback_url is not None
        event = completion_event(job)
        try:
            job.notification = await self.notify(job.callback_url, event, secret=self.secret)
        except Exception as exc:
            job.notification = f"not delivered: {_describe(exc)}"
            self.errors.append(f"completion webhook for {job.id} failed: {_describe(exc)}")


# -- completion webhooks --------------------------------------------------------------------------


def completion_event(job: Job) -> Event:
    """The ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` event for a finished job."""
    data = job.to_dict()
    data["result"] = jsonable(job.result) if job.status == SUCCEEDED else None
    data["links"] = {"status": f"/jobs/{job.id}", "result": f"/jobs/{job.id}/result"}
    return Event(f"job.{job.status}", data)


async def post_once(
    url: str, event: Event, *, secret: str | None = None, scheme: str = "standard"
) -> dict[str, Any]:
    """Sign ``event`` and POST it to ``url`` once; return what happened.

    The simplest notifier, for a runner made on its own: no retries, no delivery log. The lab
    and ``webhooks-lab serve`` send completion webhooks through their sender instead.
    """
    import httpx  # imported here: most labs never send a completion webhook

    body = event.body()
    timestamp = int(datetime.now(timezone.utc).timestamp())
    chosen = scheme if secret else "none"
    headers = signing.headers_for(chosen, secret, body, msg_id=event.id, timestamp=timestamp)
    headers["content-type"] = "application/json"
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answer = await client.post(check_callback_url(url), content=body, headers=headers)
    return {"status": answer.status_code, "id": event.id}


def check_callback_url(url: str) -> str:
    """Return ``url`` if the lab may send to it; raise :class:`CallbackRefused` saying why not.

    The lab only talks to its own machine (loopback: ``127.0.0.0/8``, ``::1``, ``localhost``).
    Refusing every other address is also the first defence against SSRF: a request that names
    a callback must not be able to make the lab reach into someone else's network.
    """
    if not isinstance(url, str) or not url:
        raise CallbackRefused("callback_url must be a URL string like http://127.0.0.1:8000/hook")
    if len(url) > 2048:
        raise CallbackRefused("callback_url is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise CallbackRefused(f"callback_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise CallbackRefused(f"callback_url must start with http:// or https://, got {url[:40]!r}")
    if not host:
        raise CallbackRefused("callback_url has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("callback_url must not carry a user name or password")
    if host.lower() == "localhost":
        return url
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise CallbackRefused(
            f"callback_url host {host!r} is a name, not a loopback address; the lab only sends "
            "to 127.0.0.1, ::1 or localhost (names could resolve anywhere)"
        ) from None
    if not address.is_loopback:
        raise CallbackRefused(
            f"callback_url host {host} is not a loopback address; the lab only sends to its own "
            "machine (127.0.0.1, ::1, localhost), so it cannot be used to reach other networks"
        )
    return url


# -- small helpers --------------------------------------------------------------------------------


def iso(moment: float | None) -> str | None:
    """Lab-clock Unix seconds as ISO 8601 UTC with milliseconds (``None`` stays ``None``)."""
    if moment is None:
        return None
    return iso_utc(datetime.fromtimestamp(moment, timezone.utc))


def new_job_id() -> str:
    """``job_`` + a millisecond stamp + 64 random bits: unique, unguessable, roughly in order."""
    return new_id("job")


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: anything JSON cannot hold becomes its ``repr``.

    A job may return anything; an HTTP answer or a webhook must still be valid JSON.
    """
    try:
        return json.loads(json.dumps(value, default=repr, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _positive(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}")
    return value


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return call is not None and inspect.iscoroutinefunction(call)


@functools.lru_cache(maxsize=2048)
def _injections_cached(fn: Callable[..., Any]) -> frozenset[str]:
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return frozenset()
    return frozenset(name for name in names if name in INJECTED)


def _injections(fn: Callable[..., Any]) -> frozenset[str]:
    try:
        return _injections_cached(fn)
    except TypeError:  # unhashable callable
        return _injections_cached.__wrapped__(fn)


__all__ = [
    "CANCELLED",
    "FAILED",
    "FINAL",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "CallbackRefused",
    "IdempotencyConflict",
    "InvalidParams",
    "Job",
    "JobCancelled",
    "JobError",
    "JobRunner",
    "JobTimeout",
    "Kind",
    "Progress",
    "QueueFull",
    "UnknownKind",
    "check_callback_url",
    "completion_event",
    "post_once",
]
