"""A worker process: take jobs off the broker, run their kinds, say when they end.

``webhooks-lab worker --broker redis://...`` runs :func:`run_worker`: a SAQ ``Worker`` whose
functions are the registered kinds, each wrapped so that it

* gets its ``progress`` and ``clock`` as in the lab (progress goes to the broker through SAQ's
  ``job.update``, at most ten times a second, and the same update is the job's heartbeat);
* runs a plain ``def`` in a thread, which learns it was cancelled at its next ``progress()``;
* keeps its own timeout and says so (``JobTimeout``), SAQ's being the backstop;
* is final when it raises (a bad input fails once), and run again only if its worker dies;
* sends its signed completion webhook when it ends, to a ``callback_url`` the guard allows.

SIGTERM or Ctrl+C stops the worker: it takes no new job, lets running ones finish for up to
``grace`` seconds, then cancels them, and SAQ puts each cancelled one back on the queue for
another worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from saq import Worker
from saq.job import TERMINAL_STATUSES

from webhooks_lab.jobs.broker import (
    ABORT_POLL,
    BEAT_EVERY,
    STATUS_OF,
    SWEEP,
    make_queue,
    mirror,
)
from webhooks_lab.jobs.completion import Notify, notify_completion, post_once
from webhooks_lab.jobs.model import (
    CANCELLED,
    RUNNING,
    DoneCallback,
    Job,
    JobTimeout,
    Kind,
    Progress,
    describe,
)
from webhooks_lab.jobs.params import INJECTED
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.sender.ssrf import THIS_MACHINE, URLGuard

#: How often a running job's progress may reach the broker.
PROGRESS_EVERY = 0.1


class _Host:
    """What a job in a worker needs (:class:`~webhooks_lab.jobs.model.JobHost`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, beat: _Beat) -> None:
        import threading

        self.lock = threading.Lock()
        self._loop, self._beat = loop, beat
        self._thread = threading.get_ident()

    def on_loop(self) -> bool:
        import threading

        return threading.get_ident() == self._thread

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        self._loop.call_soon_threadsafe(callback, *args)

    def create_future(self) -> asyncio.Future[None]:
        return self._loop.create_future()

    def report_progress(self, job: Job, percent: float, message: str | None) -> None:
        self._beat.progress(percent, message)

    def run_done_callback(self, fn: DoneCallback, job: Job) -> None:
        pass

    def cancel(self, job: Job) -> bool:
        return False


class _Beat:
    """A running job's heartbeat: ``job.update()`` every BEAT_EVERY s, sooner with news."""

    def __init__(self, saq_job: Any) -> None:
        self.saq_job = saq_job
        self._news = asyncio.Event()
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def progress(self, percent: float, message: str | None) -> None:
        self.saq_job.progress = percent / 100.0
        if message is not None:
            self.saq_job.meta["message"] = str(message)
        self._news.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._news.wait(), BEAT_EVERY)
            if self._stop.is_set():
                return
            if self._news.is_set() or loop.time() - last >= BEAT_EVERY:
                self._news.clear()
                last = loop.time()
                with contextlib.suppress(Exception):  # the broker is away: beat again soon
                    await self.saq_job.update()
                await asyncio.sleep(PROGRESS_EVERY)  # at most ten updates a second

    async def stop(self) -> None:
        """Stop beating and wait for an update in flight, so none lands after the end."""
        self._stop.set()
        self._news.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(self.task, 5)


def job_function(kind: Kind, clock: Clock, pool: concurrent.futures.Executor) -> Any:
    """The SAQ function for ``kind``: ``await fn(ctx, **params)`` with all of the above."""
    wants = _injections(kind.fn)
    is_async = asyncio.iscoroutinefunction(kind.fn)

    async def run(ctx: dict[str, Any], **params: Any) -> Any:
        saq_job = ctx["job"]
        loop = asyncio.get_running_loop()
        beat = _Beat(saq_job)
        local = Job(_Host(loop, beat), kind.name, now=clock.time(), kind=kind.name, params=params)
        local.status = RUNNING
        call_kwargs = dict(params)
        if "progress" in wants:
            call_kwargs["progress"] = Progress(local._host, local)
        if "clock" in wants:
            call_kwargs["clock"] = clock
        if is_async:
            work: asyncio.Future[Any] = asyncio.ensure_future(kind.fn(**call_kwargs))
        else:
            work = asyncio.wrap_future(pool.submit(functools.partial(kind.fn, **call_kwargs)))
        timeout = (saq_job.meta or {}).get("timeout") or kind.timeout
        try:
            done, _ = await asyncio.wait({work}, timeout=timeout)
            if not done:
                local.status = CANCELLED
                local.exception = JobTimeout(
                    f"{saq_job.key} took longer than its {timeout:g} s timeout and was stopped"
                )
                work.cancel()
                await asyncio.wait({work}, timeout=5)
                raise local.exception
            return work.result()
        except asyncio.CancelledError:
            # Cancelled (aborted) or the worker is stopping: a thread stops at its next progress().
            local.status = CANCELLED
            work.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait({work}, timeout=5)
            raise
        except Exception as exc:
            # A job that raises fails once and for all: attempts are for workers that die.
            saq_job.retries = saq_job.attempts
            saq_job.meta["error"] = describe(exc)
            saq_job.meta["said"] = str(exc)
            if isinstance(exc, JobTimeout):
                saq_job.meta["timed_out"] = True
            raise
        finally:
            await beat.stop()

    run.__qualname__ = kind.name
    return run


def make_worker(
    url: str,
    kinds: Iterable[Kind],
    *,
    concurrency: int = 4,
    name: str | None = None,
    notify: Notify | None = None,
    secret: str | None = None,
    guard: URLGuard = THIS_MACHINE,
    clock: Clock | None = None,
    grace: float = 5.0,
    allow_remote: bool = False,
    log: Callable[[str], None] | None = None,
) -> Worker:
    """A SAQ ``Worker`` for ``kinds`` on the broker at ``url`` (``await worker.start()``)."""
    clock = clock or Clock()
    kinds = list(kinds)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="job-thread")
    send = notify or functools.partial(post_once, guard=guard)
    pending: set[asyncio.Task[Any]] = set()

    worker_id = name or f"worker-{os.getpid()}"

    async def after_process(ctx: dict[str, Any]) -> None:
        saq_job = ctx.get("job")
        if saq_job is None:
            return
        if log is not None:
            said = STATUS_OF[saq_job.status] if saq_job.status in TERMINAL_STATUSES else "back"
            log(f"{worker_id}: {saq_job.key} {saq_job.function} {said}")
        if saq_job.status not in TERMINAL_STATUSES:
            return  # going round again (a retry)
        url = (saq_job.meta or {}).get("callback_url")
        if not url:
            return
        job = Job(_Host(asyncio.get_running_loop(), None), saq_job.function, now=clock.time())  # type: ignore[arg-type]
        job.id, job.kind, job.callback_url = saq_job.key, saq_job.function, url
        job.created_at = (saq_job.meta or {}).get("created_at") or saq_job.queued / 1000
        mirror(saq_job, job)
        job.status = STATUS_OF[saq_job.status]
        task = asyncio.create_task(notify_completion(job, send, secret))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if pending:
            await asyncio.wait(pending, timeout=10)  # completion webhooks in flight
        pool.shutdown(wait=False, cancel_futures=True)

    functions = [(kind.name, job_function(kind, clock, pool)) for kind in kinds]
    return Worker(
        make_queue(url, allow_remote=allow_remote),
        functions,
        id=worker_id,
        concurrency=concurrency,
        timers={"sweep": SWEEP, "abort": ABORT_POLL, "worker_info": 2, "schedule": 1},
        after_process=after_process,
        shutdown=shutdown,
        shutdown_grace_period_s=int(grace),
        # An idle slot asks again each second rather than blocking for ever, so a stopping
        # worker waits only for jobs that are really running, not the whole grace period.
        dequeue_timeout=1,
        metadata={"kinds": [kind.name for kind in kinds], "concurrency": concurrency},
    )


async def run_worker(worker: Worker, *, ready: Callable[[], None] | None = None) -> None:
    """Run ``worker`` until SIGTERM or SIGINT (or until cancelled), then stop it cleanly."""
    # SAQ logs every failed job with its traceback; the job's own error is kept on the job.
    logging.getLogger("saq").setLevel(logging.CRITICAL)
    await worker.queue.connect()
    try:
        await worker.queue.redis.ping()
        starting = asyncio.create_task(worker.start())
        if ready is not None:
            ready()
        await starting
    finally:
        await worker.queue.disconnect()


def _injections(fn: Callable[..., Any]) -> frozenset[str]:
    import inspect

    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(name for name in names if name in INJECTED)


__all__ = ["PROGRESS_EVERY", "job_function", "make_worker", "run_worker"]
