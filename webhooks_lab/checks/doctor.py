"""Lesson 11's checks: answer Zoom's handshake by hand, and sign a v1a (Ed25519) message by hand.

Each check drives the learner's function with several fresh inputs and judges what comes back
against the lab's own implementation (:mod:`webhooks_lab.handshakes`, :mod:`webhooks_lab.signing`),
then names the usual slip when the answer is wrong: hex or base64, key and message swapped, the
body signed without its id and timestamp, the wrong prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from webhooks_lab import handshakes, signing
from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.i18n import N_, _

__all__ = ["zoom_answer", "sign_v1a"]

_ZOOM_SECRETS = ("zoom-secret-token-1", "another-app-secret")
_TOKENS = ("qgg8vlvZRS6UYooatFL8Aw", "ZbGDnaOd1ZLnLn2xyzE1dg")


def _zoom_slip(got: dict[str, Any], token: str, secret: str) -> str:
    """Which of the usual mistakes ``got["encryptedToken"]`` is."""
    made = str(got.get("encryptedToken", ""))
    swapped = hmac.new(token.encode(), secret.encode(), hashlib.sha256)
    right_mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256)
    if made == base64.b64encode(right_mac.digest()).decode():
        return _("encryptedToken is base64; Zoom wants the HMAC as hex (.hexdigest())")
    if made in (swapped.hexdigest(), base64.b64encode(swapped.digest()).decode()):
        return _("the key and the message are swapped: the key is the secret token")
    if made == hashlib.sha256(token.encode()).hexdigest():
        return _("that is a plain SHA-256 of the token; it must be an HMAC keyed with the secret")
    if made == hmac.new(secret.encode(), token.encode(), hashlib.sha1).hexdigest():
        return _("that HMAC uses SHA-1; Zoom's uses SHA-256")
    return _("encryptedToken is not the HMAC-SHA256 of plainToken keyed with the secret token")


@check
def zoom_answer(fn: Callable[[bytes, str], Any]) -> Result:
    """Judge ``fn(body, secret) -> dict`` against Zoom's endpoint.url_validation answer."""
    for token, secret in zip(_TOKENS, _ZOOM_SECRETS, strict=True):
        request = handshakes.challenge("zoom", token=token)
        got = fn(request.body, secret)
        if isinstance(got, (str, bytes)):
            try:
                got = json.loads(got)
            except ValueError:
                return not_yet(
                    _(
                        "your function returned {got}, which is not JSON",
                        got=repr(str(got)[:60]),
                    ),
                    _("return a dict holding the plainToken and its encryptedToken, not text"),
                )
        if not isinstance(got, dict):
            return not_yet(
                _("your function returned {kind}, not a dict", kind=type(got).__name__),
                _(
                    "read the plainToken from the challenge's payload and return it, with its "
                    "encryptedToken, in a dict"
                ),
            )
        if got.get("plainToken") != token:
            return not_yet(
                _(
                    "plainToken should be the one Zoom sent ({token}), got {got}",
                    token=repr(token),
                    got=repr(str(got.get("plainToken"))[:40]),
                ),
                _("read it from the body Zoom sent: the JSON's payload object holds it"),
            )
        expected = json.loads(handshakes.reply("zoom", request, secret=secret).body)
        if got.get("encryptedToken") != expected["encryptedToken"]:
            return not_yet(
                _zoom_slip(got, token, secret),
                _(
                    "the HMAC's key is the secret token, its message the plainToken, its hash "
                    "SHA-256, and Zoom reads the digest as hex"
                ),
            )
    return right(
        _(
            "your answer carries the plainToken and its hex HMAC-SHA256 under the secret token, "
            "for every challenge: Zoom would validate this endpoint."
        )
    )


def _v1a_slip(made: str, secret_key: str, msg_id: str, timestamp: int, body: bytes) -> str:
    public = signing.public_key_of(secret_key)
    version, comma, sig = made.partition(",")
    content = f"{msg_id}.{timestamp}.".encode() + body
    if not comma:
        return _(
            "{made} has no 'v1a,' in front: the header says which scheme signed it",
            made=repr(made[:30]),
        )
    if version == "v1":
        return _("the prefix is 'v1,' (HMAC); an Ed25519 signature is 'v1a,'")
    if version != "v1a":
        return _(
            "the prefix is {version},; an Ed25519 signature is 'v1a,'", version=repr(version[:10])
        )
    if len(sig) == 128 and all(c in "0123456789abcdef" for c in sig.lower()):
        try:
            as_b64 = base64.b64encode(bytes.fromhex(sig)).decode()
        except ValueError:
            as_b64 = ""
        if as_b64 and signing.ed25519.check_ed25519(public, content, as_b64):
            return _("the signature is hex; Standard Webhooks writes it in base64")
    for other, what in (
        (body, N_("only the body is signed; sign '{id}.{timestamp}.' followed by the body")),
        (
            f"{msg_id}{timestamp}".encode() + body,
            N_("the dots between id, timestamp and body are missing"),
        ),
    ):
        if signing.ed25519.check_ed25519(public, other, sig):
            return _(what)
    return _("the public key does not accept this signature over '{id}.{timestamp}.{body}'")


@check
def sign_v1a(fn: Callable[[str, str, int, bytes], Any]) -> Result:
    """Judge ``fn(secret_key, msg_id, timestamp, body) -> "v1a,<base64>"`` with the public key."""
    cases = [(signing.generate_keypair()[0], f"msg_v1a_{n}", 1_700_000_000 + n) for n in range(3)]
    bodies = [b'{"type":"ping","data":{}}', b'{"type":"order.paid","data":{"total":12}}', b""]
    for (secret_key, msg_id, timestamp), body in zip(cases, bodies, strict=True):
        made = fn(secret_key, msg_id, timestamp, body)
        if not isinstance(made, str):
            return not_yet(
                _(
                    "your function returned {kind}, not the header's text",
                    kind=type(made).__name__,
                ),
                _(
                    "return the header entry as text: the version, a comma, then the signature "
                    "in base64"
                ),
            )
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
        headers["webhook-signature"] = made
        try:
            signing.verify(signing.public_key_of(secret_key), headers, body, now=timestamp)
        except signing.SignatureError:
            return not_yet(
                _v1a_slip(made, secret_key, msg_id, timestamp, body),
                _(
                    "sign the id, a dot, the timestamp, a dot and the raw body with the private "
                    "key decoded from the base64 after whsk_, and put 'v1a,' before the base64"
                ),
            )
    return right(
        _(
            "the receivers' public keys accept every signature you made, and only the holder of "
            "the whsk_ key could have made them."
        )
    )
