"""The signature doctor names the mistake behind a refused delivery, and never passes a forgery.

Each test signs a real delivery, breaks it the way people break it (a framework re-serialises the
body, the CLI's secret is used, an API key is pasted, hex is sent for base64...) and asks the
doctor why the check refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks_lab import signing
from webhooks_lab.signing import REASONS, diagnose

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD = "whsec_dGhlIHByZXZpb3VzIHNlY3JldCBvZiB0aGUgcm90YXRpb24="
NOW = 1_700_000_000
BODY = json.dumps(
    {"type": "order.paid", "data": {"id": "ord_1", "customer": "Zoë", "total": 12}},
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def standard(secret: str = SECRET, body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return signing.sign_headers(secret, body, msg_id="msg_1", timestamp=timestamp)


def signed(scheme: str, secret: str = SECRET, body: bytes = BODY, timestamp: int = NOW):
    return signing.headers_for(scheme, secret, body, msg_id="msg_1", timestamp=timestamp)


def test_a_genuine_delivery_is_valid_for_every_scheme():
    for scheme in ("standard", "github", "stripe", "slack", "shopify"):
        found = diagnose(SECRET, signed(scheme), BODY, scheme=scheme, now=NOW)
        assert (found.ok, found.reason, found.scheme) == (True, "valid", scheme)


def test_the_scheme_is_read_from_the_headers_when_not_given():
    for scheme in ("standard", "github", "stripe", "slack", "shopify"):
        assert diagnose(SECRET, signed(scheme), BODY, now=NOW).scheme == scheme


@pytest.mark.parametrize(
    ("rewrite", "words"),
    [
        (lambda v: json.dumps(v), 'default separators (", " and ": "), non-ASCII escaped'),
        (lambda v: json.dumps(v, ensure_ascii=False), 'default separators (", " and ": ")'),
        (
            lambda v: json.dumps(v, separators=(",", ":")),
            "compact (no spaces, as JSON.stringify writes it), non-ASCII escaped",
        ),
        (lambda v: json.dumps(v, indent=2, ensure_ascii=False), "indent 2"),
        (lambda v: json.dumps(v, indent=4), "indent 4"),
    ],
)
def test_a_body_parsed_and_serialised_again_is_named_with_how(rewrite, words):
    received = rewrite(json.loads(BODY)).encode()
    assert received != BODY
    found = diagnose(SECRET, standard(), received, now=NOW)
    assert (found.ok, found.reason) == (False, "body_reserialised")
    assert "matches the same JSON written compact" in found.explanation
    assert words in found.explanation.partition("the body checked is written")[2]
    assert "raw" in found.hint


def test_a_body_signed_with_sorted_keys_but_sent_as_written_is_reserialised():
    sorted_body = json.dumps(json.loads(BODY), sort_keys=True, separators=(",", ":")).encode()
    found = diagnose(SECRET, standard(body=sorted_body), BODY, now=NOW)
    assert found.reason == "body_reserialised"
    assert "keys sorted" in found.explanation


def test_a_compact_body_that_was_signed_pretty_is_reserialised_too():
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    found = diagnose(SECRET, signed("github", body=pretty), BODY, scheme="github", now=NOW)
    assert found.reason == "body_reserialised"


def test_signed_with_another_of_the_secrets_says_which():
    found = diagnose([SECRET, OLD], standard(secret=OLD), BODY, now=NOW)
    assert (found.ok, found.reason, found.secret) == (False, "other_secret", 1)
    assert "second" in found.explanation


def test_secrets_the_check_accepts_are_valid_and_named():
    found = diagnose([SECRET, OLD], standard(secret=OLD), BODY, now=NOW, accepted=2)
    assert (found.ok, found.secret) == (True, 1)


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("sk_test_51Hx" + "a" * 20, "API key"),
        ("rk_live_51Hx" + "a" * 20, "API key"),
        ("pk_test_51Hx" + "a" * 20, "publishable"),
        ("shpat_" + "a" * 32, "'whsec_'"),
    ],
)
def test_a_secret_that_is_not_a_signing_secret_is_named(secret, words):
    found = diagnose(secret, signed("stripe"), BODY, scheme="stripe", now=NOW)
    assert (found.ok, found.reason) == (False, "not_a_signing_secret")
    assert words in found.explanation


def test_a_public_key_given_as_an_hmac_secret_is_named():
    _, public = signing.generate_keypair()
    found = diagnose(public, signed("github"), BODY, scheme="github", now=NOW)
    assert found.reason == "not_a_signing_secret"
    assert "public key" in found.explanation


def test_a_standard_secret_used_as_text_is_named():
    content = f"msg_1.{NOW}.".encode() + BODY
    as_text = base64.b64encode(hmac.new(SECRET.encode(), content, hashlib.sha256).digest())
    headers = {**standard(), "webhook-signature": "v1," + as_text.decode()}
    found = diagnose(SECRET, headers, BODY, now=NOW)
    assert (found.ok, found.reason) == (False, "secret_as_text")
    assert "base64" in found.hint


def test_a_stripe_secret_decoded_from_base64_is_named():
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    headers = {"Stripe-Signature": f"t={NOW},v1={digest}"}
    found = diagnose(SECRET, headers, BODY, now=NOW)
    assert (found.scheme, found.reason) == ("stripe", "secret_decoded")


def test_a_stripe_secret_without_its_prefix_is_named():
    found = diagnose(SECRET, signed("stripe", secret=SECRET.removeprefix("whsec_")), BODY, now=NOW)
    assert found.reason == "secret_prefix"


def test_a_stale_timestamp_says_by_how_much_and_that_the_signature_is_genuine():
    found = diagnose(SECRET, standard(timestamp=NOW - 900), BODY, now=NOW)
    assert (found.ok, found.reason) == (False, "timestamp_too_old")
    assert "900 s ago, 600 s beyond the 300 s tolerance" in found.explanation
    assert "genuine" in found.explanation


def test_a_future_timestamp_says_by_how_much():
    found = diagnose(SECRET, signed("slack", timestamp=NOW + 400), BODY, now=NOW)
    assert found.reason == "timestamp_in_future"
    assert "400 s in the future" in found.explanation


def test_a_timestamp_in_milliseconds_is_named():
    found = diagnose(SECRET, standard(timestamp=NOW * 1000), BODY, now=NOW)
    assert found.reason == "timestamp_in_future"
    assert "milliseconds" in found.hint


def test_github_headers_sent_to_a_standard_check_are_another_scheme():
    found = diagnose(SECRET, signed("github"), BODY, scheme="standard", now=NOW)
    assert (found.ok, found.reason) == (False, "other_scheme")
    assert "GitHub" in found.explanation and "genuine" in found.explanation


def test_standard_headers_sent_to_a_stripe_check_are_another_scheme():
    found = diagnose(SECRET, standard(), BODY, scheme="stripe", now=NOW)
    assert found.reason == "other_scheme"


def test_hex_where_base64_was_expected():
    content = f"msg_1.{NOW}.".encode() + BODY
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    hexed = hmac.new(key, content, hashlib.sha256).hexdigest()
    found = diagnose(SECRET, {**standard(), "webhook-signature": "v1," + hexed}, BODY, now=NOW)
    assert (found.ok, found.reason) == (False, "hex_not_base64")
    assert "it matches" in found.explanation


def test_hex_where_shopify_expects_base64():
    hexed = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    found = diagnose(SECRET, {"X-Shopify-Hmac-Sha256": hexed}, BODY, now=NOW)
    assert found.reason == "hex_not_base64"


def test_base64_where_github_expects_hex():
    b64 = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()
    found = diagnose(SECRET, {"X-Hub-Signature-256": "sha256=" + b64}, BODY, now=NOW)
    assert (found.ok, found.reason) == (False, "base64_not_hex")


@pytest.mark.parametrize(
    ("scheme", "header", "strip"),
    [
        ("github", "X-Hub-Signature-256", "sha256="),
        ("standard", "webhook-signature", "v1,"),
        ("slack", "X-Slack-Signature", "v0="),
    ],
)
def test_a_missing_prefix_is_named(scheme, header, strip):
    headers = signed(scheme)
    headers[header] = headers[header].removeprefix(strip)
    found = diagnose(SECRET, headers, BODY, scheme=scheme, now=NOW)
    assert (found.ok, found.reason) == (False, "missing_prefix")
    assert strip in found.explanation and "matches" in found.explanation


def test_a_bare_signature_that_itself_begins_with_v1_is_a_missing_prefix_not_a_broken_header():
    # One base64 signature in 4,096 begins with "v1": this one does (found by search, pinned).
    at = 1_700_006_613
    headers = standard(timestamp=at)
    assert headers["webhook-signature"] == "v1,v19sQJVvkHVVg3/pB2G2kay9dYpPzv3eDHhuFButWew="
    headers["webhook-signature"] = headers["webhook-signature"].removeprefix("v1,")
    found = diagnose(SECRET, headers, BODY, scheme="standard", now=at)
    assert (found.ok, found.reason) == (False, "missing_prefix")
    assert "matches" in found.explanation
    # The slip it could be mistaken for still reads as one: "v1" then the signature, no comma.
    headers["webhook-signature"] = "v1" + headers["webhook-signature"]
    found = diagnose(SECRET, headers, BODY, scheme="standard", now=at)
    assert (found.ok, found.reason) == (False, "missing_prefix")


def test_a_stripe_header_without_its_t_part_is_a_missing_prefix():
    headers = signed("stripe")
    headers["Stripe-Signature"] = headers["Stripe-Signature"].split(",", 1)[1]  # "v1=..."
    found = diagnose(SECRET, headers, BODY, scheme="stripe", now=NOW)
    assert found.reason == "missing_prefix"
    assert "t=" in found.explanation


def test_a_missing_header_is_named():
    headers = standard()
    del headers["webhook-timestamp"]
    found = diagnose(SECRET, headers, BODY, scheme="standard", now=NOW)
    assert (found.ok, found.reason) == (False, "missing_header")
    assert "webhook-timestamp" in found.explanation


def test_no_signature_at_all_is_a_missing_header():
    found = diagnose(SECRET, {"content-type": "application/json"}, BODY, now=NOW)
    assert (found.ok, found.reason) == (False, "missing_header")


def test_an_oversized_signature_header_is_refused_as_such():
    headers = {**standard(), "webhook-signature": "v1," + "A" * 10_000}
    found = diagnose(SECRET, headers, BODY, now=NOW)
    assert found.reason == "oversized_header"


def test_an_ed25519_signature_without_a_public_key_is_named():
    secret_key, _ = signing.generate_keypair()
    found = diagnose(SECRET, standard(secret=secret_key), BODY, now=NOW)
    assert found.reason == "no_key_for_v1a"


def test_only_unknown_versions_are_named():
    headers = {**standard(), "webhook-signature": "v9,abcd"}
    assert diagnose(SECRET, headers, BODY, now=NOW).reason == "unknown_version"


def test_a_tampered_body_is_no_match_and_says_forgery_is_possible():
    found = diagnose(SECRET, standard(), BODY.replace(b"12", b"99"), now=NOW)
    assert (found.ok, found.reason) == (False, "no_match")
    assert "forgery" in found.hint


def test_every_reason_given_is_listed_and_explained():
    assert all(REASONS[code] for code in REASONS)
    assert str(diagnose(SECRET, standard(), b"{}", now=NOW)).startswith("refused (no_match)")


def test_a_body_too_big_is_not_re_serialised():
    big = json.dumps({"pad": "x" * (signing.doctor.MAX_BODY + 1)}).encode()
    found = diagnose(SECRET, standard(body=big), json.dumps(json.loads(big), indent=2), now=NOW)
    assert found.reason == "no_match"


def test_bad_arguments_are_refused_in_words():
    with pytest.raises(TypeError):
        diagnose(b"bytes", standard(), BODY)
    with pytest.raises(ValueError):
        diagnose([], standard(), BODY)
    with pytest.raises(signing.UnknownScheme):
        diagnose(SECRET, standard(), BODY, scheme="md5")


# -- it never calls a refused delivery valid ---------------------------------------------------

_SCHEMES = st.sampled_from(["standard", "github", "stripe", "slack", "shopify"])
_HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["v1,", "sha256=", "t=1,v1=", "v0=", "v1a,AAAA", ""]).map(
        lambda p: p + "a" * 64
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=_SCHEMES,
    body=st.binary(max_size=64) | st.just(BODY),
    skew=st.integers(-1000, 1000),
    damage=st.dictionaries(
        st.sampled_from(
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "X-Hub-Signature-256",
                "Stripe-Signature",
                "X-Slack-Signature",
                "X-Slack-Request-Timestamp",
                "X-Shopify-Hmac-Sha256",
            ]
        ),
        _HEADER_VALUES,
        max_size=2,
    ),
    received=st.none() | st.binary(max_size=64),
    secrets=st.lists(st.sampled_from([SECRET, OLD, "sk_test_x", "whsec_"]), min_size=1, max_size=3),
)
def test_diagnose_is_ok_exactly_when_the_real_check_accepts(
    scheme, body, skew, damage, received, secrets
):
    headers = {**signed(scheme, body=body, timestamp=NOW + skew), **damage}
    arrived = body if received is None else received
    found = diagnose(secrets, headers, arrived, scheme=scheme, now=NOW)
    try:
        signing.verify_scheme(scheme, secrets[:1], headers, arrived, now=NOW)
        real = True
    except (signing.SignatureError, ValueError, TypeError):
        real = False
    assert found.ok == real
    assert found.reason in REASONS


def test_the_doctors_own_examples_hold():
    import doctest

    assert doctest.testmod(signing.doctor).failed == 0
