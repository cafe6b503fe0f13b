"""Checks for lesson 0, "Start the lab"."""

from __future__ import annotations

from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right


@check
def first_event(lab: Any, endpoint: str = "hello") -> Result:
    """Exercise 1: deliver a ``user.created`` event with an ``email`` to ``/webhooks/hello``."""
    arrived = lab.receiver.inbox.for_endpoint(endpoint)
    if not arrived:
        return not_yet(
            f"nothing has arrived at /webhooks/{endpoint} yet.",
            f'POST to f"{{lab.receiver.url}}/webhooks/{endpoint}" with httpx.post(..., json=...)',
        )
    for delivery in reversed(arrived):
        if not delivery.ok:
            continue
        payload = delivery.json()
        if not isinstance(payload, dict) or payload.get("type") != "user.created":
            continue
        data = payload.get("data")
        if isinstance(data, dict) and isinstance(data.get("email"), str) and "@" in data["email"]:
            return right(
                f"a user.created event for {data['email']} arrived and got {delivery.status}."
            )
        return not_yet(
            "a user.created event arrived, but its data has no email address.",
            'put the address inside "data": {"type": "user.created", "data": {"email": ...}}',
        )
    last = arrived[-1]
    return not_yet(
        f"{len(arrived)} deliveries arrived, but none is an accepted user.created event "
        f"(the last one: type {last.event_type!r}, status {last.status}).",
        'the body needs "type": "user.created" at the top level, next to "data"',
    )


@check
def counting_handler(lab: Any, counter: Any, endpoint: str = "count") -> Result:
    """Exercise 2: a handler on ``/webhooks/count`` that counts ``order.created`` events."""
    import httpx

    if counter is Ellipsis or not hasattr(counter, "__getitem__"):
        return not_yet(
            "`orders` should be a dict like {'count': 0}.", "start with orders = {'count': 0}"
        )
    handlers = lab.receiver.endpoint(endpoint).handlers_for("order.created")
    if not handlers:
        return not_yet(
            f"no handler is registered on /webhooks/{endpoint} for order.created.",
            f'decorate a function with @lab.receiver.on("{endpoint}", "order.created")',
        )
    before = counter["count"]
    url = lab.receiver.url_for(endpoint)
    httpx.post(url, json={"type": "order.created", "data": {"order": 1}}).raise_for_status()
    httpx.post(url, json={"type": "user.created", "data": {}}).raise_for_status()
    counted = counter["count"] - before
    if counted == 1:
        return right(
            "one order.created event counted one order; a user.created event counted none."
        )
    return not_yet(
        f"sending one order.created and one user.created changed the count by {counted}, not 1.",
        "register the handler for the type 'order.created' only, and add 1 each time it runs",
    )
