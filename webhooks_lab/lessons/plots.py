"""The polling trade-off, drawn: ask more often and you wait less but pay more per event.

    from webhooks_lab.lessons.plots import tradeoff_plot
    report = Race(lab, poll_every=[1, 5, 15, 30, 60, 120]).run(events=60)
    tradeoff_plot(report)

Two panels share the x axis, the poll interval. On the left, requests per event; on the right,
the mean detection delay. Dots are what this run measured, dashed lines what arithmetic
predicts at the rate the run had (``1 / (rate × interval)`` requests per event, half an interval
of delay), and the green line is the webhook: one request per event, and a delay no poller
comes near.

The figure is drawn with matplotlib's object API (no pyplot), so nothing global changes and the
notebook shows exactly one image, whose text form describes the plot rather than an address.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from webhooks_lab.i18n import _
from webhooks_lab.lessons.figure import LessonFigure
from webhooks_lab.lessons.polling import (
    RaceReport,
    expected_mean_delay,
    expected_requests_per_event,
)

POLL = "#9a3b00"
_PLAIN = FuncFormatter(lambda value, _position: f"{value:g}")
HOOK = "#0a6b2d"


class TradeoffPlot(LessonFigure):
    """A drawn trade-off: shows as a PNG in a notebook; ``.figure`` is the matplotlib figure."""

    def __init__(self, report: RaceReport, *, width: float = 10.0, height: float = 3.8) -> None:
        pollers = sorted(
            (p for p in report.pollers if p.noticed and p.interval), key=lambda p: p.interval
        )
        if not pollers:
            raise ValueError("the report has no poller that noticed anything; run the race first")
        self.report = report
        self.intervals = [p.interval for p in pollers]
        self.figure = Figure(figsize=(width, height), layout="constrained")
        cost, delay = self.figure.subplots(1, 2, sharex=True)
        grid = _grid(min(self.intervals), max(self.intervals))
        # Predict at the rate this run really had: a random source is never exactly on its rate.
        rate = report.measured_rate if report.measured_rate > 0 else report.rate

        cost.plot(
            grid,
            [expected_requests_per_event(rate, t) for t in grid],
            "--",
            color=POLL,
            alpha=0.6,
            label="polling, predicted",
        )
        cost.plot(
            self.intervals,
            [p.requests_per_event for p in pollers],
            "o",
            color=POLL,
            label="polling, measured",
        )
        for p in pollers:
            cost.annotate(
                f"{p.empty_share:.0%} empty",
                (p.interval, p.requests_per_event),
                textcoords="offset points",
                xytext=(6, 4),
                fontsize=8,
                color=POLL,
            )
        cost.axhline(report.webhook.requests_per_event, color=HOOK, label="webhook, measured")
        cost.set(
            xscale="log",
            yscale="log",
            xlabel="poll interval (lab seconds)",
            ylabel="requests per event",
            title="What it costs",
        )
        cost.legend(fontsize=8)

        delay.plot(
            grid,
            [expected_mean_delay(t) for t in grid],
            "--",
            color=POLL,
            alpha=0.6,
            label="polling, predicted (interval / 2)",
        )
        delay.plot(
            self.intervals, [p.mean for p in pollers], "o", color=POLL, label="polling, measured"
        )
        if report.webhook.delays:
            delay.axhline(report.webhook.mean, color=HOOK, label="webhook, measured")
        delay.set(
            xscale="log",
            yscale="log",
            xlabel="poll interval (lab seconds)",
            ylabel="mean delay (lab seconds)",
            title="How late you hear",
        )
        delay.legend(fontsize=8)
        for axes in (cost, delay):
            axes.set_xticks(self.intervals)  # label the intervals raced, nothing else
            for axis in (axes.xaxis, axes.yaxis):
                axis.set_major_formatter(_PLAIN)
                axis.set_minor_formatter(NullFormatter())

    def __repr__(self) -> str:
        every = ", ".join(f"{t:g}" for t in self.intervals)
        return _(
            "Trade-off plot: requests per event and mean delay for polling every {every} s, "
            "with the webhook as reference",
            every=every,
        )


def tradeoff_plot(report: RaceReport, **size: float) -> TradeoffPlot:
    """Plot a race with several pollers (``Race(lab, poll_every=[...]).run()``)."""
    return TradeoffPlot(report, **size)


def _grid(low: float, high: float, points: int = 50) -> list[float]:
    a, b = math.log10(low) - 0.1, math.log10(high) + 0.1
    return [10 ** (a + (b - a) * i / (points - 1)) for i in range(points)]
