"""A poller: asks a source "anything new?" every ``interval`` lab seconds, and counts the cost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from webhooks_lab.lessons.polling.score import SideStats
from webhooks_lab.runtime.clock import Clock

__all__ = ["Poller"]


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
        self.party: str | None = None  # who it is on the wire trace; None: the client's name

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
                answer = await client.get(
                    f"{base_url}/events",
                    params={"after": self.cursor},
                    extensions={"party": self.party} if self.party else None,
                )
                answer.raise_for_status()
                found = answer.json()["events"]
            except (httpx.HTTPError, ValueError, KeyError):
                self._noticed(self, [], False)
                continue
            if found:
                self.cursor = found[-1]["seq"]
            self._noticed(self, found, True)


def _poller_name(interval: float) -> str:
    return f"poll every {interval:g} s"


def _check_interval(interval: float) -> None:
    if not interval > 0:
        raise ValueError(f"a poll interval must be a positive number of seconds, got {interval!r}")
