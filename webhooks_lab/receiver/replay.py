"""Replay a delivery: POST its raw body and headers to the receiver again, exactly as stored.

The inbox page's Replay button and the inbox widget's both use this. The replay is a new request,
so it lands in the inbox as a new delivery; with the same ``webhook-id`` the receiver answers it
as a duplicate, which is the point of showing it.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.runtime.traced_http import traced_async_client

# A marker header (signatures cover id, timestamp and body, never extra headers) lets us find the
# new record among everything else arriving meanwhile, and tells whoever reads the inbox that this
# one was a replay: ``x-webhooks-lab-replay-of: #12 <token>``.
REPLAY_HEADER = "x-webhooks-lab-replay-of"
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


async def replay_delivery(inbox: Inbox, original: Delivery, base_url: str) -> Delivery:
    """POST ``original`` again to ``base_url`` + its path; return the new inbox record.

    The target is built from the endpoint name, percent-encoded, never from the stored path as
    text, so nothing in a stored request can point the replay elsewhere. Headers go back as the
    bytes they arrived as (HTTP header values are Latin-1 on the wire, not always ASCII).
    """
    token = uuid.uuid4().hex[:12]
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in original.headers.items()
        if k.lower() not in _HOP_BY_HOP and k.lower() != REPLAY_HEADER
    ]
    headers.append((REPLAY_HEADER.encode(), f"#{original.seq} {token}".encode()))
    url = f"{base_url}/webhooks/{quote(original.endpoint, safe='')}"
    async with traced_async_client("Replay", timeout=30) as client:
        await client.post(url, content=original.body, headers=headers)
    for delivery in reversed(inbox.snapshot()):
        if delivery.headers.get(REPLAY_HEADER, "").endswith(token):
            return delivery
    raise RuntimeError("the replay was answered but is not in the inbox")
