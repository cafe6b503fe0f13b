"""Checks for lesson 2, "Take a webhook apart".

The first reads what the learner's hand-made delivery looked like when it arrived; the second sends
real deliveries to the learner's handler, with a sender's impatience, and waits for the email.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from webhooks_lab import signing
from webhooks_lab.checks import Result, answer_detail, check, not_yet, right
from webhooks_lab.events import Event
from webhooks_lab.i18n import _

_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
_counter = itertools.count(1)


@check
def sent_by_hand(lab: Any, endpoint: str = "parcels", event_type: str = "order.shipped") -> Result:
    """Exercise 1: a signed ``order.shipped`` delivery, built by hand, accepted at ``endpoint``.

    The learner's last delivery to ``endpoint`` is their attempt; when its signature is refused,
    the check re-signs what arrived in the ways people slip (other JSON spacing, another
    timestamp) with the endpoint's own secret, to say which slip it was.
    """
    arrived = lab.receiver.inbox.for_endpoint(endpoint)
    if not arrived:
        return not_yet(
            _("nothing has arrived at /webhooks/{endpoint} yet.", endpoint=endpoint),
            _(
                "build the payload as a dict, turn it into bytes once, sign exactly those bytes "
                "with signing.sign, and POST the same bytes to the endpoint with the four headers "
                "this lesson read off the wire"
            ),
        )
    last = arrived[-1]
    missing = [name for name in _HEADERS if name not in last.headers]
    if missing:
        return not_yet(
            _("your last delivery has no {missing} header.", missing=", ".join(missing)),
            _(
                "a signed delivery carries four: content-type, webhook-id, webhook-timestamp and "
                "webhook-signature (httpx adds no content-type when you send content=bytes)"
            ),
        )
    if not last.headers["content-type"].startswith("application/json"):
        return not_yet(
            _(
                "content-type is {kind}, so the receiver cannot know the body is JSON.",
                kind=repr(last.headers["content-type"]),
            ),
            _("the body is JSON: say so with the content-type application/json"),
        )
    if last.verified is False:
        return not_yet(
            _("the receiver refused the signature: {reason}.", reason=last.reason),
            _signature_slip(lab.receiver.endpoint(endpoint).secrets, last),
        )
    try:
        payload = last.json()
    except ValueError:
        return not_yet(_("the body is not JSON."), _("send json.dumps(payload) as bytes"))
    if isinstance(payload, str):
        return not_yet(
            _("the body is a JSON string, not an object: it was encoded twice."),
            _("json.dumps the payload once, and encode that text to bytes"),
        )
    if not isinstance(payload, dict):
        return not_yet(_("the body is JSON, but not an object."), _("send a dict as the payload"))
    absent = [key for key in ("type", "timestamp", "data") if key not in payload]
    if absent:
        return not_yet(
            _("the payload has no {keys}.", keys=", ".join(repr(k) for k in absent)),
            _("a payload has three keys at the top: type, timestamp and data"),
        )
    if payload["type"] != event_type:
        return not_yet(
            _(
                "the payload's type is {kind}, not {wanted}.",
                kind=repr(payload["type"]),
                wanted=repr(event_type),
            ),
            _("event types are exact strings: a receiver routes on every character"),
        )
    stamp = payload["timestamp"]
    if not _is_iso_datetime(stamp):
        unix = isinstance(stamp, (int, float)) or (isinstance(stamp, str) and stamp.isdigit())
        hint = _("write it like 2026-11-28T10:00:00Z (datetime's isoformat() gives one)")
        if unix:
            hint = _(
                "Unix seconds go in the webhook-timestamp header; the payload's timestamp reads "
                "like 2026-11-28T10:00:00Z"
            )
        return not_yet(
            _(
                "the payload's timestamp is {stamp}, not an ISO 8601 date and time.",
                stamp=repr(stamp),
            ),
            hint,
        )
    data = payload["data"]
    if not isinstance(data, dict) or not data:
        return not_yet(
            _("the payload's data is empty: the receiver learns nothing about the shipment."),
            _("data holds the details: which order, and which carrier"),
        )
    lacking = [word for word in ("order", "carrier") if not _mentions(data, word)]
    if lacking:
        return not_yet(
            _("the payload's data does not say which order or which carrier.")
            if len(lacking) == 2
            else _("the payload's data does not say which {what}.", what=lacking[0]),
            _("a full payload carries what the receiver needs to act: the order and the carrier"),
        )
    if not last.ok:
        return not_yet(
            _("the receiver answered {status}: {reason}.", status=last.status, reason=last.reason)
        )
    return right(
        _(
            "a signed {type} arrived with all four headers and a type, timestamp and data; "
            "the receiver verified it and answered {status}.",
            type=event_type,
            status=last.status,
        )
    )


def _signature_slip(secrets: list[str], delivery: Any) -> str:
    """The likeliest reason a hand-made signature was refused, tried against the real secret."""
    headers = delivery.headers
    code = delivery.response.get("reason")
    stamp = headers.get("webhook-timestamp", "")
    if code in ("stale_timestamp", "future_timestamp"):
        if stamp.isdigit() and int(stamp) > 10**11:
            return _("webhook-timestamp is in seconds: int(time.time()), not milliseconds")
        return _("webhook-timestamp is now, in whole Unix seconds: time.time() gives it")
    if code == "malformed_header":
        return _("signing.sign gives the whole webhook-signature value, 'v1,' and all")
    if code != "no_matching_signature" or not stamp.isdigit():
        return _("sign the exact bytes you send, with the same webhook-id and webhook-timestamp")
    msg_id, sent = headers.get("webhook-id", ""), headers.get("webhook-signature", "")
    signatures = set(sent.split())

    def signed(body: bytes, timestamp: int) -> bool:
        return any(signing.sign(s, msg_id, timestamp, body) in signatures for s in secrets)

    try:
        parsed = json.loads(delivery.body)
    except ValueError:
        parsed = None
    if parsed is not None:
        for spacing in ({}, {"separators": (",", ":")}, {"indent": 2}):
            other = json.dumps(parsed, **spacing).encode()  # type: ignore[arg-type]
            if other != delivery.body and signed(other, int(stamp)):
                return _(
                    "you signed one serialisation of the payload and sent another: the JSON "
                    "you sent is spaced differently from the bytes you signed. Send the signed "
                    "bytes themselves, as content=..., not json=..."
                )
    near = [int(stamp) + d for d in range(-120, 121) if d]
    if any(signed(delivery.body, t) for t in near):
        return _(
            "the signature was made with another timestamp than the one in webhook-timestamp: "
            "take the time once, and use that value for both"
        )
    return _(
        "sign with parcels_secret, the endpoint's secret, and with the same webhook-id, "
        "webhook-timestamp and body bytes that you send"
    )


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _mentions(data: Any, word: str) -> bool:
    """Whether some key of ``data`` (or of an object inside it) names ``word``."""
    if isinstance(data, dict):
        return any(word in str(key).lower() or _mentions(v, word) for key, v in data.items())
    if isinstance(data, list):
        return any(_mentions(item, word) for item in data)
    return False


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
    """Exercise 2: ``handler`` answers within ``timeout`` and the welcome email still follows.

    One welcome email, not two, and sent by work that outlived the answer: a handler that skips
    the work, works before answering, or whose background job fails is told which it was.
    """
    import httpx

    if handler is Ellipsis or not callable(handler):
        return not_yet(
            _("welcome_quickly should be a function that takes an event."),
            _("keep the def welcome_quickly(event) line from the cell and change its body"),
        )
    receiving = lab.receiver.endpoint(endpoint)
    receiving.handlers.clear()
    receiving.on("subscription.created")(handler)
    address = f"check-{next(_counter)}-{int(time.time() * 1000) % 100_000}@example.com"
    event = Event("subscription.created", {"email": address})
    jobs_before = {job.id for job in lab.jobs.list()}
    recorded_before = len(lab.receiver.inbox.for_endpoint(endpoint))
    started = time.perf_counter()
    try:
        answer = httpx.post(
            lab.receiver.url_for(endpoint),
            content=event.body(),
            headers={"content-type": "application/json", "webhook-id": event.id},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        finished = _recorded(lab, endpoint, event.id, recorded_before + 1, wait)
        return not_yet(*_too_slow(handler, finished, timeout))
    took = time.perf_counter() - started
    if not answer.is_success:
        return not_yet(
            _(
                "your handler made the receiver answer {status}: {detail}.",
                status=answer.status_code,
                detail=answer_detail(answer),
            ),
            _("the handler still has to store the subscription before it answers"),
        )
    started_jobs = [job for job in lab.jobs.list() if job.id not in jobs_before]
    with contextlib.suppress(TimeoutError):
        lab.jobs.wait_all(started_jobs, timeout=wait)
    failed = [job for job in started_jobs if job.status == "failed"]
    if failed:
        return not_yet(
            _(
                "the answer came in time, but the background job failed: {error}.",
                error=failed[0].error,
            ),
            _(
                "a job runs later, with exactly the arguments you gave submit: give the slow "
                "part what it expects, the row that receive made"
            ),
        )
    try:
        emails.wait_for(1, timeout=wait, to=address)
    except TimeoutError:
        return not_yet(
            _(
                "the answer came in time, but no welcome email was sent within {wait:g} s: "
                "the work was skipped, not postponed.",
                wait=wait,
            ),
            _("the slow part must still run, after the answer: start it as a background job"),
        )
    sent = len(emails.to(address))
    if sent > 1:
        return not_yet(
            _(
                "the answer came in time, but {sent} welcome emails went out for one subscription.",
                sent=sent,
            ),
            _("do the slow part once, in the background only"),
        )
    return right(
        _(
            "answered {status} in {ms:.0f} ms, well within the sender's {timeout:g} s, "
            "and the welcome email followed in the background.",
            status=answer.status_code,
            ms=took * 1000,
            timeout=timeout,
        )
    )


def _too_slow(handler: Any, finished: Any, timeout: float) -> tuple[str, str]:
    """Why the handler did not answer in time: it failed late, it is async, or it just works."""
    said = _(
        "no answer within {timeout:g} s: the sender gave up and will send it again, and your "
        "handler will do all the work again",
        timeout=timeout,
    )
    if finished is not None and finished.status >= 500:
        return (
            _(
                "{said}; and when it did finish, it had failed: {reason}.",
                said=said,
                reason=finished.reason,
            ),
            _(
                "anything you call in the handler runs before the answer; hand the slow function "
                "itself to the background, not what calling it returns"
            ),
        )
    if inspect.iscoroutinefunction(handler):
        return (
            _(
                "{said}. Making the handler async does not make its work quick: the receiver "
                "waits for whatever it awaits, and a blocking call in it blocks everything.",
                said=said,
            ),
            _("return before the slow part has run, and let a background job do it"),
        )
    return (
        _("{said}.", said=said),
        _(
            "before returning, do only the quick part (receive); hand the slow part (process) to "
            "something that runs after the answer has gone, such as the lab's job runner, "
            "lab.jobs, which this lesson used above"
        ),
    )


def _recorded(lab: Any, endpoint: str, webhook_id: str, count: int, wait: float) -> Any:
    """The inbox record of one delivery, once the receiver has finished with it (or None)."""
    with contextlib.suppress(TimeoutError):
        lab.receiver.inbox.wait_for(count, endpoint=endpoint, timeout=wait)
    for delivery in reversed(lab.receiver.inbox.for_endpoint(endpoint)):
        if delivery.webhook_id == webhook_id:
            return delivery
    return None


__all__ = ["answer_fast", "sent_by_hand"]
