"""Measure a view under load, without a browser: count its widget messages, and flood an endpoint.

    with MessageCounter() as counter:
        view = InboxView(lab, "load")
        lab.loop.run(firehose(lab.receiver.url_for("load"), rate=1000, seconds=5))
    counter.updates            # every widget state update the views sent, with its time
    kernel_lateness(...)       # how late a timer on this thread ran meanwhile

Used by ``tests/test_widgets_stress.py`` and ``benchmarks/inbox_widget.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import comm
from comm.base_comm import BaseComm


class _CountingComm(BaseComm):
    """A comm with no kernel behind it that notes every message it would have sent."""

    counter: MessageCounter

    def publish_msg(self, msg_type: str, data: Any = None, **keys: Any) -> None:
        method = data.get("method") if isinstance(data, dict) else None
        state = data.get("state", {}) if isinstance(data, dict) else {}
        self.counter.messages.append((time.monotonic(), self.comm_id, msg_type, method, state))


@dataclass
class MessageCounter:
    """While active, widgets created get a comm that counts what it sends (``comm_msg`` ones)."""

    messages: list[tuple[float, str, str, str | None, dict[str, Any]]] = field(default_factory=list)
    _saved: Callable[..., BaseComm] | None = None

    def __enter__(self) -> MessageCounter:
        counter = self

        class Counting(_CountingComm):
            pass

        Counting.counter = counter
        self._saved = comm.create_comm
        comm.create_comm = lambda *a, **k: Counting(*a, **k)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            comm.create_comm = self._saved

    @property
    def updates(self) -> list[tuple[float, str, dict[str, Any]]]:
        """``(time, comm id, state)`` of each state update sent to the browser."""
        return [(t, c, s) for t, c, kind, method, s in self.messages if method == "update"]

    def updates_between(self, start: float, end: float) -> int:
        return sum(1 for t, _, _ in self.updates if start <= t < end)

    def busiest_second(self, start: float, end: float) -> int:
        """The most updates sent in any one-second window starting at an update."""
        times = sorted(t for t, _, _ in self.updates if start <= t < end)
        best, first = 0, 0
        for last, moment in enumerate(times):
            while moment - times[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return best


@dataclass
class FirehoseResult:
    sent: int = 0
    answered: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


async def firehose(
    url: str,
    *,
    rate: float = 1000,
    seconds: float = 5.0,
    connections: int = 8,
    event_type: str = "load.tested",
) -> FirehoseResult:
    """POST ``rate`` deliveries a second for ``seconds`` to ``url`` (loopback only), on a schedule.

    Raw HTTP/1.1 over a few kept-alive connections: httpx's pool could not keep this pace on two
    cores. If the machine falls behind, requests go out as soon as possible, never dropped.
    """
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the firehose only aims at this machine (127.0.0.1)")
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    started = loop.time()
    numbers = iter(range(total))
    result = FirehoseResult()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in numbers:  # shared: each number is taken by exactly one worker
                delay = started + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = json.dumps({"type": event_type, "data": {"n": n}}).encode()
                writer.write(
                    f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\n"
                    f"content-type: application/json\r\nwebhook-id: msg_load{n:08d}\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                result.sent += 1
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                result.answered += 1
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = loop.time() - started
    return result


def kernel_lateness(until: threading.Event | Callable[[], bool], tick: float = 0.02) -> list[float]:
    """Run a timer on *this* thread every ``tick`` s until ``until``; return how late each ran.

    This thread stands in for the kernel's: if the lab or the views hogged the interpreter, the
    timer would fire late and a notebook would feel frozen.
    """
    done = until.is_set if isinstance(until, threading.Event) else until
    late: list[float] = []
    due = time.monotonic() + tick
    while not done():
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        late.append(max(0.0, time.monotonic() - due))
        due += tick
        due = max(due, time.monotonic())  # one late tick must not make the next ones "late" too
    return late
