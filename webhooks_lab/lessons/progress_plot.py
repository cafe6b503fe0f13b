"""Jobs' progress against time, drawn: each job's own reports, as a line that climbs to 100 %.

    from webhooks_lab.lessons.progress_plot import progress_plot
    progress_plot([(seconds, "video.encode", 35.0), ...])

Each report is ``(seconds, label, percent)``: when it came (any clock, e.g.
``time.perf_counter()``), which job it is about, and how far that job said it had got. One
stepped line per label, from the first report of all, so jobs that ran side by side share one
time axis; a job that climbs in small steps looks smooth, one that jumps from 0 to 100 % looks
stuck. Lesson 7 draws the progress three long jobs reported while they ran.

A :class:`~webhooks_lab.lessons.figure.LessonFigure`: the notebook shows one PNG whose text form
describes the plot, not its measured values.
"""

from __future__ import annotations

from collections.abc import Iterable

from matplotlib.figure import Figure

from webhooks_lab.i18n import _
from webhooks_lab.lessons.figure import LessonFigure

COLOURS = ["#9a3b00", "#0a6b2d", "#4a6fa5", "#6b3fa0", "#a40000"]


class ProgressPlot(LessonFigure):
    """Progress reports per job against time; shows as a PNG in a notebook."""

    def __init__(
        self,
        reports: Iterable[tuple[float, str, float]],
        *,
        width: float = 9.0,
        height: float = 3.6,
    ) -> None:
        reports = sorted(reports)
        if not reports:
            raise ValueError("no progress reports to draw")
        origin = reports[0][0]
        self.lines: dict[str, list[tuple[float, float]]] = {}
        for seconds, label, percent in reports:
            self.lines.setdefault(label, []).append((seconds - origin, percent))
        self.figure = Figure(figsize=(width, height), layout="constrained")
        axes = self.figure.subplots()
        for index, (label, points) in enumerate(self.lines.items()):
            times = [t for t, _ in points]
            done = [p for _, p in points]
            colour = COLOURS[index % len(COLOURS)]
            axes.step(times, done, where="post", color=colour, label=label)
            axes.plot(times, done, "o", color=colour, markersize=3)
        axes.set(
            xlabel="seconds since the first report",
            ylabel="progress the job reported (%)",
            ylim=(-3, 103),
            title="Each job reports its own progress",
        )
        axes.set_yticks([0, 25, 50, 75, 100])
        axes.grid(color="#e4e4e4")
        axes.legend(fontsize=8, loc="lower right")

    def __repr__(self) -> str:
        jobs = ", ".join(self.lines)
        return _(
            "Progress plot: {count} jobs ({jobs}), the percent each reported against "
            "seconds since the first report",
            count=len(self.lines),
            jobs=jobs,
        )


def progress_plot(
    reports: Iterable[tuple[float, str, float]], *, width: float = 9.0, height: float = 3.6
) -> ProgressPlot:
    """Draw ``(seconds, label, percent)`` progress reports, one stepped line per label."""
    return ProgressPlot(reports, width=width, height=height)
