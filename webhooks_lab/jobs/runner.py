"""The job runner: accept work now, finish it later, on the lab loop.

``lab.jobs.submit(fn, *args, **kwargs)`` hands back a :class:`~webhooks_lab.jobs.model.Job` at
once, before the work has even started. The job runs on the lab loop (a plain function runs in a
worker thread, so it can never freeze the lab's server) and moves through ``queued → running →
succeeded | failed | cancelled``. Meanwhile the cell that submitted it is free: it can look at
``job.status`` and ``job.progress``, ``job.wait()`` for it, ``await job``, or ask to be called
back when it is done.

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
sends a signed completion webhook when it ends (:mod:`webhooks_lab.jobs.completion`).

The runner bounds everything it holds: at most ``concurrency`` jobs run at once, at most
``queue_size`` wait (one more is refused with :class:`~webhooks_lab.jobs.model.QueueFull`, never
queued without bound), and only the newest ``keep`` finished jobs are remembered. Timeouts are in
lab seconds and run on the lab clock, so a :class:`~webhooks_lab.runtime.clock.FakeClock` drives
them too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from webhooks_lab import signing
from webhooks_lab.jobs.completion import Notify, notify_completion, post_once
from webhooks_lab.jobs.model import (
    CANCELLED,
    FAILED,
    FINAL,
    QUEUED,
    RUNNING,
    STATUSES,
    SUCCEEDED,
    DoneCallback,
    IdempotencyConflict,
    Job,
    JobCancelled,
    JobError,
    JobTimeout,
    Kind,
    Progress,
    QueueFull,
    UnknownKind,
    describe,
    unfinished,
)
from webhooks_lab.jobs.params import INJECTED, checker, object_schema, schema_from_signature
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.sender.ssrf import THIS_MACHINE, URLGuard

Listener = Callable[[Job], Any]
Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_KIND_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class _Host:
    """The runner as its jobs see it (:class:`~webhooks_lab.jobs.model.JobHost`)."""

    __slots__ = (
        "lock",
        "loop",
        "_thread_id",
        "call_soon",
        "create_future",
        "report_progress",
        "run_done_callback",
        "cancel",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thread_id: int | None,
        lock: threading.Lock,
        *,
        report_progress: Callable[[Job, float, str | None], None],
        run_done_callback: Callable[[DoneCallback, Job], None],
        cancel: Callable[[Job], bool],
    ) -> None:
        self.loop, self._thread_id, self.lock = loop, thread_id, lock
        # The loop's own methods, not wrappers: a burst of jobs awaits one future each.
        self.call_soon = loop.call_soon_threadsafe
        self.create_future = loop.create_future
        self.report_progress = report_progress
        self.run_done_callback = run_done_callback
        self.cancel = cancel

    def on_loop(self) -> bool:
        return threading.get_ident() == self._thread_id


class _Run:
    """What the runner keeps for a job until it is done with it: the call, its task, its timer."""

    __slots__ = ("call", "task", "timer")

    def __init__(self, call: Call) -> None:
        self.call: Call | None = call
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.Task[None] | None = None


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
    completion webhooks; they are signed with ``secret`` (made up if not given), and only to URLs
    ``callback_guard`` allows (by default: this machine only).
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
        callback_guard: URLGuard = THIS_MACHINE,
    ) -> None:
        if isinstance(loop, LabLoop):
            self._loop, thread_id = loop.loop, loop.thread.ident
        else:
            self._loop, thread_id = asyncio.get_running_loop(), threading.get_ident()
        self.clock = clock or Clock()
        self.queue_size = queue_size
        self.timeout = timeout
        self.keep = keep
        self.notify: Notify = notify or post_once
        self.secret = secret or signing.generate_secret()
        self.callback_guard = callback_guard
        #: Who hears of every job change; a listener that raises is dropped, its error kept.
        self.listeners: Listeners[[Job]] = Listeners("job runner")
        self._errors: deque[str] = deque(maxlen=100)
        #: Recent requests the HTTP API refused, and why (see :mod:`webhooks_lab.jobs.api`).
        self.refusals: deque[dict[str, Any]] = deque(maxlen=1000)
        self.peak_running = 0
        self._concurrency = _positive(concurrency, "concurrency")
        self._lock = threading.Lock()
        self._host = _Host(
            self._loop,
            thread_id,
            self._lock,
            report_progress=self._set_progress,
            run_done_callback=self._run_callback,
            cancel=self.cancel,
        )
        self._queue: deque[Job] = deque()
        self._fresh: list[Job] = []
        self._jobs: dict[str, Job] = {}
        self._runs: dict[Job, _Run] = {}
        self._finished: deque[str] = deque()
        self._by_key: dict[str, tuple[Job, str]] = {}  # Idempotency-Key -> job, request
        self._kinds: dict[str, Kind] = {}
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
    def errors(self) -> list[str]:
        """What went wrong around the jobs, not in them: listeners that raised (and were
        dropped), done callbacks that raised, completion webhooks that could not be sent."""
        return [*self.listeners.errors, *self._errors]

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

        Raises :class:`~webhooks_lab.jobs.model.UnknownKind`,
        :class:`~webhooks_lab.jobs.model.InvalidParams`,
        :class:`~webhooks_lab.sender.ssrf.UnsafeURL` (a callback URL the guard refuses),
        :class:`~webhooks_lab.jobs.model.IdempotencyConflict` or
        :class:`~webhooks_lab.jobs.model.QueueFull` before anything is queued. With an
        ``idempotency_key`` already used for the same request, returns that job instead.
        """
        spec = self._kinds.get(kind) if isinstance(kind, str) else None
        if spec is None:
            raise UnknownKind(str(kind), sorted(self._kinds))
        checked = spec.check(dict(params) if params is not None else None)
        url = self._checked_callback(callback_url)
        fingerprint = json.dumps([kind, checked, url], sort_keys=True, default=repr)
        with self._lock:
            if idempotency_key is not None:
                existing = self._by_key.get(idempotency_key)
                if existing is not None:
                    if existing[1] != fingerprint:
                        raise IdempotencyConflict(idempotency_key, existing[0])
                    return existing[0]
            job = Job(
                self._host,
                spec.name,
                now=self.clock.time(),
                kind=spec.name,
                params=checked,
                timeout=timeout if timeout is not None else spec.timeout,
                callback_url=url,
                idempotency_key=idempotency_key,
                retry_after=spec.retry_after,
            )
            self._enqueue_locked(job, (spec.fn, (), checked))
            if idempotency_key is not None:
                self._by_key[idempotency_key] = (job, fingerprint)
        self._schedule_pump()
        return job

    async def admit(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """``start()`` for the HTTP API, on the loop: the job, and whether this
        ``idempotency_key`` had already started it (a replay). A broker's runner does the same
        over the network, so the API awaits it."""
        replay = (
            idempotency_key is not None and self.by_idempotency_key(idempotency_key) is not None
        )
        job = self.start(kind, params, callback_url=callback_url, idempotency_key=idempotency_key)
        return job, replay

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
        url = self._checked_callback(callback_url)
        name = name or getattr(fn, "__name__", None) or type(fn).__name__
        job = Job(self._host, name, now=self.clock.time(), timeout=timeout, callback_url=url)
        with self._lock:
            self._enqueue_locked(job, (fn, args, kwargs))
        self._schedule_pump()
        return job

    def _checked_callback(self, url: str | None) -> str | None:
        if url is not None:
            self.callback_guard.check_url(url)  # raises UnsafeURL saying why not
        return url

    def _enqueue_locked(self, job: Job, call: Call) -> None:
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
        self._runs[job] = _Run(call)
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
        kind = make_kind(
            name,
            fn,
            params=params,
            description=description,
            timeout=timeout,
            retry_after=retry_after,
        )
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

    async def lookup(self, job_id: str) -> Job | None:
        """``get()`` for the HTTP API, on the loop (a broker's runner asks the broker)."""
        return self.get(job_id)

    def by_idempotency_key(self, key: str) -> Job | None:
        found = self._by_key.get(key)
        return found[0] if found is not None else None

    def list(self, status: str | None = None) -> list[Job]:
        """Remembered jobs, oldest first (only those with ``status``, if given)."""
        with self._lock:
            jobs = list(self._jobs.values())
        return jobs if status is None else [job for job in jobs if job.status == status]

    async def listing(
        self, status: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[Job], dict[str, int]]:
        """A page of the remembered jobs (``GET /jobs``): ``limit`` (at most 100) after skipping
        ``offset`` newer ones, with ``status`` if given, oldest first; and the counts."""
        jobs = self.list(status)
        end = len(jobs) - max(0, offset)
        return jobs[max(0, end - max(1, min(limit, 100))) : max(0, end)], self.counts()

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
        pending = unfinished(jobs, timeout)
        if pending:
            raise TimeoutError(f"{pending} of {len(jobs)} jobs had not ended after {timeout} s")
        return jobs

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(job)`` on the lab loop at every status or progress change.

        Returns a function that unsubscribes. A listener must be quick (it runs on the loop);
        one that raises is unsubscribed and noted in ``runner.errors``: it never breaks the runner.
        """
        return self.listeners.subscribe(listener)

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

    async def revoke(self, job: Job) -> bool:
        """``cancel()`` for the HTTP API, on the loop (a broker's runner tells the broker)."""
        return self.cancel(job)

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
        tasks = [run.task for run in self._runs.values() if run.task and not run.task.done()]
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
        return self._host.on_loop()

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
        if self.listeners:
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
        run = self._runs[job]
        if job.timeout is not None:
            run.timer = self._loop.create_task(self._deadline(job, run, job.timeout))
        run.task = self._loop.create_task(self._run(job, run))
        self._changed(job)

    async def _deadline(self, job: Job, run: _Run, timeout: float) -> None:
        await self.clock.sleep(timeout)  # lab seconds: the clock turns them into real ones
        run.timer = None
        self._expire(job)

    async def _run(self, job: Job, run: _Run) -> None:
        try:
            result = await self._call(job, run)
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
            self._runs.pop(job, None)  # let go of arguments that may be large
            if not self._closed:
                self._pump()

    async def _call(self, job: Job, run: _Run) -> Any:
        assert run.call is not None
        (fn, args, kwargs), run.call = run.call, None
        wants = _injections(fn)
        if wants:
            kwargs = dict(kwargs)
            if "progress" in wants:
                kwargs["progress"] = Progress(self._host, job)
            if "clock" in wants:
                kwargs["clock"] = self.clock
        if _is_async(fn):
            return await fn(*args, **kwargs)
        result = await self._in_thread(functools.partial(fn, *args, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _in_thread(self, call: Callable[[], Any]) -> Any:
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
            # A thread cannot be stopped from outside: it ends at its next progress() call,
            # which raises. Nobody awaits that end (the shield let go of it), so it is read
            # here, or asyncio logs its traceback from the loop. Until then the job keeps its
            # slot, so the limit counts real threads.
            if not started.cancel():
                future.add_done_callback(_read_outcome)
                if not self._closed:
                    with contextlib.suppress(BaseException):
                        await asyncio.wait({future})
            raise

    def _expire(self, job: Job) -> None:
        if job.status == RUNNING:
            took = f"{job.timeout:g}" if job.timeout is not None else "?"
            error = JobTimeout(f"{job.id} took longer than its {took} s timeout and was stopped")
            self._finish(job, FAILED, exc=error)
            self._stop_task(job)

    def _cancel(self, job: Job, why: str = "cancelled") -> bool:
        if job.done:
            return False
        if job.status == QUEUED:
            with self._lock, contextlib.suppress(ValueError):
                self._queue.remove(job)
            self._runs.pop(job, None)
            self._finish(job, CANCELLED, error=why)
            return True
        self._finish(job, CANCELLED, error=why)
        self._stop_task(job)
        return True

    def _stop_task(self, job: Job) -> None:
        run = self._runs.get(job)
        if run is not None and run.task is not None:
            run.task.cancel()

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
            job.error = error or describe(exc)
        else:
            job.error = error or "cancelled"
            why = "" if job.error == "cancelled" else f" ({job.error})"
            job.exception = JobCancelled(f"{job.id} was cancelled{why}")
        job.finished_at = job.updated_at = self.clock.time()
        was, callbacks = job._end(status)  # waiters wake here
        if was == RUNNING:
            self._running -= 1
        self._counts[status] += 1
        run = self._runs.get(job)
        if run is not None and run.timer is not None:
            run.timer.cancel()
            run.timer = None
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
        self.listeners.notify(job)  # a broken view is dropped; it never breaks the runner

    def _run_callback(self, fn: DoneCallback, job: Job) -> None:
        try:
            fn(job)
        except Exception as exc:
            self._errors.append(f"done callback {_name(fn)} for {job.id} raised {describe(exc)}")

    async def _send_completion(self, job: Job) -> None:
        failure = await notify_completion(job, self.notify, self.secret)
        if failure is not None:
            self._errors.append(failure)


# -- small helpers ---------------------------------------------------------------------------------


def make_kind(
    name: str,
    fn: Callable[..., Any],
    *,
    params: Mapping[str, Any] | None = None,
    description: str | None = None,
    timeout: float | None = None,
    retry_after: int = 1,
) -> Kind:
    """A :class:`Kind` checked and ready: what ``register`` keeps, for any runner."""
    if not isinstance(name, str) or not _KIND_NAME.match(name):
        raise ValueError(f"a kind name looks like 'video.encode', got {name!r}")
    if params is None:
        schema = schema_from_signature(fn)
    elif params.get("type") == "object":
        schema = dict(params)
    else:
        schema = object_schema(params)
    try:
        check = checker(schema)  # the very schema GET /jobs/kinds publishes
    except ValueError as exc:
        raise ValueError(f"the params of job kind {name!r}: {exc}") from None
    if description is None:
        doc = inspect.getdoc(fn) or ""
        description = doc.strip().splitlines()[0] if doc.strip() else ""
    retry = max(1, int(retry_after))
    return Kind(name, fn, schema, description, timeout, retry, check=check)


def _positive(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}")
    return value


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


def _read_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as read: a cancelled job's thread ends with one nobody awaits,
    and asyncio would log its traceback into whatever cell runs then."""
    if not future.cancelled():
        future.exception()


__all__ = ["JobRunner", "Listener", "Submitter", "make_kind"]
