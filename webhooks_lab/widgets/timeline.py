"""TimelineView: every delivery's attempts laid out in time, so retries and backoff can be seen.

    from webhooks_lab.widgets import TimelineView
    TimelineView(lab)                         # the lab's sender
    TimelineView(lab, url="/webhooks/shop")   # only deliveries to URLs containing this

One row per delivery, newest at the top. Each attempt is a dot where it happened, coloured by what
came back: green delivered, amber failed (and will be retried), red for the last failure of a
dead letter, grey when the endpoint was disabled. A dashed line runs from a failed attempt to
the moment the sender chose to try again, labelled with the wait, so the backoff is visible as
it grows. Dead letters get a red band. Time runs left to right from each delivery's first
attempt, on a logarithmic scale, so "5 s, then 5 min, then 30 min" fit on one row.

The source is anything with ``subscribe(listener) -> unsubscribe`` calling ``listener(attempt)``
after each attempt, where an attempt has ``delivery_id``, ``event_id``, ``url``, ``number``,
``started_at`` (lab seconds), ``status``, ``error``, ``latency_ms``, ``next_attempt_at`` and
``state`` (``"delivered"``, ``"retrying"``, ``"dead"`` or ``"disabled"``): the lab's
:class:`~webhooks_lab.sender.sender.Sender` is one.
Given a lab, the view also shows attempts made before
it was created.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from html import escape
from typing import Any

import ipywidgets as widgets

from webhooks_lab.i18n import N_, _
from webhooks_lab.retry import describe_seconds
from webhooks_lab.widgets.base import LiveView, source_key

COLOURS = {
    "delivered": "#0a6b2d",
    "retrying": "#c77700",
    "dead": "#a40000",
    "disabled": "#6b6b6b",
}
_OTHER = "#4a6fa5"  # trying, interrupted
_ROW, _LABEL, _PLOT = 24, 250, 560  # pixels: row height, label column, time axis
_TICKS = [(0, "0"), (1, N_("1 s")), (10, N_("10 s")), (60, N_("1 min")), (600, N_("10 min"))]
_TICKS += [(3600, N_("1 h")), (36_000, N_("10 h")), (86_400, N_("1 day"))]
_TICKS += [(864_000, N_("10 days"))]
#: The summary's tally, one phrase per state (translated where shown).
_TALLY = {
    "delivered": N_("{count} delivered"),
    "retrying": N_("{count} retrying"),
    "dead": N_("{count} dead"),
    "disabled": N_("{count} disabled"),
}
_STATES = {
    "delivered": N_("delivered"),
    "retrying": N_("retrying"),
    "dead": N_("dead"),
    "disabled": N_("disabled"),
    "trying": N_("trying"),
    "interrupted": N_("interrupted"),
}


@dataclass
class Mark:
    """One attempt as the view shows it."""

    number: int
    at: float  # lab seconds after the delivery's first attempt
    state: str
    outcome: str  # "200", "503", or the error in a few words
    wait: float | None = None  # the backoff the sender chose after it, lab seconds
    next_at: float | None = None  # when the next attempt is due, lab seconds after the first


@dataclass
class Row:
    """One delivery: where it went and its attempts, in order."""

    delivery_id: str
    event_id: str
    url: str
    first_at: float
    event_type: str = ""
    marks: dict[int, Mark] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.marks[max(self.marks)].state if self.marks else "pending"

    @property
    def span(self) -> float:
        """Lab seconds from the first attempt to the last one, or to the one scheduled next."""
        end = 0.0
        for mark in self.marks.values():
            end = max(end, mark.at, mark.next_at or 0.0)
        return end


def _outcome(attempt: Any) -> str:
    if attempt.status is not None:
        return str(attempt.status)
    return (attempt.error or _("no answer"))[:40]


class TimelineView(LiveView):
    """Attempts per delivery on a time axis, updated live from the sender."""

    kind = "timeline"

    def __init__(
        self,
        source: Any,
        url: str | None = None,
        *,
        max_rows: int = 15,
        keep: int = 10_000,
        max_syncs_per_second: float = 10.0,
    ) -> None:
        sender = getattr(source, "sender", source)
        if not callable(getattr(sender, "subscribe", None)):
            raise TypeError(_("TimelineView needs a lab, or a source with subscribe(listener)"))
        super().__init__(
            key=(source_key(sender), url),
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=2,  # the count and the chart
        )
        self.add_class("webhooks-lab-timeline")
        self.sender = sender
        self.url = url
        self.max_rows = max_rows
        self.rows: OrderedDict[str, Row] = OrderedDict()  # delivery id -> row, oldest first
        self._keep = keep
        self._incoming: deque[Any] = deque()
        self._shown_summary = ""
        self._shown_chart = ""

        self.summary = widgets.HTML(value=_("<b>Deliveries</b> · waiting for the first attempt"))
        self.chart = widgets.HTML(value="")
        self._own(self.summary, self.chart)
        self.children = [self.summary, self.chart]

        self._listen(sender.subscribe(self._attempted))
        loop = getattr(source, "loop", None)
        history = getattr(sender, "attempts", None)
        if loop is not None and callable(history):
            for attempt in _earlier_attempts(loop, history):
                self._attempted(attempt, poke=False)
        self.refresh()

    # -- lab loop side ----------------------------------------------------------------------------

    def _attempted(self, attempt: Any, poke: bool = True) -> None:
        if self.url is not None and self.url not in attempt.url:
            return
        if getattr(attempt, "state", None) == "trying":
            return
        self._incoming.append(attempt)
        if poke:
            self.throttle.poke()

    # -- flushing ---------------------------------------------------------------------------------

    def _flush(self) -> int:
        while self._incoming:
            self._add(self._incoming.popleft())
        sent = 0
        summary = self._summary_html()
        if summary != self._shown_summary:
            self.summary.value = self._shown_summary = summary
            sent += 1
        chart = self.chart_svg()
        if chart != self._shown_chart:
            self.chart.value = self._shown_chart = chart
            sent += 1
        return sent

    def _add(self, attempt: Any) -> None:
        row = self.rows.get(attempt.delivery_id)
        if row is None:
            row = Row(attempt.delivery_id, attempt.event_id, attempt.url, attempt.started_at)
            row.event_type = self._event_type(attempt.delivery_id)
            self.rows[attempt.delivery_id] = row
            if len(self.rows) > self._keep:
                self.rows.popitem(last=False)
        else:
            self.rows.move_to_end(attempt.delivery_id)  # recently active rows rise to the top
        row.first_at = min(row.first_at, attempt.started_at)
        wait = next_at = None
        if attempt.state == "retrying" and attempt.next_attempt_at is not None:
            next_at = attempt.next_attempt_at - row.first_at
            # The wait the sender chose once the answer came (schedule, jitter, Retry-After).
            chosen = getattr(attempt, "backoff", None)
            wait = chosen if chosen is not None else attempt.next_attempt_at - attempt.started_at
        row.marks[attempt.number] = Mark(
            number=attempt.number,
            at=attempt.started_at - row.first_at,
            state=attempt.state,
            outcome=_outcome(attempt),
            wait=wait,
            next_at=next_at,
        )

    def _event_type(self, delivery_id: str) -> str:
        find = getattr(self.sender, "delivery", None)
        try:
            return str(find(delivery_id).event_type) if callable(find) else ""
        except Exception:  # an unknown source, or a delivery the outbox forgot
            return ""

    # -- drawing ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Deliveries in view by their latest state."""
        tally = {"delivered": 0, "retrying": 0, "dead": 0, "disabled": 0}
        for row in self.rows.values():
            tally[row.state] = tally.get(row.state, 0) + 1
        return tally

    def _summary_html(self) -> str:
        parts = [
            f"<span style='color:{COLOURS.get(k, _OTHER)}'>"
            + (_(_TALLY[k], count=n) if k in _TALLY else f"{n} {k}")
            + "</span>"
            for k, n in self.counts().items()
            if n
        ]
        tally = " · ".join(parts) if parts else _("none yet")
        total = len(self.rows)
        url = f"<code>{escape(self.url)}</code>" if self.url else ""
        if total > self.max_rows:
            if self.url:
                return _(
                    "<b>{total}</b> deliveries to URLs containing {url} (the {rows} most recent "
                    "drawn): {tally}",
                    total=total,
                    url=url,
                    rows=self.max_rows,
                    tally=tally,
                )
            return _(
                "<b>{total}</b> deliveries (the {rows} most recent drawn): {tally}",
                total=total,
                rows=self.max_rows,
                tally=tally,
            )
        if self.url:
            return _(
                "<b>{total}</b> deliveries to URLs containing {url}: {tally}",
                total=total,
                url=url,
                tally=tally,
            )
        return _("<b>{total}</b> deliveries: {tally}", total=total, tally=tally)

    def chart_svg(self) -> str:
        """The timeline as SVG: one row per delivery (newest first), one dot per attempt."""
        rows = list(reversed(list(self.rows.values())[-self.max_rows :]))
        if not rows:
            return ""
        longest = max(60.0, *(row.span for row in rows))
        scale = _PLOT / math.log10(1 + longest)

        def x(seconds: float) -> float:
            return _LABEL + scale * math.log10(1 + max(0.0, seconds))

        height = _ROW * len(rows) + 22
        parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{_LABEL + _PLOT + 40}' "
            f"height='{height}' style='font:11px sans-serif'>"
        ]
        for seconds, label in _TICKS:
            if seconds <= longest:
                parts.append(
                    f"<line x1='{x(seconds):.1f}' x2='{x(seconds):.1f}' y1='0' "
                    f"y2='{height - 16}' stroke='#e4e4e4'/>"
                    f"<text x='{x(seconds):.1f}' y='{height - 4}' fill='#6b6b6b' "
                    f"text-anchor='middle'>{_(label)}</text>"
                )
        for index, row in enumerate(rows):
            parts.append(self._row_svg(row, index * _ROW, x))
        parts.append("</svg>")
        return "".join(parts)

    def _row_svg(self, row: Row, top: int, x: Any) -> str:
        middle = top + _ROW / 2
        out = []
        if row.state == "dead":
            out.append(
                f"<rect class='dead-letter' x='0' y='{top + 1}' width='{_LABEL + _PLOT + 40}' "
                f"height='{_ROW - 2}' fill='#fbe3e3'/>"
            )
        path = row.url.split("://", 1)[-1].split("/", 1)[-1]
        what = row.event_type or row.event_id
        label = f"{what} → /{path}"
        label = label if len(label) <= 40 else label[:39] + "…"
        tag = " · " + _("dead letter") if row.state == "dead" else ""
        out.append(
            f"<text x='4' y='{middle + 4}' fill='#1b1b1b'>{escape(label)}"
            f"<tspan fill='{COLOURS['dead']}' font-weight='bold'>{tag}</tspan></text>"
        )
        for mark in sorted(row.marks.values(), key=lambda m: m.number):
            if mark.wait is not None and mark.next_at is not None:
                start, end = x(max(mark.at, mark.next_at - mark.wait)), x(mark.next_at)
                out.append(
                    f"<line class='backoff' x1='{start:.1f}' x2='{end:.1f}' y1='{middle}' "
                    f"y2='{middle}' stroke='{COLOURS['retrying']}' stroke-dasharray='3,3'/>"
                )
                if end - start > 34:
                    out.append(
                        f"<text x='{(start + end) / 2:.1f}' y='{middle - 4}' fill='#6b6b6b' "
                        f"text-anchor='middle' font-size='9'>{describe_seconds(mark.wait)}</text>"
                    )
                if mark.number + 1 not in row.marks:  # scheduled, not yet made
                    out.append(
                        f"<circle class='scheduled' cx='{end:.1f}' cy='{middle}' r='4' "
                        f"fill='white' stroke='{COLOURS['retrying']}'/>"
                    )
            colour = COLOURS.get(mark.state, _OTHER)
            radius = 6 if mark.state == "dead" else 5
            state = _(_STATES[mark.state]) if mark.state in _STATES else mark.state
            title = _(
                "attempt {number}: {outcome} → {state}",
                number=mark.number,
                outcome=escape(mark.outcome),
                state=state,
            )
            out.append(
                f"<circle class='attempt {mark.state}' cx='{x(mark.at):.1f}' cy='{middle}' "
                f"r='{radius}' fill='{colour}'><title>{title}</title></circle>"
            )
        return "".join(out)

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        if self.url:
            return _(
                "TimelineView ({state}): attempts per delivery to URLs containing {url}, coloured "
                "by outcome",
                state=state,
                url=self.url,
            )
        return _("TimelineView ({state}): attempts per delivery, coloured by outcome", state=state)


def _earlier_attempts(loop: Any, history: Any) -> list[Any]:
    """The sender's attempt log so far (read on the lab loop, where the sender lives)."""

    async def read() -> list[Any]:
        return list(history())

    try:
        return loop.run(read(), timeout=10)
    except Exception:  # a stopped lab, an unusual source: start empty rather than fail
        return []
