"""Chaos controls: make a receiver endpoint misbehave on purpose, reproducibly.

Later lessons need a flaky receiver to show retries, backoff, timeouts and dead letters. Every
random choice comes from a seeded generator, so a lesson's run is the same every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Misbehaviour:
    """What chaos decided for one delivery: fail with ``status``, or answer after ``delay`` s."""

    status: int | None = None
    delay: float = 0.0
    retry_after: float | None = None
    why: str = ""


class Chaos:
    """Failure injection for one endpoint. Methods chain: ``chaos.fail_next(2).slow(1.5)``."""

    def __init__(self, seed: int | None = 0) -> None:
        self.reset(seed)

    def reset(self, seed: int | None = 0) -> Chaos:
        """Behave normally again (and reseed the random choices)."""
        self.next_failures = 0
        self.next_status = 500
        self.failure_rate = 0.0
        self.failure_status = 500
        self.slow_rate = 0.0
        self.slow_seconds = 0.0
        self.retry_after: float | None = None
        self._random = random.Random(seed)
        return self

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> Chaos:
        """Answer the next ``count`` deliveries with ``status`` instead of processing them."""
        _check_status(status)
        self.next_failures, self.next_status, self.retry_after = int(count), status, retry_after
        return self

    def fail_rate(self, rate: float, status: int = 500, seed: int | None = None) -> Chaos:
        """Fail a fraction ``rate`` (0–1) of deliveries at random with ``status``."""
        _check_rate(rate)
        _check_status(status)
        self.failure_rate, self.failure_status = float(rate), status
        if seed is not None:
            self._random.seed(seed)
        return self

    def slow(self, seconds: float, rate: float = 1.0) -> Chaos:
        """Answer a fraction ``rate`` of deliveries only after ``seconds`` (lab time)."""
        _check_rate(rate)
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        self.slow_seconds, self.slow_rate = float(seconds), float(rate)
        return self

    @property
    def active(self) -> bool:
        return bool(
            self.next_failures or self.failure_rate or (self.slow_rate and self.slow_seconds)
        )

    def decide(self) -> Misbehaviour | None:
        """Draw what happens to the next delivery. ``None`` means behave normally."""
        if self.next_failures > 0:
            self.next_failures -= 1
            return Misbehaviour(
                status=self.next_status,
                retry_after=self.retry_after,
                why=f"chaos: failing on purpose ({self.next_failures} more queued)",
            )
        # Draw both numbers every time so one setting never shifts the other's sequence.
        fail_draw, slow_draw = self._random.random(), self._random.random()
        if fail_draw < self.failure_rate:
            return Misbehaviour(
                status=self.failure_status,
                why=f"chaos: random failure (rate {self.failure_rate:.0%})",
            )
        if slow_draw < self.slow_rate and self.slow_seconds > 0:
            return Misbehaviour(
                delay=self.slow_seconds, why=f"chaos: slow answer ({self.slow_seconds:g} s)"
            )
        return None

    def __repr__(self) -> str:
        if not self.active:
            return "Chaos(off)"
        parts = []
        if self.next_failures:
            parts.append(f"fail next {self.next_failures} with {self.next_status}")
        if self.failure_rate:
            parts.append(f"fail {self.failure_rate:.0%} with {self.failure_status}")
        if self.slow_rate and self.slow_seconds:
            parts.append(f"slow {self.slow_seconds:g} s on {self.slow_rate:.0%}")
        return f"Chaos({'; '.join(parts)})"


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")


def _check_status(status: int) -> None:
    if not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, got {status!r}")
