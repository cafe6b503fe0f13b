"""JobBoard: a progress bar per job, with its status, and a button to cancel it.

    from webhooks_lab.widgets import JobBoard
    JobBoard(lab)

Each job gets a row: its name, a bar that fills as the job reports progress (green when it
succeeded, red when it failed, amber when cancelled), what it last said, and a Cancel button
while it is queued or running; a finished job's row has no button. The line above counts every
job the runner remembers. The board draws at most ``max_rows`` rows, grouped: the running jobs
first, then the queued ones next in line, then the most recently finished; the list scrolls
when it is taller than the cell.

The source is anything with ``subscribe(listener) -> unsubscribe`` calling ``listener(job)`` on
every change, where a job has ``id``, ``name``, ``status`` (``queued``, ``running``,
``succeeded``, ``failed``, ``cancelled``), ``progress`` (0–100), ``message``, ``error`` and
``cancel()``: the lab's :class:`~webhooks_lab.jobs.runner.JobRunner` (``lab.jobs``) is one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from html import escape
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_int import ProgressStyle

from webhooks_lab.i18n import N_, _
from webhooks_lab.jobs.model import FINAL
from webhooks_lab.widgets.base import LiveView, source_key

_BAR_STYLE = {"succeeded": "success", "failed": "danger", "cancelled": "warning"}
_COLOURS = {
    "queued": "#6b6b6b",
    "running": "#1f5fa8",
    "succeeded": "#0a6b2d",
    "failed": "#a40000",
    "cancelled": "#9a6700",
}
#: A job's status in words (translated where shown); the status itself stays the API's word.
_STATUS_WORDS = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}
_TALLY = {
    "queued": N_("{count} queued"),
    "running": N_("{count} running"),
    "succeeded": N_("{count} succeeded"),
    "failed": N_("{count} failed"),
    "cancelled": N_("{count} cancelled"),
}


class JobRow:
    """One row of the board: a bar with the job's name and status, and a Cancel button.

    Rows are made once, when the board is, and reused for job after job: opening widgets in the
    browser costs messages (each with its layout and style), updating one costs a single message.
    """

    def __init__(self, board: JobBoard, shared: dict[str, Any]) -> None:
        self.job: Any = None
        self.bar = widgets.FloatProgress(
            value=0,
            min=0,
            max=100,
            description="",
            description_allow_html=True,
            style=shared["bar_style"],
            layout=shared["bar_layout"],
        )
        self.cancel = widgets.Button(
            description=_("Cancel"), icon="times", layout=shared["button_layout"]
        )
        self.cancel.on_click(lambda _b: board.cancel(self.job) if self.job is not None else None)
        self.box = widgets.HBox([self.bar, self.cancel], layout=shared["row_layout"])
        self.shown: tuple[Any, ...] = ()

    def update(self, job: Any) -> int:
        """Show the job's current state; return how many widget messages that took."""
        self.job = job
        state = (
            job.id,
            job.status,
            round(float(job.progress), 1),
            job.message,
            job.error,
            getattr(job, "worker", None),
        )
        if state == self.shown:
            return 0
        sent = 0
        with self.bar.hold_sync():
            self.bar.value = state[2]
            self.bar.bar_style = _BAR_STYLE.get(job.status, "")
            self.bar.description = _describe(job)
        sent += 1
        finished = job.status in FINAL
        if self.cancel.disabled != finished:  # a finished job loses its button; a new one has it
            self.cancel.disabled = finished
            self.box.children = [self.bar] if finished else [self.bar, self.cancel]
            sent += 2
        self.shown = state
        return sent

    def widgets(self) -> list[widgets.Widget]:
        return [self.bar, self.cancel, self.box]


def _describe(job: Any) -> str:
    colour = _COLOURS.get(job.status, "#1b1b1b")
    said = job.error or job.message or ""
    said = said if len(said) <= 40 else said[:39] + "…"
    tail = f" · {escape(said)}" if said else ""
    worker = getattr(job, "worker", None)  # with a broker: the worker process that runs it
    where = " <i>" + _("on {worker}", worker=escape(str(worker))) + "</i>" if worker else ""
    status = _(_STATUS_WORDS[job.status]) if job.status in _STATUS_WORDS else job.status
    return (
        f"<b>{escape(str(job.name))}</b> <span style='color:{colour}'>{status} "
        f"{float(job.progress):.0f}%</span>{where}{tail}"
    )


# The most messages one row's update sends: its bar, its button, the row's children.
_ROW_MESSAGES = 3
_GROUPS = ("running", "queued")  # drawn in this order, then the finished jobs


class JobBoard(LiveView):
    """Live progress bars for the lab's jobs, one row each, with a Cancel button."""

    kind = "jobs"
    row_budget = 4  # row messages per flush: two progress updates, or one row that ended

    def __init__(
        self, source: Any, *, max_rows: int = 12, max_syncs_per_second: float = 10.0
    ) -> None:
        runner = getattr(source, "jobs", source)
        if not callable(getattr(runner, "subscribe", None)):
            raise TypeError(_("JobBoard needs a lab, or a job source with subscribe(listener)"))
        super().__init__(
            key=source_key(runner),
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=self.row_budget + 2,  # the rows, the order, the count
        )
        self.add_class("webhooks-lab-jobs")
        self.runner = runner
        self.max_rows = max_rows
        self.jobs: OrderedDict[str, Any] = OrderedDict()  # job id -> job, oldest first
        self.rows: dict[str, JobRow] = {}  # job id -> the row showing it now
        shared = {
            "bar_style": ProgressStyle(description_width="24em"),
            "bar_layout": widgets.Layout(width="42em"),
            "button_layout": widgets.Layout(width="7em"),
            # Rows keep their height in the list, and the list scrolls.
            "row_layout": widgets.Layout(flex="0 0 auto"),
        }
        self._free = [JobRow(self, shared) for _ in range(max_rows)]
        for row in self._free:
            self._own(*row.widgets())
        self._own(*shared.values())
        self._incoming: deque[Any] = deque()  # jobs as they change, from the lab loop
        self._stale: OrderedDict[str, None] = OrderedDict()  # rows to update, oldest news first
        self._shown_summary = ""
        self._shown_order: tuple[str, ...] = ()

        self.summary = widgets.HTML(value=_("<b>Jobs</b> · none yet"))
        self.list = widgets.VBox([], layout=widgets.Layout(max_height="26em", overflow="auto"))
        self._own(self.summary, self.list)
        self.children = [self.summary, self.list]

        self._listen(runner.subscribe(self._job_changed))
        existing = getattr(runner, "list", None)
        for job in existing() if callable(existing) else ():
            self._incoming.append(job)
        self.refresh()

    def _job_changed(self, job: Any) -> None:
        self._incoming.append(job)
        self.throttle.poke()

    def cancel(self, job: Any) -> bool:
        """Cancel ``job`` (what its row's button does); ``False`` if it had already ended."""
        done = bool(job.cancel())
        self.throttle.poke()
        return done

    def _flush(self) -> int:
        while self._incoming:
            job = self._incoming.popleft()
            self.jobs[job.id] = job
            self._stale[job.id] = None
        wanted = self._pick_rows()
        for job_id in [j for j in self.rows if j not in wanted]:
            self._free.append(self.rows.pop(job_id))  # its row will show a newer job
        for job_id in wanted:
            if job_id not in self.rows:
                self.rows[job_id] = self._free.pop()
                self._stale[job_id] = None
                self._stale.move_to_end(job_id, last=False)  # a new row first
        # However many jobs changed, update only a few rows per flush, oldest news first: one
        # flush never bursts past the budget, and every row still gets its turn.
        sent = 0
        while self._stale and sent + _ROW_MESSAGES <= self.row_budget:
            job_id, _ = self._stale.popitem(last=False)
            if job_id in self.rows:
                sent += self.rows[job_id].update(self.jobs[job_id])
        ready = tuple(j for j in wanted if self.rows[j].shown[:1] == (j,))
        if ready != self._shown_order:
            self.list.children = [self.rows[j].box for j in ready]
            self._shown_order = ready
            sent += 1
        summary = self._summary_html()
        if summary != self._shown_summary:
            self.summary.value = self._shown_summary = summary
            sent += 1
        if self._stale:
            self.throttle.poke()  # more to show: the throttle spaces the next flush
        return sent

    def _pick_rows(self) -> tuple[str, ...]:
        """The jobs to draw, in the order drawn: running, queued (next in line first), then the
        newest finished, ``max_rows`` in all."""
        by_group: dict[str, list[str]] = {group: [] for group in (*_GROUPS, "finished")}
        for job_id, job in self.jobs.items():
            by_group[job.status if job.status in _GROUPS else "finished"].append(job_id)
        picked: list[str] = []
        for group in _GROUPS:
            picked += by_group[group][: self.max_rows - len(picked)]
        room = self.max_rows - len(picked)
        return (*picked, *(by_group["finished"][-room:] if room else ()))

    def counts(self) -> dict[str, int]:
        tally = dict.fromkeys(_COLOURS, 0)
        for job in self.jobs.values():
            tally[job.status] = tally.get(job.status, 0) + 1
        return tally

    def _summary_html(self) -> str:
        parts = [
            f"<span style='color:{_COLOURS.get(k, '#1b1b1b')}'>{_tally(k, n)}</span>"
            for k, n in self.counts().items()
            if n
        ]
        tally = " · ".join(parts) if parts else _("none yet")
        if len(self.jobs) > self.max_rows:
            return _(
                "<b>{total}</b> jobs ({rows} drawn: running, then queued, then the newest "
                "finished): {tally}",
                total=len(self.jobs),
                rows=self.max_rows,
                tally=tally,
            )
        return _("<b>{total}</b> jobs: {tally}", total=len(self.jobs), tally=tally)

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        return _(
            "JobBoard ({state}): a progress bar per job, with its status and a Cancel button",
            state=state,
        )


def _tally(status: str, count: int) -> str:
    return _(_TALLY[status], count=count) if status in _TALLY else f"{count} {status}"
