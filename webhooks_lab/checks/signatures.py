"""Checks for lesson 4, "Trust but verify".

Each check tries the learner's work on real messages, genuine and forged, and answers with the
first thing that went wrong, in words that point at the fix.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from webhooks_lab import signing
from webhooks_lab.checks import Result, check, not_yet, right

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
_BODY = b'{"type":"invoice.paid","data":{"invoice":"in_42","amount":1999}}'
_SPACED_BODY = b'{\n  "type": "invoice.paid",\n  "data": {"invoice": "in_42", "amount": 1999}\n}'

_SIGNING_HINT = (
    "sign f'{webhook-id}.{webhook-timestamp}.' + the raw body bytes with HMAC-SHA256, keyed with "
    "the base64-decoded part of the secret after 'whsec_'; base64-encode the digest and compare "
    "it with the part after 'v1,'"
)


def _headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return signing.sign_headers(secret, body, msg_id="msg_check_by_hand", timestamp=timestamp)


def _cases(now: int) -> list[tuple[str, dict[str, str], bytes, bool, str]]:
    """``(what, headers, body, genuine?, hint if the answer is wrong)``, in teaching order."""
    genuine = _headers(_SECRET, _BODY, now)
    rotated = dict(genuine)
    other = signing.sign(_OTHER_SECRET, genuine["webhook-id"], now, _BODY)
    rotated["webhook-signature"] = f"{other} {genuine['webhook-signature']}"
    unsigned = {k: v for k, v in genuine.items() if k != "webhook-signature"}
    return [
        ("a genuine message", genuine, _BODY, True, _SIGNING_HINT),
        (
            "a genuine message whose JSON has unusual spacing",
            _headers(_SECRET, _SPACED_BODY, now),
            _SPACED_BODY,
            True,
            "did you parse the JSON and serialise it again? Sign the raw bytes exactly as they "
            "arrived",
        ),
        (
            "a genuine message carrying two signatures (one per secret, as during a rotation)",
            rotated,
            _BODY,
            True,
            "split webhook-signature on spaces and accept the message if any 'v1,<signature>' "
            "entry matches",
        ),
        (
            "a message whose body was changed after it was signed",
            genuine,
            _BODY.replace(b"1999", b"1"),
            False,
            "compute the HMAC over the body you received, not over anything else",
        ),
        (
            "a message signed with someone else's secret",
            _headers(_OTHER_SECRET, _BODY, now),
            _BODY,
            False,
            "use the secret you were given to compute the expected signature",
        ),
        (
            "a genuine but hour-old message (exactly what a replay looks like)",
            _headers(_SECRET, _BODY, now - 3600),
            _BODY,
            False,
            "also reject the message when abs(time.time() - int(timestamp)) > 300",
        ),
        (
            "a genuine message stamped an hour in the future",
            _headers(_SECRET, _BODY, now + 3600),
            _BODY,
            False,
            "the tolerance works both ways: use abs(...) on the difference",
        ),
        (
            "a message without a webhook-signature header",
            unsigned,
            _BODY,
            False,
            "return False when a header is missing",
        ),
    ]


@contextlib.contextmanager
def _counting_constant_time_compares(fn: Callable[..., Any]) -> Iterator[list[int]]:
    """Count the calls this thread makes to ``hmac.compare_digest`` while inside the block.

    Judges what the learner's function does, not what its source says: a comparison with
    ``==`` is caught even if a comment mentions compare_digest. The spy replaces the function
    in ``hmac`` and ``secrets`` and under any name the learner's module bound it to (``from hmac
    import compare_digest``); calls from other threads (the lab's own receiver) are not counted.
    """
    original = hmac.compare_digest
    me = threading.get_ident()
    calls: list[int] = []

    def spy(a: Any, b: Any) -> bool:
        if threading.get_ident() == me:
            calls.append(1)
        return original(a, b)

    namespace = getattr(fn, "__globals__", {})
    bound = [name for name, value in namespace.items() if value is original]
    hmac.compare_digest = secrets.compare_digest = spy  # type: ignore[assignment]
    for name in bound:
        namespace[name] = spy
    try:
        yield calls
    finally:
        hmac.compare_digest = secrets.compare_digest = original  # type: ignore[assignment]
        for name in bound:
            namespace[name] = original


@check
def verify_by_hand(fn: Callable[[str, dict[str, str], bytes], bool]) -> Result:
    """Exercise 1: ``fn(secret, headers, body) -> bool`` checks a Standard Webhooks message."""
    if fn is Ellipsis or not callable(fn):
        return not_yet(
            "verify_by_hand should be a function.", "def verify_by_hand(secret, headers, body):"
        )
    now = int(time.time())
    for what, headers, body, genuine, hint in _cases(now):
        try:
            answer = fn(_SECRET, dict(headers), body)
        except Exception as exc:
            if not genuine:
                hint = "return False for a message you cannot verify; never raise"
                if isinstance(exc, KeyError):
                    hint += " (headers.get(name) gives None for a missing header)"
            return not_yet(f"for {what}, your function raised {type(exc).__name__}: {exc}.", hint)
        if answer is None:
            return not_yet(
                f"your function returned None for {what}: it is not written yet, or it forgets "
                "to return.",
                "return True when the message is genuine and recent, False otherwise",
            )
        if bool(answer) != genuine:
            verdict = "rejected" if genuine else "accepted"
            return not_yet(f"{what} was {verdict}.", hint)
    genuine_case = next(case for case in _cases(now) if case[3])
    with _counting_constant_time_compares(fn) as compares:
        fn(_SECRET, dict(genuine_case[1]), genuine_case[2])
    if not compares:
        return not_yet(
            "every message was judged right, but the signatures are compared with == (or "
            "similar), which stops at the first difference and so leaks, by its timing, how "
            "much of a forged signature was right.",
            "compare with hmac.compare_digest(expected, received)",
        )
    return right(
        "genuine messages pass (even oddly spaced, even with two signatures); tampered, "
        "wrongly signed, unsigned, stale and future ones fail."
    )


@check
def rotation(lab: Any, old_secret: str, new_secret: str, endpoint: str = "secure") -> Result:
    """Exercise 2: ``/webhooks/{endpoint}`` accepts deliveries signed with either secret."""
    import httpx

    if old_secret is Ellipsis or new_secret is Ellipsis:
        return not_yet(
            "OLD_SECRET and NEW_SECRET should be secrets.", "keep the cell that sets them"
        )
    url = lab.receiver.url_for(endpoint)
    now = int(lab.clock.time())
    body = json.dumps({"type": "rotation.checked", "data": {"endpoint": endpoint}}).encode()

    def send(secret: str | None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        msg_id = f"msg_rotation_{uuid.uuid4().hex}"
        if secret is not None:
            headers.update(signing.sign_headers(secret, body, msg_id=msg_id, timestamp=now))
        with httpx.Client(timeout=10) as client:
            return client.post(url, content=body, headers=headers)

    hint = (
        f'lab.receiver.endpoint("{endpoint}").require(...) takes one secret or a list of them; '
        "the scheme stays Standard Webhooks"
    )
    stranger = signing.generate_secret()
    expectations = [
        (
            old_secret,
            True,
            "a delivery signed with the old secret",
            "senders that have not switched yet would be locked out: keep the old secret "
            "until every sender has moved",
        ),
        (
            new_secret,
            True,
            "a delivery signed with the new secret",
            "senders that already switched would be locked out: accept the new secret as well",
        ),
        (None, False, "an unsigned delivery", "the endpoint must still require signatures"),
        (
            stranger,
            False,
            "a delivery signed with a stranger's secret",
            "accept exactly the old and the new secret, nothing else",
        ),
    ]
    for secret, should_pass, what, why in expectations:
        answer = send(secret)
        if answer.is_success != should_pass:
            verdict = "refused" if should_pass else "accepted"
            reason = ""
            if not answer.is_success and _is_json(answer) and answer.json().get("reason"):
                reason = f" {answer.json()['reason']}"
            return not_yet(f"{what} was {verdict} ({answer.status_code}{reason}); {why}.", hint)
    return right(
        f"/webhooks/{endpoint} accepts deliveries signed with the old or the new secret, "
        "and refuses unsigned ones and strangers: a rotation with zero downtime."
    )


def _is_json(answer: Any) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


__all__ = ["rotation", "verify_by_hand"]
