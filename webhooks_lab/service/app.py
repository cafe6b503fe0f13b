"""The lab's HTTP application: the receiver's routes plus whatever else the lab serves.

Unknown routes and wrong methods answer JSON that says why (never an HTML error page), and a
refused delivery attempt is still recorded in the inbox so a learner can see it.

The app is also the last line of defence: a client that leaves mid-request ends its request
quietly (no traceback in the log), and should any route ever raise, the client still gets a JSON
answer with ``Connection: close`` rather than a connection reset under keep-alive.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from webhooks_lab.http.params import plain_int
from webhooks_lab.jobs.runner import JobRunner
from webhooks_lab.limits import DEFAULT, Limits
from webhooks_lab.receiver import inbox_page
from webhooks_lab.receiver.live_feed import InboxFeed
from webhooks_lab.receiver.names import name_problem
from webhooks_lab.receiver.receiver import Receiver, answer_of
from webhooks_lab.runtime.trace import Trace

log = logging.getLogger("webhooks_lab")

_MESSAGES = {
    404: ("not_found", "no route for {method} {path}; webhooks go to POST /webhooks/{{name}}"),
    405: ("method_not_allowed", "{method} is not allowed on {path}"),
}


class LabApp:
    """Starlette for everything, except that ``/webhooks/{name}`` goes straight to its endpoint.

    Deliveries are the hot path of every lesson and load test; skipping the middleware stack and
    the route table for them is worth about a fifth of the receiver's throughput, and answering
    a plain one from the server's protocol without ASGI at all (:meth:`answer_now`) about as
    much again. Any other path, and ``/webhooks/{name}/...``, goes through Starlette as usual.
    """

    def __init__(
        self,
        starlette: Starlette,
        webhooks: ASGIApp,
        feed: InboxFeed,
        receiver: Receiver,
        max_name_length: int = 64,
    ) -> None:
        self.starlette = starlette
        self.webhooks = webhooks
        self.feed = feed
        self.receiver = receiver
        self.max_name_length = max_name_length
        # Names already found good, so the hot path skips the check; bounded, since strangers
        # choose names (beyond it, a name is checked each time, which is merely slower).
        self._good_names: set[str] = set()
        handle = getattr(webhooks, "handle", None)
        self._handle_webhook: Callable[[str, Scope, Receive, Send], Awaitable[None]] = (
            handle if handle is not None else self._through_scope
        )

    async def _through_scope(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_params"] = {"name": name}
        await self.webhooks(scope, receive, send)

    def record_refusal(self, status: int, code: str, method: str, target: str, detail: str) -> None:
        """Record a request the server refused before it reached the app (its head too large)."""
        self.receiver.record_refusal(
            method=method or "?",
            path=target or "?",
            headers={},
            body=b"",
            status=status,
            answer={"error": code, "detail": detail},
        )

    async def close_streams(self) -> None:
        """End the inbox page's live feeds; call before stopping the server, so it never waits."""
        await self.feed.aclose()

    @property
    def routes(self) -> list[BaseRoute]:
        return self.starlette.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        path: str = scope["path"]
        name = path[len(_PREFIX) :]
        if path.startswith(_PREFIX) and name and "/" not in name:
            # The delivery path: no wrapper around ``send``. Should it fail, an answer that
            # already began is told apart by the server, which refuses a second one.
            try:
                if name not in self._good_names:
                    problem = name_problem(name, self.max_name_length)
                    if problem is not None:
                        await self._bad_name(scope, problem, send)
                        return
                    if len(self._good_names) < _GOOD_NAMES_KEPT:
                        self._good_names.add(name)
                await self._handle_webhook(name, scope, receive, send)
            except ClientDisconnect:
                return
            except Exception as exc:
                await self._failed(scope, send, exc, started=None)
            return
        started = False

        async def watched_send(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.starlette(scope, receive, watched_send)
        except ClientDisconnect:
            return  # the client left mid-request: nobody is waiting for an answer
        except Exception as exc:
            await self._failed(scope, send, exc, started=started)

    async def _failed(
        self, scope: Scope, send: Send, exc: Exception, *, started: bool | None
    ) -> None:
        """A bug of ours, never the client's doing: kept in the inbox where a learner looks,
        not printed (output from the lab's thread would land in whichever cell ran last), and
        answered 500 unless an answer already began (``started=None``: not known, so ask)."""
        detail = f"{type(exc).__name__}: {exc}"[:300]
        log.debug("%s %s failed", scope.get("method"), scope.get("path"), exc_info=exc)
        answer = self._refused(scope, 500, "internal_error", detail)
        if started:
            return
        try:
            await _answer(send, 500, answer)
        except RuntimeError:
            # uvicorn (as ASGI asks of a server) refuses a second response start: the answer
            # had begun, so the connection ends with it, as it does after a failed stream.
            if started is not None:
                raise

    def answer_now(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """Answer a whole delivery at once, without the ASGI round trip, if nothing in it would
        wait (see :meth:`Receiver.deliver_now`); ``None``: serve the request as usual.

        The server offers each complete POST here first (``runtime.protocol``). The answer is
        the one the ASGI path gives, and the delivery is recorded the same way.
        """
        name = path[len(_PREFIX) :]
        receiver = self.receiver
        if (
            method != "POST"
            or name not in self._good_names  # checked names only: the usual path checks anew
            or not path.startswith(_PREFIX)
            or len(body) > receiver.max_body
        ):
            return None
        try:
            # uvicorn's parser callbacks have lower-cased the names already
            decoded = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
            delivery = receiver.deliver_now(name, method, path, decoded, body)
            return None if delivery is None else answer_of(delivery)
        except Exception as exc:  # a bug of ours: as __call__ answers one
            detail = f"{type(exc).__name__}: {exc}"[:300]
            log.debug("%s %s failed", method, path, exc_info=exc)
            self.record_refusal(500, "internal_error", method, path[:200], detail)
            return _closing(500, {"error": "internal_error", "detail": detail})

    async def _bad_name(self, scope: Scope, problem: str, send: Send) -> None:
        await _answer(send, 404, self._refused(scope, 404, "invalid_endpoint_name", problem))

    def _refused(self, scope: Scope, status: int, code: str, detail: str) -> dict[str, str]:
        self.record_refusal(status, code, scope["method"], scope["path"][:200], detail)
        return {"error": code, "detail": detail}


class LazyRoutes(BaseRoute):
    """Routes made on the first request to one of ``prefixes``, not when the app is.

    The jobs API and its OpenAPI document answer from pydantic models, and loading pydantic
    costs about a third of ``start()``; a lesson that never asks for a job should not wait for
    it. The first request under a prefix makes the routes (once) and every later one goes
    straight to them.
    """

    def __init__(self, prefixes: tuple[str, ...], make: Callable[[], list[BaseRoute]]) -> None:
        self.prefixes, self._make = prefixes, make
        self._routes: list[BaseRoute] | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        if self._routes is None:
            self._routes = self._make()
        return self._routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return Match.NONE, {}
        _, match, child = self._pick(scope)
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, _, _ = self._pick(scope)
        assert route is not None  # matches() said one of them would take it
        await route.handle(scope, receive, send)

    def _pick(self, scope: Scope) -> tuple[BaseRoute | None, Match, Scope]:
        """The route that takes ``scope``: the first full match, else the first partial one."""
        partial: tuple[BaseRoute | None, Match, Scope] = (None, Match.NONE, {})
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, match, child
            if match is Match.PARTIAL and partial[0] is None:
                partial = (route, match, child)
        return partial

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)


def job_routes(runner: JobRunner) -> LazyRoutes:
    """``/jobs...`` (the Async Request-Reply API) and ``/openapi.json`` for ``runner``, made
    on the first request to either."""

    def make() -> list[BaseRoute]:
        from webhooks_lab.jobs import api
        from webhooks_lab.service import openapi

        return [*api.routes(runner), *openapi.routes(runner)]

    return LazyRoutes(("/jobs", "/openapi.json"), make)


async def _answer(send: Send, status: int, answer: dict[str, str]) -> None:
    """A JSON answer that also ends the connection: what is left of the request is not read."""
    status, headers, body = _closing(status, answer)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _closing(status: int, answer: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(answer).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return status, headers, body


_PREFIX = "/webhooks/"
_GOOD_NAMES_KEPT = 4096


def create_app(
    receiver: Receiver,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    limits: Limits = DEFAULT,
    trace: Trace | None = None,
) -> LabApp:
    """The lab's app for ``receiver``; with a ``trace``, the inbox page's Wire tab draws it (the
    caller serves ``trace.serve(app, lab_server_party)`` so that the trace is filled)."""
    feed = InboxFeed(receiver.inbox, trace=trace)

    async def refuse(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code, template = _MESSAGES.get(status, ("error", "{method} {path} failed"))
        answer = {
            "error": code,
            "detail": template.format(method=request.method, path=request.url.path),
        }
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            # Kept only when it said its size and that fits; a chunked body is never read,
            # so a stranger cannot make the lab buffer megabytes to answer 404.
            body = b""
            declared = plain_int(request.headers.get("content-length"))
            if declared is not None and declared <= receiver.max_body:
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
    return LabApp(starlette, receiver.webhook_endpoint, feed, receiver, limits.max_name_length)
