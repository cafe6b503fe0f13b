"""Checks for lesson 2, "Take a webhook apart".

The first reads what the learner's hand-made delivery looked like when it arrived; the second sends
real deliveries to the learner's handler, with a sender's impatience, and waits for the email.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.events import Event

_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
_counter = itertools.count(1)


@check
def sent_by_hand(lab: Any, endpoint: str = "parcels", event_type: str = "order.shipped") -> Result:
    """Exercise 1: a signed ``order.shipped`` delivery, built by hand, accepted at ``endpoint``."""
    arrived = lab.receiver.inbox.for_endpoint(endpoint)
    if not arrived:
        return not_yet(
            f"nothing has arrived at /webhooks/{endpoint} yet.",
            f'httpx.post(lab.receiver.url_for("{endpoint}"), content=body, headers=headers)',
        )
    last = arrived[-1]
    missing = [name for name in _HEADERS if name not in last.headers]
    if missing:
        return not_yet(
            f"your last delivery has no {', '.join(missing)} header.",
            "set all four: content-type, webhook-id, webhook-timestamp and webhook-signature "
            "(signing.sign(secret, webhook_id, timestamp, body))",
        )
    if not last.headers["content-type"].startswith("application/json"):
        return not_yet(
            f"content-type is {last.headers['content-type']!r}, so the receiver cannot know the "
            "body is JSON.",
            'send "content-type": "application/json"',
        )
    if last.verified is False:
        return not_yet(
            f"the receiver refused the signature: {last.reason}.",
            "sign the exact bytes you send, with the same webhook-id and webhook-timestamp as "
            "in the headers: signing.sign(parcels_secret, webhook_id, timestamp, body)",
        )
    try:
        payload = last.json()
    except ValueError:
        return not_yet("the body is not JSON.", "body = json.dumps(payload).encode()")
    if not isinstance(payload, dict):
        return not_yet("the body is JSON, but not an object.", "send a dict as the payload")
    absent = [key for key in ("type", "timestamp", "data") if key not in payload]
    if absent:
        return not_yet(
            f"the payload has no {', '.join(repr(k) for k in absent)}.",
            'a payload is {"type": ..., "timestamp": ..., "data": {...}}',
        )
    if payload["type"] != event_type:
        return not_yet(
            f"the payload's type is {payload['type']!r}, not {event_type!r}.",
            f'"type": "{event_type}"',
        )
    if not isinstance(payload["data"], dict) or not payload["data"]:
        return not_yet(
            "the payload's data is empty: the receiver learns nothing about the order.",
            'put the details in it: "data": {"order": "A-1001", "carrier": "..."}',
        )
    if not last.ok:
        return not_yet(f"the receiver answered {last.status}: {last.reason}.")
    return right(
        f"a signed {event_type} arrived with all four headers and a type, timestamp and data; "
        f"the receiver verified it and answered {last.status}."
    )


@check
def answer_fast(
    lab: Any,
    handler: Callable[[Event], Any],
    emails: Any,
    *,
    timeout: float = 0.5,
    wait: float = 5.0,
    endpoint: str = "welcome-check",
) -> Result:
    """Exercise 2: ``handler`` answers within ``timeout`` and the welcome email still follows."""
    import httpx

    if handler is Ellipsis or not callable(handler):
        return not_yet(
            "welcome_quickly should be a function that takes an event.",
            "def welcome_quickly(event): ...",
        )
    receiving = lab.receiver.endpoint(endpoint)
    receiving.handlers.clear()
    receiving.on("subscription.created")(handler)
    address = f"check-{next(_counter)}-{int(time.time() * 1000) % 100_000}@example.com"
    event = Event("subscription.created", {"email": address})
    started = time.perf_counter()
    try:
        answer = httpx.post(
            lab.receiver.url_for(endpoint),
            content=event.body(),
            headers={"content-type": "application/json", "webhook-id": event.id},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return not_yet(
            f"no answer within {timeout:g} s: the sender gave up and will send it again, and "
            "your handler will do all the work again.",
            "keep only the quick part in the handler and hand the slow part to a job: "
            "lab.jobs.submit(process, receive(event))",
        )
    took = time.perf_counter() - started
    if not answer.is_success:
        detail = answer.json().get("detail", "") if _is_json(answer) else answer.text[:200]
        return not_yet(f"your handler made the receiver answer {answer.status_code}: {detail}.")
    try:
        emails.wait_for(1, timeout=wait, to=address)
    except TimeoutError:
        return not_yet(
            f"the answer came in time, but no welcome email was sent within {wait:g} s: the work "
            "was skipped, not postponed.",
            "the job must still do the work: lab.jobs.submit(process, receive(event))",
        )
    return right(
        f"answered {answer.status_code} in {took * 1000:.0f} ms, well within the sender's "
        f"{timeout:g} s, and the welcome email followed in the background."
    )


def _is_json(answer: Any) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


__all__ = ["answer_fast", "sent_by_hand"]
