"""Jobs on a broker: the face of :class:`~webhooks_lab.jobs.runner.JobRunner`, run by SAQ on Redis.

``start(broker="redis://127.0.0.1:6379")`` makes ``lab.jobs`` a :class:`BrokerRunner`. Jobs are
started by kind name, as over HTTP, and run in ``webhooks-lab worker`` processes
(:mod:`webhooks_lab.jobs.broker_worker`), on this machine or many: SAQ keeps each job in Redis,
so any runner on the same broker sees it, and a cancel through one stops the job on whichever
worker runs it. Here a job is still a :class:`~webhooks_lab.jobs.model.Job`: ``job.status``,
``job.progress``, ``job.wait()``, ``await job``, ``job.cancel()``; the runner mirrors what the
broker says into it (SAQ publishes each change; a slow poll covers a missed message).

Only a *kind* can cross processes: a worker runs functions it imported itself, by name. So
``submit(fn, ...)`` takes a registered kind's function, and refuses any other callable saying
how to register one.

SAQ's defaults, and ours (each one changed on purpose; SAQ 0.26 documents its own in
``saq.job.Job`` and ``saq.worker.Worker``):

======================  ==============  =========================================================
setting                 SAQ default     here, and why
======================  ==============  =========================================================
attempts (``retries``)  1               :data:`ATTEMPTS` = 3: a job whose worker dies is run
                                        again (at-least-once); a job that *raises* is not retried
                                        (the worker marks it final), as in the in-process runner.
timeout                 10 s            the kind's timeout plus :data:`TIMEOUT_MARGIN`, or none:
                                        10 s would kill every longer lesson job. The worker
                                        enforces the kind's own timeout and says so in the error;
                                        SAQ's is the backstop.
heartbeat               0 (off)         :data:`HEARTBEAT` = 2 s, beaten every :data:`BEAT_EVERY`
                                        s: without it a killed worker's job waits for its
                                        timeout (or for ever) before the sweep notices.
sweep                   every 60 s      every :data:`SWEEP` = 1 s: a dead worker's job is rerun
                                        within seconds, not a minute.
sweep's abort wait      5 s             :data:`SWEEP_ABORT_WAIT` = 1 s: a dead worker never
                                        acknowledges the abort, so every second waited is lost.
abort poll              every 1 s       kept: SAQ's timers are whole seconds (Redis ``SETEX``),
                                        and 1 is the smallest; a cancel lands within a second.
result ttl              600 s           :data:`RESULT_TTL` = 1 hour: results by id outlive a
                                        lesson's pause.
======================  ==============  =========================================================
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from saq.job import Job as SaqJob
from saq.job import Status
from saq.queue.redis import RedisQueue

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
    Unavailable,
    UnknownKind,
    unfinished,
)
from webhooks_lab.jobs.runner import make_kind
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.sender.ssrf import THIS_MACHINE, URLGuard

QUEUE_NAME = "webhooks-lab"
ATTEMPTS = 3
HEARTBEAT = 2
BEAT_EVERY = 0.5
SWEEP = 1
SWEEP_ABORT_WAIT = 1.0
ABORT_POLL = 1
RESULT_TTL = 3600
TIMEOUT_MARGIN = 5
#: How often a runner asks the broker about unfinished jobs, in case a message was missed.
POLL_EVERY = 1.0
#: How many of the newest jobs on the broker ``GET /jobs`` looks at (its pages and counts).
LISTING_WINDOW = 1000
#: How long an Idempotency-Key is remembered on the broker.
IDEMPOTENCY_TTL = 24 * 3600

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
STATUS_OF = {
    Status.NEW: QUEUED,
    Status.QUEUED: QUEUED,
    Status.ACTIVE: RUNNING,
    Status.ABORTING: RUNNING,  # told to stop; it is still running until its worker says so
    Status.ABORTED: CANCELLED,
    Status.FAILED: FAILED,
    Status.COMPLETE: SUCCEEDED,
}
#: The error SAQ's sweep gives a job whose worker stopped answering and that has no attempts
#: left; such a job is *abandoned*, and ends ``failed`` (its completion webhook says so).
SWEPT = "swept"
ABANDONED = (
    "abandoned: the worker running it stopped answering and it had no attempts left "
    "(each worker that took it died)"
)
#: Every job admitted on the broker, by creation time (``GET /jobs`` pages through it).
JOB_INDEX = f"{QUEUE_NAME}:jobs"
#: How many jobs the index remembers; the oldest fall out (their records expire anyway).
JOB_INDEX_KEEP = 100_000


class BrokerRefused(JobError, TypeError):
    """A callable that cannot cross to a worker process; the message says what to do instead."""


def abandoned(saq_job: Any) -> bool:
    """Did the sweep give this job up (its workers died, no attempts left), not a cancel?"""
    return (
        saq_job.status == Status.ABORTED
        and saq_job.error == SWEPT
        and (saq_job.meta or {}).get("error") != "cancelled"
    )


def status_of(saq_job: Any) -> str:
    """Our status word for a SAQ job: an abandoned job has *failed*, not been cancelled."""
    return FAILED if abandoned(saq_job) else STATUS_OF[saq_job.status]


class Queue(RedisQueue):
    """SAQ's Redis queue, its sweep waiting :data:`SWEEP_ABORT_WAIT` for a dead worker, not 5 s.

    A worker sets :attr:`on_abandoned`: the sweep calls it with each job it gives up, so that
    job still says it ended (its completion webhook, a delivery's dead letter).
    """

    on_abandoned: Callable[[Any], Awaitable[None]] | None = None

    async def finish(self, job: Any, status: Status, **kwargs: Any) -> None:
        await super().finish(job, status, **kwargs)
        if self.on_abandoned is not None and abandoned(job):
            await self.on_abandoned(job)

    async def sweep(self, lock: int = 60, abort: float = SWEEP_ABORT_WAIT) -> list[str]:
        return await super().sweep(lock, abort=min(abort, SWEEP_ABORT_WAIT))

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Any:
        try:
            return await super().dequeue(timeout, poll_interval)
        except Exception as exc:
            if not (isinstance(exc, OSError) or _is_connection_error(exc)):
                raise
            # The broker is away. SAQ would ask again at once, in a loop that eats a core;
            # ask once a second instead, and carry on when it is back.
            await asyncio.sleep(1)
            return None


def check_broker_url(url: str, *, allow_remote: bool = False) -> str:
    """``url`` if it is a Redis URL on this machine (or ``allow_remote``); else ``ValueError``."""
    if not isinstance(url, str):
        raise ValueError(f"a broker is a URL like redis://127.0.0.1:6379, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"a broker is a URL like redis://127.0.0.1:6379, got {url!r}")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: {exc}") from None
    if not host:
        raise ValueError(f"broker URL {url!r} names no host")
    if host not in _LOOPBACK and not allow_remote:
        raise ValueError(
            f"the broker {host!r} is not on this machine; the lab only talks to loopback "
            "unless you pass allow_remote=True (or --allow-remote-broker)"
        )
    return url


def make_queue(url: str, *, allow_remote: bool = False) -> Queue:
    """The lab's SAQ queue on the Redis at ``url`` (not connected yet)."""
    from redis import asyncio as aioredis

    check_broker_url(url, allow_remote=allow_remote)
    # Short socket timeouts: a broker that went away answers "unavailable", never a hung request.
    redis = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return Queue(redis, name=QUEUE_NAME)


def mirror(saq_job: Any, job: Job) -> None:
    """Copy what the broker knows of a job onto our :class:`Job` (everything but the status)."""
    meta = saq_job.meta or {}
    job.progress = round(100.0 * float(saq_job.progress or 0.0), 1)
    job.message = meta.get("message")
    job.worker = saq_job.worker_id
    if saq_job.started:
        job.started_at = saq_job.started / 1000
    if saq_job.completed:
        job.finished_at = saq_job.completed / 1000
    job.updated_at = max(
        [t / 1000 for t in (saq_job.touched, saq_job.started, saq_job.completed) if t]
        or [job.updated_at]
    )
    status = status_of(saq_job)
    if status == SUCCEEDED:
        job.result = saq_job.result
    elif abandoned(saq_job):
        job.error = ABANDONED
        job.exception = JobError(ABANDONED)
    elif status in (FAILED, CANCELLED):
        job.error = meta.get("error") or _last_line(saq_job.error) or status
        if status == CANCELLED and job.error == "abort":  # SAQ's word when it lost ours
            job.error = "cancelled"
        if status == FAILED:
            said = meta.get("said") or job.error
            job.exception = JobTimeout(said) if meta.get("timed_out") else JobError(job.error)
        else:
            why = "" if job.error == "cancelled" else f" ({job.error})"
            job.exception = JobCancelled(f"{job.id} was cancelled{why}")


def _last_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


class _Host:
    """The runner as its jobs see it (:class:`~webhooks_lab.jobs.model.JobHost`)."""

    def __init__(self, runner: BrokerRunner) -> None:
        self._runner = runner
        self.lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._runner._loop

    def on_loop(self) -> bool:
        return threading.get_ident() == self._runner._thread_id

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()

    def report_progress(self, job: Job, percent: float, message: str | None) -> None:
        pass  # progress is reported by the worker that runs the job, never here

    def run_done_callback(self, fn: DoneCallback, job: Job) -> None:
        self._runner._run_callback(fn, job)

    def cancel(self, job: Job) -> bool:
        return self._runner.cancel(job)


class BrokerRunner:
    """Jobs by kind on a SAQ queue in Redis, with the face of ``JobRunner``.

    ``url`` is the broker (``redis://127.0.0.1:PORT``; another machine only with
    ``allow_remote=True``). ``loop`` is the lab loop, or ``None`` for the loop running in this
    thread (``webhooks-lab serve --broker``). Call ``await runner.connect()`` on that loop
    before use (the lab does). ``notify`` and ``secret`` send the completion webhook of a job
    cancelled before any worker took it; workers send the others, with their own secret.

    Timeouts, and the waits inside the kinds, run on each worker's own clock in real seconds:
    a sped-up lab clock (``start(speed=...)``) does not reach other processes.
    """

    def __init__(
        self,
        url: str,
        loop: LabLoop | None = None,
        *,
        clock: Clock | None = None,
        timeout: float | None = None,
        keep: int = 10_000,
        notify: Notify | None = None,
        secret: str | None = None,
        callback_guard: URLGuard = THIS_MACHINE,
        allow_remote: bool = False,
    ) -> None:
        self.url = check_broker_url(url, allow_remote=allow_remote)
        self._allow_remote = allow_remote
        if isinstance(loop, LabLoop):
            self._loop, self._thread_id = loop.loop, loop.thread.ident
        else:
            self._loop, self._thread_id = asyncio.get_running_loop(), threading.get_ident()
        self.clock = clock or Clock()
        self.timeout = timeout
        self.keep = keep
        self.notify: Notify = notify or post_once
        self.secret = secret or signing.generate_secret()
        self.callback_guard = callback_guard
        self.listeners: Listeners[[Job]] = Listeners("broker job runner")
        #: Recent requests the HTTP API refused, and why (as ``JobRunner.refusals``).
        self.refusals: deque[dict[str, Any]] = deque(maxlen=1000)
        self._errors: list[str] = []
        self._host = _Host(self)
        self._kinds: dict[str, Kind] = {}
        # Oldest first; an OrderedDict drops its oldest in O(1), where a dict's first key is found
        # past every slot its deleted ones left: 6.6 us a job at keep=10,000, 0.6 us here.
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        # Every job not yet ended, however old: kept up to date, and found, after _jobs forgets it.
        self._watching: dict[str, Job] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.queue: Queue | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    # -- connecting --------------------------------------------------------------------------

    async def connect(self) -> BrokerRunner:
        """Reach the broker (raise :class:`Unavailable` if it does not answer) and start
        listening to it. On the runner's loop."""
        async with self._connecting:
            if self.queue is None:
                await self._connect()
        return self

    async def _connect(self) -> None:
        queue = make_queue(self.url, allow_remote=self._allow_remote)
        try:
            await queue.connect()
            await queue.redis.ping()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await queue.disconnect()
            if isinstance(exc, (OSError, asyncio.TimeoutError)) or _is_connection_error(exc):
                raise self._down(exc) from None
            raise
        self.queue = queue
        self._wake = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(queue), name="broker-listen"),
            asyncio.create_task(self._refresh(queue), name="broker-refresh"),
        ]

    def _down(self, exc: BaseException) -> Unavailable:
        return Unavailable(
            f"the job broker at {self.url} does not answer ({type(exc).__name__}); "
            "is redis-server running?"
        )

    async def _disconnect(self) -> None:
        if self.queue is not None:
            with contextlib.suppress(Exception):
                await self.queue.disconnect()
            self.queue = None

    async def _ready(self) -> Queue:
        """The connected queue; connects first if the broker was away until now."""
        if self.queue is None:
            await self.connect()
        assert self.queue is not None
        return self.queue

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
        """Register a kind by name, as ``JobRunner.register`` does. ``fn`` must live in a module
        a worker can import (not a notebook cell, a lambda or a nested function), and the
        workers must register it too."""
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
        where = _importable(fn)
        if where is None:
            raise BrokerRefused(
                f"job kind {name!r}: {_name(fn)} cannot reach a worker process (it is defined "
                "in a notebook cell, a lambda or a function inside a function); put it in a "
                "module (e.g. mykinds.py), import it from there, and start the workers with it"
            )
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
        return [self._kinds[name] for name in sorted(self._kinds)]

    def kind(self, name: str) -> Kind | None:
        return self._kinds.get(name)

    # -- submitting --------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Start the registered kind whose function is ``fn``, with these arguments as params.

        Any other callable is refused (:class:`BrokerRefused`): a worker process cannot run a
        function it has not imported itself.
        """
        kind = next((k for k in self._kinds.values() if k.fn is fn), None)
        if kind is None:
            known = ", ".join(sorted(self._kinds)) or "none yet"
            raise BrokerRefused(
                f"{_name(fn)} cannot cross to a worker process: on a broker, jobs run by kind "
                f"name. Register it as a kind from a module the workers import "
                f"(lab.jobs.register('my.kind', mymodule.fn)) and start it with "
                f"lab.jobs.start('my.kind', {{...}}). Registered kinds: {known}"
            )
        try:
            bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{kind.name}: {exc}") from None
        return self.start(kind.name, dict(bound.arguments))

    def map(self, fn: Callable[..., Any], items: Iterable[Any]) -> list[Job]:
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
        """Start a registered kind by name with checked ``params`` (as ``JobRunner.start``)."""
        job, _ = self._call_on_loop(
            self.admit(
                kind,
                params,
                callback_url=callback_url,
                idempotency_key=idempotency_key,
                timeout=timeout,
            )
        )
        return job

    async def admit(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> tuple[Job, bool]:
        """Check, then enqueue on the broker; the job, and whether the key replayed one."""
        spec = self._kinds.get(kind) if isinstance(kind, str) else None
        if spec is None:
            raise UnknownKind(str(kind), sorted(self._kinds))
        checked = spec.check(dict(params) if params is not None else None)
        if callback_url is not None:
            self.callback_guard.check_url(callback_url)
        if self._closed:
            raise JobError("the job runner is stopped; start the lab again")
        queue = await self._ready()
        limit = timeout if timeout is not None else spec.timeout
        if limit is None:
            limit = self.timeout
        job = Job(
            self._host,
            spec.name,
            now=self.clock.time(),
            kind=spec.name,
            params=checked,
            timeout=limit,
            callback_url=callback_url,
            idempotency_key=idempotency_key,
            retry_after=spec.retry_after,
        )
        async with self._broker():
            if idempotency_key is not None:
                fingerprint = json.dumps([kind, checked, callback_url], sort_keys=True)
                stored = json.dumps([job.id, fingerprint])
                key = f"{QUEUE_NAME}:idempotency:{idempotency_key}"
                if not await queue.redis.set(key, stored, nx=True, ex=IDEMPOTENCY_TTL):
                    first_id, first_print = json.loads(await queue.redis.get(key) or "[null, 0]")
                    first = await self.lookup(first_id) if first_id else None
                    if first is not None:
                        if first_print != fingerprint:
                            raise IdempotencyConflict(idempotency_key, first)
                        return first, True
            # Listed first: once enqueued, nothing may come between that and watching the job
            # (a short job can end before the next round trip, and its news would be missed).
            async with queue.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(JOB_INDEX, {job.id: time.time()})
                pipe.zremrangebyrank(JOB_INDEX, 0, -JOB_INDEX_KEEP - 1)
                await pipe.execute()
            await queue.enqueue(
                spec.name,
                key=job.id,
                kwargs=checked,
                retries=ATTEMPTS,
                timeout=int(limit + TIMEOUT_MARGIN) if limit else 0,
                heartbeat=HEARTBEAT,
                ttl=RESULT_TTL,
                meta={
                    "name": spec.name,
                    "created_at": job.created_at,
                    "timeout": limit,
                    "callback_url": callback_url,
                    "retry_after": spec.retry_after,
                },
            )
        self._remember(job)
        self._changed(job)
        return job, False

    # -- looking at jobs ---------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """The job with this id: from memory, or asked of the broker (not from the loop)."""
        if not isinstance(job_id, str):
            return None
        found = self._known(job_id)
        if found is not None or self._host.on_loop():
            return found
        return self._call_on_loop(self.lookup(job_id))

    async def lookup(self, job_id: str) -> Job | None:
        """The job with this id as the broker has it now (started here or anywhere else)."""
        if not isinstance(job_id, str) or not job_id.startswith("job_") or len(job_id) > 100:
            return None
        known = self._known(job_id)
        if known is not None and known.done:
            return known
        queue = await self._ready()
        async with self._broker():
            saq_job = await queue.job(job_id)
        if saq_job is None:
            return known
        job = known or self._adopt(saq_job)
        self._apply(saq_job, job)
        return job

    def _adopt(self, saq_job: Any, *, remember: bool = True) -> Job:
        """A Job for one started elsewhere (another serve process, another kernel)."""
        meta = saq_job.meta or {}
        job = Job(
            self._host,
            meta.get("name") or saq_job.function,
            now=meta.get("created_at") or saq_job.queued / 1000,
            kind=saq_job.function,
            params=saq_job.kwargs or {},
            timeout=meta.get("timeout"),
            callback_url=meta.get("callback_url"),
            retry_after=int(meta.get("retry_after") or 1),
        )
        job.id = saq_job.key
        if remember:
            self._remember(job)
        return job

    def by_idempotency_key(self, key: str) -> Job | None:
        return next((j for j in self._jobs.values() if j.idempotency_key == key), None)

    def list(self, status: str | None = None) -> list[Job]:
        """Jobs this runner knows of (started here or looked up), oldest first."""
        jobs = list(self._jobs.values())
        return jobs if status is None else [job for job in jobs if job.status == status]

    async def listing(
        self, status: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[Job], dict[str, int]]:
        """A page of every job on the broker, whoever started it (``GET /jobs``), and the counts.

        Looks at the newest :data:`LISTING_WINDOW` jobs: the page is ``limit`` of them (at most
        100) after skipping ``offset`` newer ones, with ``status`` if given, oldest first; the
        counts are over the whole window.
        """
        queue = await self._ready()
        async with self._broker():
            ids = await queue.redis.zrevrange(JOB_INDEX, 0, LISTING_WINDOW - 1)
            keys = [i.decode() if isinstance(i, bytes) else i for i in ids]
            found = await queue.jobs(keys) if keys else []
        counts = dict.fromkeys(STATUSES, 0)
        jobs = []
        for saq_job in found:
            if saq_job is None:
                continue  # its record expired (RESULT_TTL)
            job = self._known(saq_job.key) or self._adopt(saq_job, remember=False)
            if not job.done:
                self._apply(saq_job, job)
            counts[job.status] += 1
            if status is None or job.status == status:
                jobs.append(job)
        start = max(0, offset)
        page = jobs[start : start + max(1, min(limit, 100))]
        return page[::-1], counts

    def __len__(self) -> int:
        return len(self._jobs)

    def counts(self) -> dict[str, int]:
        """How many of the jobs this runner knows of are in each state."""
        counts = dict.fromkeys(STATUSES, 0)
        for job in list(self._jobs.values()):
            counts[job.status] += 1
        return counts

    @property
    def queued(self) -> int:
        return self.counts()[QUEUED]

    @property
    def running(self) -> int:
        return self.counts()[RUNNING]

    async def workers(self) -> dict[str, Any]:
        """The workers alive on this broker, by name, as SAQ's worker info has them."""
        queue = await self._ready()
        async with self._broker():
            info = await queue.info()
        return dict(info.get("workers") or {})

    def wait_all(
        self, jobs: Iterable[Job] | None = None, timeout: float | None = 30.0
    ) -> list[Job]:
        if self._host.on_loop():
            raise RuntimeError("wait_all() would block the lab loop; use asyncio.gather there")
        jobs = self.list() if jobs is None else list(jobs)
        pending = unfinished(jobs, timeout)
        if pending:
            raise TimeoutError(f"{pending} of {len(jobs)} jobs had not ended after {timeout} s")
        return jobs

    def subscribe(self, listener: Callable[[Job], Any]) -> Callable[[], None]:
        return self.listeners.subscribe(listener)

    @property
    def errors(self) -> list[str]:
        return [*self.listeners.errors, *self._errors]

    def __repr__(self) -> str:
        counts = self.counts()
        kinds = ", ".join(sorted(self._kinds)) or "none"
        return (
            f"<BrokerRunner {self.url}: {counts[QUEUED]} queued, {counts[RUNNING]} running, "
            f"{counts[SUCCEEDED]} succeeded, {counts[FAILED]} failed, "
            f"{counts[CANCELLED]} cancelled; kinds: {kinds}>"
        )

    # -- cancelling and stopping -----------------------------------------------------------

    def cancel(self, job: Job | str) -> bool:
        """Cancel a job wherever it runs; ``False`` if it had already ended (or is unknown)."""
        found = self.get(job) if isinstance(job, str) else job
        if found is None or found.done:
            return False
        if self._host.on_loop():
            self._spawn(self.revoke(found))
            return True
        return self._call_on_loop(self.revoke(found))

    async def revoke(self, job: Job, wait: float = 5.0) -> bool:
        """Tell the broker to abort ``job``; wait up to ``wait`` s for it to stop."""
        queue = await self._ready()
        async with self._broker():
            saq_job = await queue.job(job.id)
            if saq_job is None or saq_job.status in (Status.COMPLETE, Status.FAILED):
                return False
            was_queued = saq_job.status in (Status.NEW, Status.QUEUED)
            await self._abort(queue, saq_job)
        waiter = self._thread_or_loop_future(job)
        if waiter is not None:
            deadline = asyncio.get_running_loop().time() + wait
            while not waiter.done():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), min(left, 2 * ABORT_POLL))
                if not waiter.done():
                    await self._abort_again_if_lost(queue, job.id)
        if not job.done:
            await self.lookup(job.id)
        if was_queued and job.done and job.callback_url is not None:
            # No worker ever took it, so no worker will say it ended: this runner does.
            self._spawn(self._send_completion(job))
        return True

    async def _abort(self, queue: Queue, saq_job: SaqJob) -> None:
        saq_job.meta = {**(saq_job.meta or {}), "error": "cancelled"}
        await queue.abort(saq_job, "cancelled", ttl=max(5, 3 * ABORT_POLL))

    async def _abort_again_if_lost(self, queue: Queue, job_id: str) -> None:
        """Abort again if the broker forgot the abort.

        SAQ's Redis queue writes a running job back whole on each progress update
        (``RedisQueue._update`` reads the status, then sets the job): an abort that lands between
        the two is overwritten, the status is ``active`` again, and the worker, which polls the
        status, never stops the job. So while a cancelled job still runs, this looks again."""
        async with self._broker():
            saq_job = await queue.job(job_id)
            if saq_job is not None and saq_job.status == Status.ACTIVE:
                await self._abort(queue, saq_job)

    def close(self) -> None:
        if self._host.on_loop():
            raise RuntimeError("close() from outside the loop; use 'await runner.aclose()' there")
        if self._loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.aclose(), self._loop)
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            future.result(5)

    async def aclose(self) -> None:
        """Stop listening to the broker. Jobs on it go on: they belong to the workers."""
        self._closed = True
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        self._tasks = []
        await self._disconnect()

    # -- keeping jobs up to date -------------------------------------------------------------

    async def _listen(self, queue: Queue) -> None:
        """Hear every job change SAQ publishes, and mark that job for a refresh."""
        prefix = queue.job_id("")
        while True:
            pubsub = queue.redis.pubsub()
            try:
                await pubsub.psubscribe(f"{prefix}*")
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if message is None:
                        continue
                    channel = message["channel"]
                    key = (channel.decode() if isinstance(channel, bytes) else channel)[
                        len(prefix) :
                    ]
                    if key in self._watching:
                        self._dirty.add(key)
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: the poll carries on; try again
                self._note(f"lost the broker's messages ({type(exc).__name__}); reconnecting")
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _refresh(self, queue: Queue) -> None:
        """Bring marked jobs up to date at once, and every unfinished one each POLL_EVERY s."""
        # Until closed, not only until cancelled: on Python 3.11 a cancel that lands just as
        # the wait_for below ends is swallowed (CPython gh-86296), and the loop would go on.
        while not self._closed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_EVERY)
            self._wake.clear()
            keys, self._dirty = (self._dirty or set(self._watching)), set()
            keys &= self._watching.keys()
            if not keys:
                continue
            try:
                found = await queue.jobs(list(keys))
            except asyncio.CancelledError:
                raise
            except Exception:
                continue  # the broker is away; the next round tries again
            for saq_job in found:
                if saq_job is not None:
                    job = self._watching.get(saq_job.key)
                    if job is not None:
                        self._apply(saq_job, job)

    def _apply(self, saq_job: Any, job: Job) -> None:
        if job.done:
            return
        before = (job.status, job.progress, job.message, job.worker)
        status = status_of(saq_job)
        mirror(saq_job, job)
        if status in FINAL:
            self._watching.pop(job.id, None)
            _, callbacks = job._end(status)
            for callback in callbacks:
                self._run_callback(callback, job)
            self._changed(job)
            return
        job.status = status
        if (job.status, job.progress, job.message, job.worker) != before:
            self._changed(job)

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        if not job.done:
            self._watching[job.id] = job
        while len(self._jobs) > self.keep:
            self._jobs.popitem(last=False)  # a job still under way stays in _watching

    def _known(self, job_id: str) -> Job | None:
        """The job object this runner holds for an id: one of the newest ``keep``, or any not
        yet ended."""
        return self._jobs.get(job_id) or self._watching.get(job_id)

    def _thread_or_loop_future(self, job: Job) -> asyncio.Future[None] | None:
        with self._host.lock:
            if job.done:
                return None
            future = self._host.create_future()
            job._waiters.append(future)
            return future

    # -- small things ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _broker(self) -> Any:
        """Around every call to the broker: a connection error becomes :class:`Unavailable`."""
        try:
            yield
        except (OSError, asyncio.TimeoutError) as exc:
            raise self._down(exc) from None
        except Exception as exc:
            if _is_connection_error(exc):
                raise self._down(exc) from None
            raise

    def _call_on_loop(self, coro: Any) -> Any:
        if self._host.on_loop():
            coro.close()
            raise RuntimeError("this call would block the lab loop; await its async form there")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _changed(self, job: Job) -> None:
        self.listeners.notify(job)

    def _note(self, text: str) -> None:
        self._errors = [*self._errors[-99:], text]

    def _run_callback(self, fn: DoneCallback, job: Job) -> None:
        try:
            fn(job)
        except Exception as exc:
            self._note(f"done callback {_name(fn)} for {job.id} raised {exc!r}")

    async def _send_completion(self, job: Job) -> None:
        failure = await notify_completion(job, self.notify, self.secret)
        if failure is not None:
            self._note(failure)


def _is_connection_error(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(exc, (ConnectionError, TimeoutError))


def _importable(fn: Callable[..., Any]) -> str | None:
    """``module:qualname`` if a worker could import ``fn`` by name; else ``None``."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname or not qualname:
        return None
    return f"{module}:{qualname}"


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


__all__ = [
    "ABORT_POLL",
    "ATTEMPTS",
    "BEAT_EVERY",
    "HEARTBEAT",
    "QUEUE_NAME",
    "STATUS_OF",
    "ABANDONED",
    "JOB_INDEX",
    "abandoned",
    "status_of",
    "RESULT_TTL",
    "SWEEP",
    "SWEEP_ABORT_WAIT",
    "BrokerRefused",
    "BrokerRunner",
    "Queue",
    "check_broker_url",
    "make_queue",
    "mirror",
]
