"""The receiver: takes each delivery through its endpoint's checks, records it, answers.

``POST /webhooks/{name}`` is the hot path, written as a plain ASGI endpoint (no per-request
``Request``/``Response`` objects) because every delivery in every lesson and load test goes through
it; a delivery that nothing would make wait (no handler, chaos or handshake) is even taken
without ASGI, the moment the server has it whole (:meth:`Receiver.deliver_now`), with the same
checks, record and answer. The order of checks is the lesson: size, signature (on the raw
bytes), JSON, chaos, duplicate, handlers. Whatever happens, the request lands in the inbox with
the status it got and why.

What each endpoint checks and who handles its events is its
:class:`~webhooks_lab.receiver.endpoint.Endpoint`; how much of a body is read is
:mod:`webhooks_lab.http.body`'s.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from webhooks_lab import cloud_events, signing, strict_json
from webhooks_lab.events import Event, EventError
from webhooks_lab.http.body import DELIVERY_BODY_LIMIT, BodyTooLarge, ClientDisconnected, read_body
from webhooks_lab.limits import DEFAULT as DEFAULT_LIMITS
from webhooks_lab.limits import Limits
from webhooks_lab.receiver import handshake
from webhooks_lab.receiver.chaos import Chaos
from webhooks_lab.receiver.endpoint import (
    Endpoint,
    Handler,
    InvalidPayload,
    SeenIds,
    usable_secrets,
)
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.loop import off_the_loop

__all__ = ["DEFAULT_MAX_BODY", "Endpoint", "InvalidPayload", "Receiver", "answer_of"]

DEFAULT_MAX_BODY = DELIVERY_BODY_LIMIT
"""Bytes a delivery's body may have unless the lab is told otherwise (256 KiB; see http.body)."""
_JSON_TYPE = (b"content-type", b"application/json")
_CLOSE = [(b"connection", b"close")]


class Receiver:
    """All webhook endpoints of one server, and the inbox they share."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_body: int | None = None,
        inbox_size: int = 50_000,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """``limits`` bound what clients may send (:class:`~webhooks_lab.limits.Limits`);
        ``max_body``, if given, overrides ``limits.max_body``."""
        self.clock = clock or Clock()
        self.limits = limits.with_options(max_body=max_body)
        self.inbox = Inbox(maxlen=inbox_size, max_bytes=self.limits.max_inbox_bytes)
        self.endpoints: dict[str, Endpoint] = {}
        self._made_by_clients = 0  # endpoints that came into being by a delivery to a new name
        self.url: str | None = None  # set by the server once it listens
        self._default: tuple[list[str], str, int] | None = None
        self.webhook_endpoint = _WebhookApp(self)

    @property
    def max_body(self) -> int:
        """Bytes a delivery's body may have (``limits.max_body``)."""
        return self.limits.max_body

    @max_body.setter
    def max_body(self, value: int) -> None:
        self.limits = self.limits.with_options(max_body=value)

    # -- configuring -----------------------------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint ``/webhooks/{name}``, created on first use."""
        found = self.endpoints.get(name)
        if found is None:
            found = self.endpoints[name] = self._new_endpoint(name)
        return found

    def _new_endpoint(self, name: str) -> Endpoint:
        made = Endpoint(name)
        if self._default is not None:
            secrets, scheme, tolerance = self._default
            made.require(secrets, scheme, tolerance=tolerance)
        return made

    def require_all(
        self, secret: str | Sequence[str], scheme: str = "standard", *, tolerance: int = 300
    ) -> None:
        """Require signatures on every endpoint, including ones first used later."""
        secrets = usable_secrets(secret, scheme, tolerance)
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
        delivery = self._arrival(_endpoint_name(path), method, path, headers, body)
        delivery.status, delivery.response, delivery.reason = status, answer, answer.get("detail")
        self.inbox.record(delivery)

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
        """Process one POSTed delivery and record it; returns the inbox record (status set).

        A name nobody set up is an endpoint on trial: it is kept only if this delivery is
        accepted (so refused strangers cost nothing), and at most ``limits.max_endpoints`` names
        come into being that way; past that, a new name is answered 404 with the reason.
        """
        delivery = self._arrival(name, method, path, headers, body)
        endpoint = self.endpoints.get(name)
        on_trial = endpoint is None
        try:
            if endpoint is None:
                if self._made_by_clients >= self.limits.max_endpoints:
                    _answer(
                        delivery,
                        404,
                        "too_many_endpoints",
                        f"no endpoint {name!r}, and {self.limits.max_endpoints} endpoints have "
                        "already been made by deliveries to new names; set one up first",
                    )
                    return delivery
                endpoint = self._new_endpoint(name)
            await self._process(endpoint, delivery)
            if on_trial and 200 <= delivery.status < 300 and name not in self.endpoints:
                self.endpoints[name] = endpoint
                self._made_by_clients += 1
        finally:
            delivery.duration_ms = (time.perf_counter() - started) * 1000
            self.inbox.record(delivery)
        return delivery

    def _arrival(
        self, name: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Delivery:
        """The inbox record of a request as it arrived, before anything is decided about it."""
        return Delivery(
            seq=0,
            endpoint=name,
            method=method,
            path=path,
            headers=headers,
            body=body,
            received_at=self.clock.time(),
            webhook_id=headers.get("webhook-id") or headers.get("x-github-delivery"),
        )

    def deliver_now(
        self, name: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Delivery | None:
        """:meth:`deliver`, done at once when nothing in it would wait: the endpoint exists
        and runs no handler, no chaos and no handshake (``webhooks-lab serve`` under load).

        ``None`` (nothing done, nothing recorded) when it cannot: then :meth:`deliver` it.
        """
        started = time.perf_counter()
        endpoint = self.endpoints.get(name)
        if (
            endpoint is None
            or endpoint.handlers
            or endpoint.handshake is not None
            or endpoint.chaos.active
        ):
            return None
        d = self._arrival(name, method, path, headers, body)
        try:
            payload = self._checked(endpoint, d)
            if payload is not _REFUSED and not _repeated(endpoint.seen, d):
                if d.webhook_id is not None:
                    endpoint.seen.processed(d.webhook_id)
                _accept(d, endpoint.name)
        finally:
            d.duration_ms = (time.perf_counter() - started) * 1000
            self.inbox.record(d)
        return d

    async def _process(self, endpoint: Endpoint, d: Delivery) -> None:
        payload = self._checked(endpoint, d)
        if payload is _REFUSED:
            return

        trouble = endpoint.chaos.decide() if endpoint.chaos.active else None
        if trouble is not None:
            if trouble.status is not None:
                _answer(d, trouble.status, "chaos", trouble.why)
                if trouble.retry_after is not None:
                    d.response["retry_after"] = trouble.retry_after
                return
            await self.clock.sleep(trouble.delay)

        seen = endpoint.seen
        if _repeated(seen, d):
            return

        handlers = endpoint.handlers_for(d.event_type)
        if not handlers:  # most deliveries under load: nothing runs, so nothing is in progress
            if d.webhook_id is not None:
                seen.processed(d.webhook_id)
            _accept(d, endpoint.name)
            return
        if d.webhook_id is not None:
            seen.begin(d.webhook_id)
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
            seen.finish(d.webhook_id)
        _accept(d, endpoint.name)

    def _checked(self, endpoint: Endpoint, d: Delivery) -> Any:
        """The payload, if the signature and the body pass; else ``_REFUSED``, ``d`` answered."""
        if endpoint.scheme != "none":
            now = self.clock.wall()  # real time: senders sign with it
            try:
                signing.verify_scheme(
                    endpoint.scheme,
                    endpoint.secrets,
                    d.headers,
                    d.body,
                    tolerance=endpoint.tolerance,
                    now=now,
                )
            except signing.SignatureError as exc:
                d.verified = False
                d.refused_check = (endpoint.scheme, endpoint.secrets, endpoint.tolerance, now)
                _answer(d, 401, "invalid_signature", str(exc), reason_code=exc.code)
                return _REFUSED
            d.verified = True

        try:
            if cloud_events.claimed(d.headers):  # CloudEvents 1.0, binary or structured mode
                payload, d.webhook_id = cloud_events.read(
                    d.headers,
                    d.body,
                    max_depth=self.limits.max_json_depth,
                    max_number_chars=self.limits.max_number_chars,
                )
            else:
                payload = strict_json.loads(
                    d.body,
                    max_depth=self.limits.max_json_depth,
                    max_number_chars=self.limits.max_number_chars,
                )
                if (misdressed := cloud_events.misdressed(payload, d.headers)) is not None:
                    raise misdressed
        except strict_json.JSONRefused as exc:
            code = exc.code if exc.code != "invalid_json" else None  # say only what it adds
            _answer(d, 400, "invalid_json", str(exc), reason_code=code)
            return _REFUSED
        except cloud_events.CloudEventRefused as exc:
            _answer(d, exc.status, "invalid_cloudevent", str(exc), reason_code=exc.code)
            return _REFUSED
        d.event_type = _event_type(payload, d.headers)
        return payload


class _WebhookApp:
    """The raw ASGI endpoint behind ``/webhooks/{name}``."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope["path_params"]["name"], scope, receive, send)

    async def handle(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request to ``/webhooks/{name}`` (the app in front calls this directly)."""
        started = time.perf_counter()
        receiver = self.receiver
        method = scope["method"]
        endpoint = receiver.endpoints.get(name)
        shakes = endpoint is not None and endpoint.handshake is not None
        if (
            shakes
            and method != "POST"
            and await handshake.answer(  # X, WebSub, CloudEvents
                receiver, endpoint, scope, b"", started, send
            )
        ):
            return
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
            body = await read_body(
                receive, receiver.max_body, content_length=headers.get("content-length")
            )
        except BodyTooLarge as too_large:
            # Close afterwards: the client may still be sending a body we refuse to read.
            await self._refuse(
                scope, send, headers, 413, "payload_too_large", str(too_large), _CLOSE
            )
            return
        except ClientDisconnected as gone:
            # Nobody is left to read an answer, but the inbox shows that a request came and why
            # it was not processed: half a body is not a delivery.
            await self._refuse(scope, send, headers, 400, "incomplete_body", str(gone), _CLOSE)
            return
        if shakes and await handshake.answer(receiver, endpoint, scope, body, started, send):
            return
        delivery = await receiver.deliver(name, method, scope["path"], headers, body, started)
        status, answer_headers, answer = answer_of(delivery)
        await send({"type": "http.response.start", "status": status, "headers": answer_headers})
        await send({"type": "http.response.body", "body": answer})

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


async def _send_json(
    send: Send,
    status: int,
    answer: dict[str, Any],
    extra: list[tuple[bytes, bytes]] | None = None,
    encoded: bytes | None = None,
) -> None:
    body = encoded or json.dumps(answer, separators=(",", ":")).encode()
    headers = [_JSON_TYPE, _content_length(len(body))]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def answer_of(delivery: Delivery) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The HTTP answer to a processed delivery: its status, headers and JSON body."""
    body = delivery.response_body  # an accepted delivery's answer is ready-made
    if body is None:
        body = json.dumps(delivery.response, separators=(",", ":")).encode()
    headers = [_JSON_TYPE, _content_length(len(body))]
    retry_after = delivery.response.get("retry_after")
    if retry_after is not None:
        headers.append((b"retry-after", str(int(retry_after)).encode()))
    return delivery.status, headers, body


@functools.lru_cache(maxsize=512)
def _content_length(size: int) -> tuple[bytes, bytes]:
    # Answers to deliveries come in a few sizes: their header is made once per size.
    return (b"content-length", str(size).encode())


def _accept(d: Delivery, name: str) -> None:
    d.status = 200
    d.response = {"ok": True, "id": d.webhook_id, "endpoint": name}
    d.response_body = _ok_body(d.webhook_id, name)


def _ok_body(webhook_id: str | None, name: str) -> bytes:
    # The answer to almost every delivery, built without json.dumps: this is the hot path.
    quoted_id = "null" if webhook_id is None else encode_basestring_ascii(webhook_id)
    return f'{{"ok":true,"id":{quoted_id},"endpoint":{encode_basestring_ascii(name)}}}'.encode()


_REFUSED: Any = object()  # what Receiver._checked returns for a refused delivery


def _repeated(seen: SeenIds, d: Delivery) -> bool:
    """Answer ``d`` if its webhook-id was seen before (done: acknowledged; in progress: 409)."""
    if d.webhook_id is None or (done := seen.get(d.webhook_id)) is None:
        return False
    d.duplicate = True
    if done:
        d.status = 200
        d.response = {
            "ok": True,
            "duplicate": True,
            "id": d.webhook_id,
            "detail": "already processed; acknowledged, not processed again",
        }
    else:
        _answer(d, 409, "in_progress", "this webhook-id is still being processed; retry later")
    return True


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
    result = await off_the_loop(handler, event)
    if isinstance(result, Awaitable):
        return await result
    return result


def _forget(seen: SeenIds, webhook_id: str | None) -> None:
    if webhook_id is not None:
        seen.discard(webhook_id)


def _endpoint_name(path: str) -> str:
    prefix = "/webhooks/"
    return path[len(prefix) :] if path.startswith(prefix) else path
