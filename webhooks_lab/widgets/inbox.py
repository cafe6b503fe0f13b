"""InboxView: every delivery as it arrives; pick one to read its headers and payload; replay it.

    from webhooks_lab.widgets import InboxView
    InboxView(lab)                      # everything
    InboxView(lab, endpoint="shop")     # only /webhooks/shop

The list shows the newest ``max_rows`` deliveries, newest first: when each arrived, where, the
event type, whether its signature checked out (and why not), the status the receiver answered and
whether it was a duplicate. ``view.rows`` holds every delivery the view has seen, not only the
ones on screen, and the count above the list counts them all.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections import OrderedDict, deque
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from webhooks_lab.i18n import N_, _
from webhooks_lab.i18n.columns import fit
from webhooks_lab.receiver.inbox import Delivery
from webhooks_lab.receiver.replay import replay_delivery
from webhooks_lab.widgets.base import LiveView, guard, source_key

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

_STYLE = """<style>
.webhooks-lab-inbox select { font-family: var(--jp-code-font-family, monospace);
  font-size: 12px; }
.webhooks-lab-inbox pre { max-height: 18em; overflow: auto; margin: 0.3em 0; }
.webhooks-lab-inbox td { padding: 0 0.8em 0 0; vertical-align: top; }
</style>"""

_OUTCOME_COLOUR = {
    "accepted": "#0a6b2d",
    "duplicate": "#6b6b6b",
    "rejected": "#a40000",
    "failed": "#a40000",
}


# Columns of a row, in characters of the list's monospace font. A longer value is cut with an
# ellipsis, so the columns below it never slip; the detail pane and the list's tooltip show it
# whole. The last column (the outcome and why) runs on, up to REASON_WIDTH.
COLUMNS = {"seq": 6, "time": 12, "endpoint": 14, "type": 24, "trust": 13, "status": 3}
REASON_WIDTH = 80
#: The summary's tally, one phrase per outcome (translated where shown).
_TALLY = {
    "accepted": N_("{count} accepted"),
    "duplicate": N_("{count} duplicate"),
    "rejected": N_("{count} rejected"),
    "failed": N_("{count} failed"),
}


def row_label(d: Delivery) -> str:
    """One line for the list, in fixed columns:
    ``#12    10:42:07.123  shop           order.created            verified      200  accepted``.
    """
    cells = _row_cells(d)
    fixed = "  ".join(fit(cells[name], width) for name, width in COLUMNS.items())
    return f"{fixed}  {fit(cells['outcome'], REASON_WIDTH, pad=False)}"


def full_label(d: Delivery) -> str:
    """The same line with nothing cut: the list's tooltip for the selected delivery."""
    return "  ".join(_row_cells(d).values())


def _row_cells(d: Delivery) -> dict[str, str]:
    when = time.strftime("%H:%M:%S", time.localtime(d.received_at))
    millis = int((d.received_at % 1) * 1000)
    if d.verified is None:
        trust = _("unsigned")
    elif d.verified:
        trust = _("verified")
    else:
        trust = _("bad signature")
    return {
        "seq": f"#{d.seq}",
        "time": f"{when}.{millis:03d}",
        "endpoint": d.endpoint,
        "type": d.event_type or "-",
        "trust": trust,
        "status": str(d.status),
        "outcome": d.outcome + (f": {d.reason}" if d.reason and not d.ok else ""),
    }


class InboxView(LiveView):
    """Live list of deliveries, a detail pane for the selected one, and a replay button."""

    kind = "inbox"

    def __init__(
        self,
        lab: Lab,
        endpoint: str | None = None,
        *,
        max_rows: int = 200,
        keep: int = 50_000,
        max_syncs_per_second: float = 10.0,
    ) -> None:
        super().__init__(
            key=(source_key(lab), endpoint),
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=3,  # the count, the list, the replay note
        )
        self.add_class("webhooks-lab-inbox")
        self.lab = lab
        self.endpoint = endpoint
        self.max_rows = max_rows
        self.rows: OrderedDict[int, Delivery] = OrderedDict()  # seq -> delivery, oldest first
        self._keep = keep
        self._labels: dict[int, str] = {}
        self._incoming: deque[Delivery] = deque()
        self._counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "failed": 0}
        self._note = ""
        self._note_shown = ""
        self._shown_summary = ""
        self._shown_rows: tuple[int, ...] = ()
        self._selecting = False
        self._detail_seq: int | None = None

        where = f"/webhooks/{endpoint}" if endpoint else _("every endpoint")
        self.summary = widgets.HTML(
            value=_("<b>Inbox</b> · {where} · waiting", where=escape(where))
        )
        self.table = widgets.Select(
            options=[], rows=12, layout=widgets.Layout(width="100%"), description=""
        )
        self.detail = widgets.HTML(
            value="<i>" + _("Select a delivery to see its headers and payload.") + "</i>"
        )
        self.replay_button = widgets.Button(
            description=_("Replay"),
            icon="redo",
            disabled=True,
            tooltip=_("POST it again, as it was"),
        )
        self.note = widgets.HTML(value="")
        guard(self.table, self.throttle.lock)
        self.table.observe(self._on_select, names="value")
        self.replay_button.on_click(lambda _button: self.replay())
        style = widgets.HTML(value=_STYLE)
        self._own(self.summary, self.table, self.detail, self.replay_button, self.note, style)
        self.children = [
            style,
            self.summary,
            self.table,
            widgets.HBox([self.replay_button, self.note]),
            self.detail,
        ]

        self._listen(lab.receiver.inbox.subscribe(self._arrived))
        for delivery in lab.receiver.inbox.snapshot():
            if self._wanted(delivery):
                self._incoming.append(delivery)
        self.refresh()

    # -- lab loop side: cheap, never touches a widget ----------------------------------------------

    def _wanted(self, d: Delivery) -> bool:
        return self.endpoint is None or d.endpoint == self.endpoint

    def _arrived(self, delivery: Delivery) -> None:
        if self._wanted(delivery):
            self._incoming.append(delivery)
            self.throttle.poke()

    # -- flushing: at most a few times a second ---------------------------------------------------

    def _flush(self) -> int:
        while self._incoming:
            d = self._incoming.popleft()
            if d.seq in self.rows:
                continue
            self.rows[d.seq] = d
            self._labels[d.seq] = row_label(d)
            self._counts[d.outcome] = self._counts.get(d.outcome, 0) + 1
            if len(self.rows) > self._keep:
                old, _ = self.rows.popitem(last=False)
                self._labels.pop(old, None)
        sent = 0
        summary = self._summary_html()
        if summary != self._shown_summary:
            self.summary.value = self._shown_summary = summary
            sent += 1
        newest = tuple(reversed(list(self.rows)[-self.max_rows :]))
        if newest != self._shown_rows:
            self._show_rows(newest)
            sent += 1
        if self._note != self._note_shown:
            self.note.value = self._note_shown = self._note
            sent += 1
        return sent

    def _show_rows(self, seqs: tuple[int, ...]) -> None:
        selected = self.table.value
        self._selecting = True  # our own change, not the learner's click
        try:
            with self.table.hold_sync():
                self.table.options = [(self._labels[s], s) for s in seqs]
                self.table.value = selected if selected in seqs else None
        finally:
            self._selecting = False
        self._shown_rows = seqs

    def _summary_html(self) -> str:
        total = len(self.rows)
        where = f"/webhooks/{self.endpoint}" if self.endpoint else _("every endpoint")
        parts = [
            f"<span style='color:{_OUTCOME_COLOUR[k]}'>{_(_TALLY[k], count=n)}</span>"
            for k, n in self._counts.items()
            if n
        ]
        tally = " · ".join(parts) if parts else _("none yet")
        if total > self.max_rows:
            return _(
                "<b>Inbox</b> · {where} · <b>{total}</b> deliveries (newest {rows} listed): "
                "{tally}",
                where=escape(where),
                total=total,
                rows=self.max_rows,
                tally=tally,
            )
        return _(
            "<b>Inbox</b> · {where} · <b>{total}</b> deliveries: {tally}",
            where=escape(where),
            total=total,
            tally=tally,
        )

    # -- the learner's side (kernel thread) -------------------------------------------------------

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._selecting:
            return
        self._show_detail(change["new"])

    def select(self, seq: int) -> Delivery:
        """Show delivery ``seq`` in the detail pane, as a click on its row would."""
        with self.throttle.lock:
            if seq not in self.rows:
                raise KeyError(_("delivery #{seq} is not in this view", seq=seq))
            if seq in self._shown_rows:
                self.table.value = seq  # the observer fills the detail pane
            else:
                self._show_detail(seq)
            return self.rows[seq]

    @property
    def selected(self) -> Delivery | None:
        seq = self.table.value
        return self.rows.get(seq) if seq is not None else None

    def _show_detail(self, seq: int | None) -> None:
        d = self.rows.get(seq) if seq is not None else None
        self._detail_seq = seq
        self.replay_button.disabled = d is None
        self.table.tooltip = full_label(d) if d is not None else None
        self.detail.value = (
            detail_html(d) if d is not None else "<i>" + _("Select a delivery to see it.") + "</i>"
        )

    def replay(self, seq: int | None = None) -> concurrent.futures.Future[Delivery]:
        """POST delivery ``seq`` (default: the selected one) again, raw body and headers as sent.

        The replay is a new request, so it lands in the inbox as a new delivery: with the same
        ``webhook-id`` the receiver answers it as a duplicate. Returns a future for the new record.
        """
        if seq is None:
            seq = self._detail_seq
        original = self.rows.get(seq) if seq is not None else None
        if original is None:
            raise ValueError(_("select a delivery first (or pass its number: view.replay(12))"))
        future = self.lab.loop.submit(
            replay_delivery(self.lab.receiver.inbox, original, self.lab.receiver.url)
        )
        self._note = _("replaying #{seq}…", seq=original.seq)
        self.throttle.poke()

        def done(result: concurrent.futures.Future[Delivery]) -> None:
            try:
                new = result.result()
                self._note = _(
                    "replayed #{seq} as #{new}: {status} {outcome}",
                    seq=original.seq,
                    new=new.seq,
                    status=new.status,
                    outcome=new.outcome,
                )
            except Exception as exc:
                self._note = _("replay of #{seq} failed: {error}", seq=original.seq, error=exc)
            self.throttle.poke()

        future.add_done_callback(done)
        return future

    def describe(self) -> str:
        where = f"/webhooks/{self.endpoint}" if self.endpoint else _("every endpoint")
        state = _("closed") if self.closed else _("live")
        return _(
            "InboxView ({state}): deliveries to {where}, newest first; select one to inspect",
            state=state,
            where=where,
        )


def detail_html(d: Delivery) -> str:
    """Headers, payload (pretty-printed when it is JSON) and the answer, for one delivery."""
    colour = _OUTCOME_COLOUR.get(d.outcome, "#1b1b1b")
    why = f" — {escape(d.reason)}" if d.reason else ""
    kind = f" · <code>{escape(d.event_type)}</code>" if d.event_type else ""
    head = (
        f"<b>#{d.seq}</b> {escape(d.method)} {escape(d.path)}{kind} → "
        f"<b style='color:{colour}'>{d.status} {d.outcome}</b>{why}"
    )
    headers = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td><code>{escape(v)}</code></td></tr>"
        for k, v in sorted(d.headers.items())
    )
    try:
        payload = json.dumps(json.loads(d.body), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        payload = d.body.decode("utf-8", errors="replace")
    answer = json.dumps(d.response, indent=2, ensure_ascii=False)
    found = d.diagnosis
    doctor = (
        "<div>"
        + _(
            "<b>Why:</b> {why}<br><b>Try:</b> {hint}",
            why=escape(found.explanation),
            hint=escape(found.hint),
        )
        + "</div>"
        if found is not None and not found.ok
        else ""
    )
    titles = _("Headers"), _("Payload"), _("Answer")
    return (
        f"<div>{head}</div>{doctor}"
        f"<details open><summary>{titles[0]}</summary><table>{headers}</table></details>"
        f"<details open><summary>{titles[1]}</summary><pre>{escape(payload)}</pre></details>"
        f"<details><summary>{titles[2]}</summary><pre>{escape(answer)}</pre></details>"
    )
