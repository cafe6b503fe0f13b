"""The signature doctor: when a check says no, which of the usual mistakes was it?

"My signature check fails" is the most-asked webhook question there is, and the causes repeat:
the body was parsed and written out again before checking; the wrong secret (the CLI's, not the
dashboard's; an API key ``sk_...``; the secret's text where its base64 should be decoded); a clock
that is off; hex where base64 was expected; a missing ``sha256=`` / ``v1,`` / ``t=``; the headers
of another provider. A check can only say "no match". :func:`diagnose` runs the real check first
and, only when it fails, re-signs the delivery the ways people break it until one of them matches
what was sent, and says which, in plain words::

    >>> from webhooks_lab import signing
    >>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    >>> body = b'{"type":"ping","data":{"n":1}}'
    >>> headers = signing.sign_headers(secret, body, msg_id="msg_1", timestamp=1614265330)
    >>> import json
    >>> parsed_again = json.dumps(json.loads(body)).encode()   # what a framework hands you
    >>> d = signing.diagnose(secret, headers, parsed_again, now=1614265330)
    >>> d.ok, d.reason
    (False, 'body_reserialised')

The verdict ``ok`` is the real check's, never the doctor's: a delivery is called valid only when
:func:`webhooks_lab.signing.verify_scheme` (constant-time comparisons) accepts it. Everything else
is an explanation of a refusal, and is bounded (a body over :data:`MAX_BODY` is not re-serialised,
at most :data:`MAX_SECRETS` secrets are tried), so diagnosing a forgery costs little.

No I/O, like the rest of :mod:`webhooks_lab.signing`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from webhooks_lab import signing as _s
from webhooks_lab.signing import ed25519 as _ed25519

__all__ = ["Diagnosis", "diagnose", "read_delivery", "MAX_BODY", "MAX_SECRETS", "REASONS"]

MAX_BODY = 1 << 20
"""The largest body the doctor parses and writes out again to look for a re-serialisation."""
MAX_SECRETS = 16
"""The most secrets the doctor tries."""

REASONS: dict[str, str] = {
    "valid": "the signature is genuine",
    "missing_header": "a header the scheme needs is missing",
    "other_scheme": "the headers are another scheme's",
    "malformed_header": "a header is not in the scheme's format",
    "oversized_header": "a signature header is far too long",
    "missing_prefix": "the signature lacks its sha256= / v1, / t= / v0= prefix",
    "hex_not_base64": "the signature is hex where base64 was expected",
    "base64_not_hex": "the signature is base64 where hex was expected",
    "timestamp_too_old": "the timestamp is older than the tolerance",
    "timestamp_in_future": "the timestamp is further ahead than the tolerance",
    "body_reserialised": "the body was parsed and serialised again before the check",
    "other_secret": "it was signed with another of the secrets given",
    "not_a_signing_secret": "the secret is not a webhook signing secret",
    "secret_as_text": "signed with the secret's text where its base64 should be decoded",
    "secret_decoded": "signed with the secret base64-decoded where its text is the key",
    "secret_prefix": "signed with the secret's whsec_ prefix added or left out",
    "unknown_version": "the header carries only signature versions this check does not read",
    "no_key_for_v1a": "an Ed25519 (v1a) signature, but no public key to check it",
    "no_match": "no signature matched, and none of the usual mistakes explains it",
}
"""Every ``reason`` code :func:`diagnose` gives, with a line saying what it means."""

_NAMES = {
    "standard": "Standard Webhooks",
    "github": "GitHub",
    "stripe": "Stripe",
    "slack": "Slack",
    "shopify": "Shopify",
}
# The header that says "this delivery was signed with this scheme", lower case.
_MARKERS = {
    "standard": ("webhook-signature", "svix-signature"),
    "github": ("x-hub-signature-256",),
    "stripe": ("stripe-signature",),
    "slack": ("x-slack-signature",),
    "shopify": ("x-shopify-hmac-sha256",),
}
_WANTS = {
    "standard": "base64",
    "shopify": "base64",
    "github": "hex",
    "stripe": "hex",
    "slack": "hex",
}
_PREFIX = {"standard": "v1,", "github": "sha256=", "stripe": "t=<timestamp>,v1=", "slack": "v0="}
_HEX = frozenset("0123456789abcdefABCDEF")
_RAW_BODY_HINT = (
    "check the raw bytes of the request, before any JSON parsing: in Express use "
    "express.raw(), in Flask request.get_data(), in Starlette await request.body()"
)


@dataclass(frozen=True)
class Diagnosis:
    """What the doctor found: ``ok`` (the real check's verdict), a ``reason`` code (one of
    :data:`REASONS`), a plain-words ``explanation`` and a ``hint`` saying what to do.

    ``scheme`` is the scheme checked; ``secret`` the position (0-based) of the secret concerned
    among those given, when one is.
    """

    ok: bool
    reason: str
    explanation: str
    hint: str = ""
    scheme: str | None = None
    secret: int | None = None

    def __str__(self) -> str:
        verdict = "valid" if self.ok else "refused"
        text = f"{verdict} ({self.reason}): {self.explanation}"
        return f"{text}\nhint: {self.hint}" if self.hint else text

    def as_dict(self) -> dict[str, Any]:
        """The diagnosis as a JSON-ready dict."""
        return asdict(self)


def diagnose(
    secret_or_secrets: str | Iterable[str],
    headers: _s.Headers,
    body: bytes | str,
    *,
    scheme: str | None = None,
    tolerance: int = _s.DEFAULT_TOLERANCE,
    now: float | None = None,
    accepted: int = 1,
) -> Diagnosis:
    """Check a delivery and, if it is refused, say which of the usual mistakes explains it.

    ``secret_or_secrets`` is the secret the check uses, or a list: the first ``accepted`` (one,
    by default) are the ones the check accepts, the rest are others you have (the previous one of
    a rotation, the CLI's, a colleague's) that the doctor tries as explanations. ``scheme`` is one
    of :data:`webhooks_lab.signing.SCHEMES`; without it, the doctor reads it from the headers.
    ``ok`` is ``True`` only when the real check accepts the delivery.
    """
    secrets = _given(secret_or_secrets)
    if now is None:
        now = time.time()
    if not isinstance(accepted, int) or not 1 <= accepted <= max(1, len(secrets)):
        raise ValueError(f"accepted is how many of the secrets the check uses, got {accepted!r}")
    seen = _lower(headers)
    data = _s._as_bytes(body)
    present = [name for name, markers in _MARKERS.items() if any(m in seen for m in markers)]
    if scheme is None:
        if not present:
            return Diagnosis(
                False,
                "missing_header",
                "there is no signature header of any scheme I know ("
                + ", ".join(_marker(name) for name in _MARKERS)
                + ")",
                "sign the delivery, or check with the scheme its sender uses",
            )
        scheme = present[0]
    _s.check_scheme(scheme)
    if scheme == "none":
        return Diagnosis(True, "valid", "this check asks for no signature", scheme="none")
    case = _Case(scheme, secrets, accepted, seen, data, tolerance, now, present)
    return case.run()


# -- reading what was given ------------------------------------------------------------------------


def _given(secret_or_secrets: object) -> list[str]:
    if isinstance(secret_or_secrets, str):
        found: list[Any] = [secret_or_secrets]
    elif secret_or_secrets is None or isinstance(secret_or_secrets, (bytes, bytearray)):
        raise TypeError("give the secret as a str, or a list of them")
    else:
        found = list(secret_or_secrets)[:MAX_SECRETS]  # type: ignore[call-overload]
    if not found:
        raise ValueError("no secret given: pass the secret the check uses")
    for each in found:
        if not isinstance(each, str):
            raise TypeError(f"a secret is a str, got {type(each).__name__}")
    return found


def _lower(headers: _s.Headers) -> dict[str, str]:
    """The headers as ``{lower-case name: first value}``, text only."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for name, value in pairs:  # type: ignore[misc]
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("latin-1")
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("latin-1")
        if isinstance(name, str) and isinstance(value, str) and name.lower() not in out:
            out[name.lower()] = value
    return out


def _marker(scheme: str) -> str:
    return {
        "standard": "webhook-signature",
        "github": "X-Hub-Signature-256",
        "stripe": "Stripe-Signature",
        "slack": "X-Slack-Signature",
        "shopify": "X-Shopify-Hmac-Sha256",
    }[scheme]


def _decodings(value: str) -> list[tuple[bytes, str]]:
    """``value`` read as hex and as base64, whichever it can be: ``[(bytes, "hex"), ...]``."""
    found: list[tuple[bytes, str]] = []
    value = value.strip()
    if not value.isascii() or len(value) > 200:
        return found
    if value and len(value) % 2 == 0 and _HEX.issuperset(value):
        found.append((bytes.fromhex(value), "hex"))
    with contextlib.suppress(binascii.Error, ValueError):
        found.append((base64.b64decode(value + "=" * (-len(value) % 4), validate=True), "base64"))
    return found


def _variants(body: bytes) -> list[tuple[str, bytes]]:
    """The same JSON written the ways frameworks write it, each with a name, minus ``body``.

    Parsing keeps the order of keys, so a body whose keys were sorted cannot be turned back into
    the order that was signed; every other rewrite can.
    """
    if len(body) > MAX_BODY:
        return []
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return []
    out: list[tuple[str, bytes]] = []
    seen = {body}
    for name, text in _writings(parsed):
        if text not in seen:
            seen.add(text)
            out.append((name, text))
    for name, text in (
        ("with a trailing newline removed", body.rstrip(b"\r\n")),
        ("with a trailing newline added", body + b"\n"),
    ):
        if text not in seen:
            seen.add(text)
            out.append((name, text))
    return out


def _writings(parsed: Any) -> Iterable[tuple[str, bytes]]:
    """``parsed`` written as JSON every usual way: compact or spaced or indented, ASCII or not,
    keys as they come or sorted."""
    layouts: list[tuple[str, dict[str, Any]]] = [
        ("compact (no spaces, as JSON.stringify writes it)", {"separators": (",", ":")}),
        ('with Python\'s default separators (", " and ": ")', {}),
        ("pretty-printed (indent 2)", {"indent": 2}),
        ("pretty-printed (indent 4)", {"indent": 4}),
    ]
    for sort_keys in (False, True):
        for ascii_only in (False, True):
            for layout, options in layouts:
                name = layout
                name += ", non-ASCII escaped as \\uXXXX" if ascii_only else ""
                name += ", keys sorted" if sort_keys else ""
                try:
                    text = json.dumps(
                        parsed, ensure_ascii=ascii_only, sort_keys=sort_keys, **options
                    )
                except (ValueError, RecursionError):
                    continue
                yield name, text.encode("utf-8", "surrogatepass")


def _style(body: bytes) -> str | None:
    """How ``body`` is written, if it is one of the usual ways (its name in :func:`_writings`)."""
    if len(body) > MAX_BODY:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return next((name for name, text in _writings(parsed) if text == body), None)


def _ordinal(index: int) -> str:
    return {0: "first", 1: "second", 2: "third", 3: "fourth"}.get(index, f"#{index + 1}")


# -- the examination -------------------------------------------------------------------------------


class _Case:
    """One delivery under examination: the scheme's parts read once, the slips tried in turn."""

    def __init__(
        self,
        scheme: str,
        secrets: list[str],
        accepted: int,
        seen: dict[str, str],
        body: bytes,
        tolerance: int,
        now: float,
        present: list[str],
    ) -> None:
        self.scheme, self.secrets, self.accepted = scheme, secrets, accepted
        self.seen, self.body, self.tolerance, self.now = seen, body, tolerance, now
        self.present = present
        self.name = _NAMES[scheme]

    def say(
        self, reason: str, explanation: str, hint: str = "", secret: int | None = None
    ) -> Diagnosis:
        return Diagnosis(False, reason, explanation, hint, self.scheme, secret)

    def check(self, secrets: Sequence[str], body: bytes, tolerance: int | None = None) -> bool:
        """The real check, as the receiver runs it."""
        try:
            _s.verify_scheme(
                self.scheme,
                list(secrets),
                self.seen,
                body,
                tolerance=self.tolerance if tolerance is None else tolerance,
                now=self.now,
            )
        except (_s.SignatureError, ValueError, TypeError):
            return False
        return True

    def run(self) -> Diagnosis:
        mine = self.secrets[: self.accepted]
        bad = self.unusable(mine)
        try:
            _s.verify_scheme(
                self.scheme, mine, self.seen, self.body, tolerance=self.tolerance, now=self.now
            )
        except _s.SignatureError as exc:
            return bad or self.explain(exc)
        except (ValueError, TypeError) as exc:  # a secret the scheme cannot use at all
            return bad or self.say("not_a_signing_secret", str(exc), "use the endpoint's secret")
        index = next((i for i, s in enumerate(mine) if self.check([s], self.body)), 0)
        which = f" with the {_ordinal(index)} secret" if len(mine) > 1 else ""
        return Diagnosis(
            True, "valid", f"a genuine {self.name} delivery, signed{which}", "", self.scheme, index
        )

    # -- the secret itself

    def unusable(self, secrets: Sequence[str]) -> Diagnosis | None:
        """A secret that cannot be what signs webhooks: an API key, a public key, a PEM..."""
        for index, secret in enumerate(secrets):
            words = None
            if secret.startswith(("sk_", "rk_")):
                words = (
                    f"the secret starts with {secret[:3]!r}: that is an API key (Stripe's secret "
                    "or restricted key), which calls the API; webhooks are signed with the "
                    "endpoint's signing secret, 'whsec_...'"
                )
            elif secret.startswith("pk_"):
                words = "the secret starts with 'pk_': that is a publishable API key"
            elif secret.lstrip().startswith("-----BEGIN"):
                words = "the secret is a PEM key, not a webhook signing secret"
            elif _ed25519.is_public_key(secret) and self.scheme != "standard":
                words = f"a whpk_ key is a Standard Webhooks public key; {self.name} uses HMAC"
            elif _ed25519.is_secret_key(secret) and self.scheme != "standard":
                words = f"a whsk_ key is a Standard Webhooks secret key; {self.name} uses HMAC"
            elif self.scheme in ("standard", "stripe") and not secret.startswith(
                ("whsec_", "whsk_", "whpk_")
            ):
                prefix = secret.partition("_")[0] + "_" if "_" in secret[:12] else ""
                if prefix:
                    words = (
                        f"the secret starts with {prefix!r}; {self.name} signing secrets "
                        "start with 'whsec_'"
                    )
            if words:
                where = f"the {_ordinal(index)} secret: " if len(secrets) > 1 else ""
                return self.say(
                    "not_a_signing_secret",
                    where + words,
                    "copy the signing secret from the endpoint's settings (the dashboard, or "
                    "what the CLI printed when it started forwarding)",
                    index,
                )
        return None

    # -- from the real check's refusal to its cause

    def explain(self, exc: _s.SignatureError) -> Diagnosis:
        if isinstance(exc, _s.MissingHeader):
            return self.missing(exc)
        if isinstance(exc, _s.MalformedHeader):
            return self.malformed(exc)
        if isinstance(exc, (_s.StaleTimestamp, _s.FutureTimestamp)):
            return self.timing(exc)
        return self.no_match(exc)

    def missing(self, exc: _s.SignatureError) -> Diagnosis:
        others = [name for name in self.present if name != self.scheme]
        if others:
            other = others[0]
            try:
                _s.verify_scheme(other, self.secrets, self.seen, self.body, now=self.now)
                genuine = f"; it is a genuine {_NAMES[other]} delivery with the secret given"
            except (_s.SignatureError, ValueError, TypeError):
                genuine = ""
            return self.say(
                "other_scheme",
                f"these are {_NAMES[other]}'s headers ({_marker(other)}), but the check expects "
                f"{self.name}'s ({exc.header or _marker(self.scheme)} missing){genuine}",
                f"check it with scheme={other!r}, or have the sender sign with {self.scheme!r}",
            )
        return self.say(
            "missing_header",
            f"{exc}: a {self.name} delivery carries it",
            "is a proxy dropping headers, or is the sender not signing at all?",
        )

    def malformed(self, exc: _s.SignatureError) -> Diagnosis:
        value = self.seen.get((exc.header or "").lower(), "")
        if len(value) > _s.MAX_SIGNATURE_CHARS:
            return self.say("oversized_header", str(exc), "a genuine header is a few hundred bytes")
        slip = self.prefix_slip(value, exc.header or "")
        if slip:
            return slip
        return self.say("malformed_header", str(exc), "compare the header with the scheme's format")

    def prefix_slip(self, value: str, header: str) -> Diagnosis | None:
        """A signature sent bare (no ``v1,`` / ``sha256=`` / ``t=``), or in the other encoding."""
        if header.lower() not in _MARKERS.get(self.scheme, ()):
            return None
        bare, had_prefix = self.strip_prefix(value)
        decoded = _decodings(bare)
        if not decoded:
            return None
        matched, encoding = self.raw_match(bare)
        wanted = _WANTS[self.scheme]
        encodings = {enc for _, enc in decoded}
        got = encoding if matched else next(iter(encodings)) if wanted not in encodings else None
        if got is not None and got != wanted:
            verdict = " (decoded, it matches)" if matched else ""
            return self.say(
                f"{got}_not_{wanted}",
                f"{header} holds the signature in {got}{verdict}; {self.name} sends {wanted}",
                f"encode the HMAC digest as {wanted}"
                + (" (digest.hex())" if wanted == "hex" else " (base64.b64encode(digest))"),
            )
        if not had_prefix:
            prefix = _PREFIX[self.scheme]
            verdict = "; with it, the signature matches" if matched else ""
            return self.say(
                "missing_prefix",
                f"{header} is a bare signature, without the {prefix!r} the scheme puts in "
                f"front{verdict}",
                f"send {header}: {prefix}<signature>",
            )
        return None

    def strip_prefix(self, value: str) -> tuple[str, bool]:
        """The signature as sent without the scheme's own prefix, and whether it had one."""
        value = value.strip()
        if self.scheme == "standard":
            entries = [entry.partition(",") for entry in value.split()]
            for version, comma, sig in entries:
                if version == "v1" and comma:
                    return sig, True
            if entries and entries[0][1]:
                return entries[0][2], True
            # "v1=<sig>" or "v1<sig>", the comma left out; but one base64 signature in 4,096
            # begins with "v1" itself, so a value that is the signature as it stands is kept whole.
            stripped = value.removeprefix("v1=").removeprefix("v1")
            return (value if stripped != value and self.raw_match(value)[0] else stripped), False
        if self.scheme == "stripe":
            items = [item.strip().partition("=") for item in value.split(",")]
            stamped = any(key == "t" and eq for key, eq, _ in items)
            for key, eq, part in items:
                if key == "v1" and eq:
                    return part, stamped
            return value, False
        if self.scheme == "shopify":
            return value.removeprefix("sha256="), True  # Shopify sends no prefix
        prefix = _PREFIX[self.scheme]
        return (value[len(prefix) :], True) if value.startswith(prefix) else (value, False)

    def timing(self, exc: _s.SignatureError) -> Diagnosis:
        stamp = self.timestamp()
        genuine = stamp is not None and self.check(self.secrets[: self.accepted], self.body, 10**12)
        sig = (
            "the signature itself is genuine"
            if genuine
            else "(and the signature does not match either)"
        )
        if isinstance(exc, _s.StaleTimestamp):
            age = self.now - (stamp or 0)
            return self.say(
                "timestamp_too_old",
                f"the delivery was signed {age:.0f} s ago, {age - self.tolerance:.0f} s beyond "
                f"the {self.tolerance} s tolerance; {sig}",
                "a replay of an old delivery, a sender whose clock is behind, or a retry "
                "that kept its first timestamp: a sender signs each attempt afresh",
            )
        ahead = (stamp or 0) - self.now
        millis = stamp is not None and stamp > 100 * self.now
        return self.say(
            "timestamp_in_future",
            f"the timestamp is {ahead:.0f} s in the future, {ahead - self.tolerance:.0f} s beyond "
            f"the {self.tolerance} s tolerance; {sig}",
            "it is in milliseconds: send whole seconds, int(time.time())"
            if millis
            else "is the sender's clock (or ours) wrong? synchronise it with NTP",
        )

    def no_match(self, exc: _s.SignatureError) -> Diagnosis:
        if "found versions" in str(exc) or "found:" in str(exc):
            return self.versions(exc)
        mine = self.secrets[: self.accepted]
        for index in range(self.accepted, len(self.secrets)):
            if self.check([self.secrets[index]], self.body):
                return self.say(
                    "other_secret",
                    f"it was signed with the {_ordinal(index)} secret you gave, not with the one "
                    "the check uses" + (" (the previous one of a rotation?)" if index == 1 else ""),
                    "use the secret of this endpoint (the CLI and the dashboard give different "
                    "ones), or accept both while a rotation lasts",
                    index,
                )
        for name, text in _variants(self.body):
            for index, secret in enumerate(self.secrets):
                if self.check([secret], text):
                    which = "" if index == 0 else f" (signed with the {_ordinal(index)} secret)"
                    style = _style(self.body)
                    checked = f"; the body checked is written {style}" if style else ""
                    return self.say(
                        "body_reserialised",
                        "the signature matches the same JSON written "
                        f"{name}{which}{checked}: the body was parsed and serialised again "
                        "before the check, so its bytes are not the ones that were signed",
                        _RAW_BODY_HINT,
                        index,
                    )
        slip = self.key_slip(mine)
        if slip:
            return slip
        value = self.seen.get((exc.header or "").lower(), "")
        slip = self.prefix_slip(value, exc.header or "")
        if slip:
            return slip
        return self.say(
            "no_match",
            f"{exc}. None of the usual mistakes (a re-serialised body, another of your secrets, "
            "the secret's text or its base64, hex for base64) explains it",
            "was the body changed on the way (a proxy, a charset conversion), or was it signed "
            "with a secret you did not give? Otherwise treat it as a forgery",
        )

    def versions(self, exc: _s.SignatureError) -> Diagnosis:
        value = self.seen.get((exc.header or "").lower(), "")
        has_v1a = any(entry.startswith("v1a,") for entry in value.split())
        if self.scheme == "standard" and has_v1a:
            keys = [s for s in self.secrets if s.startswith(("whpk_", "whsk_"))]
            if not keys:
                return self.say(
                    "no_key_for_v1a",
                    f"{exc}: the sender signs with Ed25519 (v1a), and a v1a signature is checked "
                    "with the sender's public key, which was not given",
                    "add the sender's whpk_ public key to the secrets the endpoint accepts",
                )
        return self.say(
            "unknown_version",
            str(exc),
            "upgrade the check, or ask the sender to send a version it reads as well",
        )

    # -- signatures compared byte for byte, whatever their encoding

    def timestamp(self) -> int | None:
        text = self.timestamp_text()
        return int(text) if text and text.isascii() and text.isdigit() and len(text) < 19 else None

    def timestamp_text(self) -> str | None:
        if self.scheme == "standard":
            return self.seen.get("webhook-timestamp") or self.seen.get("svix-timestamp")
        if self.scheme == "slack":
            return self.seen.get("x-slack-request-timestamp")
        if self.scheme == "stripe":
            for item in self.seen.get("stripe-signature", "").split(","):
                key, _, part = item.strip().partition("=")
                if key == "t":
                    return part
        return None

    def content(self, body: bytes) -> bytes | None:
        """What the scheme signs for this delivery, or ``None`` if its parts are missing."""
        if self.scheme in ("github", "shopify"):
            return body
        stamp = self.timestamp_text()
        if not stamp:
            return None
        if self.scheme == "standard":
            msg_id = self.seen.get("webhook-id") or self.seen.get("svix-id")
            return f"{msg_id}.{stamp}.".encode("utf-8", "replace") + body if msg_id else None
        if self.scheme == "slack":
            return f"v0:{stamp}:".encode() + body
        return f"{stamp}.".encode() + body

    def key(self, secret: str) -> bytes | None:
        if self.scheme == "standard":
            try:
                return _s._standard_key(secret)
            except (ValueError, TypeError):
                return None
        return secret.encode("utf-8")

    def raw_match(self, value: str, keys: Iterable[bytes] | None = None) -> tuple[bool, str | None]:
        """Whether ``value`` (hex or base64) is the HMAC under a key; and its encoding then."""
        content = self.content(self.body)
        if content is None:
            return False, None
        if keys is None:
            keys = [k for k in map(self.key, self.secrets[: self.accepted]) if k is not None]
        decoded = _decodings(value)
        for key in keys:
            digest = hmac.new(key, content, hashlib.sha256).digest()
            for raw, encoding in decoded:
                if hmac.compare_digest(digest, raw):
                    return True, encoding
        return False, None

    def key_slip(self, secrets: Sequence[str]) -> Diagnosis | None:
        """Signed with the secret's text where it should be decoded, or the reverse."""
        value = self.strip_prefix(self.seen.get(_marker(self.scheme).lower(), ""))[0]
        for index, secret in enumerate(secrets):
            slips: list[tuple[str, str, str, bytes]] = []
            if self.scheme == "standard":
                slips.append(
                    (
                        "secret_as_text",
                        "the signature was made with the secret's text as the HMAC key; "
                        "Standard Webhooks decodes the base64 after 'whsec_' and keys with those "
                        "bytes",
                        "key = base64.b64decode(secret.removeprefix('whsec_'))",
                        secret.encode(),
                    )
                )
                rest = secret.removeprefix("whsec_")
                slips.append(
                    (
                        "secret_as_text",
                        "the signature was made with the secret's text (without 'whsec_') as the "
                        "key; Standard Webhooks decodes that base64 and keys with the bytes",
                        "key = base64.b64decode(secret.removeprefix('whsec_'))",
                        rest.encode(),
                    )
                )
            else:
                decoded = _s._standard_key(secret) if self.decodable(secret) else None
                if decoded is not None:
                    slips.append(
                        (
                            "secret_decoded",
                            f"the signature was made with the secret base64-decoded (as Standard "
                            f"Webhooks does); {self.name} keys the HMAC with the secret's text",
                            "key = secret.encode()",
                            decoded,
                        )
                    )
                if self.scheme == "stripe":
                    other = (
                        secret.removeprefix("whsec_")
                        if secret.startswith("whsec_")
                        else "whsec_" + secret
                    )
                    said = "left out" if secret.startswith("whsec_") else "added"
                    slips.append(
                        (
                            "secret_prefix",
                            f"the signature was made with the secret's 'whsec_' prefix {said}; "
                            "Stripe keys with the whole secret, 'whsec_' included",
                            "use the secret exactly as the dashboard shows it",
                            other.encode(),
                        )
                    )
            for reason, words, hint, key in slips:
                if self.raw_match(value, [key])[0]:
                    return self.say(reason, words, hint, index)
        return None

    @staticmethod
    def decodable(secret: str) -> bool:
        try:
            _s._standard_key(secret)
        except (ValueError, TypeError):
            return False
        return True


# -- deliveries saved to files ---------------------------------------------------------------------

MAX_FILE = 8 << 20
"""The largest fixture, headers or body file the doctor reads."""


def read_delivery(
    data: bytes, *, headers: bytes | None = None
) -> tuple[dict[str, str], bytes, float | None]:
    """``(headers, body, checked_at)`` from a saved delivery.

    Without ``headers``, ``data`` is a JSON fixture as the inbox page downloads it (``headers``,
    ``body`` or ``body_base64``, and ``checked_at``, the wall time the receiver checked it, when
    it refused it). With ``headers``, ``data`` is the raw body and ``headers`` a JSON object or
    ``Name: value`` lines (as ``curl -D`` writes them; a status line is skipped). ``checked_at``
    is ``None`` when the file does not say. Raises ``ValueError`` saying what is wrong.
    """
    if len(data) > MAX_FILE or (headers is not None and len(headers) > MAX_FILE):
        raise ValueError(f"the file is larger than {MAX_FILE >> 20} MiB; is it a delivery?")
    if headers is not None:
        return _header_file(headers), data, None
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        raise ValueError("the fixture is not JSON: download it from the inbox page") from None
    if not isinstance(record, dict) or not isinstance(record.get("headers"), dict):
        raise ValueError("the fixture has no 'headers' object: is it an inbox page download?")
    found = {str(k): str(v) for k, v in record["headers"].items()}
    if isinstance(record.get("body_base64"), str):
        try:
            body = base64.b64decode(record["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the fixture's body_base64 is not base64") from None
    elif isinstance(record.get("body"), str):
        body = record["body"].encode("utf-8", "surrogatepass")
    else:
        raise ValueError("the fixture has no 'body' text")
    checked_at = record.get("checked_at")
    valid_time = isinstance(checked_at, (int, float)) and not isinstance(checked_at, bool)
    return found, body, float(checked_at) if valid_time else None


def _header_file(data: bytes) -> dict[str, str]:
    text = data.decode("latin-1")
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("the headers file starts like JSON but is not") from None
        if not isinstance(parsed, dict):
            raise ValueError("the headers file should be a JSON object of name: value")
        return {str(k): str(v) for k, v in parsed.items()}
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("HTTP/"):
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"not a 'Name: value' header line: {line[:60]!r}")
        found.setdefault(name.strip(), value.strip())
    if not found:
        raise ValueError("the headers file holds no headers")
    return found
