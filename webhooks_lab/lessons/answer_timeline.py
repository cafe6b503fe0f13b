"""Request time against background work, drawn: why a slow handler fails and a quick one does not.

    from webhooks_lab.lessons.answer_timeline import answer_timeline
    answer_timeline(slow, fast, jobs, timeout=0.5)

Two panels on one time axis, each starting at its first request. On top, the handler that works
before answering: one bar per attempt, from the moment the request arrived to the moment the
receiver answered, drawn blue while the sender is still waiting and red once it has hung up
(after ``timeout``), so the work done for nobody is the red part. Below, the handler that answers
at once: its requests are slivers, and the work they started runs as background jobs beside them.

Everything comes from the lab's own records: each delivery's ``received_at`` and ``duration_ms``
from the inbox, each job's ``started_at`` and ``finished_at``. The figure is drawn with
matplotlib's object API (no pyplot); its text form counts what is drawn, not how long it took.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from webhooks_lab.i18n import _
from webhooks_lab.jobs.model import Job
from webhooks_lab.lessons.figure import LessonFigure
from webhooks_lab.receiver.inbox import Delivery

__all__ = ["AnswerTimeline", "answer_timeline"]

WAITING = "#4a6fa5"  # the request is open and the sender still waits
ABANDONED = "#a40000"  # the request is open but the sender has hung up
WORK = "#0a6b2d"  # background work, after the answer


class AnswerTimeline(LessonFigure):
    """The drawn timeline: shows as a PNG in a notebook; ``.figure`` is the matplotlib figure."""

    def __init__(
        self,
        slow: Sequence[Delivery],
        fast: Sequence[Delivery],
        jobs: Sequence[Job],
        *,
        timeout: float,
        width: float = 10.0,
    ) -> None:
        if not slow or not fast:
            raise ValueError("give the deliveries of both handlers: run both deliveries first")
        self.slow, self.fast, self.timeout = list(slow), list(fast), timeout
        self.jobs = [j for j in jobs if j.started_at is not None and j.finished_at is not None]
        rows = len(self.slow) + len(self.fast) + len(self.jobs)
        self.figure = Figure(figsize=(width, 1.4 + 0.45 * rows), layout="constrained")
        top, bottom = self.figure.subplots(
            2, 1, sharex=True, height_ratios=[len(self.slow), len(self.fast) + len(self.jobs)]
        )

        start = self.slow[0].received_at
        labels = []
        for y, d in enumerate(self.slow):
            begin, took = d.received_at - start, d.duration_ms / 1000
            waited = min(took, timeout)
            top.barh(y, waited, left=begin, color=WAITING, height=0.6)
            if took > timeout:
                top.barh(y, took - timeout, left=begin + timeout, color=ABANDONED, height=0.6)
            top.plot([begin + timeout] * 2, [y - 0.4, y + 0.4], color="black", linewidth=1)
            labels.append(f"attempt {y + 1}")
        top.set_yticks(range(len(labels)), labels)
        top.invert_yaxis()
        top.set_title("Work before answering: the sender hangs up (black tick), the work goes on")
        _legend(top, (WAITING, "request open, sender waiting"), (ABANDONED, "sender gone"))

        start = self.fast[0].received_at
        span = max(d.received_at - self.slow[0].received_at + d.duration_ms / 1000 for d in slow)
        labels = []
        for y, d in enumerate(self.fast):
            # A request answered in a few ms would be invisible: draw it at least 1 % wide.
            bottom.barh(
                y,
                max(d.duration_ms / 1000, span / 100),
                left=d.received_at - start,
                color=WAITING,
                height=0.6,
            )
            labels.append(f"request {y + 1}")
        for i, job in enumerate(self.jobs):
            y = len(self.fast) + i
            began, ended = job.started_at or 0.0, job.finished_at or 0.0  # both set: filtered
            bottom.barh(
                y,
                ended - began,
                left=began - start,
                color=WORK,
                height=0.6,
            )
            labels.append(f"background job {i + 1}")
        _legend(bottom, (WAITING, "request"), (WORK, "background work"))
        bottom.set_yticks(range(len(labels)), labels)
        bottom.invert_yaxis()
        bottom.set_title("Answer at once, work later: the request is a sliver")
        bottom.set_xlabel("seconds since the first request")

    def __repr__(self) -> str:
        return _(
            "Answer timeline: {slow} requests that worked before answering, against "
            "{fast} answered at once and {jobs} background job(s); the sender waits {timeout:g} s",
            slow=len(self.slow),
            fast=len(self.fast),
            jobs=len(self.jobs),
            timeout=self.timeout,
        )


def _legend(axes: Axes, *entries: tuple[str, str]) -> None:
    handles = [Patch(color=colour, label=label) for colour, label in entries]
    axes.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))


def answer_timeline(
    slow: Sequence[Delivery],
    fast: Sequence[Delivery],
    jobs: Sequence[Job],
    *,
    timeout: float,
    **size: float,
) -> AnswerTimeline:
    """Draw the slow handler's attempts against the quick handler's request and background jobs."""
    return AnswerTimeline(slow, fast, jobs, timeout=timeout, **size)
