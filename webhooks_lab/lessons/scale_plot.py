"""A job runner under load, drawn: its queue draining, and what raising its limit buys.

    from webhooks_lab.lessons.scale_plot import scale_plot
    scale_plot(depth, {"waiting": {1: 25.0, 2: 49.0, ...}, "computing": {1: 119.5, ...}})

``depth`` is ``(seconds, queued, running)`` samples (any clock), taken whenever the runner
announced a change; the left panel draws both against time, so a limit shows as a flat
"running" line while the queue drains in steps. ``throughput`` maps a kind of work to
``{limit: jobs per second}``; the right panel draws each as its speed-up over the smallest limit,
against the limit, with the ideal (twice the limit, twice as fast) dashed. Lesson 8 draws twelve
jobs through a limit of three, and waiting against computing jobs at limits 1 to 8.

A :class:`~webhooks_lab.lessons.figure.LessonFigure`: the notebook shows one PNG whose text form
describes the plot, not its measured values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from webhooks_lab.i18n import _
from webhooks_lab.lessons.figure import LessonFigure

QUEUED, RUNNING = "#9a3b00", "#0a6b2d"
KINDS = ["#4a6fa5", "#a40000", "#6b3fa0"]
_PLAIN = FuncFormatter(lambda value, _position: f"{value:g}")


class ScalePlot(LessonFigure):
    """Queue depth over time beside speed-up against the limit; shows as a PNG in a notebook."""

    def __init__(
        self,
        depth: Iterable[tuple[float, int, int]],
        throughput: Mapping[str, Mapping[int, float]],
        *,
        width: float = 10.0,
        height: float = 3.8,
    ) -> None:
        samples = sorted(depth)
        if not samples:
            raise ValueError("no queue samples to draw")
        if not throughput or not all(throughput.values()):
            raise ValueError("no throughput to draw")
        self.samples = samples
        self.throughput = {kind: dict(sorted(by.items())) for kind, by in throughput.items()}
        self.figure = Figure(figsize=(width, height), layout="constrained")
        queue, gain = self.figure.subplots(1, 2)

        origin = samples[0][0]
        times = [t - origin for t, _, _ in samples]
        queued = [q for _, q, _ in samples]
        queue.fill_between(times, queued, step="post", color=QUEUED, alpha=0.25, label="queued")
        queue.step(times, queued, where="post", color=QUEUED, linewidth=1)
        queue.step(times, [r for _, _, r in samples], where="post", color=RUNNING, label="running")
        queue.set(
            xlabel="seconds since the first job was submitted",
            ylabel="jobs",
            title="The queue drains; the limit holds",
        )
        queue.set_ylim(bottom=0)
        queue.grid(color="#e4e4e4")
        queue.legend(fontsize=8)

        limits = sorted({limit for by in self.throughput.values() for limit in by})
        gain.plot(limits, [limit / limits[0] for limit in limits], "--", color="#6b6b6b")
        middle = limits[len(limits) // 2]
        gain.annotate(
            "ideal: × the limit",
            (middle, middle / limits[0]),
            textcoords="offset points",
            xytext=(-70, 6),
            fontsize=8,
            color="#6b6b6b",
        )
        for index, (kind, by) in enumerate(self.throughput.items()):
            base = by[min(by)]
            gain.plot(
                list(by),
                [rate / base for rate in by.values()],
                "o-",
                color=KINDS[index % len(KINDS)],
                label=f"{kind} jobs",
            )
        gain.set(
            xscale="log",
            yscale="log",
            xlabel="concurrency limit",
            ylabel=f"jobs per second, × limit {limits[0]}'s",
            title="What a higher limit buys",
        )
        gain.set_xticks(limits)
        gain.set_yticks([limit / limits[0] for limit in limits])
        for axis in (gain.xaxis, gain.yaxis):
            axis.set_major_formatter(_PLAIN)
            axis.set_minor_formatter(NullFormatter())
        gain.grid(color="#e4e4e4")
        gain.legend(fontsize=8)

    def __repr__(self) -> str:
        kinds = _(" and ").join(self.throughput)
        limits = sorted({limit for by in self.throughput.values() for limit in by})
        every = ", ".join(str(limit) for limit in limits)
        return _(
            "Scale plot: jobs queued and running over time; speed-up against the concurrency "
            "limit ({every}) for {kinds} jobs",
            every=every,
            kinds=kinds,
        )


def scale_plot(
    depth: Iterable[tuple[float, int, int]],
    throughput: Mapping[str, Mapping[int, float]],
    *,
    width: float = 10.0,
    height: float = 3.8,
) -> ScalePlot:
    """Draw a runner's queue over time beside its throughput against the limit."""
    return ScalePlot(depth, throughput, width=width, height=height)
