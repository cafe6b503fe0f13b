"""Throttle: turn a flood of "something changed" pokes into a few widget updates a second.

Deliveries, attempts and job progress arrive on the lab loop, sometimes a thousand a second. A
view must not send a widget message for each one: the browser would drown and the kernel's
connection with it. So a view's listener only *pokes* its :class:`Throttle` (cheap, from any
thread), and the throttle calls the view's ``flush`` later, at most ``max_syncs_per_second`` widget
messages a second, with everything that piled up in between.

Flushes run on one small background thread shared by every view, never on the lab loop (a slow
browser must not slow the receiver) and never on the kernel's thread (a cell that blocks must not
freeze the views). ipywidgets 8 lets a trait be set from any thread; a view guards its own state
with the throttle's lock so a flush and a click from the kernel never interleave.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

from webhooks_lab.i18n import _

Flush = Callable[[], "int | None"]


class Throttle:
    """Call ``flush()`` soon after a :meth:`poke`, but never faster than the message budget.

    ``flush`` returns how many widget messages it sent (0 if nothing changed). However fast pokes
    come, no one-second window holds more than ``max_syncs_per_second`` of them, provided no
    flush sends more than ``max_per_flush`` (a view says how many it may send at most; without
    it, the last flush's count is the guess). Flushes are also spread out: after ``n`` messages
    the next flush waits at least ``n / max_syncs_per_second`` seconds. The first poke after a
    quiet spell flushes at once: a lone delivery shows up without delay.

    ``heartbeat`` (seconds) pokes on its own every so often, for views whose source has no events
    to listen to (a chaos setting changed in a cell, say).
    """

    def __init__(
        self,
        flush: Flush,
        *,
        max_syncs_per_second: float = 10.0,
        max_per_flush: int | None = None,
        heartbeat: float | None = None,
    ) -> None:
        if max_syncs_per_second <= 0:
            raise ValueError("max_syncs_per_second must be positive")
        self._flush = flush
        self.max_syncs_per_second = float(max_syncs_per_second)
        self.max_per_flush = max_per_flush
        self._recent: deque[tuple[float, int]] = deque()  # (when a flush ended, messages sent)
        self.heartbeat = heartbeat
        self.lock = threading.RLock()  # held while flushing; views take it for their own changes
        self._state = threading.Lock()  # guards the scheduling fields below; never held long
        self._scheduled = False
        self._next_allowed = 0.0
        self.closed = False
        self.pokes = 0
        self.flushes = 0
        self.syncs = 0
        self.last_error: BaseException | None = None
        if heartbeat:
            _scheduler.add(time.monotonic() + heartbeat, self._beat)

    def poke(self) -> None:
        """Something changed: flush soon. Safe and cheap from any thread, however often."""
        with self._state:
            self.pokes += 1
            if self._scheduled or self.closed:
                return
            self._scheduled = True
            due = max(time.monotonic(), self._next_allowed)
        _scheduler.add(due, self._run)

    def flush_now(self) -> int:
        """Flush at once on this thread (a cell, a test), whatever the budget says."""
        with self._state:
            self._scheduled = False
        return self._run(scheduled=False)

    def close(self) -> None:
        """No more flushes; a poke after this does nothing."""
        with self._state:
            self.closed = True

    def _run(self, scheduled: bool = True) -> int:
        with self._state:
            if self.closed:
                self._scheduled = False
                return 0
            if scheduled:
                # A poke that came during the previous flush was scheduled before that flush
                # had set the next allowed time: check again, and wait out the gap if needed.
                due = self._next_allowed
                if time.monotonic() < due:
                    _scheduler.add(due, self._run)
                    return 0
                self._scheduled = False
        sent = 0
        with self.lock:
            try:
                sent = int(self._flush() or 0)
            except Exception as exc:  # a broken view must never kill the flushing thread
                self.last_error = exc
        finished = time.monotonic()
        with self._state:
            self.flushes += 1
            self.syncs += sent
            self._next_allowed = max(self._next_allowed, self._earliest_next(finished, sent))
        return sent

    def _earliest_next(self, finished: float, sent: int) -> float:
        """When the next flush may start without breaking either rule.

        Times are taken when a flush *ends*, so every message it sent is at or before them:
        counting from there can only overestimate a window, never miss one.
        """
        budget = self.max_syncs_per_second
        spread = finished + max(sent, 1) / budget
        if sent:
            self._recent.append((finished, sent))
        while self._recent and self._recent[0][0] <= finished - 1.0:
            self._recent.popleft()
        expected = self.max_per_flush or max(sent, 1)
        in_window = sum(n for _, n in self._recent)
        start = finished
        for when, n in self._recent:  # oldest first: wait until enough of them leave the window
            if in_window + expected <= budget:
                break
            in_window -= n
            start = when + 1.0
        return max(spread, start)

    def _beat(self) -> None:
        if self.closed or not self.heartbeat:
            return
        self.poke()
        _scheduler.add(time.monotonic() + self.heartbeat, self._beat)

    def __repr__(self) -> str:
        if self.closed:
            return _(
                "<Throttle closed, at most {rate:g} widget messages/s>",
                rate=self.max_syncs_per_second,
            )
        return _(
            "<Throttle open, at most {rate:g} widget messages/s>", rate=self.max_syncs_per_second
        )


class _Scheduler:
    """One daemon thread running due callbacks in time order; it exits when idle for a while."""

    idle_exit = 5.0

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, due: float, fn: Callable[[], object]) -> None:
        with self._wake:
            heapq.heappush(self._heap, (due, next(self._order), fn))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="widget-throttle", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while True:
                    if not self._heap:
                        self._wake.wait(self.idle_exit)
                        if not self._heap:
                            self._thread = None
                            return
                        continue
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        fn = heapq.heappop(self._heap)[2]
                        break
                    self._wake.wait(due - now)
            try:
                fn()
            except Exception:  # noqa: S112 - background work never raises into a cell
                continue


_scheduler = _Scheduler()
