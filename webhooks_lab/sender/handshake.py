"""Playing the provider: send a handshake challenge to an endpoint and judge its answer.

So a lesson can act as Slack, Zoom, X, Microsoft Graph, a WebSub hub or a CloudEvents sender
before any event is sent. The challenge and the judgement are :mod:`webhooks_lab.handshakes`.
"""

from __future__ import annotations

import httpx

from webhooks_lab import handshakes

__all__ = ["play_handshake"]

_MAX_ANSWER = 64 * 1024


def play_handshake(url: str, kind: str, *, secret: str | None = None, timeout: float = 5.0) -> str:
    """Send ``kind``'s challenge to ``url``; the provider's verdict if the answer is right.

    Raises :class:`~webhooks_lab.handshakes.HandshakeError` saying what was wrong with the
    answer (or ``httpx.HTTPError`` if nothing answered). ``secret`` is the one Zoom and X key
    their answers with.
    """
    handshakes.check_kind(kind)
    if kind in handshakes.NEEDS_SECRET and not secret:
        raise ValueError(f"the {kind} handshake's answer is keyed with a secret; give it")
    request = handshakes.challenge(kind)
    with httpx.Client(timeout=timeout) as client:
        answer = client.request(
            request.method,
            url,
            params=dict(request.query),
            headers=dict(request.headers),
            content=request.body or None,
        )
    body = answer.content[:_MAX_ANSWER]
    return handshakes.check_reply(
        kind, request, answer.status_code, dict(answer.headers), body, secret=secret
    )
