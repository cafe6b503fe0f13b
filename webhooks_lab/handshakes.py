"""Endpoint handshakes: how a provider asks "do you really want my webhooks?" before sending any.

Anyone can type any URL into a provider's settings, so many providers first send a *challenge*
that only a receiver meaning to take part answers right. Each provider's challenge differs; this
module knows six, as pure functions of the request (no I/O), for both sides:

* ``slack``: POST JSON ``{"type": "url_verification", "challenge": ...}``; answer the challenge
  (we answer JSON ``{"challenge": ...}``).
* ``zoom``: POST JSON ``{"event": "endpoint.url_validation", "payload": {"plainToken": ...}}``;
  answer JSON ``{"plainToken", "encryptedToken": hex HMAC-SHA256(secret token, plainToken)}``.
* ``x``: GET ``?crc_token=...``; answer JSON
  ``{"response_token": "sha256=" + base64 HMAC-SHA256(consumer secret, crc_token)}``.
* ``graph``: POST ``?validationToken=...``; answer the decoded token as ``text/plain``.
* ``websub``: GET ``?hub.mode=subscribe&hub.topic=...&hub.challenge=...``; answer the challenge.
* ``cloudevents``: OPTIONS with ``WebHook-Request-Origin`` (and ``WebHook-Request-Rate``); answer
  ``WebHook-Allowed-Origin`` and ``WebHook-Allowed-Rate`` headers and ``Allow: POST``.

Sources (checked 2026-12-01):

* Slack: https://api.slack.com/events/url_verification ("respond ... with the challenge
  attribute value", plain text, form-encoded or JSON ``{"challenge": ...}``).
* Zoom: https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint
  (``endpoint.url_validation``; ``encryptedToken`` is the hex HMAC-SHA256 of ``plainToken`` keyed
  with the app's secret token; re-validated every 72 hours, per the Zoom changelog).
* X: https://docs.x.com/x-api/webhooks/quickstart, "The CRC check" (GET with
  ``crc_token``; answer ``{"response_token": "sha256=<base64 HMAC-SHA256>"}`` keyed with the app's
  consumer secret).
* Microsoft Graph: https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
  "Notification endpoint validation" (POST with ``validationToken`` in the query; answer 200,
  ``text/plain``, the URL-decoded token, within 10 seconds).
* WebSub: https://www.w3.org/TR/websub/#hub-verifies-intent (GET with ``hub.mode``,
  ``hub.topic``, ``hub.challenge``, ``hub.lease_seconds``; answer 2xx with the challenge as body).
* CloudEvents: https://github.com/cloudevents/spec/blob/main/cloudevents/http-webhook.md,
  "Abuse Protection" (OPTIONS with ``WebHook-Request-Origin`` and optionally
  ``WebHook-Request-Rate``; a consenting target answers ``WebHook-Allowed-Origin`` and
  ``WebHook-Allowed-Rate``, and ``Allow: POST``). The asynchronous ``WebHook-Request-Callback``
  is not followed: the lab never sends requests on behalf of a stranger.

A word of warning the lab's lesson makes: Zoom's and X's answers are an HMAC of a string the
*caller* chooses, keyed with a secret. Never key them with the secret that signs your deliveries
unless the challenge request is itself verified, or the endpoint signs whatever a forger asks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from secrets import token_urlsafe
from urllib.parse import urlencode

from webhooks_lab import strict_json
from webhooks_lab.errors import Error

__all__ = [
    "KINDS",
    "NEEDS_SECRET",
    "HandshakeError",
    "Request",
    "Reply",
    "matches",
    "reply",
    "challenge",
    "check_reply",
]

KINDS: tuple[str, ...] = ("slack", "zoom", "x", "graph", "websub", "cloudevents")
"""The handshakes a receiver can answer and a sender can play."""

NEEDS_SECRET = frozenset({"zoom", "x"})
"""The handshakes whose answer is keyed with a secret."""

MAX_TOKEN = 1024
"""The longest challenge token answered: real ones are tens of characters."""


class HandshakeError(Error, ValueError):
    """A handshake request or answer that is not right; ``code`` is a short word for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def as_dict(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.message}


@dataclass(frozen=True)
class Request:
    """A handshake request: ``method``, ``query`` (decoded), lower-case ``headers``, ``body``."""

    method: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def query_string(self) -> str:
        return urlencode(dict(self.query))


@dataclass(frozen=True)
class Reply:
    """A handshake answer: ``status``, ``content_type``, ``body`` and extra ``headers``."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown handshake {kind!r}; choose one of {', '.join(KINDS)}")
    return kind  # type: ignore[return-value]


# -- the receiver's side ------------------------------------------------------------------------


def matches(kind: str, request: Request) -> bool:
    """Whether ``request`` is a ``kind`` handshake (cheap: no JSON is parsed for most requests).

    A request that claims to be one but lacks a field still matches, so :func:`reply` can say
    what is missing.
    """
    method, query = request.method, request.query
    if kind == "slack":
        return method == "POST" and b"url_verification" in request.body[:4096]
    if kind == "zoom":
        return method == "POST" and b"endpoint.url_validation" in request.body[:4096]
    if kind == "x":
        return method == "GET" and "crc_token" in query
    if kind == "graph":
        return method == "POST" and "validationToken" in query
    if kind == "websub":
        return method == "GET" and "hub.mode" in query
    if kind == "cloudevents":
        return method == "OPTIONS"
    return False


def reply(kind: str, request: Request, *, secret: str | None = None) -> Reply:
    """The answer to a ``kind`` handshake; :class:`HandshakeError` when a field is missing."""
    if kind == "slack":
        found = _json_field(request.body, ("challenge",), "a Slack url_verification")
        return _json(200, {"challenge": found})
    if kind == "zoom":
        token = _json_field(request.body, ("payload", "plainToken"), "a Zoom url_validation")
        encrypted = hmac.new(_key(secret), token.encode(), hashlib.sha256).hexdigest()
        return _json(200, {"plainToken": token, "encryptedToken": encrypted})
    if kind == "x":
        token = _query(request, "crc_token")
        digest = hmac.new(_key(secret), token.encode(), hashlib.sha256).digest()
        return _json(200, {"response_token": "sha256=" + base64.b64encode(digest).decode()})
    if kind == "graph":
        return Reply(200, "text/plain; charset=utf-8", _query(request, "validationToken").encode())
    if kind == "websub":
        mode = _query(request, "hub.mode")
        if mode == "denied":  # the hub refused the subscription: nothing to confirm
            return Reply(200, "text/plain; charset=utf-8", b"")
        if mode not in ("subscribe", "unsubscribe"):
            raise HandshakeError(
                "bad_field",
                f"hub.mode is {mode[:40]!r}; WebSub sends subscribe, unsubscribe or denied",
            )
        _query(request, "hub.topic")
        return Reply(200, "text/plain; charset=utf-8", _query(request, "hub.challenge").encode())
    if kind == "cloudevents":
        origin = request.headers.get("webhook-request-origin", "")
        if not origin:
            raise HandshakeError(
                "missing_field",
                "a CloudEvents validation request carries WebHook-Request-Origin; this has none",
            )
        _bounded("WebHook-Request-Origin", origin)
        rate = request.headers.get("webhook-request-rate", "")
        if rate and not (rate.isascii() and rate.isdigit() and len(rate) < 10):
            raise HandshakeError("bad_field", "WebHook-Request-Rate is a whole number per minute")
        headers = [("WebHook-Allowed-Origin", origin), ("Allow", "POST, OPTIONS")]
        headers.append(("WebHook-Allowed-Rate", rate or "*"))
        return Reply(200, "text/plain; charset=utf-8", b"", tuple(headers))
    raise ValueError(f"unknown handshake {kind!r}; choose one of {', '.join(KINDS)}")


def _key(secret: str | None) -> bytes:
    if not secret:
        raise ValueError("this handshake's answer is keyed with a secret; give one")
    return secret.encode("utf-8")


def _bounded(name: str, value: str) -> str:
    if len(value) > MAX_TOKEN:
        raise HandshakeError(
            "too_long", f"{name} is {len(value)} characters; at most {MAX_TOKEN} are answered"
        )
    return value


def _query(request: Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise HandshakeError("missing_field", f"the handshake request has no {name} parameter")
    return _bounded(name, value)


def _json_field(body: bytes, path: tuple[str, ...], what: str) -> str:
    try:
        value: object = strict_json.loads(body, max_depth=8)
    except strict_json.JSONRefused:
        raise HandshakeError("invalid_json", f"{what} request's body is not JSON") from None
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise HandshakeError("missing_field", f"{what} request has no {'.'.join(path)} text")
    return _bounded(path[-1], value)


def _json(status: int, value: dict[str, str]) -> Reply:
    import json

    return Reply(status, "application/json", json.dumps(value).encode())


# -- the provider's side ------------------------------------------------------------------------


def challenge(kind: str, *, token: str | None = None, origin: str = "lab.localhost") -> Request:
    """The request a provider sends to start a ``kind`` handshake, with a fresh random token."""
    import json

    check_kind(kind)
    token = token or token_urlsafe(24)
    if kind == "slack":
        body = {"token": "verification-token", "challenge": token, "type": "url_verification"}
        return Request("POST", {}, {"content-type": "application/json"}, json.dumps(body).encode())
    if kind == "zoom":
        body = {"payload": {"plainToken": token}, "event": "endpoint.url_validation"}
        return Request("POST", {}, {"content-type": "application/json"}, json.dumps(body).encode())
    if kind == "x":
        return Request("GET", {"crc_token": token})
    if kind == "graph":
        return Request("POST", {"validationToken": token})
    if kind == "websub":
        query = {
            "hub.mode": "subscribe",
            "hub.topic": "https://lab.localhost/feed",
            "hub.challenge": token,
            "hub.lease_seconds": "86400",
        }
        return Request("GET", query)
    headers = {"webhook-request-origin": origin, "webhook-request-rate": "120"}
    return Request("OPTIONS", {}, headers)


def check_reply(
    kind: str,
    request: Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
) -> str:
    """What the provider concludes from the answer: a sentence if right, else HandshakeError."""
    if not 200 <= status < 300:
        raise HandshakeError("refused", f"the endpoint answered {status}, not 2xx")
    expected = reply(kind, request, secret=secret)
    if kind in ("slack", "zoom", "x"):
        try:
            got = strict_json.loads(body, max_depth=8)
        except strict_json.JSONRefused:
            got = None
        want = strict_json.loads(expected.body)
        if kind == "slack" and body.decode("utf-8", "replace") == want["challenge"]:
            return "the challenge came back (as plain text): Slack accepts the URL"
        if got != want:
            raise HandshakeError("wrong_answer", f"expected {want}, got {body[:200]!r}")
        return f"the endpoint answered {kind}'s challenge right"
    if kind == "cloudevents":
        allowed = {k.lower(): v for k, v in headers.items()}.get("webhook-allowed-origin")
        if allowed not in (request.headers["webhook-request-origin"], "*"):
            raise HandshakeError(
                "wrong_answer", f"WebHook-Allowed-Origin is {allowed!r}: no consent to send"
            )
        return "the endpoint allows this origin to send"
    if body != expected.body:
        raise HandshakeError(
            "wrong_answer", f"expected the token {expected.body[:80]!r} back, got {body[:80]!r}"
        )
    return "the token came back: the endpoint confirmed"
