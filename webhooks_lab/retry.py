"""When to try a webhook delivery again: the schedule, jitter, and the receiver's ``Retry-After``.

A receiver that fails is usually failing for a moment: a deploy, a full queue, a database that
is restarting. Trying again at once would hammer it while it is down, and giving up would lose
the event. So senders wait longer and longer between tries. Svix and the Standard Webhooks
guidance use this schedule, eight attempts spread over about a day::

    immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h

Two refinements matter in practice:

* **Jitter.** If a receiver was down for a minute, every delivery that failed in that minute
  would come back at exactly the same moment and knock it over again (a *thundering herd*).
  Moving each retry by a small random amount spreads them out.
* **Retry-After.** A receiver that answers ``429 Too Many Requests`` or ``503 Service Unavailable``
  may say when to come back, in seconds (``Retry-After: 120``) or as a date. A polite sender
  waits that long instead of its own guess.

This module only does arithmetic on times; :mod:`webhooks_lab.sender.sender` uses it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import timezone
from email.utils import parsedate_to_datetime

__all__ = [
    "DEFAULT_SCHEDULE",
    "MAX_RETRY_AFTER",
    "RETRY_AFTER_STATUSES",
    "RetryPolicy",
    "describe_seconds",
    "parse_retry_after",
]

_MINUTE, _HOUR = 60, 3600
DEFAULT_SCHEDULE: tuple[float, ...] = (
    *(0, 5, 5 * _MINUTE, 30 * _MINUTE),
    *(2 * _HOUR, 5 * _HOUR, 10 * _HOUR, 10 * _HOUR),
)
"""Seconds to wait before each attempt: the Standard Webhooks / Svix schedule (8 attempts)."""

RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
"""Answers whose ``Retry-After`` header the sender honours."""

MAX_RETRY_AFTER = float(2**31)
"""The longest wait a ``Retry-After`` can mean (RFC 9111 §1.2.2 caps delta-seconds the same way)."""


class RetryPolicy:
    """How many attempts a delivery gets, and how long to wait before each.

    ``schedule[n]`` is the wait (in lab seconds) before attempt ``n + 1``; the first entry is
    normally 0 (try at once), and the length of the schedule is the number of attempts.
    ``jitter`` moves each wait by up to that fraction either way (0.2: ±20 %), drawn from a
    generator seeded with ``seed``, so a lesson shows the same timeline every run.
    ``max_retry_after`` caps how long a receiver's ``Retry-After`` can make us wait.

    >>> policy = RetryPolicy(schedule=(0, 10, 60), jitter=0)
    >>> policy.attempts, policy.delay_after(1), policy.delay_after(3)
    (3, 10.0, None)
    """

    def __init__(
        self,
        schedule: Sequence[float] = DEFAULT_SCHEDULE,
        *,
        jitter: float = 0.1,
        seed: int | None = None,
        max_retry_after: float | None = None,
    ) -> None:
        waits = tuple(float(s) for s in schedule)
        if not waits:
            raise ValueError("a schedule needs at least one attempt")
        if any(s < 0 for s in waits):
            raise ValueError(f"waits in a schedule cannot be negative: {schedule!r}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter is a fraction from 0 up to (not including) 1, got {jitter!r}")
        self.schedule = waits
        self.jitter = float(jitter)
        self.seed = seed
        self.max_retry_after = float(max_retry_after) if max_retry_after else max(waits) or 3600.0
        self._random = random.Random(seed)

    @classmethod
    def quick(cls, attempts: int = 8, step: float = 0.05, **options: float) -> RetryPolicy:
        """A short schedule for tests and demos: ``attempts`` tries, ``step`` s apart, growing."""
        return cls((0, *(step * 2**n for n in range(attempts - 1))), **options)  # type: ignore[arg-type]

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets before it becomes a dead letter."""
        return len(self.schedule)

    def delay_after(self, attempts_made: int, retry_after: float | None = None) -> float | None:
        """Lab seconds to wait after ``attempts_made`` failed attempts, or ``None``: give up.

        ``retry_after`` (already parsed, see :func:`parse_retry_after`) replaces the scheduled
        wait, capped at ``max_retry_after``; it does not buy extra attempts.
        """
        if attempts_made >= len(self.schedule):
            return None
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        wait = self.schedule[attempts_made]
        if self.jitter and wait:
            wait *= 1 + self._random.uniform(-self.jitter, self.jitter)
        return wait

    def total(self) -> float:
        """Lab seconds from the first attempt to the last, without jitter."""
        return sum(self.schedule)

    def __repr__(self) -> str:
        steps = ", ".join(describe_seconds(s) for s in self.schedule)
        return f"RetryPolicy([{steps}], jitter ±{self.jitter:.0%})"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or ``None`` if absent or unreadable.

    The header holds either a whole number of seconds (``"120"``, ASCII digits only, RFC 9110
    §10.2.3) or an HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``). A date is a fact on the wire,
    so it is counted from the **wall clock**: ``now`` is real Unix seconds (default
    ``time.time()``), never the lab clock. A date in the past means "now": ``0``. Anything else
    (``"-1"``, ``"1.5"``, ``"soon"``, ``"²"``) is unreadable: ``None``, and the caller keeps its
    own schedule. A wait too long to mean anything is capped at :data:`MAX_RETRY_AFTER`.

    >>> parse_retry_after("120"), parse_retry_after("soon"), parse_retry_after(None)
    (120.0, None, None)
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        # More digits than any real wait has would only make a huge int: cap without parsing.
        return float(min(int(text), MAX_RETRY_AFTER)) if len(text) <= 12 else MAX_RETRY_AFTER
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    reference = time.time() if now is None else now
    return min(max(0.0, moment.timestamp() - reference), MAX_RETRY_AFTER)


def describe_seconds(seconds: float) -> str:
    """A short human reading of a wait: ``0``, ``250 ms``, ``5 s``, ``5 min``, ``1.5 h``."""
    if seconds == 0:
        return "0"
    if round(seconds * 1000) < 1000:
        return f"{seconds * 1000:.0f} ms"
    shown = float(f"{seconds:.3g}")  # the unit follows the rounded reading
    for unit, size in (("h", 3600), ("min", 60)):
        if shown >= size:
            return f"{max(seconds / size, 1):.3g} {unit}"  # 59.97 s reads "1 min"
    return f"{seconds:.3g} s"
