"""WireView: every exchange on the wire as a live sequence diagram, and a picture of it that stays.

``lab.wire()`` makes one. It shows the exchanges from the moment it was made: one lane per party
("Shop", "Your receiver", "Poller", "Jobs API"...), a request arrow and an answer arrow for each,
coloured by outcome (2xx green, 4xx orange, 5xx red, timeout purple), gaps drawn to scale on the
lab clock with the waits labelled, and bursts collapsed ("… 480 more deliveries"). Above it,
filters (party, endpoint, event or job) and a Pause button. It redraws through the throttle, at
most ~10 times a second however fast traffic runs.

**How a lesson uses it.** The view leaves a static SVG of what it showed in the cell's stored
output, so the committed notebook, GitHub and nbval have the diagram. It is refreshed at the end
of every cell run while the view is open (and, live in the browser, when traffic stops), so both
of these leave a meaningful picture::

    # one cell: make the view, cause the traffic, wait for it, show the view last
    view = lab.wire(names={"Sender": "Shop"})
    lab.send("order.created", {"id": 1})
    lab.sender.wait_idle()
    view

    # or: show it first, then cause traffic in the same cell or the next ones
    view = lab.wire(endpoint="orders")
    display(view)
    lab.send("order.created", {"id": 1})
    view.wait_quiet()          # the picture stored for this cell is the one after the traffic

Wait for the traffic before the cell ends (``lab.sender.wait_idle()``, ``view.wait_quiet()``):
a stored picture shows what had happened when the cell finished. Once the demonstration is over,
``view.freeze()`` keeps the view on the page with what it shows now and nothing later, and
``view.close()`` (or making the same view again) freezes the stored picture for good; a view left
open keeps updating its picture at the end of later cells, with whatever its filters let through.

Names: ``names={"Sender": "Shop"}`` renames a party; a key starting with ``/`` names the server
of the paths under it (``{"/webhooks/mail": "Mailer"}``); ``lab.trace.names`` holds names every
view and export of the trace uses. Export what the view shows with :meth:`WireView.to_mermaid`
and :meth:`WireView.to_json`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from webhooks_lab.i18n import _
from webhooks_lab.runtime.trace import (
    DEFAULT_KEEP,
    Exchange,
    Names,
    Trace,
    display_parties,
    mermaid,
    to_json,
)
from webhooks_lab.runtime.wire_diagram import Filter, render_svg
from webhooks_lab.widgets.base import guard, source_key
from webhooks_lab.widgets.picture import PictureView

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

__all__ = ["WireView"]

_ALL = "(all)"
WINDOW = DEFAULT_KEEP  # the newest exchanges a redraw looks at; older ones are counted


class WireView(PictureView):
    """A live sequence diagram of the lab's exchanges; see the module docstring."""

    kind = "wire"

    def __init__(
        self,
        lab: Lab | Trace,
        *,
        names: Names | None = None,
        party: str | None = None,
        endpoint: str | None = None,
        event: str | None = None,
        job: str | None = None,
        since: int | None = None,
        max_rows: int = 40,
        burst: int = 5,
        max_syncs_per_second: float = 10.0,
    ) -> None:
        trace = lab if isinstance(lab, Trace) else lab.trace
        super().__init__(
            key=(source_key(trace), party, endpoint, event, job),
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=3,  # the picture, and the two filter lists when a party or path is new
            heartbeat=1.0,  # to notice that traffic stopped, and store the picture then
        )
        self.add_class("webhooks-lab-wire-view")
        self.trace = trace
        self.names: dict[str, str | tuple[str, str]] = dict(names or {})
        self.since = trace.last_seq if since is None else since
        # ... and, from now on, by when they began too: a request that began before the view was
        # made may be written down just after it (the inbox records a delivery as it answers).
        self.began = trace.clock.time() if since is None else float("-inf")
        self.until: int | None = None  # set by freeze(): later exchanges are not shown
        self.max_rows, self.burst = max_rows, burst
        self.filter = Filter(party, endpoint, event, job)
        self.paused = False
        self.svg = ""
        self._drawn_state: tuple[object, ...] | None = None
        self._last_change = time.monotonic()
        self._quiet = threading.Condition()
        self._syncing = False

        self.party_list = widgets.Dropdown(
            options=[_ALL], value=_ALL, description=_("party"), layout=widgets.Layout(width="220px")
        )
        self.endpoint_list = widgets.Dropdown(
            options=[_ALL], value=_ALL, description=_("path"), layout=widgets.Layout(width="260px")
        )
        self.find = widgets.Text(
            value=event or job or "",
            placeholder=_("event type, webhook id or job id"),
            description=_("event/job"),
            layout=widgets.Layout(width="300px"),
        )
        self.pause_button = widgets.ToggleButton(
            value=False, description=_("Pause"), icon="pause", tooltip=_("stop redrawing")
        )
        self.picture = widgets.HTML(value="")
        for control in (self.party_list, self.endpoint_list, self.find, self.pause_button):
            guard(control, self.throttle.lock)
        self._options_shown: tuple[tuple[str, ...], tuple[str, ...]] = ((_ALL,), (_ALL,))
        self._parties_seen: dict[str, None] = {}
        self._paths_seen: dict[str, None] = {}
        if party:
            self._parties_seen[party] = None
        if endpoint:
            self._paths_seen[_path_of(endpoint)] = None
        self._sync_options()
        self.party_list.value = party or _ALL
        self.endpoint_list.value = _path_of(endpoint) if endpoint else _ALL
        self.party_list.observe(self._on_control, names="value")
        self.endpoint_list.observe(self._on_control, names="value")
        self.find.observe(self._on_control, names="value")
        self.pause_button.observe(self._on_pause, names="value")
        self._own(self.party_list, self.endpoint_list, self.find, self.pause_button, self.picture)
        self.children = [
            widgets.HBox([self.party_list, self.endpoint_list, self.find, self.pause_button]),
            self.picture,
        ]
        self._listen(trace.subscribe(self._heard))
        self.refresh()

    # -- lab side: cheap, never touches a widget --------------------------------------------------

    def _heard(self, exchange: Exchange) -> None:
        self._last_change = time.monotonic()
        self.throttle.poke()
        with self._quiet:
            self._quiet.notify_all()

    # -- what it shows ---------------------------------------------------------------------------

    def exchanges(self) -> list[Exchange]:
        """The exchanges the view shows (its filters applied), oldest first."""
        names = self._names()
        kept = self._kept()
        chosen = [x for x in kept if self.filter.matches(x, names)] if self.filter else kept
        return sorted(chosen, key=lambda x: (x.at, x.seq))

    def _kept(self) -> list[Exchange]:
        began, until = self.began, self.until
        kept = self.trace.exchanges(self.since)
        return [x for x in kept if x.at >= began and (until is None or x.seq <= until)]

    def _names(self) -> dict[str, str | tuple[str, str]]:
        return {**self.trace.names, **self.names}

    def draw(self) -> str:
        """The SVG of what the view shows now (what the stored picture will hold)."""
        names = self._names()
        kept = self._kept()
        for x in kept[-WINDOW:]:
            client, server = display_parties(x, names)
            self._parties_seen.setdefault(client, None)
            self._parties_seen.setdefault(server, None)
            if len(self._paths_seen) < 40:
                self._paths_seen.setdefault(_endpoint_of(x.path), None)
        chosen = [x for x in kept if self.filter.matches(x, names)] if self.filter else kept
        window = chosen[-WINDOW:]
        note = _("paused: press Pause again to catch up") if self.paused else None
        return render_svg(
            window,
            names=names,
            burst=self.burst,
            max_rows=self.max_rows,
            earlier=len(chosen) - len(window),
            note=note,
        )

    def _flush(self) -> int:
        sent = 0
        state = (self.trace.total, self.filter, self.paused, tuple(self._names().items()))
        if not self.paused and state != self._drawn_state:
            self.svg = self.draw()
            self._drawn_state = state
            if self.picture.value != self.svg:
                self.picture.value = self.svg
                sent += 1
            sent += self._sync_options()
        elif (
            self._handle is not None
            and self.svg != self._stored
            and time.monotonic() - self._last_change > 0.8
        ):
            self._store()  # traffic stopped: the browser's stored output catches up
        return sent

    def _sync_options(self) -> int:
        parties = (_ALL, *self._parties_seen)
        paths = (_ALL, *self._paths_seen)
        sent = 0
        # New options reset a Dropdown to its first one: put the choice back, quietly.
        self._syncing = True
        try:
            for control, options, shown in (
                (self.party_list, parties, self._options_shown[0]),
                (self.endpoint_list, paths, self._options_shown[1]),
            ):
                if options != shown:
                    chosen = control.value
                    with control.hold_sync():
                        control.options = options
                        control.value = chosen if chosen in options else _ALL
                    sent += 1
        finally:
            self._syncing = False
        self._options_shown = (parties, paths)
        return sent

    # -- the learner's side ---------------------------------------------------------------------

    def _on_control(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        party = self.party_list.value if self.party_list.value != _ALL else None
        path = self.endpoint_list.value if self.endpoint_list.value != _ALL else None
        text = (self.find.value or "").strip() or None
        job = text if text and text.startswith("job_") else None
        self.filter = Filter(party, path, None if job else text, job)
        self.throttle.poke()

    def _on_pause(self, change: dict[str, Any]) -> None:
        self.pause(bool(change["new"]))

    def show(
        self,
        *,
        party: str | None = None,
        endpoint: str | None = None,
        event: str | None = None,
        job: str | None = None,
    ) -> WireView:
        """Show only what matches (``None``: anything): the same as choosing in the filters."""
        with self.throttle.lock:
            self.filter = Filter(party, endpoint, event, job)
        self.refresh()
        return self

    def pause(self, paused: bool = True) -> WireView:
        """Stop redrawing (the trace keeps recording); ``pause(False)`` catches up."""
        with self.throttle.lock:
            self.paused = paused
            if self.pause_button.value != paused:
                self.pause_button.value = paused
            self._drawn_state = None
            if paused:  # say so on the picture; it stays as it is until Pause is pressed again
                self.svg = self.picture.value = self.draw()
        self.throttle.poke()
        return self

    def freeze(self) -> WireView:
        """Show what has happened so far and nothing after it, for good: the view stays on the
        page and its stored picture stops changing (a lesson's picture of one section)."""
        with self.throttle.lock:
            self.until = self.trace.last_seq
            self._drawn_state = None
        self.refresh()
        return self

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> WireView:
        """Block until no exchange is under way and none began for ``quiet`` real seconds (or
        ``timeout`` passed), then redraw: for a cell that shows the view before its traffic."""
        deadline = time.monotonic() + timeout
        with self._quiet:
            while time.monotonic() < deadline:
                calm = time.monotonic() - self._last_change
                if self.trace.in_flight == 0 and calm >= quiet:
                    break
                self._quiet.wait(min(max(quiet - calm, 0.02), deadline - time.monotonic()))
        self.refresh()
        return self

    def to_mermaid(self) -> str:
        """What the view shows, as Mermaid ``sequenceDiagram`` text."""
        return mermaid(self.exchanges(), self._names())

    def to_json(self) -> str:
        """What the view shows, as JSON (one object per exchange, oldest first)."""
        return to_json(self.exchanges(), self._names())

    def describe(self) -> str:
        shown = [f"{k}={v!r}" for k, v in vars(self.filter).items() if v is not None]
        what = f" ({', '.join(shown)})" if shown else ""
        return _("WireView: a live sequence diagram of the lab's exchanges{what}", what=what)

    def stored_svg(self) -> str:
        """The SVG the cell's stored output holds (see the module docstring)."""
        return self.svg or self.draw()


def _path_of(endpoint: str) -> str:
    return endpoint if endpoint.startswith("/") else f"/webhooks/{endpoint}"


def _endpoint_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "jobs":
        return "/jobs"  # every job's own paths are under it
    return path
