"""Signing and verifying webhooks: what ``webhooks_lab.signing`` promises, test by test."""

from __future__ import annotations

import base64
import doctest
import time
from datetime import datetime, timezone

import pytest
import stripe
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks_lab import signing
from webhooks_lab.signing import (
    SCHEMES,
    FutureTimestamp,
    MalformedHeader,
    MissingHeader,
    NoMatchingSignature,
    SignatureError,
    StaleTimestamp,
    generate_secret,
    github_sign,
    github_verify,
    headers_for,
    sign,
    sign_headers,
    stripe_headers,
    stripe_sign,
    stripe_verify,
    verify,
    verify_scheme,
)

# The published Standard Webhooks test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# The published GitHub test vector.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

STRIPE_SECRET = "whsec_test_secret_for_stripe"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

FAST = settings(max_examples=200, deadline=None)


def vector_headers() -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
    }


def raised(call, *args, **kwargs) -> SignatureError:
    """The SignatureError that ``call`` raises (the test fails if it raises nothing)."""
    with pytest.raises(SignatureError) as info:
        call(*args, **kwargs)
    return info.value


# -- secrets ---------------------------------------------------------------------------------------


def test_generate_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_generate_secret_takes_the_number_of_bytes():
    assert len(base64.b64decode(generate_secret(24)[6:])) == 24
    assert len(base64.b64decode(generate_secret(64)[6:])) == 64


@pytest.mark.parametrize("nbytes", [0, 23, 65])
def test_generate_secret_refuses_sizes_outside_24_to_64_bytes(nbytes):
    with pytest.raises(ValueError, match="24 to 64"):
        generate_secret(nbytes)


def test_generate_secret_never_repeats():
    assert len({generate_secret() for _ in range(100)}) == 100


def test_a_generated_secret_signs_and_verifies():
    secret = generate_secret()
    headers = sign_headers(secret, BODY)
    verify(secret, headers, BODY)


# -- Standard Webhooks: signing --------------------------------------------------------------------


def test_sign_reproduces_the_published_standard_webhooks_vector():
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_sign_accepts_the_body_as_text():
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY.decode()) == SIGNATURE


def test_sign_accepts_the_secret_without_its_whsec_prefix():
    assert sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_sign_accepts_the_secret_with_or_without_base64_padding():
    padded = "whsec_" + base64.b64encode(b"k" * 32).decode()  # 32 bytes -> one "="
    assert padded.endswith("=")
    unpadded = padded.rstrip("=")
    assert sign(padded, MSG_ID, TIMESTAMP, BODY) == sign(unpadded, MSG_ID, TIMESTAMP, BODY)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_abcde", "whsec_ümlaut"])
def test_sign_refuses_a_secret_that_is_not_base64(secret):
    with pytest.raises(ValueError, match="not valid base64"):
        sign(secret, MSG_ID, TIMESTAMP, BODY)


def test_sign_refuses_an_empty_secret():
    with pytest.raises(ValueError, match="empty"):
        sign("whsec_", MSG_ID, TIMESTAMP, BODY)


def test_sign_refuses_a_body_that_is_not_bytes_or_text():
    with pytest.raises(TypeError, match="raw bytes"):
        sign(SECRET, MSG_ID, TIMESTAMP, {"test": 2432232314})  # type: ignore[arg-type]


def test_sign_refuses_a_timestamp_that_is_not_whole_seconds():
    with pytest.raises(TypeError, match="int"):
        sign(SECRET, MSG_ID, 1614265330.5, BODY)  # type: ignore[arg-type]


def test_sign_headers_gives_the_three_standard_headers():
    headers = sign_headers(SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == vector_headers()


def test_sign_headers_makes_up_a_fresh_id_and_uses_the_current_time():
    before = int(time.time())
    first = sign_headers(SECRET, BODY)
    second = sign_headers(SECRET, BODY)
    assert first["webhook-id"].startswith("msg_")
    assert first["webhook-id"] != second["webhook-id"]
    assert before <= int(first["webhook-timestamp"]) <= int(time.time())


# -- Standard Webhooks: verifying ------------------------------------------------------------------


def test_verify_accepts_the_published_vector():
    assert verify(SECRET, vector_headers(), BODY, now=TIMESTAMP) is None


def test_verify_accepts_the_body_as_text():
    verify(SECRET, vector_headers(), BODY.decode(), now=TIMESTAMP)


def test_verify_reads_header_names_in_any_case():
    headers = {
        "Webhook-Id": MSG_ID,
        "WEBHOOK-TIMESTAMP": str(TIMESTAMP),
        "webhook-Signature": SIGNATURE,
    }
    verify(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_reads_headers_given_as_name_value_pairs():
    verify(SECRET, list(vector_headers().items()), BODY, now=TIMESTAMP)


def test_verify_reads_raw_asgi_headers_as_byte_pairs():
    raw = [(name.encode(), value.encode()) for name, value in vector_headers().items()]
    verify(SECRET, raw, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_names_a_missing_header(name):
    headers = vector_headers()
    del headers[name]
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, MissingHeader)
    assert error.code == "missing_header"
    assert str(error) == f"missing header {name!r}"
    assert error.header == name


def test_verify_names_every_missing_header_when_there_are_none():
    error = raised(verify, SECRET, {}, BODY, now=TIMESTAMP)
    assert isinstance(error, MissingHeader)
    assert str(error) == "missing headers 'webhook-id', 'webhook-timestamp', 'webhook-signature'"


def test_verify_treats_an_empty_header_as_missing():
    error = raised(verify, SECRET, {**vector_headers(), "webhook-id": ""}, BODY, now=TIMESTAMP)
    assert isinstance(error, MissingHeader)
    assert "webhook-id" in str(error)


@pytest.mark.parametrize("value", ["g0hM9SsE", "v1", "v1,", ",abc", "   "])
def test_verify_rejects_a_signature_header_without_version_comma_signature(value):
    headers = {**vector_headers(), "webhook-signature": value}
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, MalformedHeader)
    assert error.code == "malformed_header"
    assert "'v1,<base64>'" in str(error)


@pytest.mark.parametrize(
    "timestamp", ["soon", "1614265330.5", "-1614265330", "+1614265330", " 1614265330", "1e9", "١٦"]
)
def test_verify_rejects_a_timestamp_that_is_not_an_integer(timestamp):
    headers = {**vector_headers(), "webhook-timestamp": timestamp}
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, MalformedHeader)
    assert "webhook-timestamp" in str(error)
    assert "whole seconds" in str(error)


def test_verify_rejects_a_stale_timestamp_as_a_possible_replay():
    error = raised(verify, SECRET, vector_headers(), BODY, now=TIMESTAMP + 812)
    assert isinstance(error, StaleTimestamp)
    assert error.code == "stale_timestamp"
    assert str(error) == (
        "timestamp 1614265330 is 812 s old; the tolerance is 300 s (a replayed message?)"
    )


def test_verify_rejects_a_timestamp_from_the_future():
    error = raised(verify, SECRET, vector_headers(), BODY, now=TIMESTAMP - 812)
    assert isinstance(error, FutureTimestamp)
    assert error.code == "future_timestamp"
    assert "812 s in the future; the tolerance is 300 s" in str(error)


def test_verify_hints_when_a_timestamp_looks_like_milliseconds():
    millis = TIMESTAMP * 1000
    headers = sign_headers(SECRET, BODY, msg_id=MSG_ID, timestamp=millis)
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, FutureTimestamp)
    assert "milliseconds" in str(error)


def test_verify_accepts_timestamps_exactly_at_the_tolerance_either_side():
    verify(SECRET, vector_headers(), BODY, now=TIMESTAMP + 300)
    verify(SECRET, vector_headers(), BODY, now=TIMESTAMP - 300)


def test_verify_uses_the_tolerance_it_is_given():
    verify(SECRET, vector_headers(), BODY, now=TIMESTAMP + 812, tolerance=900)
    error = raised(verify, SECRET, vector_headers(), BODY, now=TIMESTAMP + 20, tolerance=10)
    assert isinstance(error, StaleTimestamp)


def test_verify_uses_the_current_time_by_default():
    error = raised(verify, SECRET, vector_headers(), BODY)  # the vector is from 2021
    assert isinstance(error, StaleTimestamp)


def test_verify_rejects_a_tampered_body():
    error = raised(verify, SECRET, vector_headers(), b'{"test": 2432232315}', now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)
    assert error.code == "no_matching_signature"
    assert str(error) == (
        "no signature matched: the body, id or timestamp was changed, or the secret is wrong"
    )


def test_verify_rejects_a_changed_id():
    headers = {**vector_headers(), "webhook-id": "msg_someone_else"}
    assert isinstance(raised(verify, SECRET, headers, BODY, now=TIMESTAMP), NoMatchingSignature)


def test_verify_rejects_a_changed_timestamp_even_within_the_tolerance():
    headers = {**vector_headers(), "webhook-timestamp": str(TIMESTAMP + 1)}
    assert isinstance(raised(verify, SECRET, headers, BODY, now=TIMESTAMP), NoMatchingSignature)


def test_verify_rejects_the_wrong_secret():
    error = raised(verify, OTHER_SECRET, vector_headers(), BODY, now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)


def test_verify_accepts_any_of_several_signatures_during_a_rotation():
    old = sign(OTHER_SECRET, MSG_ID, TIMESTAMP, BODY)
    headers = {**vector_headers(), "webhook-signature": f"{old} {SIGNATURE}"}
    verify(SECRET, headers, BODY, now=TIMESTAMP)
    verify(OTHER_SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_accepts_a_message_signed_by_any_of_several_secrets():
    verify([OTHER_SECRET, SECRET], vector_headers(), BODY, now=TIMESTAMP)
    verify((SECRET, OTHER_SECRET), vector_headers(), BODY, now=TIMESTAMP)


def test_verify_rejects_a_message_none_of_several_secrets_signed():
    error = raised(verify, [OTHER_SECRET, generate_secret()], vector_headers(), BODY, now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)


def test_verify_refuses_an_empty_list_of_secrets():
    with pytest.raises(ValueError, match="no secret"):
        verify([], vector_headers(), BODY, now=TIMESTAMP)


def test_verify_skips_signatures_of_unknown_versions():
    headers = {**vector_headers(), "webhook-signature": f"v1a,bm90IGEgdjEgc2lnbmF0dXJl {SIGNATURE}"}
    verify(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_with_only_unknown_versions_finds_no_matching_signature():
    headers = {**vector_headers(), "webhook-signature": "v1a," + SIGNATURE[3:]}
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)
    assert "no v1 signature" in str(error)
    assert "'v1a'" in str(error)


def test_verify_compares_the_signature_text_exactly():
    for changed in (SIGNATURE.rstrip("="), SIGNATURE[:10] + "!" + SIGNATURE[10:]):
        headers = {**vector_headers(), "webhook-signature": changed}
        assert isinstance(raised(verify, SECRET, headers, BODY, now=TIMESTAMP), NoMatchingSignature)


def test_verify_accepts_svix_header_names():
    headers = {
        "svix-id": MSG_ID,
        "svix-timestamp": str(TIMESTAMP),
        "svix-signature": SIGNATURE,
    }
    verify(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_names_svix_headers_in_errors_about_them():
    headers = {"svix-id": MSG_ID, "svix-timestamp": "soon", "svix-signature": SIGNATURE}
    error = raised(verify, SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(error, MalformedHeader)
    assert "svix-timestamp" in str(error)


def test_verify_prefers_webhook_headers_over_svix_headers():
    headers = {**vector_headers(), "svix-id": "msg_other", "svix-signature": "v1,AAAA"}
    verify(SECRET, headers, BODY, now=TIMESTAMP)


def test_verify_keeps_hostile_header_values_out_of_long_messages():
    headers = {**vector_headers(), "webhook-timestamp": "x" * 10_000}
    assert len(str(raised(verify, SECRET, headers, BODY, now=TIMESTAMP))) < 200


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "code"),
    [
        (MissingHeader, "missing_header"),
        (MalformedHeader, "malformed_header"),
        (StaleTimestamp, "stale_timestamp"),
        (FutureTimestamp, "future_timestamp"),
        (NoMatchingSignature, "no_matching_signature"),
    ],
)
def test_every_signature_error_is_a_value_error_with_a_code(error_class, code):
    error = error_class("what went wrong", "webhook-id")
    assert isinstance(error, SignatureError)
    assert isinstance(error, ValueError)
    assert error.code == code
    assert str(error) == "what went wrong"
    assert error.as_dict() == {"error": code, "message": "what went wrong"}


# -- GitHub ----------------------------------------------------------------------------------------


def test_github_sign_reproduces_the_published_vector():
    assert github_sign(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE
    assert github_sign(GITHUB_SECRET, GITHUB_BODY.decode()) == GITHUB_SIGNATURE


def test_github_verify_accepts_the_published_vector_in_any_header_case():
    github_verify(GITHUB_SECRET, {"X-Hub-Signature-256": GITHUB_SIGNATURE}, GITHUB_BODY)
    github_verify(GITHUB_SECRET, {"x-hub-signature-256": GITHUB_SIGNATURE}, GITHUB_BODY)
    github_verify(GITHUB_SECRET, [(b"x-hub-signature-256", GITHUB_SIGNATURE.encode())], GITHUB_BODY)


def test_github_verify_names_a_missing_header():
    error = raised(github_verify, GITHUB_SECRET, {"X-Hub-Signature": "sha1=abc"}, GITHUB_BODY)
    assert isinstance(error, MissingHeader)
    assert str(error) == "missing header 'X-Hub-Signature-256'"


@pytest.mark.parametrize(
    "value", ["757107ea0eb2509fc2", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d", "sha256=zz"]
)
def test_github_verify_rejects_a_malformed_header(value):
    error = raised(github_verify, GITHUB_SECRET, {"X-Hub-Signature-256": value}, GITHUB_BODY)
    assert isinstance(error, MalformedHeader)
    assert "sha256=<64 hex digits>" in str(error)


def test_github_verify_rejects_a_tampered_body():
    headers = {"X-Hub-Signature-256": GITHUB_SIGNATURE}
    error = raised(github_verify, GITHUB_SECRET, headers, b"Hello, World?")
    assert isinstance(error, NoMatchingSignature)


def test_github_verify_rejects_the_wrong_secret():
    headers = {"X-Hub-Signature-256": GITHUB_SIGNATURE}
    assert isinstance(raised(github_verify, "guess", headers, GITHUB_BODY), NoMatchingSignature)


def test_github_verify_accepts_any_of_several_secrets():
    github_verify(["old", GITHUB_SECRET], {"X-Hub-Signature-256": GITHUB_SIGNATURE}, GITHUB_BODY)


def test_github_verify_ignores_the_case_of_the_hex_digits():
    headers = {"X-Hub-Signature-256": "sha256=" + GITHUB_SIGNATURE[7:].upper()}
    github_verify(GITHUB_SECRET, headers, GITHUB_BODY)


# -- Stripe ----------------------------------------------------------------------------------------


def test_stripe_sign_gives_t_and_v1_over_timestamp_dot_body_keyed_by_the_secret_text():
    import hashlib
    import hmac

    expected = hmac.new(STRIPE_SECRET.encode(), b"1614265330." + BODY, hashlib.sha256).hexdigest()
    assert stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP) == f"t=1614265330,v1={expected}"


def test_stripe_headers_default_to_the_current_time():
    before = int(time.time())
    header = stripe_headers(STRIPE_SECRET, BODY)["Stripe-Signature"]
    assert before <= int(header.split(",")[0].removeprefix("t=")) <= int(time.time())


def test_stripe_verify_accepts_its_own_signature_in_any_header_case():
    header = stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP)
    stripe_verify(STRIPE_SECRET, {"Stripe-Signature": header}, BODY, now=TIMESTAMP)
    stripe_verify(STRIPE_SECRET, {"stripe-signature": header}, BODY, now=TIMESTAMP)


def test_stripe_verify_accepts_any_of_several_v1_signatures_and_ignores_v0():
    ours = stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP).split(",")[1]
    other = stripe_sign(OTHER_SECRET, BODY, TIMESTAMP).split(",")[1]
    header = f"t={TIMESTAMP},v0=deadbeef,{other},{ours}"
    stripe_verify(STRIPE_SECRET, {"Stripe-Signature": header}, BODY, now=TIMESTAMP)
    stripe_verify([STRIPE_SECRET, OTHER_SECRET], {"Stripe-Signature": header}, BODY, now=TIMESTAMP)


def test_stripe_verify_with_only_v0_signatures_finds_no_matching_signature():
    header = f"t={TIMESTAMP},v0=deadbeef"
    error = raised(stripe_verify, STRIPE_SECRET, {"Stripe-Signature": header}, BODY, now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)
    assert "'v0'" in str(error)


def test_stripe_verify_names_a_missing_header():
    error = raised(stripe_verify, STRIPE_SECRET, {}, BODY, now=TIMESTAMP)
    assert isinstance(error, MissingHeader)
    assert str(error) == "missing header 'Stripe-Signature'"


@pytest.mark.parametrize("header", ["v1=abc", "garbage", "t=soon,v1=abc", "t=-5,v1=abc"])
def test_stripe_verify_rejects_a_header_without_an_integer_t(header):
    error = raised(stripe_verify, STRIPE_SECRET, {"Stripe-Signature": header}, BODY, now=TIMESTAMP)
    assert isinstance(error, MalformedHeader)
    assert "Stripe-Signature" in str(error)


def test_stripe_verify_rejects_stale_and_future_timestamps():
    headers = {"Stripe-Signature": stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP)}
    stale = raised(stripe_verify, STRIPE_SECRET, headers, BODY, now=TIMESTAMP + 812)
    future = raised(stripe_verify, STRIPE_SECRET, headers, BODY, now=TIMESTAMP - 812)
    assert isinstance(stale, StaleTimestamp)
    assert isinstance(future, FutureTimestamp)


def test_stripe_verify_rejects_a_tampered_body_or_the_wrong_secret():
    headers = {"Stripe-Signature": stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP)}
    tampered = raised(stripe_verify, STRIPE_SECRET, headers, BODY + b" ", now=TIMESTAMP)
    wrong = raised(stripe_verify, OTHER_SECRET, headers, BODY, now=TIMESTAMP)
    assert isinstance(tampered, NoMatchingSignature)
    assert isinstance(wrong, NoMatchingSignature)


# -- choosing a scheme by name ---------------------------------------------------------------------


def test_schemes_are_standard_github_stripe_slack_shopify_and_none():
    assert SCHEMES == ("standard", "github", "stripe", "slack", "shopify", "none")


def test_headers_for_standard_are_the_three_webhook_headers():
    headers = headers_for("standard", SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == vector_headers()


def test_headers_for_github_add_its_signature_and_delivery_id():
    headers = headers_for("github", GITHUB_SECRET, GITHUB_BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "X-Hub-Signature-256": GITHUB_SIGNATURE,
        "X-GitHub-Delivery": MSG_ID,
    }


def test_headers_for_stripe_add_its_signature():
    headers = headers_for("stripe", STRIPE_SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "Stripe-Signature": stripe_sign(STRIPE_SECRET, BODY, TIMESTAMP),
    }


def test_headers_for_none_carry_only_the_id_and_timestamp():
    headers = headers_for("none", None, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    assert headers == {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP)}


def test_headers_for_an_unknown_scheme_lists_the_known_ones():
    with pytest.raises(ValueError, match="standard, github, stripe, slack, shopify, none"):
        headers_for("hmac-md5", SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_headers_for_a_signing_scheme_needs_a_secret(scheme):
    with pytest.raises(ValueError, match="needs a secret"):
        headers_for(scheme, None, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_verify_scheme_accepts_what_headers_for_signed(scheme):
    headers = headers_for(scheme, SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    verify_scheme(scheme, [SECRET], headers, BODY, now=TIMESTAMP)
    verify_scheme(scheme, SECRET, headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_verify_scheme_rejects_a_tampered_body(scheme):
    headers = headers_for(scheme, SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    error = raised(verify_scheme, scheme, [SECRET], headers, BODY + b" ", now=TIMESTAMP)
    assert isinstance(error, NoMatchingSignature)


def test_verify_scheme_passes_the_tolerance_on():
    headers = headers_for("stripe", SECRET, BODY, msg_id=MSG_ID, timestamp=TIMESTAMP)
    error = raised(
        verify_scheme, "stripe", [SECRET], headers, BODY, now=TIMESTAMP + 20, tolerance=5
    )
    assert isinstance(error, StaleTimestamp)


def test_verify_scheme_none_checks_nothing():
    verify_scheme("none", [], {}, b"anything at all")


def test_verify_scheme_refuses_an_unknown_scheme():
    with pytest.raises(ValueError, match="unknown scheme 'rot13'"):
        verify_scheme("rot13", [SECRET], vector_headers(), BODY)


# -- interoperability with the reference libraries -------------------------------------------------


def test_what_we_sign_verifies_with_the_standardwebhooks_package():
    headers = sign_headers(SECRET, BODY)  # now, as the package checks against the real clock
    assert Webhook(SECRET).verify(BODY, headers) == {"test": 2432232314}


def test_what_the_standardwebhooks_package_signs_verifies_with_ours():
    moment = datetime.now(timezone.utc)
    signature = Webhook(SECRET).sign(MSG_ID, moment, BODY.decode())
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
    verify(SECRET, headers, BODY)


def test_the_standardwebhooks_package_rejects_what_we_reject():
    headers = {**sign_headers(SECRET, BODY), "webhook-id": "msg_changed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY, headers)
    assert isinstance(raised(verify, SECRET, headers, BODY), NoMatchingSignature)


def test_our_stripe_header_verifies_with_the_stripe_library():
    header = stripe_headers(STRIPE_SECRET, BODY)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(BODY, header, STRIPE_SECRET, 300) is True


def test_the_stripe_librarys_test_header_verifies_with_ours():
    # Careful: the helper wants the body as *text*; given bytes it signs "b'...'".
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE_SECRET)
    stripe_verify(STRIPE_SECRET, {"Stripe-Signature": header}, BODY)


def test_the_stripe_library_rejects_what_we_reject():
    header = stripe_headers(STRIPE_SECRET, BODY)["Stripe-Signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY + b" ", header, STRIPE_SECRET, 300)
    tampered = raised(stripe_verify, STRIPE_SECRET, {"Stripe-Signature": header}, BODY + b" ")
    assert isinstance(tampered, NoMatchingSignature)


# -- properties ------------------------------------------------------------------------------------

NOW = 1_700_000_000
ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1
)
bodies = st.binary(min_size=1, max_size=512)
header_values = st.one_of(st.text(max_size=80), st.binary(max_size=80))


def changed_one_byte(text: str, data: st.DataObject) -> str:
    """``text`` with exactly one character replaced by another byte (as a server decodes it)."""
    index = data.draw(st.integers(0, len(text) - 1))
    # Half the time a digit, so a changed timestamp is often still a number.
    any_byte = st.one_of(st.integers(ord("0"), ord("9")), st.integers(0, 255))
    byte = data.draw(any_byte.filter(lambda b: chr(b) != text[index]))
    return text[:index] + chr(byte) + text[index + 1 :]


@FAST
@given(msg_id=ids, body=bodies, data=st.data())
def test_changing_any_byte_of_the_body_breaks_the_signature(msg_id, body, data):
    headers = sign_headers(SECRET, body, msg_id=msg_id, timestamp=NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    changed = body[:index] + bytes([byte]) + body[index + 1 :]
    error = raised(verify, SECRET, headers, changed, now=NOW)
    assert isinstance(error, NoMatchingSignature)


@FAST
@given(msg_id=ids, body=bodies, data=st.data())
def test_changing_any_byte_of_the_id_breaks_the_signature(msg_id, body, data):
    headers = sign_headers(SECRET, body, msg_id=msg_id, timestamp=NOW)
    headers["webhook-id"] = changed_one_byte(msg_id, data)
    error = raised(verify, SECRET, headers, body, now=NOW)
    assert isinstance(error, NoMatchingSignature)


@FAST
@given(msg_id=ids, body=bodies, data=st.data())
def test_changing_any_byte_of_the_timestamp_breaks_verification(msg_id, body, data):
    headers = sign_headers(SECRET, body, msg_id=msg_id, timestamp=NOW)
    changed = changed_one_byte(str(NOW), data)
    headers["webhook-timestamp"] = changed
    error = raised(verify, SECRET, headers, body, now=NOW)
    if not (changed.isascii() and changed.isdigit()):
        assert isinstance(error, MalformedHeader)
    elif int(changed) < NOW - 300:
        assert isinstance(error, StaleTimestamp)
    elif int(changed) > NOW + 300:
        assert isinstance(error, FutureTimestamp)
    else:
        assert isinstance(error, NoMatchingSignature)


@FAST
@given(
    msg_id=st.one_of(st.just(MSG_ID), header_values),
    timestamp=st.one_of(st.just(str(TIMESTAMP)), header_values),
    signature=st.one_of(st.just(SIGNATURE), header_values),
    as_pairs=st.booleans(),
)
def test_any_garbage_in_standard_headers_raises_a_signature_error(
    msg_id, timestamp, signature, as_pairs
):
    assume((msg_id, timestamp, signature) != (MSG_ID, str(TIMESTAMP), SIGNATURE))
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    given_headers = list(headers.items()) if as_pairs else headers
    raised(verify, SECRET, given_headers, BODY, now=TIMESTAMP)


def verdict(headers, body, secrets, tolerance):
    """What verify says: None (genuine) or the class of its refusal and the header it names."""
    try:
        verify(secrets, headers, body, tolerance=tolerance, now=NOW)
    except SignatureError as error:
        return type(error), error.header
    return None


signature_texts = st.sampled_from(
    ["{sig}", " {sig}", "{sig} ", "{sig} v1,AAAA", "v1,AAAA {sig}", "v1a,AAAA {sig}", "v2,{sig}",
     "{sig}x", "v1,", "v1 {sig}", "{sig},extra", "V1,{body}", "v1,{sig}"]
)  # fmt: skip


@FAST
@given(
    msg_id=st.one_of(ids, st.text(max_size=20)),
    offset=st.integers(-400, 400),
    signature=signature_texts,
    secrets=st.sampled_from([SECRET, [SECRET], (SECRET,), [SECRET, "whsec_" + "A" * 32], ["x"]]),
    tolerance=st.sampled_from([0, 1, 300]),
    body=st.one_of(bodies, st.text(max_size=40)),
)
def test_verify_says_the_same_of_headers_in_a_dict_and_as_pairs(
    msg_id, offset, signature, secrets, tolerance, body
):
    # The common case (a dict, one v1 signature, one secret) is checked the quick way, the rest
    # the long way: both must come to the same verdict, for genuine deliveries and near misses.
    timestamp = NOW + offset
    try:
        signed = sign(SECRET, msg_id, timestamp, body).split(",", 1)[1]
    except (UnicodeEncodeError, ValueError):
        signed = "AAAA"
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature.format(sig="v1," + signed, body=signed),
    }
    try:
        as_dict = verdict(headers, body, secrets, tolerance)
    except ValueError:  # a secret that is not base64: refused whichever way
        with pytest.raises(ValueError):
            verdict(list(headers.items()), body, secrets, tolerance)
        return
    assert as_dict == verdict(list(headers.items()), body, secrets, tolerance)


@FAST
@given(value=header_values, body=bodies)
def test_any_garbage_in_the_stripe_header_raises_a_signature_error(value, body):
    raised(stripe_verify, STRIPE_SECRET, {"Stripe-Signature": value}, body, now=TIMESTAMP)


@FAST
@given(value=header_values, body=bodies)
def test_any_garbage_in_the_github_header_raises_a_signature_error(value, body):
    raised(github_verify, GITHUB_SECRET, {"X-Hub-Signature-256": value}, body)


@FAST
@given(key=st.binary(min_size=1, max_size=100), msg_id=ids, body=st.text())
def test_we_sign_exactly_as_the_standardwebhooks_package_for_any_key_id_and_body(key, msg_id, body):
    secret = "whsec_" + base64.b64encode(key).decode()
    moment = datetime.fromtimestamp(NOW, timezone.utc)
    assert sign(secret, msg_id, NOW, body) == Webhook(secret).sign(msg_id, moment, body)


# -- the lesson text -------------------------------------------------------------------------------


def test_the_module_docstring_examples_run():
    assert doctest.testmod(signing).failed == 0
