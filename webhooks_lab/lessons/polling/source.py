"""A pretend provider: events at random (seeded) moments, a polling API, and webhooks pushed.

An :class:`EventSource` (a shop taking orders) makes events as a Poisson process in lab time,
serves them on its own small HTTP API, ``GET /events?after=<seq>``, and POSTs each one, as it
happens, to every webhook URL subscribed.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from webhooks_lab.events import Event, new_id
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.server import Server
from webhooks_lab.runtime.trace import Trace, current
from webhooks_lab.runtime.traced_http import traced_async_client

__all__ = ["EventSource", "SourceEvent"]


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
        trace: Trace | None = None,
        party: str = "Shop",
    ) -> None:
        _check_rate(rate)
        self.clock = clock
        self._rate = float(rate)
        self.event_type = event_type
        self.trace, self.party = trace, party  # the wire trace, and who the source is on it
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
        trace = self.trace if self.trace is not None else current()
        if trace is None:  # outside a lab: a trace of its own, for its server to claim from
            trace = Trace(self.clock)
        self._client = traced_async_client(self.party, trace=trace, timeout=10)
        self._server = Server(trace.serve(self._app(), self.party), "127.0.0.1", 0)
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


def _check_rate(rate: float) -> None:
    if not rate > 0:
        raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
