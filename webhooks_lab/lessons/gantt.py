"""Work against time, drawn as a Gantt chart: one bar per piece of work, from start to end.

    from webhooks_lab.lessons.gantt import gantt_chart
    gantt_chart({"one after another": spans_a, "all at once": spans_b})

Each group is a list of ``(started, ended)`` pairs in seconds (any clock, e.g.
``time.perf_counter()``). Bars are drawn in the order they started, from their group's first
start, so groups measured at different moments share one time axis starting at 0. One panel per
group, stacked, on the same scale, so the difference in length is the picture. Lesson 6 draws
ten HTTP calls made one after another against the same ten made at once.

A :class:`~webhooks_lab.lessons.figure.LessonFigure`: the notebook shows one PNG whose text form
describes the chart, not its measured values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from webhooks_lab.i18n import _
from webhooks_lab.lessons.figure import LessonFigure

COLOURS = ["#9a3b00", "#0a6b2d", "#4a6fa5", "#6b3fa0"]


class GanttChart(LessonFigure):
    """Groups of timed spans, one panel per group; shows as a PNG in a notebook."""

    def __init__(
        self,
        groups: Mapping[str, Sequence[tuple[float, float]]],
        *,
        label: str = "call",
        width: float = 9.0,
    ) -> None:
        groups = {name: sorted(spans) for name, spans in groups.items() if spans}
        if not groups:
            raise ValueError("nothing to draw: every group is empty")
        self.groups = groups
        self.label = label
        rows = sum(len(spans) for spans in groups.values())
        height = 1.0 + 0.22 * rows + 0.5 * len(groups)
        self.figure = Figure(figsize=(width, height), layout="constrained")
        panels = self.figure.subplots(
            len(groups),
            1,
            sharex=True,
            gridspec_kw={"height_ratios": [len(s) for s in groups.values()]},
            squeeze=False,
        )[:, 0]
        longest = max(max(end for _, end in s) - min(b for b, _ in s) for s in groups.values())
        for index, (axes, (name, spans)) in enumerate(zip(panels, groups.items(), strict=True)):
            origin = min(start for start, _ in spans)
            total = max(end for _, end in spans) - origin
            colour = COLOURS[index % len(COLOURS)]
            axes.barh(
                range(len(spans)),
                [end - start for start, end in spans],
                left=[start - origin for start, _ in spans],
                height=0.7,
                color=colour,
            )
            axes.set_yticks(range(len(spans)), [f"{label} {n}" for n in range(1, len(spans) + 1)])
            axes.invert_yaxis()  # the first piece of work at the top
            axes.tick_params(axis="y", labelsize=7)
            axes.set_title(f"{name}: {total:.2f} s in all", loc="left", fontsize=10)
            axes.axvline(total, color=colour, linestyle=":", linewidth=1)
            axes.set_xlim(0, longest * 1.03)
            axes.grid(axis="x", color="#e4e4e4")
            axes.set_axisbelow(True)
        panels[-1].set_xlabel("seconds since the first request")

    def __repr__(self) -> str:
        parts = ", ".join(
            _("{count} {label}s {name}", count=len(spans), label=self.label, name=name)
            for name, spans in self.groups.items()
        )
        return _(
            "Gantt chart: {parts}; one bar per {label}, from its start to its end",
            parts=parts,
            label=self.label,
        )


def gantt_chart(
    groups: Mapping[str, Sequence[tuple[float, float]]], *, label: str = "call", width: float = 9.0
) -> GanttChart:
    """Draw groups of ``(started, ended)`` spans, one panel per group, on one time axis."""
    return GanttChart(groups, label=label, width=width)
