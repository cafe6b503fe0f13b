"""Answering a provider's handshake on an endpoint, and keeping it in the inbox as one.

The answers themselves are :mod:`webhooks_lab.handshakes` (pure); this is the HTTP around them.
An endpoint answers only the handshake it was told to expect
(:meth:`~webhooks_lab.receiver.endpoint.Endpoint.answer_handshake`); a request that claims to be
one but lacks a field is answered 400 with the reason, never 5xx.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from webhooks_lab import handshakes, signing
from webhooks_lab.receiver.inbox import Delivery

if TYPE_CHECKING:
    from starlette.types import Scope, Send

    from webhooks_lab.receiver.endpoint import Endpoint
    from webhooks_lab.receiver.receiver import Receiver

_MAX_QUERY = 8192


async def answer(
    receiver: Receiver,
    endpoint: Endpoint,
    scope: Scope,
    body: bytes,
    started: float,
    send: Send,
) -> bool:
    """Answer and record the request if it is the endpoint's handshake; ``False`` if it is not."""
    kind, secret = endpoint.handshake or ("", None)
    raw_query = scope.get("query_string", b"")[:_MAX_QUERY].decode("latin-1")
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(name, value)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    request = handshakes.Request(scope["method"], query, headers, body)
    if not handshakes.matches(kind, request):
        return False
    if endpoint.scheme != "none":  # a signed provider (Slack) signs its handshake too
        try:
            signing.verify_scheme(
                endpoint.scheme,
                endpoint.secrets,
                headers,
                body,
                tolerance=endpoint.tolerance,
                now=receiver.clock.wall(),
            )
        except signing.SignatureError:
            return False  # the ordinary path refuses it, with the reason and a diagnosis
    try:
        reply = handshakes.reply(kind, request, secret=secret)
        status, content_type, payload = reply.status, reply.content_type, reply.body
        extra = reply.headers
        response: dict[str, object] = {"ok": True, "handshake": kind}
        reason = None
    except handshakes.HandshakeError as exc:
        status, content_type, extra = 400, "application/json", ()
        response = {"error": "bad_handshake", "reason": exc.code, "detail": exc.message}
        payload, reason = json.dumps(response).encode(), exc.message
    delivery = Delivery(
        seq=0,
        endpoint=endpoint.name,
        method=scope["method"],
        path=scope["path"] + (f"?{raw_query}" if raw_query else ""),
        headers=headers,
        body=body,
        received_at=receiver.clock.time(),
        status=status,
        response=response,
        reason=reason,
        handshake=kind,
        duration_ms=(time.perf_counter() - started) * 1000,
        response_body=payload,
    )
    receiver.inbox.record(delivery)
    head = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    head += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})
    return True
