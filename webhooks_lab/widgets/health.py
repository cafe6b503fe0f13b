"""HealthView: each endpoint's health over lab time: failures, the failing window, disable, replay.

    from webhooks_lab.widgets import HealthView
    HealthView(lab)               # every endpoint the sender delivers to
    HealthView(lab, partner)      # one (an endpoint, its id or its URL), or a list of them

One lane per endpoint, lab time left to right. Each attempt is a tick: green when it was
answered 2xx, red when it failed, blue when it was a replay after the endpoint was re-enabled.
While every attempt fails, an amber band grows from the first failure to now, towards a dashed
line where the sender's :class:`~webhooks_lab.sender.health.EndpointHealth` will disable the
endpoint (``window`` lab seconds after the first failure); the disable is a red line, the
time the endpoint stays off a grey band, and the re-enable a green line. It listens to the
sender's attempts and to ``lab.sender.health``; it also shows what happened before it was made.
The axis spans at least the disable window (or a lab-hour, when the sender is not watching), so
the band can be seen heading for the line.

It leaves an SVG of itself in the cell's stored output: the picture at the moment it was shown.
A lesson shows the view before the outage, to watch it live, and shows it again after the
recovery, for the picture of the whole story::

    health_view = HealthView(lab)
    health_view          # live from here on
    ...                  # the outage, the disable, the re-enable
    health_view          # a later cell: the same view, and a picture of all of it
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from webhooks_lab.i18n import _, n_
from webhooks_lab.retry import describe_seconds
from webhooks_lab.widgets.base import source_key
from webhooks_lab.widgets.picture import PictureView

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab
    from webhooks_lab.sender.health import HealthChange
    from webhooks_lab.sender.records import Attempt, Destination

__all__ = ["HealthView", "Lane"]

DAY = 86_400.0
COLOURS = {
    "ok": "#0a6b2d",
    "failed": "#a40000",
    "replay": "#1f5fbf",
    "failing": "#f6d8a8",
    "disabled": "#d6d6d6",
    "enabled": "#0a6b2d",
}
_LANE, _LABEL, _PLOT, _TOP = 46, 210, 580, 24  # pixels: lane height, label column, axis, top
_STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600]
_STEPS += [DAY, 2 * DAY, 7 * DAY, 30 * DAY]
KEEP_MARKS = 5000  # attempts kept per lane; older ones are counted, not drawn


@dataclass
class Mark:
    """One attempt on a lane: when (lab seconds), and whether it worked or was a replay."""

    at: float
    ok: bool
    replay: bool = False


@dataclass
class Lane:
    """One endpoint's health as the view draws it."""

    endpoint_id: str
    url: str
    marks: deque[Mark] = field(default_factory=lambda: deque(maxlen=KEEP_MARKS))
    changes: list[tuple[float, str]] = field(default_factory=list)  # (lab time, state)
    ok: int = 0
    failed: int = 0
    replayed: int = 0

    @property
    def state(self) -> str:
        """``"ok"``, ``"failing"``, ``"disabled"`` or ``"enabled"`` (re-enabled, nothing since)."""
        return self.changes[-1][1] if self.changes else "ok"

    def failing_since(self) -> float | None:
        """When the current run of failures began, if the endpoint is failing now."""
        if self.state != "failing":
            return None
        return self.changes[-1][0]

    def spans(self, now: float) -> list[tuple[str, float, float]]:
        """The lane's bands: ``("failing" | "disabled", from, to)`` in lab seconds."""
        bands: list[tuple[str, float, float]] = []
        opened: tuple[str, float] | None = None
        for at, state in self.changes:
            if opened is not None:
                bands.append((opened[0], opened[1], at))
                opened = None
            if state in ("failing", "disabled"):
                opened = (state, at)
        if opened is not None:
            bands.append((opened[0], opened[1], now))
        return bands


class HealthView(PictureView):
    """Endpoint health over lab time, updated live from the sender; see the module docstring."""

    kind = "health"
    follows_cells = False  # each display keeps the picture of its moment (see the docstring)

    def __init__(
        self,
        lab: Lab,
        endpoints: str | Destination | Iterable[str | Destination] | None = None,
        *,
        heartbeat: float = 0.5,
        max_syncs_per_second: float = 10.0,
    ) -> None:
        sender = lab.sender
        chosen = _chosen_ids(sender, endpoints)
        super().__init__(
            key=(source_key(sender), chosen),
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=2,  # the summary and the chart
            heartbeat=heartbeat,  # so a failing band keeps growing between attempts
        )
        self.add_class("webhooks-lab-health")
        self.lab, self.sender, self.health = lab, sender, sender.health
        self.only = chosen
        self.lanes: dict[str, Lane] = {}
        self.began = sender.clock.time()
        self._incoming: deque[tuple[str, Any]] = deque()
        self.summary = widgets.HTML(value="")
        self.chart = widgets.HTML(value="")
        self._own(self.summary, self.chart)
        self.children = [self.summary, self.chart]

        self._follow(lab)
        self.refresh()

    def _follow(self, lab: Lab) -> None:
        """Read what happened so far and subscribe, in one step on the lab loop, where attempts
        are announced: nothing is missed between the two, and nothing is counted twice."""

        async def follow() -> None:
            earlier: list[tuple[float, str, Any]] = []
            for attempt in self.sender.attempts():
                resolved = self._resolve(attempt)
                if resolved is not None:
                    earlier.append((resolved[1].at, "mark", resolved))
            earlier.extend((change.at, "change", change) for change in self.health.changes)
            earlier.sort(key=lambda item: item[0])
            self._incoming.extend((what, item) for _at, what, item in earlier)
            self._listen(self.sender.subscribe(self._attempted))
            self._listen(self.health.subscribe(self._changed))

        lab.loop.run(follow(), timeout=10)

    # -- lab loop side: cheap, never touches a widget --------------------------------------------

    def _resolve(self, attempt: Attempt) -> tuple[str, Mark] | None:
        """The endpoint an attempt went to and how to draw it (on the lab loop)."""
        if attempt.state in ("trying", "interrupted"):
            return None
        try:
            delivery = self.sender.delivery(attempt.delivery_id)
        except KeyError:
            return None
        if delivery.endpoint_id is None:
            return None  # a callback URL or an operational event, not a registered endpoint
        replay = delivery.replays > 0 and attempt.number > delivery.round_base
        return delivery.endpoint_id, Mark(attempt.started_at, attempt.ok, replay)

    def _attempted(self, attempt: Attempt) -> None:
        resolved = self._resolve(attempt)
        if resolved is not None:
            self._incoming.append(("mark", resolved))
            self.throttle.poke()

    def _changed(self, change: HealthChange) -> None:
        if change.state == "failing":  # drawn from the failed attempt, not from its answer
            began = self.health.failing_since.get(change.endpoint_id, change.at)
            change = replace(change, at=min(began, change.at))
        self._incoming.append(("change", change))
        self.throttle.poke()

    # -- flushing ---------------------------------------------------------------------------------

    def _registered(self) -> dict[str, Destination]:
        return {endpoint.id: endpoint for endpoint in self.sender.endpoints}

    def _lane(self, endpoint_id: str, registered: dict[str, Destination]) -> Lane | None:
        if self.only is not None and endpoint_id not in self.only:
            return None
        lane = self.lanes.get(endpoint_id)
        if lane is None:
            known = registered.get(endpoint_id)
            if known is None:
                return None  # removed before the view heard of it
            lane = self.lanes[endpoint_id] = Lane(endpoint_id, known.url)
        return lane

    def _take(self) -> None:
        registered = self._registered()
        while self._incoming:
            what, item = self._incoming.popleft()
            if what == "mark":
                endpoint_id, mark = item
                lane = self._lane(endpoint_id, registered)
                if lane is None:
                    continue
                lane.marks.append(mark)
                if mark.replay and mark.ok:
                    lane.replayed += 1
                if mark.ok:
                    lane.ok += 1
                else:
                    lane.failed += 1
            else:
                lane = self._lane(item.endpoint_id, registered)
                if lane is not None:
                    lane.changes.append((item.at, item.state))
        for endpoint_id in registered:  # endpoints with nothing yet get a quiet lane
            if endpoint_id not in self.lanes:
                self._lane(endpoint_id, registered)
        for gone in [k for k in self.lanes if k not in registered]:
            del self.lanes[gone]  # removed from the sender: no lane to watch any more

    def _flush(self) -> int:
        self._take()
        sent = 0
        for part, value in ((self.summary, self.summary_html()), (self.chart, self.chart_svg())):
            if part.value != value:
                part.value = value
                sent += 1
        return sent

    # -- drawing ----------------------------------------------------------------------------------

    def _state_words(self, lane: Lane) -> str:
        endpoint = next((e for e in self.sender.endpoints if e.id == lane.endpoint_id), None)
        if endpoint is not None and not endpoint.enabled:
            return _("disabled")
        return _("failing") if lane.state == "failing" else _("healthy")

    def _counts_words(self, lane: Lane) -> str:
        words = _("{ok} delivered, {failed} failed", ok=lane.ok, failed=lane.failed)
        if lane.replayed:
            words += _(", {replayed} replayed", replayed=lane.replayed)
        return words

    def rule(self) -> str:
        """The rule the sender's endpoint health applies, in words."""
        window = self.health.window
        if window is None:
            return _("off: the sender never disables an endpoint by time")
        return _("disables an endpoint after {span} of failures", span=_span(window))

    def summary_html(self) -> str:
        """One line: the rule the sender applies, and each endpoint's state."""
        head = _("<b>Endpoint health</b> · {rule}", rule=escape(self.rule()))
        if not self.lanes:
            return head + " · " + _("no endpoints yet")
        lanes = " · ".join(
            f"<code>{escape(_path(lane.url))}</code> {escape(self._state_words(lane))}"
            for lane in self.lanes.values()
        )
        return f"{head}<br>{lanes}"

    def chart_svg(self) -> str:
        """The lanes as SVG: ticks per attempt, bands for failing and disabled spells."""
        lanes = list(self.lanes.values())
        if not lanes:
            return ""
        now = self.sender.clock.time()
        start = min(
            [self.began]
            + [lane.marks[0].at for lane in lanes if lane.marks]
            + [lane.changes[0][0] for lane in lanes if lane.changes]
        )
        shortest = self.health.window or 3600.0
        end = max(
            [now, start + shortest]
            + [lane.marks[-1].at for lane in lanes if lane.marks]
            + [lane.changes[-1][0] for lane in lanes if lane.changes]
        )
        window = self.health.window
        for lane in lanes:  # leave room for the line where a failing endpoint would be disabled
            since = lane.failing_since()
            if since is not None and window is not None:
                end = max(end, since + window)
        span = end - start
        scale = _PLOT / (span * 1.06)  # a margin on the right for the last label

        def x(at: float) -> float:
            return _LABEL + scale * (min(max(at, start), end) - start)

        height = _TOP + _LANE * len(lanes) + 50
        width = _LABEL + _PLOT + 20
        title = _("Endpoint health · {rule}", rule=self.rule())
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'style="font:11px sans-serif">',
            f'<text x="4" y="14" fill="#1b1b1b">{escape(title)}</text>',
        ]
        step = next((s for s in _STEPS if span / s <= 8), _STEPS[-1])
        axis = _TOP + _LANE * len(lanes)
        tick = 0.0
        while tick <= span + 1e-9:
            at = _LABEL + scale * tick
            out.append(
                f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{_TOP}" y2="{axis}" stroke="#e4e4e4"/>'
                f'<text x="{at:.1f}" y="{axis + 14}" fill="#6b6b6b" text-anchor="middle">'
                f"{escape(_tick(tick))}</text>"
            )
            tick += step
        caption = escape(_("lab time"))
        out.append(
            f'<text x="{_LABEL + _PLOT / 2:.1f}" y="{axis + 28}" fill="#6b6b6b" '
            f'text-anchor="middle">{caption}</text>'
        )
        legend = escape(
            _(
                "a tick per attempt: green answered 2xx, red failed, blue replayed · "
                "amber: every attempt failing · grey: disabled"
            )
        )
        out.append(f'<text x="4" y="{axis + 44}" fill="#6b6b6b" font-size="10">{legend}</text>')
        for index, lane in enumerate(lanes):
            out.append(self._lane_svg(lane, _TOP + index * _LANE, x, now))
        out.append("</svg>")
        return "".join(out)

    def _lane_svg(self, lane: Lane, top: int, x: Any, now: float) -> str:
        middle = top + _LANE / 2
        out = [
            f'<text x="4" y="{middle - 3:.1f}" fill="#1b1b1b" font-weight="bold">'
            f"{escape(_path(lane.url))}</text>"
            f'<text x="4" y="{middle + 11:.1f}" fill="#6b6b6b">'
            f"{escape(self._state_words(lane))}: {escape(self._counts_words(lane))}</text>"
        ]
        for state, begin, until in lane.spans(now):
            left, right = x(begin), x(until)
            out.append(
                f'<rect class="{state}" x="{left:.1f}" y="{top + 6}" '
                f'width="{max(right - left, 1.0):.1f}" height="{_LANE - 12}" '
                f'fill="{COLOURS[state]}"/>'
            )
        window = self.health.window
        since = lane.failing_since()
        if since is not None and window is not None:
            at = x(since + window)
            here = escape(_("disabled here"))
            out.append(
                f'<line class="disables-at" x1="{at:.1f}" x2="{at:.1f}" y1="{top + 3}" '
                f'y2="{top + _LANE - 3}" stroke="{COLOURS["failed"]}" stroke-dasharray="4,3"/>'
                f'<text x="{at - 3:.1f}" y="{top + 12}" fill="{COLOURS["failed"]}" '
                f'text-anchor="end" font-size="9">{here}</text>'
            )
        for at, state in lane.changes:
            if state not in ("disabled", "enabled"):
                continue
            colour = COLOURS["failed"] if state == "disabled" else COLOURS["enabled"]
            word = _("disabled") if state == "disabled" else _("re-enabled")
            side, anchor = (-1, "end") if x(at) > _LABEL + 0.85 * _PLOT else (1, "start")
            out.append(
                f'<line class="{state}-at" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{top + 2}" '
                f'y2="{top + _LANE - 2}" stroke="{colour}" stroke-width="2"/>'
                f'<text x="{x(at) + side * 4:.1f}" y="{top + _LANE - 4}" fill="{colour}" '
                f'text-anchor="{anchor}" font-size="9">{escape(word)}</text>'
            )
        for mark in lane.marks:
            kind = "replay" if mark.replay else ("ok" if mark.ok else "failed")
            wide = 4 if mark.replay else 2
            out.append(
                f'<rect class="attempt {kind}" x="{x(mark.at) - wide / 2:.1f}" '
                f'y="{middle - 7:.1f}" width="{wide}" height="14" fill="{COLOURS[kind]}"/>'
            )
        return "".join(out)

    def stored_svg(self) -> str:
        return self.chart.value or self.chart_svg()

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        return _(
            "HealthView ({state}): each endpoint's attempts, failing spells, disable and "
            "re-enable over lab time",
            state=state,
        )


def _chosen_ids(sender: Any, endpoints: Any) -> frozenset[str] | None:
    if endpoints is None:
        return None
    many = [endpoints] if isinstance(endpoints, str) or hasattr(endpoints, "url") else endpoints
    return frozenset(sender.endpoint(one).id for one in many)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url


def _span(seconds: float) -> str:
    """Days once it is a day or more (five lab-days read "5 days", not "120 h")."""
    if seconds >= DAY and seconds % DAY == 0:
        days = int(seconds // DAY)
        return n_("{count} day", "{count} days", days)
    if seconds >= DAY:
        return _("{days:.3g} days", days=seconds / DAY)
    return describe_seconds(seconds)


def _tick(seconds: float) -> str:
    return "0" if seconds == 0 else _span(seconds)
