"""The lab's clock: real time, optionally sped up, so hours of retries play in seconds.

A lesson starts the lab with ``speed=3600`` and a retry schedule of "5 minutes, 30 minutes,
2 hours" plays out in a fraction of a second of real time, yet every timestamp the learner sees
is consistent. The clock can also stand still (:meth:`Clock.pause`) and jump
(:meth:`Clock.advance`): a sleeper waits for a moment of lab time, not for a length of real
time, so it wakes when the clock reaches that moment however the clock got there. Tests use
:class:`FakeClock`, which stands still until told to move.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Clock:
    """Wall-clock time scaled by ``speed`` from the moment the clock was made."""

    def __init__(self, speed: float = 1.0) -> None:
        self._speed = _positive(speed)
        now = time.time()
        self._origin = now
        # (lab time at the anchor, monotonic seconds at the anchor, lab seconds per real
        # second): one tuple, so a reader on another thread never sees half a change.
        self._anchor = (now, time.monotonic(), self._speed)
        self._lock = threading.Lock()
        self._sleepers: dict[asyncio.Future[None], float] = {}

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        speed = _positive(value)
        with self._lock:
            self._speed = speed
            if not self.paused:  # re-anchor, so lab time stays continuous; timers are re-set
                self._anchor = (self.time(), time.monotonic(), speed)
                self._wake(everyone=True)

    @property
    def paused(self) -> bool:
        return self._anchor[2] == 0.0

    def time(self) -> float:
        """Lab time as Unix seconds (float)."""
        at, mono, rate = self._anchor
        return at + (time.monotonic() - mono) * rate if rate else at

    def wall(self) -> float:
        """Real Unix time, whatever the speed: for facts on the wire.

        ``webhook-timestamp``, HTTP dates and signature tolerance are read against this, never
        against :meth:`time`, or an outside verifier refuses what a sped-up lab signs.
        """
        return time.time()

    def monotonic(self) -> float:
        """Lab seconds since the clock was made; never goes backwards."""
        return self.time() - self._origin

    def pause(self) -> None:
        """Stop lab time where it is: sleepers keep waiting until it moves again."""
        with self._lock:
            if not self.paused:
                self._anchor = (self.time(), time.monotonic(), 0.0)
            # no wake: a sleeper whose timer fires finds the clock still and waits on

    def resume(self) -> None:
        """Let lab time run again at :attr:`speed` from where it stands."""
        with self._lock:
            if self.paused:
                self._anchor = (self._anchor[0], time.monotonic(), self._speed)
                self._wake(everyone=True)

    def advance(self, seconds: float) -> None:
        """Move lab time forward by ``seconds`` at once; every sleeper it passes wakes."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, not by {seconds!r}")
        with self._lock:
            at, mono, rate = self._anchor
            self._anchor = (at + seconds, mono, rate)
            self._wake(everyone=bool(rate))  # running: every timer now fires too late

    def deadlines(self) -> list[float]:
        """The lab times at which the sleepers now waiting will wake, soonest first.

        A sleeper counts from the moment it starts: one that starts after an :meth:`advance`
        counts from the new time, so a test waits until the sleeper it means to wake is here.
        """
        with self._lock:
            return sorted(self._sleepers.values())

    async def sleep(self, seconds: float) -> None:
        """Sleep until the clock reaches ``seconds`` of lab time from now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        deadline = self.time() + seconds
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                left, rate = deadline - self.time(), self._anchor[2]
                if left <= 0:
                    return
                self._sleepers[future] = deadline
            timer = loop.call_later(left / rate, _wake, future) if rate else None
            try:
                await future
            finally:
                with self._lock:
                    self._sleepers.pop(future, None)
                if timer is not None:
                    timer.cancel()

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        """Await ``awaitable`` for at most ``seconds`` of lab time, then cancel it.

        Raises :class:`TimeoutError` (``asyncio.TimeoutError`` is the same class from 3.11) when
        time runs out. The one place a lab duration becomes a wait: callers never divide by
        :attr:`speed` themselves, so a paused clock or a :class:`FakeClock` drives every timeout.
        """
        work = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the waiter itself was cancelled: so is what it waited for
            work.cancel()
            raise
        finally:
            timer.cancel()
        if not work.done():
            work.cancel()
            raise TimeoutError(f"not done within {seconds:g} lab seconds")
        return work.result()

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds ``seconds`` of lab time take on this clock at its speed.

        For a deadline that must be set in real time: a cell's thread blocking on the lab (no
        clock can drive a ``Future.result(timeout)``). Everything that can await uses
        :meth:`sleep` or :meth:`wait_for` instead. A :class:`FakeClock` counts one for one.
        """
        return max(0.0, seconds) / self._speed

    def _wake(self, *, everyone: bool) -> None:
        """Wake the sleepers (held lock): those now due, or all to look again at a new rate."""
        now = self.time()
        for future, deadline in list(self._sleepers.items()):
            if everyone or deadline <= now:
                with contextlib.suppress(RuntimeError):  # its loop has closed
                    future.get_loop().call_soon_threadsafe(_wake, future)

    def __repr__(self) -> str:
        still = ", paused" if self.paused else ""
        return f"Clock(speed={self._speed:g}{still})"


class FakeClock(Clock):
    """A clock that stands still until :meth:`advance` moves it; sleepers wake as it passes them."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__()
        self._origin = float(start)
        self._anchor = (float(start), 0.0, 0.0)

    def wall(self) -> float:
        return self.time()  # a fake clock's world is all fake, wire included

    def __repr__(self) -> str:
        return f"FakeClock(now={self.time():.3f})"


def _positive(speed: float) -> float:
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed!r}")
    return float(speed)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
