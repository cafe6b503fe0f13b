"""Checks for lesson 0, "Start the lab".

The first reads what arrived at ``/webhooks/hello``: the learner's last delivery there is their
attempt. The second sends real events to the learner's handler and watches the counter move.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.checks import Result, answer_detail, check, not_yet, right
from webhooks_lab.i18n import N_, _

_POST_HINT = N_(
    "send the receiver an HTTP POST whose body is JSON: the event's type at the top level, and "
    "its details, the email among them, in an object under data. lab.receiver.url is where the "
    "receiver listens; the endpoint's name comes after /webhooks/"
)


@check
def first_event(lab: Any, endpoint: str = "hello") -> Result:
    """Exercise 1: deliver a ``user.created`` event with an ``email`` to ``/webhooks/hello``."""
    arrived = lab.receiver.inbox.for_endpoint(endpoint)
    if not arrived:
        latest = lab.receiver.inbox.last  # the learner's attempt, if they just made one
        if latest is not None and latest.event_type == "user.created":
            return not_yet(
                _(
                    "a user.created event arrived at /webhooks/{there}, but this "
                    "exercise listens at /webhooks/{endpoint}.",
                    there=latest.endpoint,
                    endpoint=endpoint,
                ),
                _(
                    "the last part of the URL names the endpoint: make it {endpoint}",
                    endpoint=endpoint,
                ),
            )
        return not_yet(
            _("nothing has arrived at /webhooks/{endpoint} yet.", endpoint=endpoint), _(_POST_HINT)
        )
    last = arrived[-1]
    try:
        payload = last.json()
    except ValueError:
        return not_yet(
            _(
                "your last delivery's body is not JSON (the receiver answered {status}).",
                status=last.status,
            ),
            _("give httpx the dict itself as json=...; data=... sends it as a form, not JSON"),
        )
    if isinstance(payload, str):
        return not_yet(
            _(
                "your last delivery's body is a JSON string, not a JSON object: "
                "it was encoded twice."
            ),
            _("json=... encodes the dict for you; pass the dict, not json.dumps(...) of it"),
        )
    if not isinstance(payload, dict):
        return not_yet(
            _("your last delivery's body is JSON, but not an object with a type and data."),
            _("send a dict with two keys, type and data"),
        )
    kind = payload.get("type")
    if kind is None:
        inside = isinstance(payload.get("data"), dict) and "type" in payload["data"]
        return not_yet(
            _("your last delivery has no type at the top level (it is inside data).")
            if inside
            else _("your last delivery has no type at the top level."),
            _("the type sits next to data, not in it: the receiver reads it to choose a handler"),
        )
    if kind != "user.created":
        return not_yet(
            _("your last delivery's type is {kind}, not 'user.created'.", kind=repr(kind)),
            _("event types are exact strings, dot and all: a receiver ignores any other spelling"),
        )
    data = payload.get("data")
    if not isinstance(data, dict):
        return not_yet(
            _("a user.created event arrived, but it has no data object (it is at the top level).")
            if "email" in payload
            else _("a user.created event arrived, but it has no data object."),
            _("the details of an event go in an object under data"),
        )
    email = data.get("email")
    if email is None:
        return not_yet(
            _(
                "a user.created event arrived, but its data has no email, next to type, "
                "instead of inside data."
            )
            if "email" in payload
            else _("a user.created event arrived, but its data has no email."),
            _("put the address in data, under the key email"),
        )
    if not isinstance(email, str) or "@" not in email:
        return not_yet(
            _(
                "a user.created event arrived, but its email {email} is not an address.",
                email=repr(email),
            ),
            _("an email address is a string with an @ in it"),
        )
    if not last.ok:
        return not_yet(
            _("the receiver answered {status}: {reason}.", status=last.status, reason=last.reason)
        )
    return right(
        _(
            "a user.created event for {email} arrived and got {status}.",
            email=email,
            status=last.status,
        )
    )


@check
def counting_handler(lab: Any, counter: Any, endpoint: str = "count") -> Result:
    """Exercise 2: a handler on ``/webhooks/count`` that counts ``order.created`` events."""
    import httpx

    if counter is Ellipsis or not hasattr(counter, "__getitem__") or "count" not in counter:
        return not_yet(
            _("`orders` should be a dict holding a count, as the cell above sets it."),
            _("run the cell that sets orders to a dict with a count of 0"),
        )
    receiving = lab.receiver.endpoint(endpoint)
    if not receiving.handlers_for("order.created"):
        return not_yet(*_no_handler(lab, endpoint))
    url = lab.receiver.url_for(endpoint)
    before = counter["count"]
    sent = [
        ("order.created", {"order": "A-17"}),
        ("user.created", {"email": "x@example.com"}),
        ("order.created", {"order": "A-18"}),
    ]
    for event_type, data in sent:
        answer = httpx.post(url, json={"type": event_type, "data": data}, timeout=10)
        if not answer.is_success:
            return not_yet(
                _(
                    "your handler failed on a {type} event ({status}): {detail}.",
                    type=event_type,
                    status=answer.status_code,
                    detail=answer_detail(answer),
                ),
                _("read the error: it names the line of your handler that raised"),
            )
    counted = counter["count"] - before
    if counted == 2:
        return right(
            _("two order.created events counted two orders; a user.created event counted none.")
        )
    message = _(
        "two order.created events and one user.created changed the count by {counted}",
        counted=counted,
    )
    everything = receiving.handlers.get("*", [])
    if everything and receiving.handlers.get("order.created"):
        name = getattr(everything[0], "__name__", None) or _("a function")
        return not_yet(
            _("{message}, not 2: two handlers ran for each order.created.", message=message),
            _(
                "an earlier handler for every type, {name}, is still registered on "
                "/webhooks/{endpoint}: run the lesson again from the top to drop it",
                name=name,
                endpoint=endpoint,
            ),
        )
    if counted == 3:
        return not_yet(
            _("{message}: the user.created event was counted too.", message=message),
            _("a handler registered without a type runs for every event: give it the type"),
        )
    if counted == 1:
        return not_yet(
            _("{message}, not 2.", message=message),
            _("each event adds one to the count; setting it to 1 counts only the first"),
        )
    if counted == 0:
        return not_yet(
            _("{message}: your handler ran but changed nothing.", message=message),
            _("the handler itself must add one to orders['count'] each time it runs"),
        )
    return not_yet(
        _("{message}, not 2.", message=message),
        _(
            "add exactly one per order.created event, whatever the event's data holds; "
            "if you registered the handler twice under different names, re-run the lesson"
        ),
    )


def _no_handler(lab: Any, endpoint: str) -> tuple[str, str]:
    """Why no handler for order.created runs at ``endpoint``, and a nudge, for what was done."""
    types = sorted(lab.receiver.endpoint(endpoint).handlers)
    if types:
        return (
            _(
                "/webhooks/{endpoint} has a handler for {types}, but none for 'order.created'.",
                endpoint=endpoint,
                types=", ".join(map(repr, types)),
            ),
            _("the type is matched exactly: spell it as the events carry it"),
        )
    for name, other in lab.receiver.endpoints.items():
        if name != endpoint and other.handlers_for("order.created"):
            return (
                _(
                    "your order.created handler is on /webhooks/{name}, but the check sends to "
                    "/webhooks/{endpoint}.",
                    name=name,
                    endpoint=endpoint,
                ),
                _(
                    "the first argument of lab.receiver.on names the endpoint: {endpoint}",
                    endpoint=endpoint,
                ),
            )
    return (
        _(
            "no handler is registered on /webhooks/{endpoint} for order.created yet.",
            endpoint=endpoint,
        ),
        _(
            "register a function with lab.receiver.on, for the endpoint {endpoint} and the "
            "type order.created (the decorator in the exercise's text), and make it add one to the "
            "count each time it runs",
            endpoint=endpoint,
        ),
    )


__all__ = ["counting_handler", "first_event"]
