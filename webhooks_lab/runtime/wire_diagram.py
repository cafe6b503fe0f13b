"""The wire trace drawn as a sequence diagram, in SVG: one lane per party, two arrows per exchange.

Pure drawing, no I/O: the notebook's wire view and the inbox page's Wire tab both call
:func:`render_svg`, so they show the same picture.

- **Lanes**: one per party, in the order they first appear (a client before its server).
- **Arrows**: the request (solid, ``POST /webhooks/shop``) and its answer (dashed, ``503 · 4 ms``),
  coloured by outcome: 2xx green, 3xx blue, 4xx orange, 5xx red; a timeout or a broken
  connection ends in a cross instead of an answer.
- **Gaps to scale**: the space between two exchanges grows with the lab-clock time between them
  (the longest gap shown gets :data:`MAX_GAP_PX`), and a visible gap says how long it was
  ("waited 2 s"). The left column gives each exchange's time from the first one shown.
- **Bursts collapse**: a run of alike exchanges (same parties, endpoint and outcome) longer than
  ``burst`` keeps its first two and its last, with "… 480 more deliveries" between them; past
  ``max_rows`` rows, the oldest give way to "… 1,204 earlier exchanges".

Everything drawn is relative (times from the first exchange shown, gaps in lab seconds), and
element ids are fixed names, so a stored picture compares equal run to run once the notebook
sanitiser has replaced ids and durations.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from webhooks_lab.retry import describe_seconds
from webhooks_lab.runtime.trace import Exchange, Names, display_parties

__all__ = ["COLOURS", "MAX_GAP_PX", "Filter", "render_svg", "rows_of"]

COLOURS = {
    "2xx": "#1a7f37",
    "3xx": "#0969da",
    "4xx": "#bc4c00",
    "5xx": "#cf222e",
    "timeout": "#8250df",
    "error": "#57606a",
}
MAX_GAP_PX = 120.0  # the longest gap shown is drawn this tall; the others to the same scale
_PX_PER_SECOND = 200.0  # ... but never more than this: a 5 ms gap is not a wait
_LANE = 180
_LEFT = 64
_TOP = 44
_ROW = 40
_LABEL_GAP = 14.0  # a gap at least this tall is labelled


@dataclass(frozen=True)
class Filter:
    """Which exchanges to show: every field given must match (``None`` matches everything).

    ``party``: either end is this party (as named); ``endpoint``: the path is this, or under it
    (``"shop"`` means ``/webhooks/shop``); ``event``: the event type or the webhook id;
    ``job``: the job id.
    """

    party: str | None = None
    endpoint: str | None = None
    event: str | None = None
    job: str | None = None

    def matches(self, x: Exchange, names: Names | None = None) -> bool:
        if self.party is not None and self.party not in display_parties(x, names):
            return False
        if self.endpoint is not None:
            want = self.endpoint if self.endpoint.startswith("/") else f"/webhooks/{self.endpoint}"
            if x.path != want and not x.path.startswith(want.rstrip("/") + "/"):
                return False
        if self.event is not None and self.event not in (x.event, x.webhook_id):
            return False
        return self.job is None or x.job_id == self.job

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.party, self.endpoint, self.event, self.job))


@dataclass(frozen=True)
class _Burst:
    first: Exchange
    last: Exchange
    count: int
    noun: str
    client: str
    server: str


@dataclass(frozen=True)
class _Earlier:
    count: int


Row = Exchange | _Burst | _Earlier


def _noun(x: Exchange, client: str) -> str:
    if x.method == "POST" and x.path.startswith("/webhooks/"):
        return "deliveries"
    if x.method == "GET" and (client.startswith("Poller") or x.path.startswith("/jobs/")):
        return "polls"
    return "requests"


def _endpoint(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "jobs":
        return "/jobs/*/" + "/".join(parts[3:])  # polls of different jobs are alike
    return path


def rows_of(
    exchanges: Iterable[Exchange],
    names: Names | None = None,
    *,
    burst: int = 5,
    max_rows: int = 40,
    earlier: int = 0,
) -> list[Row]:
    """What the diagram draws, top to bottom: exchanges, collapsed bursts, and (first) a row
    counting the exchanges left out at the top (``earlier`` more were never passed in)."""
    ordered = sorted(exchanges, key=lambda x: (x.at, x.seq))
    rows: list[Row] = []

    def key(x: Exchange) -> tuple[object, ...]:
        return (*display_parties(x, names), x.method, _endpoint(x.path), x.outcome)

    for _, run in itertools.groupby(ordered, key=key):
        group = list(run)
        if len(group) <= max(burst, 3):
            rows.extend(group)
            continue
        client, server = display_parties(group[0], names)
        hidden = len(group) - 3
        noun = _noun(group[0], client)
        rows += [group[0], group[1], _Burst(group[2], group[-2], hidden, noun, client, server)]
        rows.append(group[-1])
    if len(rows) > max_rows:
        left_out = rows[: len(rows) - max_rows + 1]
        earlier += sum(r.count if isinstance(r, _Burst) else 1 for r in left_out)
        rows = rows[len(rows) - max_rows + 1 :]
    return [_Earlier(earlier), *rows] if earlier else rows


def _at(row: Row) -> float | None:
    """When a row begins (lab time)."""
    if isinstance(row, Exchange):
        return row.at
    if isinstance(row, _Burst):
        return row.first.at
    return None


def _until(row: Row) -> float | None:
    """When a row's last request went out: a burst lasts until its last hidden exchange."""
    return row.last.at if isinstance(row, _Burst) else _at(row)


def render_svg(
    exchanges: Sequence[Exchange],
    *,
    names: Names | None = None,
    burst: int = 5,
    max_rows: int = 40,
    earlier: int = 0,
    note: str | None = None,
) -> str:
    """The sequence diagram of ``exchanges`` as one ``<svg>`` element (see the module docstring).
    ``earlier``: how many older exchanges were left out before these; ``note``: a line drawn
    under the diagram (say, "paused")."""
    rows = rows_of(exchanges, names, burst=burst, max_rows=max_rows, earlier=earlier)
    lanes: dict[str, int] = {}
    for row in rows:
        if isinstance(row, Exchange):
            for party in display_parties(row, names):
                lanes.setdefault(party, len(lanes))
        elif isinstance(row, _Burst):
            for party in (row.client, row.server):
                lanes.setdefault(party, len(lanes))
    timed = [r for r in rows if _at(r) is not None]
    gaps = [max(0.0, _at(b) - _until(a)) for a, b in itertools.pairwise(timed)]  # type: ignore[operator]
    times = [_at(r) for r in timed]
    scale = min(MAX_GAP_PX / max(gaps), _PX_PER_SECOND) if gaps and max(gaps) > 0 else 0.0
    origin = times[0] if times else 0.0

    body: list[str] = []
    y = _TOP + 34
    previous: float | None = None
    for row in rows:
        at = _at(row)
        if at is not None and previous is not None:
            extra = max(0.0, at - previous) * scale
            if extra >= _LABEL_GAP:
                body.append(_wait(y, extra, at - previous))
            y += extra
        if isinstance(row, Exchange):
            body.append(_exchange(row, y, lanes, names, at - origin if at is not None else 0.0))
        elif isinstance(row, _Burst):
            body.append(_burst(row, y, lanes))
        else:
            body.append(_earlier(row, y, len(lanes)))
        previous = _until(row) if at is not None else previous
        y += _ROW
    if not rows:
        body.append(f'<text x="{_LEFT}" y="{y}" class="quiet">No exchanges yet.</text>')
        y += _ROW
    if note:
        body.append(f'<text x="{_LEFT}" y="{y}" class="quiet">{escape(note)}</text>')
        y += _ROW / 2
    height = int(y + 8)
    width = _LEFT + _LANE * max(len(lanes), 1) + 20
    heads = [_lane(name, i, height) for name, i in lanes.items()]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="webhooks-lab-wire" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="sequence diagram of {len(exchanges)} exchanges">'
        f"{_DEFS}{''.join(heads)}{''.join(body)}</svg>"
    )


def _x(lane: int) -> int:
    return _LEFT + _LANE * lane + _LANE // 2


def _lane(name: str, i: int, height: int) -> str:
    x = _x(i)
    shown = escape(name if len(name) <= 22 else name[:21] + "…")
    return (
        f'<g class="lane" data-party="{escape(name, quote=True)}">'
        f'<line x1="{x}" y1="{_TOP}" x2="{x}" y2="{height - 4}" class="life"/>'
        f'<rect x="{x - 78}" y="8" width="156" height="28" rx="5" class="head"/>'
        f'<text x="{x}" y="27" text-anchor="middle" class="party">{shown}</text></g>'
    )


def _exchange(
    x: Exchange, y: float, lanes: Mapping[str, int], names: Names | None, t: float
) -> str:
    client, server = display_parties(x, names)
    a, b = _x(lanes[client]), _x(lanes[server])
    colour = COLOURS.get(x.outcome, COLOURS["error"])
    label = f"{x.method} {x.path}"
    label = escape(label if len(label) <= 34 else label[:33] + "…")
    mid = (a + b) / 2
    tip = escape(_tooltip(x, client, server), quote=True)
    attrs = (
        f'class="exchange" data-client="{escape(client, quote=True)}" '
        f'data-server="{escape(server, quote=True)}" data-outcome="{x.outcome}"'
    )
    parts = [f"<g {attrs}><title>{tip}</title>"]
    parts.append(f'<text x="6" y="{y + 4:.0f}" class="time">+{describe_seconds(t)}</text>')
    if a == b:  # a party asking itself: a small loop on its lane
        parts.append(
            f'<path d="M{a} {y - 6:.0f} h30 v14 h-26" class="req" stroke="{colour}" '
            f'marker-end="url(#wire-head-{x.outcome})"/>'
            f'<text x="{a + 36}" y="{y + 4:.0f}" class="label">{label} '
            f"{_answer_text(x)}</text></g>"
        )
        return "".join(parts)
    parts.append(
        f'<line x1="{a}" y1="{y - 6:.0f}" x2="{b}" y2="{y - 6:.0f}" class="req" '
        f'stroke="{colour}" marker-end="url(#wire-head-{x.outcome})"/>'
        f'<text x="{mid:.0f}" y="{y - 10:.0f}" text-anchor="middle" class="label">{label}</text>'
    )
    if x.status:
        parts.append(
            f'<line x1="{b}" y1="{y + 8:.0f}" x2="{a}" y2="{y + 8:.0f}" class="ans" '
            f'stroke="{colour}" marker-end="url(#wire-head-{x.outcome})"/>'
            f'<text x="{mid:.0f}" y="{y + 20:.0f}" text-anchor="middle" class="label" '
            f'fill="{colour}">{_answer_text(x)}</text>'
        )
    else:  # no answer: the line stops short of the client, crossed
        stop = b + (a - b) * 0.6
        parts.append(
            f'<line x1="{b}" y1="{y + 8:.0f}" x2="{stop:.0f}" y2="{y + 8:.0f}" class="ans" '
            f'stroke="{colour}"/>'
            f'<text x="{stop:.0f}" y="{y + 12:.0f}" text-anchor="middle" class="cross" '
            f'fill="{colour}">✕</text>'
            f'<text x="{mid:.0f}" y="{y + 22:.0f}" text-anchor="middle" class="label" '
            f'fill="{colour}">{"timeout" if x.outcome == "timeout" else "no answer"}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _answer_text(x: Exchange) -> str:
    if not x.status:
        return x.outcome
    return f"{x.status} · {describe_seconds(x.latency_ms / 1000) if x.latency_ms else '0 ms'}"


def _tooltip(x: Exchange, client: str, server: str) -> str:
    lines = [f"{client} → {server}: {x.method} {x.path}", f"answer: {_answer_text(x)}"]
    if x.event:
        lines.append(f"event: {x.event}")
    if x.webhook_id:
        lines.append(f"webhook-id: {x.webhook_id}")
    if x.job_id:
        lines.append(f"job: {x.job_id}")
    if x.error:
        lines.append(x.error)
    return "\n".join(lines)


def _wait(y: float, extra: float, seconds: float) -> str:
    top, bottom = y - _ROW / 2 + 6, y - _ROW / 2 + extra
    return (
        f'<g class="wait"><line x1="{_LEFT - 8}" y1="{top:.0f}" x2="{_LEFT - 8}" '
        f'y2="{bottom:.0f}" class="gap"/>'
        f'<text x="{_LEFT - 4}" y="{(top + bottom) / 2 + 4:.0f}" class="waited">'
        f"waited {describe_seconds(seconds)}</text></g>"
    )


def _burst(row: _Burst, y: float, lanes: Mapping[str, int]) -> str:
    a, b = sorted((_x(lanes[row.client]), _x(lanes[row.server])))
    colour = COLOURS.get(row.first.outcome, COLOURS["error"])
    return (
        f'<g class="burst" data-count="{row.count}">'
        f'<rect x="{a - 10}" y="{y - 14:.0f}" width="{b - a + 20}" height="24" rx="4" '
        f'fill="{colour}" fill-opacity="0.12"/>'
        f'<text x="{(a + b) / 2:.0f}" y="{y + 2:.0f}" text-anchor="middle" class="label">'
        f"… {row.count:,} more {row.noun}</text></g>"
    )


def _earlier(row: _Earlier, y: float, lanes: int) -> str:
    return (
        f'<g class="earlier"><text x="{_LEFT}" y="{y:.0f}" class="quiet">'
        f"… {row.count:,} earlier exchanges</text></g>"
    )


_DEFS = (
    "<defs><style>"
    ".webhooks-lab-wire{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "font-size:12px;background:#fff}"
    ".webhooks-lab-wire .head{fill:#f6f8fa;stroke:#8c959f}"
    ".webhooks-lab-wire .party{font-weight:600;fill:#24292f}"
    ".webhooks-lab-wire .life{stroke:#d0d7de;stroke-dasharray:2 3}"
    ".webhooks-lab-wire .req{stroke-width:1.6;fill:none}"
    ".webhooks-lab-wire .ans{stroke-width:1.2;stroke-dasharray:5 3;fill:none}"
    ".webhooks-lab-wire .label{fill:#24292f;font-size:11px}"
    ".webhooks-lab-wire .time{fill:#57606a;font-size:10px}"
    ".webhooks-lab-wire .quiet{fill:#57606a;font-style:italic}"
    ".webhooks-lab-wire .gap{stroke:#8c959f;stroke-width:1}"
    ".webhooks-lab-wire .waited{fill:#57606a;font-size:10px;font-style:italic}"
    ".webhooks-lab-wire .cross{font-size:14px;font-weight:700}"
    "</style>"
    + "".join(
        f'<marker id="wire-head-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
        f'fill="{colour}"/></marker>'
        for name, colour in COLOURS.items()
    )
    + "</defs>"
)
