"""``GET /inbox/events``: the inbox as a live feed of server-sent events, for the inbox page.

A browser opens the feed with ``new EventSource("inbox/events")`` and gets, at once, the newest
deliveries already in the inbox, then every new one as it arrives, without reloading the page.

Each open page is a :class:`FeedClient` with a small, bounded buffer. The inbox calls the feed on
the lab loop for every delivery; the feed drops it into each client's buffer and wakes the client's
stream, which sends whatever has piled up as one message, then pauses a moment (``coalesce``),
so a page gets at most about ten messages a second however fast webhooks arrive. A page that
cannot keep up loses the *oldest* waiting deliveries, never memory: it is told how many it
skipped, and they stay in the inbox (``GET /webhooks/<name>`` lists them as JSON).

The wire format is plain server-sent events::

    retry: 2000

    id: 42
    event: deliveries
    data: {"deliveries": [{"seq": 41, ...}, {"seq": 42, ...}], "skipped": 0, "total": 42}

    event: bye
    data: {"detail": "the server is stopping"}

``id`` is the newest sequence number sent, so a reconnecting ``EventSource`` (which sends it back
as ``Last-Event-ID``) resumes where it left off.

With ``?wire=1`` the same stream also carries the page's Wire tab: the wire trace's sequence
diagram (:mod:`webhooks_lab.runtime.wire_diagram`), drawn here in Python, sent whole as SVG
when exchanges happen, at most once per ``coalesce`` like the deliveries::

    event: wire
    data: {"svg": "<svg ...>...</svg>", "total": 1234}
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from webhooks_lab.http.params import plain_int
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.runtime.trace import DEFAULT_KEEP, Trace
from webhooks_lab.runtime.wire_diagram import render_svg

DEFAULT_LIMIT = 200  # deliveries a page shows, and so the most worth buffering for it
MAX_LIMIT = 1000
WIRE_EXCHANGES = DEFAULT_KEEP  # the newest exchanges the Wire tab draws (bursts collapse)


def summary(d: Delivery) -> dict[str, Any]:
    """What a row of the inbox page shows: no headers, no body (``GET /inbox/{seq}`` has those)."""
    return {
        "seq": d.seq,
        "endpoint": d.endpoint,
        "method": d.method,
        "path": d.path,
        "event_type": d.event_type,
        "webhook_id": d.webhook_id,
        "received_at": d.received_at,
        "status": d.status,
        "outcome": d.outcome,
        "verified": d.verified,
        "reason": d.reason,
        "duplicate": d.duplicate,
        "size": len(d.body),
        "duration_ms": round(d.duration_ms, 3),
    }


class FeedClient:
    """One open page: the deliveries waiting to be sent to it, at most ``limit`` of them."""

    def __init__(self, limit: int, wire: bool = False) -> None:
        self.pending: deque[Delivery] = deque(maxlen=limit)
        self.wire = wire  # wants the wire diagram too
        self.wire_changed = wire
        self.skipped = 0
        self.closed = False
        self.wake = asyncio.Event()

    def push(self, delivery: Delivery) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.skipped += 1  # the oldest waiting one falls out; the page hears how many
        self.pending.append(delivery)
        self.wake.set()

    def take(self) -> tuple[list[Delivery], int]:
        batch, skipped = list(self.pending), self.skipped
        self.pending.clear()
        self.skipped = 0
        return batch, skipped

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class InboxFeed:
    """The ASGI endpoint behind ``GET /inbox/events``, fanning the inbox out to every open page.

    It listens to the inbox only while at least one page is open, so a receiver nobody watches
    pays nothing for it. :meth:`aclose` ends every stream at once (the server calls it before it
    stops, so a page left open never holds up ``lab.stop()``).
    """

    def __init__(
        self,
        inbox: Inbox,
        *,
        trace: Trace | None = None,
        heartbeat: float = 15.0,
        coalesce: float = 0.1,
        retry_ms: int = 2000,
    ) -> None:
        self.inbox = inbox
        self.trace = trace
        self._wire_unsubscribe: Callable[[], None] | None = None
        self._wire_svg: tuple[tuple[int, int], str] | None = None  # (trace state, picture)
        self.heartbeat = heartbeat
        self.coalesce = coalesce
        self.retry_ms = retry_ms
        self.clients: set[FeedClient] = set()
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._all_gone = asyncio.Event()

    # -- clients coming and going (always on the serving loop) ------------------------------------

    def connect(
        self, after: int, limit: int, wire: bool = False
    ) -> tuple[FeedClient, list[Delivery], int]:
        """A new client, the backlog it starts with (newest ``limit`` after ``after``), and how
        many older ones that backlog leaves out."""
        self._loop = asyncio.get_running_loop()
        items = self.inbox.snapshot()
        newer = items[bisect.bisect_right(items, after, key=lambda d: d.seq) :]
        backlog = newer[-limit:]
        client = FeedClient(limit, wire=wire and self.trace is not None)
        self.clients.add(client)
        self._all_gone.clear()
        if self._unsubscribe is None:
            self._unsubscribe = self.inbox.subscribe(self._on_delivery)
        if client.wire and self._wire_unsubscribe is None and self.trace is not None:
            self._wire_unsubscribe = self.trace.subscribe(self._on_exchange)
        return client, backlog, len(newer) - len(backlog)

    def disconnect(self, client: FeedClient) -> None:
        self.clients.discard(client)
        if self._wire_unsubscribe is not None and not any(c.wire for c in self.clients):
            self._wire_unsubscribe()
            self._wire_unsubscribe = None
        if not self.clients:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            self._all_gone.set()

    def _on_delivery(self, delivery: Delivery) -> None:
        try:
            on_our_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_our_loop = False
        if on_our_loop:
            self._fan_out(delivery)
        elif self._loop is not None and not self._loop.is_closed():
            # Recorded from another thread (a test, a tool): hand it to the loop the pages live on.
            self._loop.call_soon_threadsafe(self._fan_out, delivery)

    def _fan_out(self, delivery: Delivery) -> None:
        for client in self.clients:
            client.push(delivery)

    def _on_exchange(self, exchange: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            on_our_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_our_loop = False
        if on_our_loop:
            self._wire_changed()
        else:  # a cell's own client (jobs.client.submit) records from the kernel's thread
            loop.call_soon_threadsafe(self._wire_changed)

    def _wire_changed(self) -> None:
        for client in self.clients:
            if client.wire:
                client.wire_changed = True
                client.wake.set()

    def wire_message(self) -> bytes:
        """The Wire tab's picture of the trace now, drawn once however many pages are open."""
        assert self.trace is not None
        state = (self.trace.total, len(self.trace))
        if self._wire_svg is None or self._wire_svg[0] != state:
            newest = self.trace.exchanges()[-WIRE_EXCHANGES:]
            self._wire_svg = (state, render_svg(newest, names=self.trace.names))
        data = json.dumps({"svg": self._wire_svg[1], "total": self.trace.total})
        return f"event: wire\ndata: {data}\n\n".encode()

    async def aclose(self, timeout: float = 1.0) -> None:
        """End every open stream with a ``bye`` event and refuse new ones; wait (briefly) for
        them to finish."""
        self.closed = True
        for client in list(self.clients):
            client.close()
        if self.clients:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), timeout)

    # -- the HTTP side ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await _send_json(send, 405, "method_not_allowed", "only GET opens the live feed")
            return
        if self.closed:
            await _send_json(send, 503, "stopping", "the server is stopping")
            return
        after, limit, wire = _position(scope)
        client, backlog, skipped = self.connect(after, limit, wire)
        watcher = asyncio.ensure_future(_watch_for_disconnect(receive, client))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),  # tell any proxy not to hold it back
                    ],
                }
            )
            opening = f"retry: {self.retry_ms}\n\n".encode() + self._message(backlog, skipped)
            if client.wire:
                client.wire_changed = False
                opening += self.wire_message()
            await _send_chunk(send, opening)
            while not client.closed:
                try:
                    await asyncio.wait_for(client.wake.wait(), self.heartbeat)
                except asyncio.TimeoutError:
                    await _send_chunk(send, b": still here\n\n")  # keeps idle proxies from closing
                    continue
                client.wake.clear()
                batch, skipped = client.take()
                if batch or skipped:
                    await _send_chunk(send, self._message(batch, skipped))
                if client.wire_changed:
                    client.wire_changed = False
                    await _send_chunk(send, self.wire_message())
                if not client.closed:
                    await asyncio.sleep(self.coalesce)  # let arrivals pile up into one message
            if self.closed:
                await _send_chunk(
                    send, b'event: bye\ndata: {"detail": "the server is stopping"}\n\n'
                )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self.disconnect(client)

    def _message(self, batch: list[Delivery], skipped: int) -> bytes:
        data = json.dumps(
            {
                "deliveries": [summary(d) for d in batch],
                "skipped": skipped,
                "total": len(self.inbox),
            },
            separators=(",", ":"),
        )
        head = f"id: {batch[-1].seq}\n" if batch else ""
        return f"{head}event: deliveries\ndata: {data}\n\n".encode()


def _position(scope: Scope) -> tuple[int, int, bool]:
    """Where a client resumes (``after``, ``Last-Event-ID``), how many it wants (``limit``), and
    whether it wants the wire diagram too (``wire=1``)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    headers = dict(scope["headers"])
    candidates = [
        query.get("after", ["0"])[0],
        headers.get(b"last-event-id", b"0").decode("latin-1"),
    ]
    # Anything but plain digits (a sign, "²", a thousand digits) is read as "not given".
    after = max((n for c in candidates if (n := plain_int(c.strip())) is not None), default=0)
    wanted = plain_int(query.get("limit", [""])[0])
    limit = DEFAULT_LIMIT if wanted is None else wanted
    wire = query.get("wire", [""])[0] in ("1", "true", "yes")
    return after, max(1, min(limit, MAX_LIMIT)), wire


async def _watch_for_disconnect(receive: Receive, client: FeedClient) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            client.close()
            return


async def _send_chunk(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _send_json(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
