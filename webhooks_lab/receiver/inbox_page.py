"""``GET /``: the live inbox page, and the small HTTP API behind its buttons.

The page (``inbox_page.html`` beside this file: plain HTML, CSS and JavaScript, no build step and
nothing fetched from elsewhere) follows ``GET /inbox/events`` (see
:mod:`webhooks_lab.receiver.live_feed`)
and shows each delivery the moment it lands. A row opens to its headers, payload and answer, with
two buttons that use these routes:

- ``GET /inbox/{seq}``: one delivery as JSON, body included (``?download=1`` saves it as a file):
  a ready-made test fixture.
- ``POST /inbox/{seq}/replay``: POST the stored raw body and headers to the same endpoint again,
  over HTTP, to the address this request came in on. The replay is a new delivery in the inbox;
  the same ``webhook-id`` makes the receiver treat it as a duplicate.

Every URL the page uses is relative, so it works behind a path prefix such as Binder's
``/user/<name>/proxy/<port>/`` (jupyter-server-proxy). :func:`page_url` says which URL to open.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webhooks_lab.http.params import plain_int
from webhooks_lab.i18n import N_, _, language, n_
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.receiver.live_feed import InboxFeed
from webhooks_lab.receiver.names import name_problem
from webhooks_lab.receiver.replay import replay_delivery

if TYPE_CHECKING:
    from webhooks_lab.receiver.receiver import Receiver


_PLACEHOLDER = "<!-- newest deliveries, for browsers without JavaScript -->"
_ROUTE = "<code>POST /webhooks/&lt;name&gt;</code>"
#: The page's words: ``inbox_page.html`` names each ``{{name}}``; they are translated when the
#: page is served, in the lab's language. ``{route}`` and ``{path}`` are code put in afterwards.
PAGE_WORDS = {
    "title": N_("webhooks-lab inbox"),
    "tab_inbox": N_("Inbox"),
    "tab_wire": N_("Wire"),
    "tab_wire_title": N_("every exchange on the wire, as a sequence diagram"),
    "connecting": N_("connecting…"),
    "no_deliveries": N_("0 deliveries"),
    "filter": N_("filter: endpoint, type, status…"),
    "filter_label": N_("filter the deliveries shown"),
    "pause_title": N_("stop adding rows while you read; nothing is lost"),
    "pause": N_("Pause"),
    "inbox_hint": N_(
        "Every request to {route} appears here the moment it arrives, newest first. Click a row "
        "to see its headers and payload, replay it, or save it as a JSON test fixture."
    ),
    "col_time": N_("time"),
    "col_endpoint": N_("endpoint"),
    "col_type": N_("event type"),
    "col_status": N_("status"),
    "col_result": N_("result"),
    "col_signature": N_("signature"),
    "col_why": N_("why"),
    "empty": N_(
        "No deliveries yet. POST a webhook to {path} on this server and it shows up here at once."
    ),
    "wire_hint": N_(
        "Every HTTP exchange this server takes part in, both ends: one lane per party, a request "
        "arrow and its answer, coloured by outcome (2xx green, 4xx orange, 5xx red, timeout "
        "purple), gaps between them drawn to scale. Hover an arrow for its webhook id and timing."
    ),
    "wire_waiting": N_("Waiting for the first exchange…"),
}
#: The words the page's script shows, as templates with ``{named}`` places it fills itself.
SCRIPT_WORDS = {
    "trust_verified": N_("✓ verified"),
    "trust_rejected": N_("✗ rejected"),
    "trust_none": N_("unsigned"),
    "outcome_accepted": N_("accepted"),
    "outcome_duplicate": N_("duplicate"),
    "outcome_rejected": N_("rejected"),
    "outcome_failed": N_("failed"),
    "counts_showing": N_(" · showing the newest {rows}"),
    "resume": N_("Resume ({count} new)"),
    "pause": N_("Pause"),
    "older": N_("Older deliveries are not on this page, but the inbox still has them, as JSON: "),
    "older_every": N_(" lists every endpoint."),
    "live": N_("live"),
    "disconnected": N_("disconnected: reload to retry"),
    "reconnecting": N_("reconnecting…"),
    "server_stopped": N_("the server stopped: reload when it runs again"),
    "empty_body": N_("(empty body)"),
    "answered": N_("Answered {status} ({outcome}) in {ms} ms."),
    "handshake": N_("A {handshake} handshake, not a delivery. {answered}"),
    "signature_verified": N_("Signature verified. {answered}"),
    "signature_rejected": N_("Signature rejected: {reason} {answered}"),
    "no_signature": N_("This endpoint checks no signature. {answered}"),
    "why": N_("Why: "),
    "try": N_("Try: "),
    "replay": N_("Replay"),
    "replay_title": N_("POST the same raw body and headers to the same endpoint again"),
    "replaying": N_("replaying…"),
    "replayed": N_("replayed as #{seq}: {status} {outcome}"),
    "replay_failed": N_("replay failed: {error}"),
    "download": N_("Download JSON fixture"),
    "pane_headers": N_("{method} {path}: headers"),
    "pane_payload": N_("payload"),
    "pane_answer": N_("answer: {status}"),
    "loading": N_("loading…"),
    "load_failed": N_("could not load #{seq}: {error}"),
}


def page_words() -> dict[str, str]:
    """The script's words in the lab's language now (JSON in the page, read by its ``t()``)."""
    words = {key: _(message) for key, message in SCRIPT_WORDS.items()}
    # Which form a count takes is the catalog's choice; the script asks for one or many, and
    # fills {shown} itself.
    words["counts_one"], words["counts_other"] = _counts(1), _counts(2)
    return words


def _counts(n: int) -> str:
    return n_(
        "{shown} delivery in the inbox", "{shown} deliveries in the inbox", n, shown="{shown}"
    )


def render_inbox_page(inbox: Inbox, limit: int = 50) -> str:
    """The page's HTML, in the lab's language. Everything live arrives through ``inbox/events``;
    only a browser without JavaScript (or ``curl``) reads the plain table of the newest
    deliveries rendered here."""
    page = resources.files("webhooks_lab.receiver").joinpath("inbox_page.html").read_text("utf-8")
    code = {"route": _ROUTE, "path": "<code>/webhooks/&lt;name&gt;</code>"}
    # A script block ends at the first "</": the JSON carries "<" as \u003c, so it never does.
    script = json.dumps(page_words(), ensure_ascii=False).replace("<", "\\u003c")
    filled = {"lang": language(), "script_words": script}

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name in filled:
            return filled[name]
        words = escape(_(PAGE_WORDS[name]))
        return words.format(**code) if "{" in words else words

    page = re.sub(r"\{\{(\w+)\}\}", fill, page)
    rows = "".join(
        f"<tr><td>{d.seq}</td><td>{escape(d.endpoint)}</td><td>{escape(d.event_type or '-')}</td>"
        f"<td>{d.status}</td><td>{d.outcome}</td><td>{escape(d.reason or '')}</td></tr>"
        for d in reversed(inbox.snapshot()[-limit:])
    )
    table = (
        "<p>"
        + escape(
            _(
                "Turn on JavaScript to watch deliveries arrive live. The newest {limit}:",
                limit=limit,
            )
        )
        + "</p><table class='inbox'><tr><th>#</th>"
        + "".join(
            f"<th>{escape(_(word))}</th>"
            for word in (N_("endpoint"), N_("type"), N_("status"), N_("result"), N_("why"))
        )
        + f"</tr>{rows}</table>"
    )
    return page.replace(_PLACEHOLDER, table)


def page_url(direct_url: str, port: int, environ: Mapping[str, str] | None = None) -> str:
    """Where a learner's browser finds the inbox page.

    On JupyterHub and Binder the browser cannot reach the kernel's ``127.0.0.1``, but the
    notebook server can: jupyter-server-proxy serves the page at
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/``. Anywhere else the browser and the lab share a
    machine, so the direct URL works.
    """
    prefix = (os.environ if environ is None else environ).get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return f"/{prefix.strip('/')}/proxy/{port}/".replace("//", "/")
    return direct_url.rstrip("/") + "/"


@dataclass(frozen=True)
class InboxPageLink:
    """A notebook shows this as a link to the inbox page (and the page itself, given a height)."""

    url: str
    height: int | None = None

    def __repr__(self) -> str:
        return _("Inbox page: {url}", url=self.url)

    def _repr_html_(self) -> str:
        url = escape(self.url, quote=True)
        words = escape(_("Open the live inbox page"))
        link = (
            f'<p><a href="{url}" target="_blank" rel="noopener">{words}</a> '
            f"<code>{escape(self.url)}</code></p>"
        )
        if self.height is None:
            return link
        return (
            f'{link}<iframe src="{url}" title="webhooks-lab inbox" width="100%" '
            f'height="{int(self.height)}" style="border: 1px solid #ccc"></iframe>'
        )


def routes(receiver: Receiver, feed: InboxFeed) -> list[BaseRoute]:
    """``/``, ``/inbox/events``, ``/inbox/{seq}`` and ``/inbox/{seq}/replay``."""

    async def home(request: Request) -> Response:
        page = render_inbox_page(receiver.inbox)
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def one(request: Request) -> Response:
        seq = plain_int(request.path_params["seq"])
        delivery = find(receiver.inbox, seq) if seq is not None else None
        if delivery is None:
            return _missing(receiver.inbox, request.path_params["seq"])
        headers = {}
        if request.query_params.get("download"):
            headers["content-disposition"] = f'attachment; filename="delivery-{seq}.json"'
        return JSONResponse(fixture(delivery), headers=headers)

    async def replay(request: Request) -> Response:
        seq = plain_int(request.path_params["seq"])
        original = find(receiver.inbox, seq) if seq is not None else None
        if original is None:
            return _missing(receiver.inbox, request.path_params["seq"])
        why_not = _not_replayable(original)
        if why_not:
            return JSONResponse({"error": "not_replayable", "detail": why_not}, status_code=409)
        host, port = request.scope["server"]  # where this request arrived: this very server
        try:
            new = await replay_delivery(receiver.inbox, original, f"http://{_host(host)}:{port}")
        except (httpx.HTTPError, RuntimeError) as exc:
            detail = f"replaying #{seq} failed: {exc}"
            return JSONResponse({"error": "replay_failed", "detail": detail}, status_code=502)
        return JSONResponse({"replay_of": seq, "delivery": new.to_dict(include_body=False)})

    return [
        Route("/", home, methods=["GET"]),
        Route("/inbox/events", feed),
        # {seq} is read by plain_int, not Starlette's int converter: "²" or five thousand digits
        # are "no such delivery" (404), never an error.
        Route("/inbox/{seq}", one, methods=["GET"]),
        Route("/inbox/{seq}/replay", replay, methods=["POST"]),
    ]


def find(inbox: Inbox, seq: int) -> Delivery | None:
    """The delivery numbered ``seq``, if the inbox still holds it."""
    items = inbox.snapshot()
    if not items:
        return None
    guess = seq - items[0].seq  # numbers are consecutive, so this is almost always right
    if 0 <= guess < len(items) and items[guess].seq == seq:
        return items[guess]
    return next((d for d in items if d.seq == seq), None)


def fixture(delivery: Delivery) -> dict[str, Any]:
    """A delivery as JSON, body and all; bodies that are not UTF-8 also come as base64.

    A refused signature comes with the doctor's ``diagnosis``, made now that it is asked for.
    """
    record = delivery.to_dict()
    if delivery.diagnosis is not None and delivery.refused_check is not None:
        record["diagnosis"] = delivery.diagnosis.as_dict()
        record["checked_at"] = delivery.refused_check[3]  # so `webhooks-lab doctor` judges then
    try:
        delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        import base64

        record["body_base64"] = base64.b64encode(delivery.body).decode("ascii")
    return record


def _not_replayable(d: Delivery) -> str | None:
    name = d.path.removeprefix("/webhooks/")
    if d.method != "POST" or not d.path.startswith("/webhooks/") or name_problem(name):
        shown = f"{d.method} {d.path}"[:120]
        return f"#{d.seq} was {shown}; only POSTs to /webhooks/<name> can be replayed"
    if d.status == 413:
        return f"#{d.seq} was too large, so its body was never kept"
    return None


def _missing(inbox: Inbox, seq: str) -> Response:
    items = inbox.snapshot()
    holds = f"it holds #{items[0].seq} to #{items[-1].seq}" if items else "it is empty"
    shown = seq if len(seq) <= 24 else seq[:24] + "..."
    return JSONResponse(
        {"error": "not_found", "detail": f"no delivery #{shown} in the inbox; {holds}"},
        status_code=404,
    )


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
