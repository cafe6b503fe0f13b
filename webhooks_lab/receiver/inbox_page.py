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

import os
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
from webhooks_lab.i18n import _
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.receiver.live_feed import InboxFeed
from webhooks_lab.receiver.names import name_problem
from webhooks_lab.receiver.replay import replay_delivery

if TYPE_CHECKING:
    from webhooks_lab.receiver.receiver import Receiver


_PLACEHOLDER = "<!-- newest deliveries, for browsers without JavaScript -->"


def render_inbox_page(inbox: Inbox, limit: int = 50) -> str:
    """The page's HTML. Everything live arrives through ``inbox/events``; only a browser without
    JavaScript (or ``curl``) reads the plain table of the newest deliveries rendered here."""
    page = resources.files("webhooks_lab.receiver").joinpath("inbox_page.html").read_text("utf-8")
    rows = "".join(
        f"<tr><td>{d.seq}</td><td>{escape(d.endpoint)}</td><td>{escape(d.event_type or '-')}</td>"
        f"<td>{d.status}</td><td>{d.outcome}</td><td>{escape(d.reason or '')}</td></tr>"
        for d in reversed(inbox.snapshot()[-limit:])
    )
    table = (
        f"<p>Turn on JavaScript to watch deliveries arrive live. The newest {limit}:</p>"
        "<table class='inbox'><tr><th>#</th><th>endpoint</th><th>type</th><th>status</th>"
        f"<th>result</th><th>why</th></tr>{rows}</table>"
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
