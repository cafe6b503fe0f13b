"""The receiver: webhook endpoints that verify, deduplicate, record and hand events to handlers.

``POST /webhooks/{name}`` is the hot path, written as a plain ASGI endpoint (no per-request
``Request``/``Response`` objects) because every delivery in every lesson and load test goes through
it. The order of checks is the lesson: size, signature (on the raw bytes), JSON, chaos, duplicate,
handlers. Whatever happens, the request lands in the inbox with the status it got and why.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from webhooks_lab import signing
from webhooks_lab.events import Event, EventError
from webhooks_lab.receiver.chaos import Chaos
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.runtime.clock import Clock

Handler = Callable[[Event], Any]

DEFAULT_MAX_BODY = 256 * 1024
_JSON = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    def __init__(self, size: int | None, limit: int) -> None:
        self.size, self.limit = size, limit


class InvalidPayload(EventError):
    """Raise it from a handler to refuse a delivery whose data is wrong.

    The sender gets ``422 Unprocessable Content`` with your message as the reason, and the inbox
    records it as rejected; any other exception from a handler is a bug on your side (``500``).
    """


class Endpoint:
    """``/webhooks/{name}``: its verification, handlers, chaos and memory of webhook ids."""

    def __init__(self, name: str, *, remember: int = 100_000) -> None:
        self.name = name
        self.scheme = "none"
        self.secrets: list[str] = []
        self.tolerance = 300
        self.chaos = Chaos()
        self.handlers: dict[str, list[Handler]] = {}
        self._seen: OrderedDict[str, bool] = (
            OrderedDict()
        )  # id -> finished (False while processing)
        self._remember = remember

    def require(
        self, secret: str | Sequence[str], scheme: str = "standard", *, tolerance: int = 300
    ) -> Endpoint:
        """Only accept deliveries signed with ``secret`` (or any of several, during rotation)."""
        self.secrets = _usable_secrets(secret, scheme, tolerance)
        self.scheme, self.tolerance = scheme, tolerance
        return self

    def open(self) -> Endpoint:
        """Accept unsigned deliveries again."""
        self.scheme, self.secrets = "none", []
        return self

    def on(self, event_type: str = "*") -> Callable[[Handler], Handler]:
        """Decorator: run the function for each accepted event of ``event_type`` (``"*"``: all).

        Registering a function with the same name again replaces the earlier one, so re-running
        a notebook cell that defines a handler never leaves two copies running.
        """

        def register(handler: Handler) -> Handler:
            registered = self.handlers.setdefault(event_type, [])
            key = _handler_key(handler)
            kept = [h for h in registered if key is None or _handler_key(h) != key]
            registered[:] = [*kept, handler]
            return handler

        return register

    def handlers_for(self, event_type: str | None) -> list[Handler]:
        return self.handlers.get(event_type or "", []) + self.handlers.get("*", [])

    def forget(self) -> None:
        """Forget every webhook-id seen, so old deliveries would be processed again."""
        self._seen.clear()

    def __repr__(self) -> str:
        kinds = ", ".join(sorted(self.handlers)) or "none"
        return (
            f"<Endpoint /webhooks/{self.name} scheme={self.scheme} handlers={kinds} {self.chaos!r}>"
        )


def _usable_secrets(secret: str | Sequence[str], scheme: str, tolerance: int) -> list[str]:
    """The secrets as a list, proven usable now: a mistake fails here, not on every delivery."""
    if scheme not in signing.SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(signing.SCHEMES)}")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if scheme == "none":
        return secrets
    if not secrets:
        raise ValueError("a signed endpoint needs at least one secret")
    if tolerance < 0:
        raise ValueError(f"tolerance is a number of seconds >= 0, got {tolerance!r}")
    for each in secrets:  # signing once raises if, say, a Standard Webhooks secret is not base64
        signing.headers_for(scheme, each, b"", msg_id="msg_check", timestamp=0)
    return secrets


class Receiver:
    """All webhook endpoints of one server, and the inbox they share."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        inbox_size: int = 50_000,
    ) -> None:
        self.clock = clock or Clock()
        self.max_body = max_body
        self.inbox = Inbox(maxlen=inbox_size)
        self.endpoints: dict[str, Endpoint] = {}
        self.url: str | None = None  # set by the server once it listens
        self._default: tuple[list[str], str, int] | None = None
        self.webhook_endpoint = _WebhookApp(self)

    # -- configuring -----------------------------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint ``/webhooks/{name}``, created on first use."""
        found = self.endpoints.get(name)
        if found is None:
            found = self.endpoints[name] = Endpoint(name)
            if self._default is not None:
                secrets, scheme, tolerance = self._default
                found.require(secrets, scheme, tolerance=tolerance)
        return found

    def require_all(
        self, secret: str | Sequence[str], scheme: str = "standard", *, tolerance: int = 300
    ) -> None:
        """Require signatures on every endpoint, including ones first used later."""
        secrets = _usable_secrets(secret, scheme, tolerance)
        for endpoint in self.endpoints.values():
            endpoint.require(secrets, scheme, tolerance=tolerance)
        self._default = (secrets, scheme, tolerance) if scheme != "none" else None

    def on(self, endpoint: str, event_type: str = "*") -> Callable[[Handler], Handler]:
        """Decorator: ``@receiver.on("shop", "order.created")``."""
        return self.endpoint(endpoint).on(event_type)

    def chaos(self, endpoint: str) -> Chaos:
        return self.endpoint(endpoint).chaos

    def url_for(self, endpoint: str) -> str:
        if self.url is None:
            raise RuntimeError("the receiver is not listening yet")
        return f"{self.url}/webhooks/{endpoint}"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/webhooks", self._list_endpoints, methods=["GET"]),
            Route("/webhooks/{name:str}", self.webhook_endpoint),
        ]

    # -- recording what could not reach an endpoint (404, 405 from the router) -----------------

    def record_refusal(
        self,
        *,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        status: int,
        answer: dict[str, Any],
    ) -> None:
        self.inbox.record(
            Delivery(
                seq=0,
                endpoint=_endpoint_name(path),
                method=method,
                path=path,
                headers=headers,
                body=body,
                received_at=self.clock.time(),
                status=status,
                response=answer,
                webhook_id=headers.get("webhook-id"),
                reason=answer.get("detail"),
            )
        )

    async def _list_endpoints(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        counts = Counter(d.endpoint for d in self.inbox.snapshot())  # one pass over the inbox
        names = sorted({*self.endpoints, *counts})
        return JSONResponse({"endpoints": [{"name": n, "deliveries": counts[n]} for n in names]})

    # -- the delivery path ------------------------------------------------------------------------

    async def deliver(
        self,
        name: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        started: float,
    ) -> Delivery:
        """Process one POSTed delivery and record it; returns the inbox record (status set)."""
        endpoint = self.endpoint(name)
        webhook_id = headers.get("webhook-id") or headers.get("x-github-delivery")
        delivery = Delivery(
            seq=0,
            endpoint=name,
            method=method,
            path=path,
            headers=headers,
            body=body,
            received_at=self.clock.time(),
            webhook_id=webhook_id,
        )
        try:
            await self._process(endpoint, delivery)
        finally:
            delivery.duration_ms = (time.perf_counter() - started) * 1000
            self.inbox.record(delivery)
        return delivery

    async def _process(self, endpoint: Endpoint, d: Delivery) -> None:
        if endpoint.scheme != "none":
            try:
                signing.verify_scheme(
                    endpoint.scheme,
                    endpoint.secrets,
                    d.headers,
                    d.body,
                    tolerance=endpoint.tolerance,
                    now=self.clock.time(),
                )
            except signing.SignatureError as exc:
                d.verified = False
                _answer(d, 401, "invalid_signature", str(exc), reason_code=exc.code)
                return
            d.verified = True

        try:
            payload = json.loads(d.body)
        except (ValueError, UnicodeDecodeError) as exc:
            _answer(d, 400, "invalid_json", f"body is not valid JSON: {exc}")
            return
        d.event_type = _event_type(payload, d.headers)

        trouble = endpoint.chaos.decide() if endpoint.chaos.active else None
        if trouble is not None:
            if trouble.status is not None:
                _answer(d, trouble.status, "chaos", trouble.why)
                if trouble.retry_after is not None:
                    d.response["retry_after"] = trouble.retry_after
                return
            await self.clock.sleep(trouble.delay)

        seen = endpoint._seen
        if d.webhook_id is not None and d.webhook_id in seen:
            d.duplicate = True
            if seen[d.webhook_id]:
                d.status = 200
                d.response = {
                    "ok": True,
                    "duplicate": True,
                    "id": d.webhook_id,
                    "detail": "already processed; acknowledged, not processed again",
                }
            else:
                _answer(
                    d, 409, "in_progress", "this webhook-id is still being processed; retry later"
                )
            return

        handlers = endpoint.handlers_for(d.event_type)
        if d.webhook_id is not None:
            seen[d.webhook_id] = False
            if len(seen) > endpoint._remember:
                seen.popitem(last=False)
        if handlers:
            try:
                event = _to_event(payload, d.event_type, d.webhook_id)
            except EventError as exc:
                _forget(seen, d.webhook_id)
                _answer(d, 422, "invalid_event", str(exc))
                return
            try:
                for handler in handlers:
                    await _call(handler, event)
            except InvalidPayload as exc:
                _forget(seen, d.webhook_id)
                _answer(d, 422, "invalid_payload", str(exc))
                return
            except Exception as exc:
                _forget(seen, d.webhook_id)
                d.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                _answer(d, 500, "handler_failed", d.error)
                return
        if d.webhook_id is not None:
            seen[d.webhook_id] = True
        d.status = 200
        d.response = {"ok": True, "id": d.webhook_id, "endpoint": endpoint.name}
        d.response_body = _ok_body(d.webhook_id, endpoint.name)


class _WebhookApp:
    """The raw ASGI endpoint behind ``/webhooks/{name}``."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        receiver = self.receiver
        name = scope["path_params"]["name"]
        method = scope["method"]
        if method in ("GET", "HEAD"):
            await _send_json(send, 200, _listing(receiver, name, scope.get("query_string", b"")))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if method != "POST":
            detail = f"{method} is not allowed here: POST delivers a webhook, GET lists deliveries"
            await self._refuse(
                scope,
                send,
                headers,
                405,
                "method_not_allowed",
                detail,
                [(b"allow", b"GET, HEAD, POST")],
            )
            return
        try:
            body = await _read_body(receive, headers, receiver.max_body)
        except BodyTooLarge as too_large:
            size = f"{too_large.size} bytes" if too_large.size is not None else "larger"
            detail = f"body is {size}; the limit is {too_large.limit} bytes"
            # Close afterwards: the client may still be sending a body we refuse to read.
            await self._refuse(
                scope, send, headers, 413, "payload_too_large", detail, [(b"connection", b"close")]
            )
            return
        delivery = await receiver.deliver(name, method, scope["path"], headers, body, started)
        extra = []
        retry_after = delivery.response.get("retry_after")
        if retry_after is not None:
            extra.append((b"retry-after", str(int(retry_after)).encode()))
        await _send_json(send, delivery.status, delivery.response, extra, delivery.response_body)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        headers: dict[str, str],
        status: int,
        error: str,
        detail: str,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        """Answer a request that never reached the endpoint's checks, and keep it in the inbox."""
        answer = {"error": error, "detail": detail}
        self.receiver.record_refusal(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            body=b"",
            status=status,
            answer=answer,
        )
        await _send_json(send, status, answer, extra)


def _listing(receiver: Receiver, name: str, query_string: bytes) -> dict[str, Any]:
    from urllib.parse import parse_qs

    query = parse_qs(query_string.decode("latin-1"))
    try:
        after = int(query.get("after", ["0"])[0])
        limit = max(1, min(int(query.get("limit", ["1000"])[0]), 10_000))
    except ValueError:
        after, limit = 0, 1000
    matching = [d for d in receiver.inbox.for_endpoint(name) if d.seq > after]
    page = matching[:limit]
    return {
        "endpoint": name,
        "count": len(matching),
        "deliveries": [d.to_dict() for d in page],
        "next_after": page[-1].seq if len(matching) > limit else None,
    }


# An oversized body is never kept. Up to this many bytes of it are read and thrown away so the
# client can read our 413 cleanly (closing on unread data makes the kernel reset the connection);
# beyond that we answer at once and close.
DRAIN_LIMIT = 4 * 1024 * 1024


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if int(declared) <= DRAIN_LIMIT:
            await _drain(receive, DRAIN_LIMIT)
        raise BodyTooLarge(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if message.get("more_body", False):
                await _drain(receive, DRAIN_LIMIT - size)
            raise BodyTooLarge(None, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


async def _send_json(
    send: Send,
    status: int,
    answer: dict[str, Any],
    extra: list[tuple[bytes, bytes]] | None = None,
    encoded: bytes | None = None,
) -> None:
    body = encoded or json.dumps(answer, separators=(",", ":")).encode()
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _ok_body(webhook_id: str | None, name: str) -> bytes:
    # The answer to almost every delivery, built without json.dumps: this is the hot path.
    quoted_id = "null" if webhook_id is None else encode_basestring_ascii(webhook_id)
    return f'{{"ok":true,"id":{quoted_id},"endpoint":{encode_basestring_ascii(name)}}}'.encode()


def _answer(
    d: Delivery, status: int, error: str, detail: str, *, reason_code: str | None = None
) -> None:
    d.status = status
    d.reason = detail
    d.response = {"error": error, "detail": detail}
    if reason_code:
        d.response["reason"] = reason_code


def _event_type(payload: Any, headers: dict[str, str]) -> str | None:
    if isinstance(payload, dict):
        kind = payload.get("type")
        if isinstance(kind, str):
            return kind
    return headers.get("x-github-event")


def _to_event(payload: Any, event_type: str | None, webhook_id: str | None) -> Event:
    if isinstance(payload, dict) and "type" in payload and "data" in payload:
        return Event.from_payload(payload, id=webhook_id)
    if event_type is None:
        raise EventError("payload has no 'type', so no handler can be chosen")
    data = payload if isinstance(payload, dict) else {"value": payload}
    return Event(type=event_type, data=data, **({"id": webhook_id} if webhook_id else {}))


async def _call(handler: Handler, event: Event) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(event)
    # Plain functions run in a worker thread: a slow handler slows its own answer, not the server.
    result = await asyncio.get_running_loop().run_in_executor(None, handler, event)
    if isinstance(result, Awaitable):
        return await result
    return result


def _handler_key(handler: Handler) -> tuple[str, str] | None:
    """What makes two handlers "the same function defined again"; lambdas are never the same."""
    name = getattr(handler, "__qualname__", None)
    if not name or "<lambda>" in name:
        return None
    return (getattr(handler, "__module__", None) or "", name)


def _forget(seen: OrderedDict[str, bool], webhook_id: str | None) -> None:
    if webhook_id is not None:
        seen.pop(webhook_id, None)


def _endpoint_name(path: str) -> str:
    prefix = "/webhooks/"
    return path[len(prefix) :] if path.startswith(prefix) else path
