"""One attempt at a delivery, on the wire: sign it, POST it through the SSRF guard, read the answer.

The in-process :class:`~webhooks_lab.sender.sender.Sender` and a broker worker
(:mod:`webhooks_lab.jobs.broker_worker`) both make their attempts with these three calls, so a
delivery is signed, guarded and judged the same way wherever it runs:

* :func:`signed_headers`: the scheme's headers, signed with real (wall-clock) time;
* :func:`open_session`: an ``aiohttp`` session whose every connection is checked by the guard
  (:class:`~webhooks_lab.sender.ssrf.GuardedResolver`) at the moment it is made;
* :func:`post`: one POST, no redirects followed, and an :class:`Answer` saying what came back
  (status, ``Retry-After``, the first bytes of the body) or why nothing did. What to do next is
  the pure :func:`~webhooks_lab.sender.decision.decide`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webhooks_lab import signing
from webhooks_lab.sender.ssrf import GuardedResolver, UnsafeURL, URLGuard

__all__ = ["RESPONSE_KEPT", "Answer", "describe_error", "open_session", "post", "signed_headers"]

RESPONSE_KEPT = 300  # characters of each answer kept in the attempt log


@dataclass
class Answer:
    """What one POST came back with: ``status`` (``None``: no answer) or the ``error`` why not.

    ``permanent`` means trying again cannot help (the guard refused the address).
    """

    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    permanent: bool = False
    response: str = ""
    latency_ms: float = 0.0


def signed_headers(
    scheme: str, secret: str | Sequence[str] | None, body: bytes, *, msg_id: str, timestamp: int
) -> dict[str, str]:
    """The headers of one attempt: the scheme's signature over ``body`` and a JSON content type.

    ``secret`` may hold several space-separated secrets for ``standard`` (a rotation): each
    signs. ``timestamp`` is real Unix seconds, whatever a lab clock says: the receiver is
    someone else.
    """
    if scheme == "standard" and isinstance(secret, str):
        secret = secret.split()
    headers = signing.headers_for(scheme, secret, body, msg_id=msg_id, timestamp=timestamp)
    headers["content-type"] = "application/json"
    return headers


def open_session(guard: URLGuard, limit: int) -> Any:
    """An ``aiohttp.ClientSession`` of at most ``limit`` connections, each one guarded."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=limit, resolver=GuardedResolver(guard), ttl_dns_cache=10)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"user-agent": "webhooks-lab-sender"},
        auto_decompress=False,
    )


async def post(
    session: Any, url: str, body: bytes, headers: dict[str, str], timeout: Any
) -> Answer:
    """POST ``body`` to ``url`` once (``timeout``: an ``aiohttp.ClientTimeout``); never raises
    but for cancellation."""
    answer = Answer()
    started = time.perf_counter()
    try:
        async with session.post(
            url, data=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as reply:
            read = await reply.read()
            answer.status = reply.status
            answer.retry_after = reply.headers.get("retry-after")
            if 300 <= reply.status < 400:
                where = reply.headers.get("location", "?")
                answer.error = f"redirect to {where} not followed"
        answer.response = read[:RESPONSE_KEPT].decode("utf-8", "replace")
    except asyncio.TimeoutError:
        answer.error = f"timeout: no answer within {timeout.total:g} s"
    except UnsafeURL as refused:
        answer.error, answer.permanent = str(refused), True
    except Exception as exc:
        answer.error = describe_error(exc)
    answer.latency_ms = (time.perf_counter() - started) * 1000
    return answer


def describe_error(exc: BaseException) -> str:
    """A failed request's exception in words a learner can act on."""
    import aiohttp

    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the receiver closed the connection without answering"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error)
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    return f"{type(exc).__name__}: {exc}"
