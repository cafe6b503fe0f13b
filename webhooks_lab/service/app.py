"""The lab's HTTP application: the receiver's routes plus whatever else the lab serves.

Unknown routes and wrong methods answer JSON that says why (never an HTML error page), and a
refused delivery attempt is still recorded in the inbox so a learner can see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from webhooks_lab.receiver import inbox_page
from webhooks_lab.receiver.live_feed import InboxFeed
from webhooks_lab.receiver.receiver import Receiver

_MESSAGES = {
    404: ("not_found", "no route for {method} {path}; webhooks go to POST /webhooks/{{name}}"),
    405: ("method_not_allowed", "{method} is not allowed on {path}"),
}


class LabApp:
    """Starlette for everything, except that ``/webhooks/{name}`` goes straight to its endpoint.

    Deliveries are the hot path of every lesson and load test; skipping the middleware stack and
    the route table for them is worth about a fifth of the receiver's throughput. Any other path,
    and ``/webhooks/{name}/...``, goes through Starlette as usual.
    """

    def __init__(self, starlette: Starlette, webhooks: ASGIApp, feed: InboxFeed) -> None:
        self.starlette = starlette
        self.webhooks = webhooks
        self.feed = feed

    async def close_streams(self) -> None:
        """End the inbox page's live feeds; call before stopping the server, so it never waits."""
        await self.feed.aclose()

    @property
    def routes(self) -> list[BaseRoute]:
        return self.starlette.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            name = path[len(_PREFIX) :]
            if path.startswith(_PREFIX) and name and "/" not in name:
                scope["path_params"] = {"name": name}
                await self.webhooks(scope, receive, send)
                return
        await self.starlette(scope, receive, send)


_PREFIX = "/webhooks/"


def create_app(receiver: Receiver, extra_routes: Sequence[BaseRoute] = ()) -> LabApp:
    feed = InboxFeed(receiver.inbox)

    async def refuse(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code, template = _MESSAGES.get(status, ("error", "{method} {path} failed"))
        answer = {
            "error": code,
            "detail": template.format(method=request.method, path=request.url.path),
        }
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            body = b""
            declared = request.headers.get("content-length", "0")
            if declared.isdigit() and int(declared) <= receiver.max_body:
                body = await request.body()
            receiver.record_refusal(
                method=request.method,
                path=request.url.path,
                headers=dict(request.headers),
                body=body,
                status=status,
                answer=answer,
            )
        headers = getattr(exc, "headers", None)
        return JSONResponse(answer, status_code=status, headers=headers)

    routes: list[BaseRoute] = [
        *inbox_page.routes(receiver, feed),
        *receiver.routes(),
        *extra_routes,
    ]
    starlette = Starlette(routes=routes, exception_handlers={404: refuse, 405: refuse})
    return LabApp(starlette, receiver.webhook_endpoint, feed)
