"""Checks for lesson 4, "Trust but verify".

Each check tries the learner's work on real messages, genuine and forged, and answers with the
first thing that went wrong, in words that point at the fix.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from webhooks_lab import signing
from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.i18n import N_, _

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
_BODY = b'{"type":"invoice.paid","data":{"invoice":"in_42","amount":1999}}'
_SPACED_BODY = b'{\n  "type": "invoice.paid",\n  "data": {"invoice": "in_42", "amount": 1999}\n}'

_SIGNING_HINT = N_(
    "rebuild the signature as the list above says: HMAC-SHA256 over webhook-id, a dot, "
    "webhook-timestamp, a dot and the raw body, keyed with the base64-decoded part of the secret "
    "after 'whsec_'; base64-encode the digest and compare it with the part after 'v1,'"
)
_LIBRARY = ("sign", "sign_headers", "verify", "verify_scheme", "headers_for")


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
        (_("a genuine message"), genuine, _BODY, True, _(_SIGNING_HINT)),
        (
            _("a genuine message whose JSON has unusual spacing"),
            _headers(_SECRET, _SPACED_BODY, now),
            _SPACED_BODY,
            True,
            _(
                "did you parse the JSON and serialise it again? Sign the raw bytes exactly as they "
                "arrived"
            ),
        ),
        (
            _("a genuine message carrying two signatures (one per secret, as during a rotation)"),
            rotated,
            _BODY,
            True,
            _(
                "webhook-signature may hold several space-separated entries: the message is "
                "genuine if any 'v1,' entry matches"
            ),
        ),
        (
            _("a genuine message sent two minutes ago"),
            _headers(_SECRET, _BODY, now - 120),
            _BODY,
            True,
            _(
                "two minutes is within the tolerance: refuse only a timestamp more than 300 "
                "seconds away from now"
            ),
        ),
        (
            _("a message whose body was changed after it was signed"),
            genuine,
            _BODY.replace(b"1999", b"1"),
            False,
            _("compute the HMAC over the body you received, not over anything else"),
        ),
        (
            _("a message signed with someone else's secret"),
            _headers(_OTHER_SECRET, _BODY, now),
            _BODY,
            False,
            _("use the secret you were given to compute the expected signature"),
        ),
        (
            _("a genuine but hour-old message (exactly what a replay looks like)"),
            _headers(_SECRET, _BODY, now - 3600),
            _BODY,
            False,
            _(
                "also refuse the message when its timestamp is more than 300 seconds from "
                "time.time()"
            ),
        ),
        (
            _("a genuine message sent six minutes ago"),
            _headers(_SECRET, _BODY, now - 360),
            _BODY,
            False,
            _(
                "the tolerance is 300 seconds: time.time() and webhook-timestamp are both in "
                "seconds"
            ),
        ),
        (
            _("a genuine message stamped an hour in the future"),
            _headers(_SECRET, _BODY, now + 3600),
            _BODY,
            False,
            _(
                "the tolerance works both ways: look at the size of the difference, whatever its "
                "sign"
            ),
        ),
        (
            _("a message without a webhook-signature header"),
            unsigned,
            _BODY,
            False,
            _("answer False when a header is missing"),
        ),
    ]


def _slips(now: int) -> list[tuple[dict[str, str], bytes, str]]:
    """Messages signed the ways people get it wrong: accepting one names the slip."""
    msg_id, stamp = "msg_check_by_hand", str(now)
    content = f"{msg_id}.{stamp}.".encode() + _BODY
    key = base64.b64decode(_SECRET.removeprefix("whsec_"))

    def signed(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    def mac(secret: bytes, signed_content: bytes) -> hmac.HMAC:
        return hmac.new(secret, signed_content, hashlib.sha256)

    variants = [
        (
            "v1," + signed(mac(_SECRET.encode(), content).digest()),
            _(
                "your function takes the secret's text as the HMAC key: the key is the "
                "base64-decoded part after 'whsec_'"
            ),
        ),
        (
            "v1," + signed(mac(_SECRET.removeprefix("whsec_").encode(), content).digest()),
            _("your function takes the text after 'whsec_' as the key without base64-decoding it"),
        ),
        (
            "v1," + mac(key, content).hexdigest(),
            _(
                "your function compares hex digests: Standard Webhooks signatures are the base64 "
                "of the raw digest"
            ),
        ),
        (
            "v1," + signed(mac(key, f"{msg_id}.{stamp}".encode() + _BODY).digest()),
            _("your signed content lacks the dot between the timestamp and the body"),
        ),
        (
            "v1," + signed(mac(key, _BODY).digest()),
            _(
                "your function signs the body alone: the signed content starts with the "
                "webhook-id and the webhook-timestamp"
            ),
        ),
        (
            signed(mac(key, content).digest()),
            _(
                "your function compares with the whole 'v1,<signature>' entry: the signature is "
                "the part after the comma"
            ),
        ),
    ]
    base = {"webhook-id": msg_id, "webhook-timestamp": stamp}
    return [({**base, "webhook-signature": sig}, _BODY, why) for sig, why in variants]


class _UsedLibrary(BaseException):
    """Raised (past any ``except Exception``) when the learner's function calls the library."""


@contextlib.contextmanager
def _watching(fn: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    """Watch what this thread does inside the block: its constant-time compares, and any use of
    ``webhooks_lab.signing``, which the exercise asks the learner to do without.

    Judges what the learner's function does, not what its source says. ``hmac.compare_digest``
    (which ``secrets.compare_digest`` is) is replaced by a spy that records its arguments, in
    ``hmac``, ``secrets`` and under any name the learner's module bound it to; the library's
    signing functions raise :class:`_UsedLibrary`. Other threads (the lab's own receiver) get
    the real functions, untouched.
    """
    original = hmac.compare_digest
    me = threading.get_ident()
    seen: dict[str, Any] = {"compares": [], "armed": False}

    def watched() -> bool:  # inside the learner's function, on this thread
        return bool(seen["armed"]) and threading.get_ident() == me

    def spy(a: Any, b: Any) -> bool:
        if watched():
            seen["compares"].append((a, b))
        return original(a, b)

    def refusing(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def instead(*args: Any, **kwargs: Any) -> Any:
            if not watched():
                return real(*args, **kwargs)
            raise _UsedLibrary(name)

        return instead

    namespace = getattr(fn, "__globals__", {})
    library = {name: getattr(signing, name) for name in _LIBRARY}
    stand_ins: dict[Any, Any] = {original: spy}
    stand_ins.update({real: refusing(name, real) for name, real in library.items()})
    bound = {name: value for name, value in namespace.items() if _hashable(value) in stand_ins}
    hmac.compare_digest = secrets.compare_digest = spy  # type: ignore[assignment]
    for name, real in library.items():
        setattr(signing, name, stand_ins[real])
    for name, value in bound.items():
        namespace[name] = stand_ins[value]
    try:
        yield seen
    finally:
        hmac.compare_digest = secrets.compare_digest = original  # type: ignore[assignment]
        for name, real in library.items():
            setattr(signing, name, real)
        namespace.update(bound)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return None
    return value


def _answer(
    fn: Callable[..., Any], headers: dict[str, str], body: bytes, seen: dict[str, Any]
) -> Any:
    """The learner's answer for one message, watched; ``_UsedLibrary`` passes through."""
    seen["armed"] = True
    try:
        return fn(_SECRET, dict(headers), body)
    finally:
        seen["armed"] = False


@check
def verify_by_hand(fn: Callable[[str, dict[str, str], bytes], bool]) -> Result:
    """Exercise 1: ``fn(secret, headers, body) -> bool`` checks a Standard Webhooks message."""
    if fn is Ellipsis or not callable(fn):
        return not_yet(
            _("verify_by_hand should be a function."),
            _("keep the def verify_by_hand(secret, headers, body) line from the cell"),
        )
    now = int(time.time())
    with _watching(fn) as seen:
        try:
            return _judge(fn, now, seen)
        except _UsedLibrary as used:
            return not_yet(
                _(
                    "your function calls webhooks_lab.signing.{used}: this exercise is to do "
                    "what it does by hand.",
                    used=used,
                ),
                _("use only hmac, hashlib, base64 and time, following the steps in the text"),
            )


def _judge(fn: Callable[..., Any], now: int, seen: dict[str, Any]) -> Result:
    for n, (what, headers, body, genuine, hint) in enumerate(_cases(now)):
        try:
            answer = _answer(fn, headers, body, seen)
        except Exception as exc:
            if not genuine:
                hint = (
                    _(
                        "answer False for a message you cannot verify; never raise (headers.get"
                        "(name) gives None for a missing header)"
                    )
                    if isinstance(exc, KeyError)
                    else _("answer False for a message you cannot verify; never raise")
                )
            return not_yet(
                _(
                    "for {what}, your function raised {error}: {exc}.",
                    what=what,
                    error=type(exc).__name__,
                    exc=exc,
                ),
                hint,
            )
        if answer is None:
            return not_yet(
                _(
                    "your function returned None for {what}: it is not written yet, or it "
                    "forgets to return.",
                    what=what,
                ),
                _(
                    "it should answer True for a genuine, recent message and False for anything "
                    "else. Start with the genuine one: rebuild its signature from the secret, the "
                    "webhook-id, the webhook-timestamp and the body, following the list above, "
                    "and compare it with each entry of webhook-signature"
                ),
            )
        if bool(answer) != genuine:
            if n == 0:  # the plain genuine message: which slip refused it?
                hint = _slip(fn, now, seen) or hint
            if genuine:
                return not_yet(_("{what} was rejected.", what=what), hint)
            return not_yet(_("{what} was accepted.", what=what), hint)
    genuine_headers = _headers(_SECRET, _BODY, now)
    seen["compares"].clear()
    _answer(fn, genuine_headers, _BODY, seen)
    signature = genuine_headers["webhook-signature"].removeprefix("v1,")
    if any(_is_signature(arg, signature) for call in seen["compares"] for arg in call):
        how = "hmac.compare_digest"
    else:
        timing = _compare_timing(fn, genuine_headers, seen)
        if timing is not None:
            return timing
        how = _("a comparison that looks at every character")
    return right(
        _(
            "genuine messages pass (even oddly spaced, with two signatures, or two minutes old); "
            "tampered, wrongly signed, unsigned, stale and future ones fail; and the signatures "
            "are compared in constant time ({how}).",
            how=how,
        )
    )


def _slip(fn: Callable[..., Any], now: int, seen: dict[str, Any]) -> str | None:
    """Which common slip the learner's function makes, if it accepts a slipped signature."""
    for headers, body, why in _slips(now):
        with contextlib.suppress(Exception):
            if _answer(fn, headers, body, seen):
                return why
    return None


def _is_signature(value: Any, signature: str) -> bool:
    """Whether ``value`` is the genuine signature: text or bytes, base64 or the raw digest, with
    or without its ``v1,``."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) in (
            signature.encode(),
            b"v1," + signature.encode(),
            base64.b64decode(signature),
        )
    return value in (signature, "v1," + signature)


def _compare_timing(
    fn: Callable[..., Any], genuine: dict[str, str], seen: dict[str, Any]
) -> Result | None:
    """Without compare_digest, how the learner's own code compares, from what it executes.

    Two forgeries differ from the genuine signature in their first or their last character: a
    comparison that stops at the first difference runs fewer steps for the first. A short
    forgery must run fewer steps than a full one, or nothing looked at the characters at all
    (``==`` does it in one step, and stops early inside).
    """
    signature = genuine["webhook-signature"].removeprefix("v1,")

    def forged(at: int) -> str:
        flipped = "B" if signature[at] == "A" else "A"
        return signature[:at] + flipped + signature[at + 1 :]

    def steps(candidate: str) -> int:
        headers = {**genuine, "webhook-signature": "v1," + candidate}
        return _steps(lambda: _answer(fn, headers, _BODY, seen))

    first, last, short = steps(forged(0)), steps(forged(len(signature) - 2)), steps("AAAA")
    if first != last:
        return not_yet(
            _(
                "every message was judged right, but your comparison does less work when a forged "
                "signature is wrong early than when it is wrong late: it stops at the first "
                "difference, so its timing tells an attacker how much of a forgery is right."
            ),
            _(
                "compare with hmac.compare_digest (secrets.compare_digest is the same function), "
                "or make your loop look at every character whatever it finds"
            ),
        )
    if last - short < 16:
        return not_yet(
            _(
                "every message was judged right, but the signatures are compared with == (or "
                "similar), which stops at the first difference and so leaks, by its timing, how "
                "much of a forged signature was right."
            ),
            _("compare with hmac.compare_digest (secrets.compare_digest is the same function)"),
        )
    return None


def _steps(call: Callable[[], Any]) -> int:
    """How many lines and calls of code outside the standard library ``call`` executes."""
    library = tuple(
        {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
        | {str(Path(signing.__file__).parent)}
    )
    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if frame.f_code.co_filename.startswith(library):
            return None
        count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with contextlib.suppress(Exception):
            call()
    finally:
        sys.settrace(previous)
    return count


@check
def rotation(lab: Any, old_secret: str, new_secret: str, endpoint: str = "secure") -> Result:
    """Exercise 2: ``/webhooks/{endpoint}`` accepts deliveries signed with either secret."""
    import httpx

    if old_secret is Ellipsis or new_secret is Ellipsis:
        return not_yet(
            _("OLD_SECRET and NEW_SECRET should be secrets."), _("keep the cell that sets them")
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

    hint = _(
        "an endpoint can require several secrets at once, as payments did earlier in this "
        "lesson: give /webhooks/{endpoint} both, in one call",
        endpoint=endpoint,
    )
    stranger = signing.generate_secret()
    expectations = [
        (
            old_secret,
            True,
            _("a delivery signed with the old secret"),
            _(
                "senders that have not switched yet would be locked out: keep the old secret "
                "until every sender has moved"
            ),
        ),
        (
            new_secret,
            True,
            _("a delivery signed with the new secret"),
            _("senders that already switched would be locked out: accept the new secret as well"),
        ),
        (None, False, _("an unsigned delivery"), _("the endpoint must still require signatures")),
        (
            stranger,
            False,
            _("a delivery signed with a stranger's secret"),
            _("accept exactly the old and the new secret, nothing else"),
        ),
    ]
    for secret, should_pass, what, why in expectations:
        answer = send(secret)
        if answer.is_success != should_pass:
            reason = ""
            if not answer.is_success and _is_json(answer) and answer.json().get("reason"):
                reason = f" {answer.json()['reason']}"  # the wire's own word, in English
            if reason == " missing_header" and secret is not None:
                why = _("the endpoint expects another scheme's headers")
                hint = _("keep the scheme Standard Webhooks (the default): only the secrets change")
            got = f"{answer.status_code}{reason}"
            if should_pass:
                said = _("{what} was refused ({answer}); {why}.", what=what, answer=got, why=why)
            else:
                said = _("{what} was accepted ({answer}); {why}.", what=what, answer=got, why=why)
            return not_yet(said, hint)
    return right(
        _(
            "/webhooks/{endpoint} accepts deliveries signed with the old or the new secret, "
            "and refuses unsigned ones and strangers: a rotation with zero downtime.",
            endpoint=endpoint,
        )
    )


def _is_json(answer: Any) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


__all__ = ["rotation", "verify_by_hand"]
