"""Signing: how a receiver knows a webhook really came from its sender.

A webhook endpoint is a public URL. Anybody who learns it can POST to it, so a receiver must be
able to tell a real delivery from a forged one. Senders solve this with a *shared secret* and an
HMAC (a keyed hash):

1. Sender and receiver share a secret, e.g. ``whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw``.
2. For each delivery the sender computes ``HMAC-SHA256(key, signed_content)`` and sends it in a
   header. Without the key nobody can compute it; change one byte of the content and it changes
   completely.
3. The receiver computes the same HMAC over what it received and compares. Equal means: this was
   signed by someone holding the secret, and nothing was changed on the way.

Three details make the difference between a signature check that protects and one that doesn't:

* **Sign the raw bytes.** The signature covers the body exactly as it travelled. Never parse the
  JSON and re-serialize it before checking: spacing or key order may change and the check fails
  (or worse, you end up checking something other than what you act on).
* **Sign a timestamp, and refuse old ones.** A signature alone does not stop an attacker from
  recording a genuine delivery and sending it again later (a *replay*). Putting the time into the
  signed content, and rejecting messages more than a few minutes old (the *tolerance*), does.
* **Compare in constant time.** ``a == b`` stops at the first differing character, so how long
  it takes leaks how much of a guess was right. ``hmac.compare_digest`` always takes the same
  time.

Secrets must be replaceable without downtime (*rotation*): for a while the sender signs with both
the old and the new secret, and a receiver accepts a message if any signature matches any secret
it knows.

This module implements five real-world schemes, so you can see that they are the same idea:

=================  ======================================  =====================================
scheme             header(s)                               signed content; key
=================  ======================================  =====================================
Standard Webhooks  ``webhook-id``, ``webhook-timestamp``,  ``"{id}.{timestamp}.{body}"``; the
(``"standard"``)   ``webhook-signature: v1,<base64>``      base64-decoded secret after ``whsec_``
GitHub             ``X-Hub-Signature-256: sha256=<hex>``   ``body`` only (no timestamp, so no
(``"github"``)                                             replay protection); the secret's text
Stripe             ``Stripe-Signature: t=<ts>,v1=<hex>``   ``"{t}.{body}"``; the secret's text,
(``"stripe"``)                                             ``whsec_`` included
Slack              ``X-Slack-Request-Timestamp: <ts>``,    ``"v0:{ts}:{body}"``; the signing
(``"slack"``)      ``X-Slack-Signature: v0=<hex>``         secret's text
Shopify            ``X-Shopify-Hmac-Sha256: <base64>``     ``body`` only (no timestamp); the
(``"shopify"``)                                            app's client secret, as text
=================  ======================================  =====================================

Standard Webhooks also defines *asymmetric* signatures, ``v1a,<base64>``: Ed25519 over the same
``"{id}.{timestamp}.{body}"``, signed with a ``whsk_`` secret key that only the sender holds and
checked with the matching ``whpk_`` public key (:mod:`webhooks_lab.signing.ed25519`). Wherever a
Standard Webhooks secret is asked for, a ``whsk_`` key signs ``v1a`` and a ``whpk_`` key checks
it; a list may mix them with ``whsec_`` secrets, and a header may carry ``v1`` and ``v1a`` entries
side by side (a rotation from one to the other).

When a check fails and you cannot see why, :func:`diagnose` says which of the usual mistakes was
made (:mod:`webhooks_lab.signing.doctor`).

Every check raises a :class:`SignatureError` subclass whose message says what went wrong in
plain words, and whose ``code`` is a short machine word (``"stale_timestamp"``, ...)::

    >>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    >>> body = b'{"test": 2432232314}'
    >>> headers = sign_headers(secret, body, msg_id="msg_1", timestamp=1614265330)
    >>> verify(secret, headers, body, now=1614265330)        # no exception: genuine
    >>> try:
    ...     verify(secret, headers, b'{"test": 1}', now=1614265330)    # one byte changed
    ... except SignatureError as exc:
    ...     print(exc.code)
    ...     print(exc)
    no_matching_signature
    no signature matched: the body, id or timestamp was changed, or the secret is wrong

This module knows nothing of HTTP servers: headers are any mapping (or a list of name/value
pairs, as ASGI servers hand them over) and the body is bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from secrets import token_bytes, token_urlsafe

from webhooks_lab.errors import Error
from webhooks_lab.signing import ed25519 as _ed25519
from webhooks_lab.signing.ed25519 import InvalidKey, generate_keypair, public_key_of

__all__ = [
    "SCHEMES",
    "DEFAULT_TOLERANCE",
    "UnknownScheme",
    "check_scheme",
    "SignatureError",
    "MissingHeader",
    "MalformedHeader",
    "StaleTimestamp",
    "FutureTimestamp",
    "NoMatchingSignature",
    "generate_secret",
    "sign",
    "sign_headers",
    "verify",
    "github_sign",
    "github_verify",
    "stripe_sign",
    "stripe_headers",
    "stripe_verify",
    "slack_sign",
    "slack_headers",
    "slack_verify",
    "shopify_sign",
    "shopify_verify",
    "InvalidKey",
    "generate_keypair",
    "public_key_of",
    "headers_for",
    "verify_scheme",
    "check_secret",
    "Diagnosis",
    "diagnose",
    "REASONS",
]

SCHEMES: tuple[str, ...] = ("standard", "github", "stripe", "slack", "shopify", "none")
"""The signature schemes a receiver can enforce and a sender can use."""

DEFAULT_TOLERANCE = 300
"""How far (in seconds) a message's timestamp may be from now: five minutes, as everyone uses."""

SECRET_PREFIX = "whsec_"

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: a mapping (``dict``, Starlette's ``Headers``...) or ``(name, value)`` pairs."""

Secrets = str | Iterable[str]
"""One secret, or several during a rotation (a message passes if any of them signed it)."""

_STANDARD_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")
_SVIX_NAMES = ("svix-id", "svix-timestamp", "svix-signature")
_NO_MATCH = "no signature matched: the body, id or timestamp was changed, or the secret is wrong"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
MAX_SIGNATURE_CHARS = 4096
"""The longest signature header a check reads: room for dozens of signatures, not a flood."""
MAX_SIGNATURES = 32
"""The most signatures one header may carry (a rotation needs two or three)."""


# -- errors ----------------------------------------------------------------------------------------


class UnknownScheme(Error, ValueError):
    """A scheme name that is not one of :data:`SCHEMES` (a typo, or a scheme the lab lacks)."""

    def __init__(self, scheme: object) -> None:
        super().__init__(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
        self.scheme = scheme


def check_scheme(scheme: object) -> str:
    """``scheme`` if it is one of :data:`SCHEMES`, else :class:`UnknownScheme` naming them.

    The one check of a scheme's name: receivers, senders and the command line all ask here, so a
    typo reads the same wherever it is made.
    """
    if scheme not in SCHEMES:
        raise UnknownScheme(scheme)
    return scheme  # type: ignore[return-value]


class SignatureError(Error, ValueError):
    """A delivery failed verification. ``str(exc)`` says why; ``exc.code`` is a short word.

    ``exc.header`` names the header concerned, when there is one.
    """

    code: str = "signature_error"

    def __init__(self, message: str, header: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.header = header

    def __reduce__(self) -> tuple[type[SignatureError], tuple[str, str | None]]:
        return (type(self), (self.message, self.header))  # so it survives pickling

    def as_dict(self) -> dict[str, str]:
        """The error as a JSON-ready ``{"error": code, "message": ...}``."""
        return {"error": self.code, "message": self.message}


class MissingHeader(SignatureError):
    """A header the scheme needs was not sent (or was empty)."""

    code = "missing_header"


class MalformedHeader(SignatureError):
    """A header was sent but does not have the scheme's format."""

    code = "malformed_header"


class StaleTimestamp(SignatureError):
    """The signed timestamp is older than the tolerance allows: possibly a replay."""

    code = "stale_timestamp"


class FutureTimestamp(SignatureError):
    """The signed timestamp is further in the future than the tolerance allows."""

    code = "future_timestamp"


class NoMatchingSignature(SignatureError):
    """No signature in the headers matches what any of our secrets computes."""

    code = "no_matching_signature"


# -- secrets and keys ------------------------------------------------------------------------------


def generate_secret(nbytes: int = 32) -> str:
    """A new random Standard Webhooks secret: ``"whsec_"`` + base64 of ``nbytes`` random bytes.

    The Standard Webhooks spec asks for 24 to 64 bytes of randomness.
    """
    if not isinstance(nbytes, int) or not 24 <= nbytes <= 64:
        raise ValueError(f"nbytes must be an integer from 24 to 64, got {nbytes!r}")
    return SECRET_PREFIX + base64.b64encode(token_bytes(nbytes)).decode("ascii")


@lru_cache(maxsize=128)
def _standard_key(secret: str) -> bytes:
    """The HMAC key for a Standard Webhooks secret: the base64 after ``whsec_``, decoded.

    Cached, because a receiver checks every delivery with the same few secrets.
    Padding (``=``) is optional, as in the reference libraries.
    """
    if not isinstance(secret, str):
        raise TypeError(f"a secret is a str like 'whsec_...', got {type(secret).__name__}")
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    encoded = encoded.rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise ValueError(
            "the secret is not valid base64: a Standard Webhooks secret looks like "
            "'whsec_' followed by base64 (A-Z, a-z, 0-9, + and /); make one with generate_secret()"
        ) from None
    if not key:
        raise ValueError("the secret is empty; make one with generate_secret()")
    return key


@lru_cache(maxsize=128)
def _standard_mac(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 object already keyed with a Standard Webhooks secret, nothing hashed yet.

    Signing a message starts from a ``.copy()`` of it, which skips setting up the key every
    time (``hmac`` documents ``copy()`` for exactly this: many messages, one key).
    """
    return hmac.new(_standard_key(secret), digestmod=hashlib.sha256)


@lru_cache(maxsize=128)
def _text_mac(secret: str) -> hmac.HMAC:
    """Like :func:`_standard_mac` for GitHub and Stripe, whose key is the secret's UTF-8 text."""
    if not isinstance(secret, str):
        raise TypeError(f"a secret is a str, got {type(secret).__name__}")
    return hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)


def _hmac_sha256(keyed: hmac.HMAC, *parts: bytes) -> bytes:
    """HMAC-SHA256 of the parts, one after the other, starting from a keyed HMAC object."""
    mac = keyed.copy()
    for part in parts:
        mac.update(part)
    return mac.digest()


def _secret_list(secret_or_secrets: Secrets | None) -> tuple[str, ...]:
    if isinstance(secret_or_secrets, str):
        return (secret_or_secrets,)
    found = tuple(secret_or_secrets) if secret_or_secrets is not None else ()
    if not found:
        raise ValueError("no secret given: pass a secret, or a list of secrets during a rotation")
    return found


def _as_bytes(body: bytes | str) -> bytes:
    """The body as bytes. Text is encoded as UTF-8; anything else is a mistake worth explaining."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return body  # type: ignore[return-value]  # bytearray/memoryview work wherever we use it
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(
        f"the body must be the raw bytes of the request (or str), not {type(body).__name__}: "
        "sign and verify exactly the bytes that travel, never a re-serialized object"
    )


def _check_int(timestamp: int) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(
            f"timestamp must be whole Unix seconds (an int), got {type(timestamp).__name__}; "
            "use int(time.time())"
        )
    return timestamp


# -- reading headers -------------------------------------------------------------------------------


def _preview(value: object, limit: int = 40) -> str:
    """A short repr for error messages, so a hostile header cannot flood a log."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")  # what HTTP header bytes mean
    raise MalformedHeader(
        f"header {name!r} should be text, got {type(value).__name__} {_preview(value)}", name
    )


def _scan(headers: Headers, wanted: Iterable[str]) -> dict[str, str]:
    """One pass over all headers; the first value of each wanted (lower-case) name."""
    wanted = frozenset(wanted)
    found: dict[str, object] = {}
    pairs = headers.items() if hasattr(headers, "items") else headers
    for name, value in pairs:  # type: ignore[misc]
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("latin-1")
        elif not isinstance(name, str):
            continue
        lower = name.lower()
        if lower in wanted and lower not in found:
            found[lower] = value
    return {name: _text(name, value) for name, value in found.items()}


def _missing(names: Sequence[str]) -> MissingHeader:
    if len(names) == 1:
        return MissingHeader(f"missing header {names[0]!r}", names[0])
    listed = ", ".join(repr(name) for name in names)
    return MissingHeader(f"missing headers {listed}", names[0])


def _standard_headers(headers: Headers) -> tuple[str, str, str, tuple[str, str, str]]:
    """``(id, timestamp, signature, header names used)`` from Standard Webhooks headers.

    Falls back to Svix's ``svix-*`` names when the ``webhook-*`` set is incomplete, as Svix's own
    libraries do.
    """
    get = getattr(headers, "get", None)
    if get is not None:
        # Fast path: a dict with lower-case names, or a case-insensitive mapping.
        msg_id = get("webhook-id")
        timestamp = get("webhook-timestamp")
        signature = get("webhook-signature")
        all_text = type(msg_id) is str and type(timestamp) is str and type(signature) is str
        if all_text and msg_id and timestamp and signature:
            return msg_id, timestamp, signature, _STANDARD_NAMES
    found = _scan(headers, _STANDARD_NAMES + _SVIX_NAMES)
    for names in (_STANDARD_NAMES, _SVIX_NAMES):
        values = [found.get(name) for name in names]
        if all(values):
            return values[0], values[1], values[2], names  # type: ignore[return-value]
    raise _missing([name for name in _STANDARD_NAMES if not found.get(name)])


def _one_header(headers: Headers, name: str, display: str) -> str:
    """The value of one header, whatever the case of its name; MissingHeader if absent/empty."""
    get = getattr(headers, "get", None)
    value = get(name) if get is not None else None
    if type(value) is not str:
        value = _scan(headers, (name,)).get(name)
    if not value:
        raise MissingHeader(f"missing header {display!r}", display)
    return value


# -- timestamps ------------------------------------------------------------------------------------


def _is_unix_seconds(value: str) -> bool:
    """Plain ASCII digits, few enough to be a time: what :func:`_parse_timestamp` accepts."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def _parse_timestamp(value: str, header: str, label: str | None = None) -> int:
    """Whole Unix seconds, written as plain digits (no sign, no decimals, no spaces)."""
    if not _is_unix_seconds(value):
        raise MalformedHeader(
            f"{label or header} {_preview(value)} is not a Unix time in whole seconds "
            "(digits only)",
            header,
        )
    return int(value)


def _check_window(timestamp: int, header: str, tolerance: int, now: float | None) -> None:
    """Refuse a timestamp more than ``tolerance`` seconds before or after ``now``."""
    if tolerance < 0:
        raise ValueError(f"tolerance is a number of seconds >= 0, got {tolerance!r}")
    if now is None:
        now = time.time()
    age = now - timestamp
    if age > tolerance:
        raise StaleTimestamp(
            f"timestamp {timestamp} is {age:.0f} s old; the tolerance is {tolerance} s "
            "(a replayed message?)",
            header,
        )
    if -age > tolerance:
        hint = (
            "it looks like milliseconds; the timestamp is in seconds"
            if timestamp > 100 * now
            else "is the sender's or our clock wrong?"
        )
        raise FutureTimestamp(
            f"timestamp {timestamp} is {-age:.0f} s in the future; the tolerance is "
            f"{tolerance} s ({hint})",
            header,
        )


def _listed(versions: Iterable[str]) -> str:
    """``'v1a', 'v2'`` for an error message: which signature versions a header carried."""
    return ", ".join(_preview(v, 12) for v in sorted(set(versions))) or "none"


# -- Standard Webhooks -----------------------------------------------------------------------------


def _standard_digest(secret: str, signed_prefix: bytes, body: bytes) -> str:
    """base64(HMAC-SHA256(key, "{id}.{timestamp}." + body)), the part after ``v1,``."""
    digest = _hmac_sha256(_standard_mac(secret), signed_prefix, body)
    return base64.b64encode(digest).decode("ascii")


def sign(secret: str | Sequence[str], msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The Standard Webhooks signature ``"v1,<base64>"`` of one message.

    The signed content is ``f"{msg_id}.{timestamp}."`` followed by the raw body bytes, and the
    key is the base64-decoded part of the secret after ``whsec_``. A ``whsk_`` secret key signs
    with Ed25519 instead (``"v1a,<base64>"``). Several secrets (a rotation) give one signature
    each, separated by spaces, in the order given.
    """
    prefix = f"{msg_id}.{_check_int(timestamp)}.".encode()
    data = _as_bytes(body)
    entries = []
    for each in _secret_list(secret):
        if _ed25519.is_secret_key(each):
            entries.append("v1a," + _ed25519.sign_ed25519(each, prefix + bytes(data)))
        elif _ed25519.is_public_key(each):
            raise InvalidKey("a public key (whpk_...) cannot sign; sign with its whsk_ secret key")
        else:
            entries.append("v1," + _standard_digest(each, prefix, data))
    return " ".join(entries)


def sign_headers(
    secret: str | Sequence[str],
    body: bytes | str,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body``.

    ``msg_id`` defaults to a fresh ``msg_...`` id, ``timestamp`` to now.
    """
    if msg_id is None:
        msg_id = "msg_" + token_urlsafe(18)
    if timestamp is None:
        timestamp = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(_check_int(timestamp)),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def _check_length(value: str, header: str) -> None:
    if len(value) > MAX_SIGNATURE_CHARS:
        raise MalformedHeader(
            f"{header} is {len(value)} characters long; a check reads at most "
            f"{MAX_SIGNATURE_CHARS} (a few signatures take a few hundred)",
            header,
        )


def _entries(value: str, header: str) -> list[tuple[str, str]]:
    """The ``(version, signature)`` pairs of a ``webhook-signature`` value, bounded."""
    _check_length(value, header)
    entries: list[tuple[str, str]] = []
    for entry in value.split():
        version, comma, signature = entry.partition(",")
        if comma and version and signature:
            entries.append((version, signature))
    if not entries:
        raise MalformedHeader(
            f"{header} should hold space-separated 'v1,<base64>' entries, got {_preview(value)}",
            header,
        )
    if len(entries) > MAX_SIGNATURES:
        raise MalformedHeader(
            f"{header} carries {len(entries)} signatures; a check reads at most {MAX_SIGNATURES}",
            header,
        )
    return entries


@lru_cache(maxsize=64)
def _split_keys(secrets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The secrets as ``(HMAC secrets, Ed25519 public keys)``; a ``whsk_`` key gives its public.

    Cached: a receiver checks every delivery against the same few secrets.
    """
    hmac_secrets: list[str] = []
    public_keys: list[str] = []
    for each in secrets:
        if _ed25519.is_public_key(each):
            public_keys.append(each)
        elif _ed25519.is_secret_key(each):
            public_keys.append(public_key_of(each))
        else:
            hmac_secrets.append(each)
    return tuple(hmac_secrets), tuple(public_keys)


def _matches_at_once(
    secrets: Secrets, headers: Headers, body: bytes | str, tolerance: int, now: float | None
) -> bool:
    """True if this is the delivery nearly every receiver sees: lower-case ``webhook-*``
    headers in a dict, one ``v1`` signature, one ``whsec_`` secret, the timestamp in the window,
    and the signature matches. ``False`` decides nothing: :func:`verify` then checks it all the
    long way, and says exactly what is wrong.

    The same checks as the long way, in the same terms, without its generality (a rotation,
    Ed25519, svix-* names, bytes headers): it is the whole cost of a check under load.
    """
    if type(headers) is not dict or type(body) is not bytes:
        return False
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if type(secrets) is str:
        secrets = (secrets,)
    if type(secrets) not in (list, tuple) or len(secrets) != 1:  # type: ignore[arg-type]
        return False
    (secret,) = secrets
    if (
        type(msg_id) is not str
        or type(timestamp) is not str
        or type(signature) is not str
        or type(secret) is not str
        or not msg_id
        or not _is_unix_seconds(timestamp)
        or not signature.startswith("v1,")
        or len(signature) > MAX_SIGNATURE_CHARS
        or tolerance < 0
        or _ed25519.is_secret_key(secret)
        or _ed25519.is_public_key(secret)
    ):
        return False
    age = (time.time() if now is None else now) - int(timestamp)
    if age > tolerance or -age > tolerance:
        return False
    candidate = signature.strip()[3:]  # with a second entry in it, it matches nothing
    if not candidate or not candidate.isascii() or not msg_id.isascii():
        return False
    expected = _standard_digest(secret, f"{msg_id}.{timestamp}.".encode(), body)
    return hmac.compare_digest(expected, candidate)


def verify(
    secret_or_secrets: Secrets,
    headers: Headers,
    body: bytes | str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a Standard Webhooks delivery; return ``None`` if genuine, else raise why not.

    ``headers`` may use any case for names and may carry several signatures (during a key
    rotation); ``secret_or_secrets`` may be one secret or several. The message passes when any
    ``v1`` signature matches any ``whsec_`` secret, or any ``v1a`` (Ed25519) signature matches
    any ``whpk_`` public key (a ``whsk_`` secret key stands for its public key). Checks, in
    order: the headers are there and well formed
    (:class:`MissingHeader`, :class:`MalformedHeader`); the timestamp is within ``tolerance``
    seconds of ``now`` (:class:`StaleTimestamp`, :class:`FutureTimestamp`); a signature matches
    (:class:`NoMatchingSignature`).
    """
    if _matches_at_once(secret_or_secrets, headers, body, tolerance, now):
        return
    msg_id, timestamp, signature, names = _standard_headers(headers)
    seconds = _parse_timestamp(timestamp, names[1])
    entries = _entries(signature, names[2])
    _check_window(seconds, names[1], tolerance, now)
    hmac_secrets, public_keys = _split_keys(_secret_list(secret_or_secrets))
    v1 = [sig for version, sig in entries if version == "v1"] if hmac_secrets else []
    v1a = [sig for version, sig in entries if version == "v1a"] if public_keys else []
    if not v1 and not v1a:
        wanted = (["v1"] if hmac_secrets else []) + (["v1a"] if public_keys else [])
        versions = _listed(version for version, _ in entries)
        raise NoMatchingSignature(
            f"no {' or '.join(wanted)} signature in {names[2]} (found versions: {versions}); "
            f"this receiver checks {' and '.join(wanted)}",
            names[2],
        )
    try:
        prefix = f"{msg_id}.{timestamp}.".encode()
    except UnicodeEncodeError:
        raise MalformedHeader(
            f"{names[0]} {_preview(msg_id)} cannot be encoded", names[0]
        ) from None
    data = _as_bytes(body)
    for secret in hmac_secrets if v1 else ():
        expected = _standard_digest(secret, prefix, data)
        for candidate in v1:
            # compare_digest takes str only if ASCII; base64 always is, so others can't match.
            if candidate.isascii() and hmac.compare_digest(expected, candidate):
                return
    if v1a:
        content = prefix + bytes(data)
        for public_key in public_keys:
            if any(_ed25519.check_ed25519(public_key, content, sig) for sig in v1a):
                return
    raise NoMatchingSignature(_NO_MATCH, names[2])


# -- GitHub ----------------------------------------------------------------------------------------


def github_sign(secret: str, body: bytes | str) -> str:
    """GitHub's ``X-Hub-Signature-256`` value: ``"sha256=" + hex(HMAC-SHA256(secret, body))``.

    The key is the secret text itself (UTF-8), and only the body is signed: GitHub signs no
    timestamp, so this scheme cannot tell a replay from a new delivery.
    """
    return "sha256=" + _hmac_sha256(_text_mac(secret), _as_bytes(body)).hex()


def github_verify(secret_or_secrets: Secrets, headers: Headers, body: bytes | str) -> None:
    """Check a GitHub delivery's ``X-Hub-Signature-256``; return ``None`` or raise why not."""
    header = "X-Hub-Signature-256"
    value = _one_header(headers, "x-hub-signature-256", header)
    algorithm, equals, hex_digest = value.partition("=")
    if algorithm != "sha256" or len(hex_digest) != 64 or not _HEX_DIGITS.issuperset(hex_digest):
        raise MalformedHeader(
            f"{header} should look like 'sha256=<64 hex digits>', got {_preview(value)}", header
        )
    hex_digest = hex_digest.lower()
    data = _as_bytes(body)
    for secret in _secret_list(secret_or_secrets):
        expected = _hmac_sha256(_text_mac(secret), data).hex()
        if hmac.compare_digest(expected, hex_digest):
            return
    raise NoMatchingSignature(
        "no signature matched: the body was changed, or the secret is wrong", header
    )


# -- Stripe ----------------------------------------------------------------------------------------


def stripe_sign(secret: str, body: bytes | str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature`` value: ``"t=<timestamp>,v1=<hex>"``.

    The signed content is ``f"{timestamp}."`` followed by the body, and the key is the secret
    text as it is, ``whsec_`` included (unlike Standard Webhooks, nothing is base64-decoded).
    """
    timestamp = _check_int(timestamp)
    digest = _hmac_sha256(_text_mac(secret), f"{timestamp}.".encode(), _as_bytes(body))
    return f"t={timestamp},v1={digest.hex()}"


def stripe_headers(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """``{"Stripe-Signature": ...}`` for sending ``body``; ``timestamp`` defaults to now."""
    if timestamp is None:
        timestamp = int(time.time())
    return {"Stripe-Signature": stripe_sign(secret, body, timestamp)}


def stripe_verify(
    secret_or_secrets: Secrets,
    headers: Headers,
    body: bytes | str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a Stripe delivery's ``Stripe-Signature``; return ``None`` or raise why not.

    The header may carry several ``v1=`` signatures; other schemes (``v0=``) are ignored. The
    timestamp must be within ``tolerance`` seconds of ``now`` either way.
    """
    header = "Stripe-Signature"
    value = _one_header(headers, "stripe-signature", header)
    _check_length(value, header)
    timestamp: str | None = None
    candidates: list[str] = []
    for item in value.split(","):
        key, equals, part = item.strip().partition("=")
        if not equals:
            continue
        if key == "t":
            if timestamp is None:
                timestamp = part
        elif key == "v1" and len(candidates) < MAX_SIGNATURES:
            candidates.append(part.lower())
    if timestamp is None:
        raise MalformedHeader(
            f"{header} should look like 't=<timestamp>,v1=<hex>', got {_preview(value)}", header
        )
    seconds = _parse_timestamp(timestamp, header, f"the t= part of {header}")
    _check_window(seconds, header, tolerance, now)
    if not candidates:
        keys = (item.strip().partition("=")[0] for item in value.split(","))
        versions = _listed(key for key in keys if key != "t")
        raise NoMatchingSignature(
            f"no v1= signature in {header} (found: {versions}); this receiver checks v1", header
        )
    prefix = f"{timestamp}.".encode()
    data = _as_bytes(body)
    for secret in _secret_list(secret_or_secrets):
        expected = _hmac_sha256(_text_mac(secret), prefix, data).hex()
        for candidate in candidates:
            if candidate.isascii() and hmac.compare_digest(expected, candidate):
                return
    raise NoMatchingSignature(
        "no signature matched: the body or timestamp was changed, or the secret is wrong", header
    )


# -- Slack -----------------------------------------------------------------------------------------
# https://api.slack.com/authentication/verifying-requests-from-slack: the base string is
# "v0:" + X-Slack-Request-Timestamp + ":" + the raw body, HMAC-SHA256 keyed with the signing
# secret, sent as X-Slack-Signature "v0=" + hex; refuse timestamps more than five minutes off.


def slack_sign(secret: str, body: bytes | str, timestamp: int) -> str:
    """Slack's ``X-Slack-Signature`` value: ``"v0=" + hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))``.

    The key is the app's signing secret as text.
    """
    timestamp = _check_int(timestamp)
    digest = _hmac_sha256(_text_mac(secret), f"v0:{timestamp}:".encode(), _as_bytes(body))
    return "v0=" + digest.hex()


def slack_headers(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's two headers for sending ``body``; ``timestamp`` defaults to now."""
    if timestamp is None:
        timestamp = int(time.time())
    return {
        "X-Slack-Request-Timestamp": str(_check_int(timestamp)),
        "X-Slack-Signature": slack_sign(secret, body, timestamp),
    }


def slack_verify(
    secret_or_secrets: Secrets,
    headers: Headers,
    body: bytes | str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a Slack request's ``X-Slack-Signature``; return ``None`` or raise why not."""
    ts_header, sig_header = "X-Slack-Request-Timestamp", "X-Slack-Signature"
    timestamp = _one_header(headers, "x-slack-request-timestamp", ts_header)
    value = _one_header(headers, "x-slack-signature", sig_header)
    _check_length(value, sig_header)
    version, equals, hex_digest = value.partition("=")
    if version != "v0" or len(hex_digest) != 64 or not _HEX_DIGITS.issuperset(hex_digest):
        raise MalformedHeader(
            f"{sig_header} should look like 'v0=<64 hex digits>', got {_preview(value)}",
            sig_header,
        )
    seconds = _parse_timestamp(timestamp, ts_header)
    _check_window(seconds, ts_header, tolerance, now)
    prefix, data, hex_digest = f"v0:{timestamp}:".encode(), _as_bytes(body), hex_digest.lower()
    for secret in _secret_list(secret_or_secrets):
        if hmac.compare_digest(_hmac_sha256(_text_mac(secret), prefix, data).hex(), hex_digest):
            return
    raise NoMatchingSignature(
        "no signature matched: the body or timestamp was changed, or the secret is wrong",
        sig_header,
    )


# -- Shopify ---------------------------------------------------------------------------------------
# https://shopify.dev/docs/apps/build/webhooks/subscribe/https ("Verify the webhook"): the
# X-Shopify-Hmac-Sha256 header is base64(HMAC-SHA256(client secret, raw body)).


def shopify_sign(secret: str, body: bytes | str) -> str:
    """Shopify's ``X-Shopify-Hmac-Sha256`` value: base64 of HMAC-SHA256(secret text, body)."""
    digest = _hmac_sha256(_text_mac(secret), _as_bytes(body))
    return base64.b64encode(digest).decode("ascii")


def shopify_verify(secret_or_secrets: Secrets, headers: Headers, body: bytes | str) -> None:
    """Check a Shopify delivery's ``X-Shopify-Hmac-Sha256``; return ``None`` or raise why not.

    Like GitHub's, Shopify's signature covers no timestamp: deduplicate on
    ``X-Shopify-Webhook-Id`` instead.
    """
    header = "X-Shopify-Hmac-Sha256"
    value = _one_header(headers, "x-shopify-hmac-sha256", header).strip()
    _check_length(value, header)
    try:
        raw = base64.b64decode(value, validate=True) if value.isascii() else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise MalformedHeader(
            f"{header} should be the base64 of 32 bytes (44 characters), got {_preview(value)}",
            header,
        )
    data = _as_bytes(body)
    for secret in _secret_list(secret_or_secrets):
        if hmac.compare_digest(_hmac_sha256(_text_mac(secret), data), raw):
            return
    raise NoMatchingSignature(
        "no signature matched: the body was changed, or the secret is wrong", header
    )


# -- choosing a scheme by name ---------------------------------------------------------------------


def headers_for(
    scheme: str,
    secret: str | Sequence[str] | None,
    body: bytes,
    *,
    msg_id: str,
    timestamp: int,
) -> dict[str, str]:
    """The headers a sender adds for ``scheme`` (one of :data:`SCHEMES`).

    Every scheme also carries ``webhook-id`` and ``webhook-timestamp``, so a receiver can
    deduplicate on ``webhook-id`` whichever scheme signed the message. GitHub's
    ``X-GitHub-Delivery`` and Shopify's ``X-Shopify-Webhook-Id`` carry the id too. Only
    ``"standard"`` takes several secrets (one signature each, ``v1`` or ``v1a``).
    """
    check_scheme(scheme)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(_check_int(timestamp))}
    if scheme == "none":
        return headers
    if not secret:
        raise ValueError(f"scheme {scheme!r} needs a secret")
    if scheme == "standard":
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
        return headers
    if not isinstance(secret, str):
        raise TypeError(f"scheme {scheme!r} signs with one secret (a str)")
    if scheme == "github":
        headers["X-Hub-Signature-256"] = github_sign(secret, body)
        headers["X-GitHub-Delivery"] = msg_id
    elif scheme == "stripe":
        headers["Stripe-Signature"] = stripe_sign(secret, body, timestamp)
    elif scheme == "slack":
        headers.update(slack_headers(secret, body, timestamp))
    else:
        headers["X-Shopify-Hmac-Sha256"] = shopify_sign(secret, body)
        headers["X-Shopify-Webhook-Id"] = msg_id
    return headers


def verify_scheme(
    scheme: str,
    secrets: str | Sequence[str],
    headers: Headers,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a delivery with the named scheme (one of :data:`SCHEMES`).

    ``"none"`` checks nothing. Raises what :func:`verify`, :func:`github_verify` or
    :func:`stripe_verify` raise.
    """
    if scheme == "standard":
        verify(secrets, headers, body, tolerance=tolerance, now=now)
    elif scheme == "github":
        github_verify(secrets, headers, body)
    elif scheme == "stripe":
        stripe_verify(secrets, headers, body, tolerance=tolerance, now=now)
    elif scheme == "slack":
        slack_verify(secrets, headers, body, tolerance=tolerance, now=now)
    elif scheme == "shopify":
        shopify_verify(secrets, headers, body)
    else:
        check_scheme(scheme)


def check_secret(scheme: str, secret: object, *, role: str = "verify") -> str:
    """``secret`` if ``scheme`` can use it to ``role`` (``"sign"`` or ``"verify"``), else why not.

    Raises :class:`InvalidKey` or ``TypeError``/``ValueError`` with a sentence a learner can act
    on: a public key cannot sign, a Standard Webhooks secret must be base64, and so on.
    """
    check_scheme(scheme)
    if not isinstance(secret, str):
        raise TypeError(f"a secret is a str, got {type(secret).__name__}")
    if not secret:
        raise ValueError(f"scheme {scheme!r} needs a secret; this one is empty")
    is_key = _ed25519.is_secret_key(secret) or _ed25519.is_public_key(secret)
    if is_key and scheme != "standard":
        raise InvalidKey(f"{secret[:5]} keys are Standard Webhooks' Ed25519 keys, not {scheme}'s")
    if _ed25519.is_public_key(secret):
        if role == "sign":
            raise InvalidKey("a public key (whpk_...) cannot sign; sign with its whsk_ secret key")
        _ed25519._public(secret)
    elif _ed25519.is_secret_key(secret):
        _ed25519._private(secret)
    elif scheme == "standard":
        _standard_key(secret)
    return secret


from webhooks_lab.signing.doctor import REASONS, Diagnosis, diagnose  # noqa: E402  (it reads the above)
