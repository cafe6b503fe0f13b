"""The race's score: what each side noticed, what it cost, how late it was, and the arithmetic.

Pure numbers, no I/O: :class:`SideStats` for one side (a poller, or the webhook), a
:class:`RaceReport` for a finished run, and the formulas a lesson compares the measurements with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from webhooks_lab.i18n import _

__all__ = [
    "RaceReport",
    "SideStats",
    "expected_empty_share",
    "expected_mean_delay",
    "expected_requests_per_event",
    "percentile",
]


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0–1) of ``values``; ``nan`` when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class SideStats:
    """How one side of the race did: what it noticed, what it cost, how late it was."""

    name: str
    interval: float | None = None  # a poller's interval in lab seconds; None for the webhook
    noticed: int = 0
    requests: int = 0
    empty: int = 0
    failed: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.delays, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.delays, 0.95)

    @property
    def mean(self) -> float:
        return sum(self.delays) / len(self.delays) if self.delays else math.nan

    @property
    def requests_per_event(self) -> float:
        return self.requests / self.noticed if self.noticed else math.nan

    @property
    def empty_share(self) -> float:
        """The share of requests that brought back nothing new: pure waste."""
        return self.empty / self.requests if self.requests else 0.0

    def copy(self) -> SideStats:
        return replace(self, delays=list(self.delays))


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


@dataclass(frozen=True)
class RaceReport:
    """The score when a run ended: the webhook, and each poller (``polling`` is the first)."""

    events: int
    rate: float  # the rate the source was set to, events per lab second
    webhook: SideStats
    pollers: tuple[SideStats, ...]
    complete: bool = True
    seconds: float = math.nan  # lab seconds from the start of the score to its last event

    @property
    def measured_rate(self) -> float:
        """The events per lab second this run actually had (a random source varies)."""
        return self.events / self.seconds if self.seconds > 0 else math.nan

    @property
    def polling(self) -> SideStats:
        return self.pollers[0]

    @property
    def sides(self) -> tuple[SideStats, ...]:
        return (self.webhook, *self.pollers)

    def __repr__(self) -> str:
        lines = [
            _(
                "{events} events in {minutes:.3g} lab minutes "
                "(set to about {per_minute:g} a minute)",
                events=self.events,
                minutes=self.seconds / 60,
                per_minute=self.rate * 60,
            ),
            f"  {'side':<20} {'noticed':>7} {'requests':>8} {'empty':>6} {'req/event':>9} "
            f"{'delay p50':>10} {'p95':>10}",
        ]
        for side in self.sides:
            lines.append(
                f"  {side.name:<20} {side.noticed:>7} {side.requests:>8} {side.empty:>6} "
                f"{side.requests_per_event:>9.2f} {_seconds(side.p50):>10} {_seconds(side.p95):>10}"
            )
        for side in self.sides:
            if side.noticed < self.events:
                missed = {
                    "side": side.name,
                    "missed": self.events - side.noticed,
                    "of": self.events,
                }
                lines.append(
                    "  ⚠ "
                    + (
                        _(
                            "{side} missed {missed} of {of} events "
                            "(its deliveries failed and nobody retried)",
                            **missed,
                        )
                        if side.failed
                        else _("{side} missed {missed} of {of} events", **missed)
                    )
                )
        return "\n".join(lines)


def expected_requests_per_event(rate: float, interval: float) -> float:
    """A poller asks ``1 / interval`` times a second for ``rate`` events a second."""
    return 1.0 / (rate * interval)


def expected_mean_delay(interval: float) -> float:
    """An event lands at a random moment between two polls: on average half an interval."""
    return interval / 2


def expected_empty_share(rate: float, interval: float) -> float:
    """The chance no event happened during one interval (Poisson): ``exp(-rate * interval)``."""
    return math.exp(-rate * interval)
