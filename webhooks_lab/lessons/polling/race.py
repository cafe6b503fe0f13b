"""The race: one source, a webhook on the lab's receiver, one poller per interval, and the score."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from webhooks_lab.i18n import _
from webhooks_lab.lessons.polling.poller import Poller
from webhooks_lab.lessons.polling.score import RaceReport, SideStats
from webhooks_lab.lessons.polling.source import EventSource, SourceEvent
from webhooks_lab.receiver.inbox import Delivery
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.traced_http import traced_async_client

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

__all__ = ["Race", "ScoreListener"]

ScoreListener = Callable[[], object]


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
        self.source = EventSource(lab.clock, rate=rate, seed=seed, trace=lab.trace)
        phases = random.Random(seed + 1)
        self.pollers = [
            Poller(lab.clock, t, self._polled, phase=phases.random()) for t in intervals
        ]
        if len(self.pollers) > 1:  # lanes of the wire view, one per poller
            for poller in self.pollers:
                poller.party = f"Poller ({poller.interval:g} s)"
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

    def subscribe(self, listener: ScoreListener) -> Callable[[], None]:
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
        state = _("running") if self.running else _("not running")
        return _(
            "Race ({state}): a source making about {per_minute:g} events a lab minute; "
            "polled every {every}; pushed to /webhooks/{endpoint}",
            state=state,
            per_minute=self.rate * 60,
            every=every,
            endpoint=self.endpoint,
        )

    # -- on the lab loop ---------------------------------------------------------------------------

    async def _start(self) -> None:
        if self.running:
            return
        self.source.webhook_urls = [self.lab.receiver.url_for(self.endpoint)]
        await self.source.start()
        if self._unsubscribe is None:
            self._unsubscribe = self.lab.receiver.inbox.subscribe(self._delivered)
        self._client = traced_async_client("Poller", trace=self.lab.trace, timeout=10)
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
