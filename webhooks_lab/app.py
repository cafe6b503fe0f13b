"""The lab's HTTP application: the receiver's routes plus whatever else the lab serves.

Unknown routes and wrong methods answer JSON that says why (never an HTML error page), and a
refused delivery attempt is still recorded in the inbox so a learner can see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webhooks_lab.inbox_page import render_inbox_page
from webhooks_lab.receiver import Receiver

_MESSAGES = {
    404: ("not_found", "no route for {method} {path}; webhooks go to POST /webhooks/{{name}}"),
    405: ("method_not_allowed", "{method} is not allowed on {path}"),
}


def create_app(receiver: Receiver, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(render_inbox_page(receiver))

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

    routes: list[BaseRoute] = [Route("/", home, methods=["GET"]), *receiver.routes(), *extra_routes]
    return Starlette(routes=routes, exception_handlers={404: refuse, 405: refuse})
