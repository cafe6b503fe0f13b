"""The lessons' figures: what they draw, and that their text form is stable (nbval compares it)."""

from __future__ import annotations

import pytest

from webhooks_lab.lessons.gantt import gantt_chart
from webhooks_lab.lessons.progress_plot import progress_plot
from webhooks_lab.lessons.scale_plot import scale_plot

PNG = b"\x89PNG\r\n\x1a\n"


def bars(axes):
    return [(round(p.get_x(), 3), round(p.get_width(), 3)) for p in axes.patches]


def test_gantt_draws_each_group_from_its_own_start_in_start_order():
    later = [(100.4, 100.6), (100.0, 100.2), (100.2, 100.4)]  # measured later, listed unsorted
    at_once = [(7.0, 7.2), (7.01, 7.21)]
    chart = gantt_chart({"one after another": later, "all at once": at_once})
    first, second = chart.figure.axes
    assert bars(first) == [(0.0, 0.2), (0.2, 0.2), (0.4, 0.2)]
    assert bars(second) == [(0.0, 0.2), (0.01, 0.2)]
    assert first.get_xlim() == second.get_xlim()  # one time axis, so lengths compare


def test_gantt_text_names_the_groups_not_the_timings():
    chart = gantt_chart({"one after another": [(0, 2.05)], "all at once": [(0, 0.21)]})
    assert repr(chart) == (
        "Gantt chart: 1 calls one after another, 1 calls all at once; "
        "one bar per call, from its start to its end"
    )
    assert chart._repr_png_().startswith(PNG)


def test_gantt_refuses_nothing_to_draw():
    with pytest.raises(ValueError):
        gantt_chart({"empty": []})


def test_progress_plot_draws_one_line_per_job_from_the_first_report():
    reports = [(10.5, "resize", 50.0), (10.0, "encode", 0.0), (11.0, "encode", 100.0)]
    plot = progress_plot(reports)
    assert plot.lines == {"encode": [(0.0, 0.0), (1.0, 100.0)], "resize": [(0.5, 50.0)]}
    assert repr(plot).startswith("Progress plot: 2 jobs (encode, resize)")
    assert plot._repr_png_().startswith(PNG)
    with pytest.raises(ValueError):
        progress_plot([])


def test_scale_plot_draws_speed_up_over_the_smallest_limit():
    depth = [(5.0, 9, 3), (5.2, 6, 3), (5.4, 3, 3), (5.6, 0, 3), (5.8, 0, 0)]
    plot = scale_plot(depth, {"waiting": {2: 50.0, 1: 25.0}, "computing": {1: 100.0, 2: 100.0}})
    gain = plot.figure.axes[1]
    lines = {line.get_label(): list(line.get_ydata()) for line in gain.get_lines()}
    assert lines["waiting jobs"] == [1.0, 2.0]
    assert lines["computing jobs"] == [1.0, 1.0]
    assert repr(plot) == (
        "Scale plot: jobs queued and running over time; speed-up against the concurrency "
        "limit (1, 2) for waiting and computing jobs"
    )
    assert plot._repr_png_().startswith(PNG)
    with pytest.raises(ValueError):
        scale_plot([], {"waiting": {1: 1.0}})
