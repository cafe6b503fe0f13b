"""Request bodies: how much the lab reads, and why each limit is the size it is.

Every input has a limit. A body is read from the ASGI ``receive`` callable chunk by chunk and
counted as it comes, so the limit holds whether the client declared a ``Content-Length`` or sent
the body chunked: :func:`read_body` never keeps more than ``limit`` bytes, and an oversized body
is refused with :class:`BodyTooLarge` without being kept.

The limits, and why:

:data:`DELIVERY_BODY_LIMIT` (256 KiB)
    What ``POST /webhooks/{name}`` accepts. Webhook events are small: they say what happened and
    carry ids for anything big, so most are a few KiB (GitHub, among the largest, caps a payload
    at 25 MB and rarely comes near it). 256 KiB holds any event a lesson or a test sends with
    room to spare, and bounds what one request can make the lab hold: the inbox keeps each
    delivery's body (how many it keeps is the inbox's own limit).
:data:`JOB_REQUEST_BODY_LIMIT` (64 KiB)
    What ``POST /jobs`` accepts. A job request is a kind, a few parameters and a callback URL:
    a few hundred bytes. Parameters describe work, they do not carry its input (a job that needs
    a large input is given where to fetch it), so 64 KiB is generous and keeps hostile requests
    cheap to refuse.
:data:`DRAIN_LIMIT` (4 MiB)
    Not a limit on what is kept (nothing of an oversized body is). Up to this many bytes of a
    refused body are read and thrown away so the client can read the ``413`` cleanly: closing a
    connection on unread data makes the kernel reset it, and the client sees a reset instead of
    the answer. Beyond that, answering at once and closing is cheaper than listening.

This module knows nothing of receivers or job runners: it reads ASGI messages.
"""

from __future__ import annotations

from starlette.types import Receive

from webhooks_lab.errors import Error
from webhooks_lab.http.params import plain_int
from webhooks_lab.limits import DEFAULT

__all__ = [
    "DELIVERY_BODY_LIMIT",
    "DRAIN_LIMIT",
    "JOB_REQUEST_BODY_LIMIT",
    "BodyTooLarge",
    "ClientDisconnected",
    "drain",
    "read_body",
]

DELIVERY_BODY_LIMIT = DEFAULT.max_body  # the defaults live in webhooks_lab.limits
"""Bytes a webhook delivery's body may have (``POST /webhooks/{name}``); see above for why."""

JOB_REQUEST_BODY_LIMIT = DEFAULT.max_job_body
"""Bytes a job request's body may have (``POST /jobs``); see the module docstring."""

DRAIN_LIMIT = 4 * 1024 * 1024
"""Bytes of a refused body read and thrown away so the client can read the 413."""


class BodyTooLarge(Error, ValueError):
    """A body over its limit; ``size`` is its declared length, ``None`` if it was not declared."""

    def __init__(self, size: int | None, limit: int) -> None:
        said = f"{size} bytes" if size is not None else "larger"
        super().__init__(f"body is {said}; the limit is {limit} bytes")
        self.size, self.limit = size, limit


class ClientDisconnected(Error, ConnectionError):
    """The client went away before its body ended; what arrived is not a whole request."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the client disconnected after {received} bytes, before the body ended")
        self.received = received


async def read_body(receive: Receive, limit: int, *, content_length: str | None = None) -> bytes:
    """The whole body from ``receive``, at most ``limit`` bytes of it ever held.

    ``content_length`` is the request's ``Content-Length`` header, if it has one: a declared
    length over the limit is refused before a byte is read. Without one (a chunked body) the
    bytes are counted as they come, and the body is refused as soon as it passes the limit.
    Either way the rest of a refused body is drained (up to :data:`DRAIN_LIMIT`), not kept.

    Raises :class:`BodyTooLarge`, or :class:`ClientDisconnected` if the client leaves early.
    """
    declared = plain_int(content_length)
    if declared is not None and declared > limit:
        if declared <= DRAIN_LIMIT:
            await drain(receive, DRAIN_LIMIT)
        raise BodyTooLarge(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected(size)
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            if more:
                await drain(receive, DRAIN_LIMIT - size)
            raise BodyTooLarge(None, limit)
        chunks.append(chunk)
        if not more:
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def drain(receive: Receive, budget: int) -> None:
    """Read and drop body chunks until the body ends, the client leaves or ``budget`` is spent."""
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))
