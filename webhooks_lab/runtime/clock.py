"""The lab's clock: real time, optionally sped up, so hours of retries play in seconds.

A lesson starts the lab with ``speed=3600`` and a retry schedule of "5 minutes, 30 minutes,
2 hours" plays out in a fraction of a second of real time, yet every timestamp the learner sees
is consistent. Tests use :class:`FakeClock`, which only moves when told to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Clock:
    """Wall-clock time scaled by ``speed`` from the moment the clock was made."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self._speed = float(speed)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"speed must be positive, got {value!r}")
        # Re-anchor so lab time stays continuous when the speed changes.
        now = self.time()
        self._wall0, self._mono0, self._speed = now, time.monotonic(), float(value)

    def time(self) -> float:
        """Lab time as Unix seconds (float)."""
        return self._wall0 + (time.monotonic() - self._mono0) * self._speed

    def wall(self) -> float:
        """Real Unix time, whatever the speed: for facts on the wire.

        ``webhook-timestamp``, HTTP dates and signature tolerance are read against this, never
        against :meth:`time`, or an outside verifier refuses what a sped-up lab signs.
        """
        return time.time()

    def monotonic(self) -> float:
        """Lab seconds since an arbitrary origin; never goes backwards."""
        return (time.monotonic() - self._mono0) * self._speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of lab time."""
        await asyncio.sleep(max(0.0, seconds) / self._speed)

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        """Await ``awaitable`` for at most ``seconds`` of lab time, then cancel it.

        Raises :class:`TimeoutError` (``asyncio.TimeoutError`` is the same class from 3.11) when
        time runs out. The one place a lab duration becomes a real one: callers never divide by
        :attr:`speed` themselves, so a :class:`FakeClock` drives every timeout too.
        """
        return await asyncio.wait_for(awaitable, max(0.0, seconds) / self._speed)

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds ``seconds`` of lab time take on this clock.

        For a deadline that must be set in real time: a cell's thread blocking on the lab (no
        clock can drive a ``Future.result(timeout)``). Everything that can await uses
        :meth:`sleep` or :meth:`wait_for` instead. A :class:`FakeClock` counts one for one.
        """
        return max(0.0, seconds) / self._speed

    def __repr__(self) -> str:
        return f"Clock(speed={self._speed:g})"


class FakeClock(Clock):
    """A clock that stands still until :meth:`advance` moves it; sleepers wake as it passes them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._speed = 1.0
        self._now = float(start)
        self._origin = float(start)
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now  # a fake clock's world is all fake, wire included

    def monotonic(self) -> float:
        return self._now - self._origin

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, future))
        await future

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        work = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not work.done():
            work.cancel()
            raise asyncio.TimeoutError(f"not done within {seconds:g} lab seconds")
        return work.result()

    def deadlines(self) -> list[float]:
        """When the sleepers now waiting will wake: a test waits until the sleeper it means to
        wake is there before it calls :meth:`advance` (a sleeper that starts after an advance
        counts from the new time)."""
        return sorted(t for t, _ in list(self._sleepers))

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._now += seconds
        due = [(t, f) for t, f in self._sleepers if t <= self._now]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self._now]
        for _, future in due:
            if not future.done():
                future.get_loop().call_soon_threadsafe(_wake, future)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:.3f})"


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
