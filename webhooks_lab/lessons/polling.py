"""Poll or be told: the same events, noticed by a poller and by a webhook, measured side by side.

An :class:`EventSource` is a pretend provider (a shop taking orders). It makes events at random
moments (a seeded Poisson process in lab time), serves them on its own small HTTP API,
``GET /events?after=<seq>``, and POSTs each one, as it happens, to every webhook URL subscribed.

A :class:`Race` wires one source to two kinds of listener and keeps score:

- one or more *pollers*, each asking the source "anything new?" every ``interval`` lab seconds
  over real HTTP, counting its requests and the empty answers;
- a *webhook*: an endpoint on the lab's own receiver, to which the source pushes each event.

For every event, each side's *detection delay* is the lab time from the moment the event happened
to the moment that side knew of it. Everything runs on the lab loop; cells only read the score.

    race = Race(lab, rate=1/6, poll_every=30)     # an order every ~6 s; ask every 30 s
    report = race.run(events=40)                   # blocks until both sides saw all 40
    report.webhook.p50, report.polling.p50
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from webhooks_lab.events import Event, new_id
from webhooks_lab.receiver.inbox import Delivery
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.server import Server

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

Listener = Callable[[], None]


# -- the score ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0–1) of ``values``; ``nan`` when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class SideStats:
    """How one side of the race did: what it noticed, what it cost, how late it was."""

    name: str
    interval: float | None = None  # a poller's interval in lab seconds; None for the webhook
    noticed: int = 0
    requests: int = 0
    empty: int = 0
    failed: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.delays, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.delays, 0.95)

    @property
    def mean(self) -> float:
        return sum(self.delays) / len(self.delays) if self.delays else math.nan

    @property
    def requests_per_event(self) -> float:
        return self.requests / self.noticed if self.noticed else math.nan

    @property
    def empty_share(self) -> float:
        """The share of requests that brought back nothing new: pure waste."""
        return self.empty / self.requests if self.requests else 0.0

    def copy(self) -> SideStats:
        return replace(self, delays=list(self.delays))


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


@dataclass(frozen=True)
class RaceReport:
    """The score when a run ended: the webhook, and each poller (``polling`` is the first)."""

    events: int
    rate: float  # the rate the source was set to, events per lab second
    webhook: SideStats
    pollers: tuple[SideStats, ...]
    complete: bool = True
    seconds: float = math.nan  # lab seconds from the start of the score to its last event

    @property
    def measured_rate(self) -> float:
        """The events per lab second this run actually had (a random source varies)."""
        return self.events / self.seconds if self.seconds > 0 else math.nan

    @property
    def polling(self) -> SideStats:
        return self.pollers[0]

    @property
    def sides(self) -> tuple[SideStats, ...]:
        return (self.webhook, *self.pollers)

    def __repr__(self) -> str:
        lines = [
            f"{self.events} events in {self.seconds / 60:.3g} lab minutes "
            f"(set to about {self.rate * 60:g} a minute)",
            f"  {'side':<20} {'noticed':>7} {'requests':>8} {'empty':>6} {'req/event':>9} "
            f"{'delay p50':>10} {'p95':>10}",
        ]
        for side in self.sides:
            lines.append(
                f"  {side.name:<20} {side.noticed:>7} {side.requests:>8} {side.empty:>6} "
                f"{side.requests_per_event:>9.2f} {_seconds(side.p50):>10} {_seconds(side.p95):>10}"
            )
        for side in self.sides:
            if side.noticed < self.events:
                lines.append(
                    f"  ⚠ {side.name} missed {self.events - side.noticed} of {self.events} events"
                    + (" (its deliveries failed and nobody retried)" if side.failed else "")
                )
        return "\n".join(lines)


# -- the source --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceEvent:
    """One thing that happened at the source, numbered in order."""

    seq: int
    id: str
    type: str
    created_at: float  # lab time, Unix seconds
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at,
            "data": self.data,
        }


class EventSource:
    """A provider making events at random (seeded) moments, with a polling API and webhooks.

    ``rate`` is events per lab second. Its API, on its own server at :attr:`url`, is
    ``GET /events?after=<seq>``: every event numbered above ``seq``, oldest first.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        rate: float,
        seed: int = 7,
        event_type: str = "order.created",
    ) -> None:
        _check_rate(rate)
        self.clock = clock
        self._rate = float(rate)
        self.event_type = event_type
        self.events: list[SourceEvent] = []
        self.by_id: dict[str, SourceEvent] = {}
        self.webhook_urls: list[str] = []
        self.limit: int | None = None  # stop making events once this many exist
        # Who hears of each event as it is made, and of each push's answer (None: no answer).
        self.on_event: Listeners[[SourceEvent]] = Listeners("event source")
        self.on_push: Listeners[[SourceEvent, int | None]] = Listeners("event source pushes")
        self._random = random.Random(seed)
        self._server: Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._pushes: set[asyncio.Task[None]] = set()

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        _check_rate(value)
        self._rate = float(value)
        self.nudge()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the source is not running; start the race first")
        return self._server.url

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def nudge(self) -> None:
        """Wake the producer (after a change of rate or limit), from any thread."""
        wake = self._wake
        if wake is not None:
            loop = self._task.get_loop() if self._task is not None else None
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

    def after(self, seq: int) -> list[SourceEvent]:
        return self.events[max(0, seq) :]  # seq n is at index n - 1

    # -- on the lab loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.running:
            return
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=10)
        self._server = Server(self._app(), "127.0.0.1", 0)
        await self._server.start()
        self._task = asyncio.create_task(self._produce())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._pushes:
            await asyncio.gather(*self._pushes, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _produce(self) -> None:
        assert self._wake is not None
        # Each event is due a random gap after the previous one was *due*, not after it was
        # made: a busy loop that wakes a little late does not stretch the whole run.
        due = self.clock.monotonic()
        while True:
            if self.limit is not None and len(self.events) >= self.limit:
                self._wake.clear()
                await self._wake.wait()
                due = self.clock.monotonic()
                continue
            due += self._random.expovariate(self._rate)
            wait = due - self.clock.monotonic()
            if wait > 0:
                self._wake.clear()
                try:
                    await self.clock.wait_for(self._wake.wait(), wait)
                    due = self.clock.monotonic()  # the rate or limit changed: draw afresh
                    continue
                except asyncio.TimeoutError:
                    pass
            self._emit()

    def _emit(self) -> SourceEvent:
        seq = len(self.events) + 1
        event = SourceEvent(
            seq=seq,
            id=new_id("evt"),
            type=self.event_type,
            created_at=self.clock.time(),
            data={"order": seq, "total": round(self._random.uniform(5, 120), 2)},
        )
        self.events.append(event)
        self.by_id[event.id] = event
        self.on_event.notify(event)
        for url in self.webhook_urls:
            task = asyncio.create_task(self._push(url, event))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
        return event

    async def _push(self, url: str, event: SourceEvent) -> None:
        assert self._client is not None
        moment = datetime.fromtimestamp(event.created_at, tz=timezone.utc)
        body = Event(event.type, event.data, id=event.id, timestamp=moment).body()
        headers = {
            "content-type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(self.clock.time())),
        }
        status: int | None
        try:
            answer = await self._client.post(url, content=body, headers=headers)
            status = answer.status_code
        except httpx.HTTPError:
            status = None
        self.on_push.notify(event, status)

    def _app(self) -> Starlette:
        async def list_events(request: Request) -> JSONResponse:
            raw = request.query_params.get("after", "0")
            try:
                after = int(raw)
            except ValueError:
                return JSONResponse(
                    {"error": "bad_after", "detail": f"after must be a whole number, got {raw!r}"},
                    status_code=400,
                )
            found = self.after(after)
            last = found[-1].seq if found else max(after, 0)
            return JSONResponse({"events": [e.to_dict() for e in found], "last": last})

        return Starlette(routes=[Route("/events", list_events, methods=["GET"])])


# -- the poller --------------------------------------------------------------------------------


class Poller:
    """Asks ``GET {source}/events?after=<cursor>`` every ``interval`` lab seconds."""

    def __init__(
        self,
        clock: Clock,
        interval: float,
        noticed: Callable[[Poller, list[dict[str, Any]], bool], None],
        *,
        phase: float = 0.0,
    ) -> None:
        _check_interval(interval)
        self.clock = clock
        self._phase = phase
        self._interval = float(interval)
        self.cursor = 0
        self.stats = SideStats(name=_poller_name(interval), interval=float(interval))
        self._noticed = noticed
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.finished = False  # set when a run needs no more questions from this poller

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        _check_interval(value)
        self._interval = float(value)
        self.stats.name, self.stats.interval = _poller_name(value), float(value)
        if self._wake is not None and self._task is not None:
            self._task.get_loop().call_soon_threadsafe(self._wake.set)

    async def start(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.finished = False
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._poll(base_url, client))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _poll(self, base_url: str, client: httpx.AsyncClient) -> None:
        assert self._wake is not None
        # Start at a random point of the first interval, like a poller started at any moment;
        # a first question at the very start would always come back empty and skew the score.
        next_tick = self.clock.monotonic() + self._phase * self._interval
        while not self.finished:
            wait = next_tick - self.clock.monotonic()
            if wait > 0:
                self._wake.clear()
                try:
                    await self.clock.wait_for(self._wake.wait(), wait)
                    next_tick = self.clock.monotonic()  # the interval changed: ask now
                except asyncio.TimeoutError:
                    pass
            # Ticks on a fixed grid, so a slow answer (or a busy machine waking us late) does not
            # push every later question back: the poller asks once per interval, on average.
            next_tick += self._interval
            try:
                answer = await client.get(f"{base_url}/events", params={"after": self.cursor})
                answer.raise_for_status()
                found = answer.json()["events"]
            except (httpx.HTTPError, ValueError, KeyError):
                self._noticed(self, [], False)
                continue
            if found:
                self.cursor = found[-1]["seq"]
            self._noticed(self, found, True)


# -- the race ----------------------------------------------------------------------------------


class Race:
    """One source; a webhook to ``/webhooks/{endpoint}`` on the lab; one poller per interval.

    ``rate``: events per lab second (``1/6`` is an order every six seconds on average).
    ``poll_every``: a poller's interval in lab seconds, or several to race at once.
    Start the lab with ``speed=60`` and a lab minute passes in a real second.
    """

    def __init__(
        self,
        lab: Lab,
        *,
        rate: float = 1 / 6,
        poll_every: float | Sequence[float] = 30.0,
        endpoint: str = "race",
        seed: int = 7,
    ) -> None:
        intervals = [poll_every] if isinstance(poll_every, (int, float)) else list(poll_every)
        if not intervals:
            raise ValueError("poll_every needs at least one interval")
        self.lab = lab
        self.endpoint = endpoint
        self.seed = seed
        self.source = EventSource(lab.clock, rate=rate, seed=seed)
        phases = random.Random(seed + 1)
        self.pollers = [
            Poller(lab.clock, t, self._polled, phase=phases.random()) for t in intervals
        ]
        self.webhook = SideStats(name="webhook")
        self._since = 0  # events numbered above this count in the score
        self._since_time = lab.clock.time()  # ... and the score covers lab time from here
        self._webhook_seen: set[int] = set()
        self._poller_seen: list[set[int]] = [set() for _ in self.pollers]
        self.listeners: Listeners[[]] = Listeners("race")
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._unsubscribe: Callable[[], object] | None = None
        self._caught_up: asyncio.Event | None = None
        self._target: int | None = None
        self.source.on_push.subscribe(self._pushed)

    # -- settings a slider can change while it runs -----------------------------------------------

    @property
    def rate(self) -> float:
        return self.source.rate

    @rate.setter
    def rate(self, value: float) -> None:
        self.source.rate = value

    @property
    def poll_every(self) -> float:
        return self.pollers[0].interval

    @poll_every.setter
    def poll_every(self, value: float) -> None:
        self.pollers[0].interval = value

    @property
    def running(self) -> bool:
        return self.source.running

    # -- life cycle (call from a cell) ------------------------------------------------------------

    def start(self) -> Race:
        """Start making events and racing, until :meth:`stop`. Returns the race."""
        self.lab.loop.run(self._start(), timeout=15)
        return self

    def stop(self) -> None:
        """Stop the source, its server and the pollers. Safe to call twice."""
        if self.lab.loop.running:
            self.lab.loop.run(self._stop(), timeout=15)

    def run(self, events: int = 40, *, timeout: float | None = None) -> RaceReport:
        """Reset the score, race ``events`` new events, wait until every side saw them, stop.

        Returns the :class:`RaceReport`. A webhook delivery that failed is not retried (this
        source has no retries), so the run ends once every push was answered, and the report
        says what the webhook missed; ``timeout`` (real seconds) bounds the wait whatever
        happens.
        """
        if events < 1:
            raise ValueError("events must be at least 1")
        if timeout is None:
            slowest = max(p.interval for p in self.pollers)
            lab_seconds = 3 * events / self.rate + 2 * slowest
            timeout = self.lab.clock.real_seconds(lab_seconds) + 10
        complete = self.lab.loop.run(self._run(events, timeout), timeout=timeout + 15)
        self.stop()
        return self.report(complete=complete)

    def reset_stats(self) -> None:
        """Start the score afresh: only events from now on count."""
        with self._lock:
            self._since = len(self.source.events)
            self._since_time = self.lab.clock.time()
            self.webhook = SideStats(name="webhook")
            for poller in self.pollers:
                poller.stats = SideStats(name=poller.stats.name, interval=poller.interval)
            self._webhook_seen = set()
            self._poller_seen = [set() for _ in self.pollers]
        self._changed()

    def report(self, *, complete: bool = True) -> RaceReport:
        """The score so far."""
        with self._lock:
            return RaceReport(
                events=len(self.source.events) - self._since,
                seconds=self._span(),
                rate=self.rate,
                webhook=self.webhook.copy(),
                pollers=tuple(p.stats.copy() for p in self.pollers),
                complete=complete,
            )

    def _span(self) -> float:
        """Lab seconds from the start of the score to its newest event (to now, while running
        and still waiting for one)."""
        counted = self.source.events[self._since :]
        if self.source.limit is not None or not self.running:
            end = counted[-1].created_at if counted else self._since_time
        else:
            end = self.lab.clock.time()
        return max(0.0, end - self._since_time)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` on the lab loop whenever the score changes; returns unsubscribe.

        A listener that raises is unsubscribed (its error kept in ``race.listeners.errors``):
        a broken view never stops the race.
        """
        return self.listeners.subscribe(listener)

    def __enter__(self) -> Race:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        every = ", ".join(f"{p.interval:g} s" for p in self.pollers)
        state = "running" if self.running else "not running"
        return (
            f"Race ({state}): a source making about {self.rate * 60:g} events a lab minute; "
            f"polled every {every}; pushed to /webhooks/{self.endpoint}"
        )

    # -- on the lab loop ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if self.running:
            return
        self.source.webhook_urls = [self.lab.receiver.url_for(self.endpoint)]
        await self.source.start()
        if self._unsubscribe is None:
            self._unsubscribe = self.lab.receiver.inbox.subscribe(self._delivered)
        self._client = httpx.AsyncClient(timeout=10)
        for poller in self.pollers:
            await poller.start(self.source.url, self._client)
        self._changed()

    async def _stop(self) -> None:
        for poller in self.pollers:
            await poller.stop()
        await self.source.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._changed()

    async def _run(self, events: int, timeout: float) -> bool:
        self.reset_stats()
        self._target = self._since + events
        self._caught_up = asyncio.Event()
        self.source.limit = self._target
        self.source.nudge()
        await self._start()
        try:
            await asyncio.wait_for(self._caught_up.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self.source.limit = None
            self._target = None
        wanted = events
        return all(len(seen) >= wanted for seen in (self._webhook_seen, *self._poller_seen))

    def _check_caught_up(self) -> None:
        target, done = self._target, self._caught_up
        if target is None or done is None:
            return
        wanted = target - self._since
        for poller, seen in zip(self.pollers, self._poller_seen, strict=True):
            if len(seen) >= wanted:
                poller.finished = True  # questions after the last event would only be waste
        # The webhook side is settled once every push has been answered, well or badly: a
        # failed push is never retried here, so waiting longer would change nothing.
        webhook_settled = len(self._webhook_seen) + self.webhook.failed >= wanted
        pollers_done = all(len(seen) >= wanted for seen in self._poller_seen)
        if webhook_settled and pollers_done and not done.is_set():
            done.set()

    def _delivered(self, d: Delivery) -> None:
        if d.endpoint != self.endpoint or not d.ok or d.duplicate or d.webhook_id is None:
            return
        event = self.source.by_id.get(d.webhook_id)
        if event is None:
            return
        with self._lock:
            if event.seq <= self._since or event.seq in self._webhook_seen:
                return
            self._webhook_seen.add(event.seq)
            self.webhook.noticed += 1
            self.webhook.delays.append(max(0.0, d.received_at - event.created_at))
        self._check_caught_up()
        self._changed()

    def _pushed(self, event: SourceEvent, status: int | None) -> None:
        with self._lock:
            if event.seq <= self._since:
                return
            self.webhook.requests += 1
            if status is None or not 200 <= status < 300:
                self.webhook.failed += 1
        self._check_caught_up()
        self._changed()

    def _polled(self, poller: Poller, found: list[dict[str, Any]], ok: bool) -> None:
        now = self.lab.clock.time()
        index = self.pollers.index(poller)
        with self._lock:
            stats, seen = poller.stats, self._poller_seen[index]
            stats.requests += 1
            if not ok:
                stats.failed += 1
            fresh = [e for e in found if e["seq"] > self._since and e["seq"] not in seen]
            if ok and not fresh:
                stats.empty += 1
            for e in fresh:
                seen.add(e["seq"])
                stats.noticed += 1
                stats.delays.append(max(0.0, now - e["created_at"]))
        self._check_caught_up()
        self._changed()

    def _changed(self) -> None:
        self.listeners.notify()


def expected_requests_per_event(rate: float, interval: float) -> float:
    """A poller asks ``1 / interval`` times a second for ``rate`` events a second."""
    return 1.0 / (rate * interval)


def expected_mean_delay(interval: float) -> float:
    """An event lands at a random moment between two polls: on average half an interval."""
    return interval / 2


def expected_empty_share(rate: float, interval: float) -> float:
    """The chance no event happened during one interval (Poisson): ``exp(-rate * interval)``."""
    return math.exp(-rate * interval)


def _poller_name(interval: float) -> str:
    return f"poll every {interval:g} s"


def _check_rate(rate: float) -> None:
    if not rate > 0:
        raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")


def _check_interval(interval: float) -> None:
    if not interval > 0:
        raise ValueError(f"a poll interval must be a positive number of seconds, got {interval!r}")


__all__ = [
    "EventSource",
    "Poller",
    "Race",
    "RaceReport",
    "SideStats",
    "SourceEvent",
    "expected_empty_share",
    "expected_mean_delay",
    "expected_requests_per_event",
    "percentile",
]
