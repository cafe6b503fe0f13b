"""What a job is: its statuses, what can go wrong, how it reports progress, how to wait for it.

A :class:`Job` moves through ``queued → running → succeeded | failed | cancelled``; the last three
are :data:`FINAL`, the one set of states a job never leaves. Whoever runs jobs (the in-process
:class:`~webhooks_lab.jobs.runner.JobRunner`, or a broker's runner) gives each job a
:class:`JobHost`: the little a job needs from it (the loop, a lock, and three calls back), so a
job knows nothing else of the runner.

The errors::

    webhooks_lab.Error
    └── JobError
        ├── QueueFull            come back later (retry_after)
        ├── Unavailable          the broker cannot be reached: come back later (retry_after)
        ├── JobCancelled         what waiting on a cancelled job raises
        ├── JobTimeout           (also a TimeoutError) the job ran past its timeout
        ├── UnknownKind          (also a LookupError) no kind of job by that name
        ├── InvalidParams        (also a ValueError) the parameters do not fit the kind's schema
        └── IdempotencyConflict  an Idempotency-Key reused for a different request
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from webhooks_lab.errors import Error
from webhooks_lab.events import iso_utc, new_id

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
#: The states a job ends in and never leaves.
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

DoneCallback = Callable[["Job"], Any]


# -- what can go wrong ----------------------------------------------------------------------------


class JobError(Error):
    """Base class of the jobs layer's own errors."""


class QueueFull(JobError):
    """The queue is full: come back later (``retry_after`` seconds is a fair guess)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(JobError):
    """The broker behind the jobs cannot be reached right now (``retry_after`` seconds)."""

    def __init__(self, message: str, retry_after: int = 2) -> None:
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


class InvalidParams(JobError, ValueError):
    """The parameters do not fit the kind's schema; ``problems`` lists each thing that is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class IdempotencyConflict(JobError):
    """An Idempotency-Key was reused for a different request."""

    def __init__(self, key: str, job: Job) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request "
            f"(job {job.id}); use a new key for new work"
        )
        self.key, self.job = key, job


# -- what a job needs from whoever runs it --------------------------------------------------------


class JobHost(Protocol):
    """The runner as its jobs see it: its loop, its lock, and three calls back.

    ``lock`` guards a job's status against the threads that wait on it. The three calls are made
    on the loop: ``report_progress`` records a progress report, ``run_done_callback`` calls a
    done callback (keeping what it raises), ``cancel`` cancels the job.
    """

    lock: Any  # a threading.Lock

    def on_loop(self) -> bool: ...

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None: ...

    def create_future(self) -> asyncio.Future[None]: ...

    def report_progress(self, job: Job, percent: float, message: str | None) -> None: ...

    def run_done_callback(self, fn: DoneCallback, job: Job) -> None: ...

    def cancel(self, job: Job) -> bool: ...


# -- a job and how it reports ---------------------------------------------------------------------


class Progress:
    """Handed to a job function that has a parameter named ``progress``: say how far along it is.

    ``progress(40)`` means 40 %; ``progress(3, of=10)`` means 30 %; a message may ride along:
    ``progress(3, "frame 3 of 10", of=10)``. It works from async jobs and from plain functions in a
    thread alike. Once the job is cancelled or has timed out, calling it raises
    :class:`JobCancelled` (or :class:`JobTimeout`): that is how a plain function in a thread, which
    nothing can interrupt from outside, learns to stop. ``progress.stopped`` asks without raising.
    """

    __slots__ = ("_host", "_job", "_pending", "_scheduled")

    def __init__(self, host: JobHost, job: Job) -> None:
        self._host, self._job = host, job
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
        host = self._host
        if host.on_loop():
            host.report_progress(job, percent, message)
            return
        # From a worker thread: hand the newest value to the loop, at most one hop in flight.
        self._pending = (percent, message)
        if not self._scheduled:
            self._scheduled = True
            host.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, None
        if pending is not None:
            self._host.report_progress(self._job, *pending)

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
        host: JobHost,
        name: str,
        *,
        now: float,
        kind: str | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        retry_after: int = 1,
    ) -> None:
        self.id = new_id("job")
        self.kind = kind
        self.name = name
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
        #: Which worker process runs or ran it (``None`` in the lab's own process).
        self.worker: str | None = None
        #: What the completion webhook's sender answered (or why it could not send).
        self.notification: Any = None
        self.created_at = self.updated_at = now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._host = host
        # Made only when someone waits: most jobs in a burst are never waited on one by one.
        self._thread_waiter: concurrent.futures.Future[None] | None = None
        self._waiters: list[asyncio.Future[None] | concurrent.futures.Future[None]] = []
        self._callbacks: list[DoneCallback] = []

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
            "worker": self.worker,
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
        if self._host.on_loop():
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
        host = self._host
        if host.on_loop():
            with host.lock:
                waiter = None if self.done else host.create_future()
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
        with self._host.lock:
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

    def add_done_callback(self, fn: DoneCallback) -> None:
        """Call ``fn(job)`` on the lab loop once the job ends (at once if it already has).

        An exception in ``fn`` is kept in ``runner.errors``, never raised into the lab.
        """
        host = self._host
        with host.lock:
            if not self.done:
                self._callbacks.append(fn)
                return
        host.call_soon(host.run_done_callback, fn, self)

    def cancel(self) -> bool:
        """Cancel the job if it is queued or running; ``False`` if it had already ended."""
        return self._host.cancel(self)

    # -- ending (the runner calls this once, on the loop) ---------------------------------------

    def _end(self, status: str) -> tuple[str, list[DoneCallback]]:
        """Move to the final ``status``, wake every waiter; return the old status and the
        callbacks to run. Everything a waiter reads must be set before this is called."""
        with self._host.lock:
            was, self.status = self.status, status
            callbacks, self._callbacks = self._callbacks, []
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return was, callbacks


def unfinished(jobs: Iterable[Job], timeout: float | None) -> int:
    """Block this thread until every job has ended or ``timeout`` passed; how many had not."""
    waiters = [w for w in (job._thread_future() for job in jobs) if w is not None]
    _, pending = concurrent.futures.wait(waiters, timeout)
    return len(pending)


@dataclass
class Kind:
    """A job kind registered by name: its function, parameters (JSON Schema) and description."""

    name: str
    fn: Callable[..., Any]
    params: dict[str, Any]
    description: str = ""
    timeout: float | None = None
    retry_after: int = 1
    #: ``check(params)`` -> the params with defaults filled in, or raises :class:`InvalidParams`.
    check: Callable[[Any], dict[str, Any]] = field(kw_only=True, repr=False, compare=False)

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


def describe(exc: BaseException) -> str:
    """An exception in a line: ``ValueError: bad input`` (just the type if it says nothing)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def iso(moment: float | None) -> str | None:
    """Lab-clock Unix seconds as ISO 8601 UTC with milliseconds (``None`` stays ``None``)."""
    if moment is None:
        return None
    return iso_utc(datetime.fromtimestamp(moment, timezone.utc))


__all__ = [
    "CANCELLED",
    "FAILED",
    "FINAL",
    "QUEUED",
    "RUNNING",
    "STATUSES",
    "SUCCEEDED",
    "IdempotencyConflict",
    "InvalidParams",
    "Job",
    "JobCancelled",
    "JobError",
    "JobHost",
    "JobTimeout",
    "Kind",
    "Progress",
    "QueueFull",
    "Unavailable",
    "UnknownKind",
    "describe",
    "iso",
    "unfinished",
]
