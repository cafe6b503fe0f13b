"""A worker process: take jobs off the broker, run their kinds, say when they end.

``webhooks-lab worker --broker redis://...`` runs :func:`run_worker`: a SAQ ``Worker`` whose
functions are the registered kinds, each wrapped so that it

* gets its ``progress`` and ``clock`` as in the lab (progress goes to the broker through SAQ's
  ``job.update``, at most ten times a second, and the same update is the job's heartbeat);
* runs a plain ``def`` in a thread, which learns it was cancelled at its next ``progress()``;
* keeps its own timeout and says so (``JobTimeout``), SAQ's being the backstop;
* is final when it raises (a bad input fails once), and run again only if its worker dies;
* sends its signed completion webhook when it ends, to a ``callback_url`` the guard allows,
  as a delivery on the broker (:mod:`webhooks_lab.jobs.broker_sender`): durable, retried;
* and, given up by the sweep after its workers died (*abandoned*), still says so: it ends
  ``failed`` and its completion webhook goes out all the same.

Beside the kinds, every worker runs the deliveries' attempts (:func:`delivery_function`,
SAQ function ``webhooks-lab.deliver``).

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
import time
from collections.abc import Callable, Iterable
from typing import Any

from saq import Worker
from saq.job import TERMINAL_STATUSES

from webhooks_lab.jobs.broker import (
    ABORT_POLL,
    BEAT_EVERY,
    SWEEP,
    make_queue,
    mirror,
    status_of,
)
from webhooks_lab.jobs.broker_sender import DELIVER, BrokerSender, DeliveryStore
from webhooks_lab.jobs.completion import Notify, notify_completion
from webhooks_lab.jobs.model import (
    CANCELLED,
    RUNNING,
    DoneCallback,
    Job,
    JobError,
    JobTimeout,
    Kind,
    Progress,
    describe,
)
from webhooks_lab.jobs.params import INJECTED
from webhooks_lab.jobs.runner import make_kind
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.sender.attempt import open_session, post, signed_headers
from webhooks_lab.sender.decision import decide
from webhooks_lab.sender.records import Attempt
from webhooks_lab.sender.ssrf import URLGuard

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


class KindsNotFound(JobError):
    """A ``--kinds`` module that does not import, or registers no kinds; the message says why."""


class _Collector:
    """What a ``register_kinds(runner)`` sees in a worker: ``runner.register(name, fn, ...)``,
    as on ``lab.jobs``, collecting the kinds."""

    def __init__(self) -> None:
        self.kinds: list[Kind] = []

    def register(self, name: str, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
        if fn is None:
            return lambda func: self.register(name, func, **options) and func
        self.kinds.append(make_kind(name, fn, **options))
        return self.kinds[-1]


def learner_kinds(modules: Iterable[str], *, taken: Iterable[str] = ()) -> list[Kind]:
    """The kinds each module registers through its ``register_kinds(runner)``.

    The same function registers them on ``lab.jobs`` in a notebook (``mykinds.register_kinds(
    lab.jobs)``), so the lab and its workers agree on every kind. The folder the worker runs in
    is searched first, as ``python -m`` would. Raises :class:`KindsNotFound` saying what is wrong.
    """
    import importlib
    import sys

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    names, found = set(taken), []
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise KindsNotFound(
                f"--kinds {module_name}: it does not import ({type(exc).__name__}: {exc}); "
                "give a module name (mykinds, not mykinds.py) found in this folder or on "
                "PYTHONPATH"
            ) from None
        register = getattr(module, "register_kinds", None)
        if not callable(register):
            raise KindsNotFound(
                f"--kinds {module_name}: it has no register_kinds(runner) function; add one "
                "that calls runner.register('my.kind', my_function) for each kind"
            )
        collector = _Collector()
        try:
            register(collector)
        except Exception as exc:
            raise KindsNotFound(
                f"--kinds {module_name}: register_kinds(runner) raised {type(exc).__name__}: {exc}"
            ) from None
        if not collector.kinds:
            raise KindsNotFound(
                f"--kinds {module_name}: register_kinds(runner) registered no kinds; call "
                "runner.register('my.kind', my_function) in it"
            )
        for kind in collector.kinds:
            if kind.name in names:
                raise KindsNotFound(f"--kinds {module_name}: the kind {kind.name!r} is taken")
            names.add(kind.name)
        found += collector.kinds
    return found


INTERRUPTED = "the worker stopped before an answer came (it may have arrived)"
#: What an attempt's job returns when its answer came after the sweep had given the attempt to
#: another worker (this one stalled past its heartbeat): the newer attempt's record stands.
SUPERSEDED = "superseded"


def delivery_function(guard: URLGuard, concurrency: int) -> tuple[Any, Callable[[], Any]]:
    """The SAQ function that makes one attempt at a delivery, and a coroutine function that
    closes its connections.

    The job's key is ``<delivery id>.<attempt number>``. It reads the delivery from the broker,
    writes the attempt down before the request goes out, signs and posts it as the in-process
    sender does, decides what next, writes that down, and enqueues the next attempt for its
    time. Run again after its worker died, it finds the attempt still ``"trying"``, marks it
    ``"interrupted"`` and makes a new one; finding it answered, it only makes sure the next one
    is queued (enqueueing is idempotent by key).
    """
    session: Any = None

    async def deliver(ctx: dict[str, Any], *, delivery_id: str) -> str:
        nonlocal session
        saq_job = ctx["job"]
        store = DeliveryStore(saq_job.queue)
        found = await store.get(delivery_id)
        if found is None:
            return "gone"
        delivery, terms = found
        number = int(saq_job.key.rsplit(".", 1)[1])
        last = delivery.last
        if delivery.done:
            return delivery.state
        if last is not None and last.state != "trying" and len(delivery.attempts) >= number:
            if delivery.next_attempt_at is not None:  # died between writing down and enqueueing
                await store.enqueue(delivery, terms, delivery.next_attempt_at)
            return delivery.state
        if last is not None and last.state == "trying":
            last.state, last.error = "interrupted", INTERRUPTED
        started = time.time()
        attempt = Attempt(
            delivery.id, delivery.event_id, delivery.url, len(delivery.attempts) + 1, started
        )
        delivery.attempts.append(attempt)
        delivery.updated_at = started
        await store.save(delivery, terms)  # on record before the request goes out
        if session is None or session.closed:
            session = open_session(guard, concurrency)
        import aiohttp

        headers = signed_headers(
            delivery.scheme,
            delivery.secret,
            delivery.body,
            msg_id=delivery.event_id,
            timestamp=int(time.time()),  # a fact on the wire: real time
        )
        beat = _Beat(saq_job)  # a long wait for an answer must not look like a dead worker
        try:
            answer = await post(
                session, delivery.url, delivery.body, headers, aiohttp.ClientTimeout(terms.timeout)
            )
        finally:
            await beat.stop()
        attempt.status, attempt.error = answer.status, answer.error
        attempt.response, attempt.latency_ms = answer.response, answer.latency_ms
        decision = decide(
            answer.status,
            attempts_made=len(delivery.attempts) - delivery.round_base,
            policy=terms.policy(),
            retry_after=answer.retry_after,
            now=time.time(),
            permanent=answer.permanent,
        )
        now = time.time()
        attempt.state = delivery.state = decision.state
        if decision.wait is not None:
            attempt.backoff, attempt.next_attempt_at = decision.wait, now + decision.wait
        delivery.next_attempt_at = attempt.next_attempt_at
        delivery.updated_at = now
        if not await store.save_answer(delivery, terms):
            return SUPERSEDED  # another worker took the attempt over and made a newer one
        if delivery.next_attempt_at is not None:
            await store.enqueue(delivery, terms, delivery.next_attempt_at)
        return delivery.state

    async def close() -> None:
        if session is not None:
            await session.close()

    deliver.__qualname__ = DELIVER
    return deliver, close


async def give_up_delivery(store: DeliveryStore, delivery_id: str) -> None:
    """A delivery whose attempt was abandoned (its workers kept dying): a dead letter now."""
    found = await store.get(delivery_id)
    if found is None or found[0].done:
        return
    delivery, terms = found
    if delivery.last is not None and delivery.last.state == "trying":
        delivery.last.state, delivery.last.error = "interrupted", INTERRUPTED
    delivery.state, delivery.next_attempt_at, delivery.updated_at = "dead", None, time.time()
    await store.save(delivery, terms)


def make_worker(
    url: str,
    kinds: Iterable[Kind],
    *,
    concurrency: int = 4,
    name: str | None = None,
    notify: Notify | None = None,
    secret: str | None = None,
    guard: URLGuard | None = None,
    clock: Clock | None = None,
    grace: float = 5.0,
    allow_remote: bool = False,
    log: Callable[[str], None] | None = None,
) -> Worker:
    """A SAQ ``Worker`` for ``kinds`` on the broker at ``url`` (``await worker.start()``).

    Completion webhooks go out as deliveries on the broker (``notify`` replaces that), signed
    with ``secret``; ``guard`` is the SSRF guard every delivery's connection passes (default:
    public addresses and this machine, as the lab's sender).
    """
    clock = clock or Clock()
    kinds = list(kinds)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="job-thread")
    queue = make_queue(url, allow_remote=allow_remote)
    guard = guard or URLGuard(allow_loopback=True)
    deliveries = BrokerSender(queue)
    deliveries.guard = guard
    send = notify or deliveries.deliver_to
    deliver, close_deliveries = delivery_function(guard, concurrency)
    pending: set[asyncio.Task[Any]] = set()

    worker_id = name or f"worker-{os.getpid()}"

    async def after_process(ctx: dict[str, Any]) -> None:
        saq_job = ctx.get("job")
        if saq_job is None:
            return
        if log is not None:
            said = status_of(saq_job) if saq_job.status in TERMINAL_STATUSES else "back"
            if saq_job.function == DELIVER and isinstance(saq_job.result, str):
                said = saq_job.result  # what the attempt meant: delivered, retrying, dead
            log(f"{worker_id}: {saq_job.key} {saq_job.function} {said}")
        if saq_job.status in TERMINAL_STATUSES:
            complete(saq_job)
        # else: going round again (a retry)

    def complete(saq_job: Any) -> None:
        """Send an ended job's completion webhook, if it asked for one."""
        url = (saq_job.meta or {}).get("callback_url")
        if not url or saq_job.function == DELIVER:
            return
        job = Job(_Host(asyncio.get_running_loop(), None), saq_job.function, now=clock.time())  # type: ignore[arg-type]
        job.id, job.kind, job.callback_url = saq_job.key, saq_job.function, url
        job.created_at = (saq_job.meta or {}).get("created_at") or saq_job.queued / 1000
        mirror(saq_job, job)
        job.status = status_of(saq_job)
        task = asyncio.create_task(notify_completion(job, send, secret))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def on_abandoned(saq_job: Any) -> None:
        """The sweep gave a job up: a job still says it ended, a delivery is a dead letter."""
        if log is not None:
            log(f"{worker_id}: {saq_job.key} {saq_job.function} abandoned")
        if saq_job.function == DELIVER:
            await give_up_delivery(deliveries.store, saq_job.kwargs["delivery_id"])
        else:
            complete(saq_job)

    queue.on_abandoned = on_abandoned

    async def shutdown(ctx: dict[str, Any]) -> None:
        if pending:
            await asyncio.wait(pending, timeout=10)  # completion webhooks being written down
        await close_deliveries()
        pool.shutdown(wait=False, cancel_futures=True)

    functions = [(kind.name, job_function(kind, clock, pool)) for kind in kinds]
    functions.append((DELIVER, deliver))
    return Worker(
        queue,
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


__all__ = [
    "PROGRESS_EVERY",
    "delivery_function",
    "give_up_delivery",
    "KindsNotFound",
    "learner_kinds",
    "job_function",
    "make_worker",
    "run_worker",
]
