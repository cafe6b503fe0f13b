"""Replay a delivery: POST its raw body and headers to the receiver again, exactly as stored.

The inbox page's Replay button and the inbox widget's both use this. The replay is a new request,
so it lands in the inbox as a new delivery; with the same ``webhook-id`` the receiver answers it
as a duplicate, which is the point of showing it.
"""

from __future__ import annotations

import uuid

import httpx

from webhooks_lab.receiver.inbox import Delivery, Inbox

# A marker header (signatures cover id, timestamp and body, never extra headers) lets us find the
# new record among everything else arriving meanwhile, and tells whoever reads the inbox that this
# one was a replay: ``x-webhooks-lab-replay-of: #12 <token>``.
REPLAY_HEADER = "x-webhooks-lab-replay-of"
_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


async def replay_delivery(inbox: Inbox, original: Delivery, base_url: str) -> Delivery:
    """POST ``original`` again to ``base_url`` + its path; return the new inbox record."""
    token = uuid.uuid4().hex[:12]
    headers = {k: v for k, v in original.headers.items() if k.lower() not in _HOP_BY_HOP}
    headers[REPLAY_HEADER] = f"#{original.seq} {token}"
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        await client.post(base_url + original.path, content=original.body, headers=headers)
    for delivery in reversed(inbox.snapshot()):
        if delivery.headers.get(REPLAY_HEADER, "").endswith(token):
            return delivery
    raise RuntimeError("the replay was answered but is not in the inbox")
