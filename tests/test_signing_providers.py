"""Slack, Shopify and Standard Webhooks' asymmetric v1a: pinned to published vectors, checked
against the providers' own libraries and an independent Ed25519 (libsodium, through PyNaCl)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from webhooks_lab import signing
from webhooks_lab.signing import (
    InvalidKey,
    MalformedHeader,
    NoMatchingSignature,
    StaleTimestamp,
    generate_keypair,
    public_key_of,
)

NOW = 1_700_000_000
BODY = b'{"type":"ping","data":{"n":1}}'

# -- Slack ------------------------------------------------------------------------------------
# The worked example of https://api.slack.com/authentication/verifying-requests-from-slack.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
    b"collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554"
    b"%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_signs_its_published_example():
    assert signing.slack_sign(SLACK_SECRET, SLACK_BODY, SLACK_TIMESTAMP) == SLACK_SIGNATURE


def test_slack_verifies_its_published_example():
    headers = {
        "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP),
        "X-Slack-Signature": SLACK_SIGNATURE,
    }
    signing.slack_verify(SLACK_SECRET, headers, SLACK_BODY, now=SLACK_TIMESTAMP + 10)
    with pytest.raises(StaleTimestamp):
        signing.slack_verify(SLACK_SECRET, headers, SLACK_BODY, now=SLACK_TIMESTAMP + 301)
    with pytest.raises(NoMatchingSignature):
        signing.slack_verify(SLACK_SECRET, headers, SLACK_BODY + b"x", now=SLACK_TIMESTAMP)


def test_slack_sdk_accepts_what_we_sign_and_we_what_it_signs():
    from slack_sdk.signature import Clock, SignatureVerifier

    class Fixed(Clock):
        def now(self) -> float:
            return NOW

    verifier = SignatureVerifier(SLACK_SECRET, clock=Fixed())
    ours = signing.slack_headers(SLACK_SECRET, BODY, NOW)
    assert verifier.is_valid_request(BODY, ours)
    assert not verifier.is_valid_request(BODY + b" ", ours)
    theirs = {
        "X-Slack-Request-Timestamp": str(NOW),
        "X-Slack-Signature": verifier.generate_signature(timestamp=str(NOW), body=BODY),
    }
    signing.slack_verify(SLACK_SECRET, theirs, BODY, now=NOW)


def test_slack_headers_must_have_their_format():
    headers = signing.slack_headers(SLACK_SECRET, BODY, NOW)
    for bad in ("v1=" + "0" * 64, "v0=xyz", "0" * 64):
        with pytest.raises(MalformedHeader):
            signing.slack_verify(SLACK_SECRET, {**headers, "X-Slack-Signature": bad}, BODY, now=NOW)


# -- Shopify ----------------------------------------------------------------------------------
# Shopify publishes no vector; https://shopify.dev/docs/apps/build/webhooks/subscribe/https
# ("Verify the webhook") defines the header as base64(HMAC-SHA256(client secret, raw body)).


def test_shopify_signs_base64_of_the_hmac_of_the_raw_body():
    expected = base64.b64encode(hmac.new(b"shpss_abc", BODY, hashlib.sha256).digest()).decode()
    assert signing.shopify_sign("shpss_abc", BODY) == expected
    signing.shopify_verify("shpss_abc", {"x-shopify-hmac-sha256": expected}, BODY)
    with pytest.raises(NoMatchingSignature):
        signing.shopify_verify("shpss_other", {"X-Shopify-Hmac-Sha256": expected}, BODY)
    with pytest.raises(MalformedHeader):
        signing.shopify_verify("shpss_abc", {"X-Shopify-Hmac-Sha256": "not base64!"}, BODY)


def test_every_scheme_round_trips_through_headers_for_and_verify_scheme():
    for scheme in ("standard", "github", "stripe", "slack", "shopify"):
        secret = signing.generate_secret()
        headers = signing.headers_for(scheme, secret, BODY, msg_id="msg_1", timestamp=NOW)
        signing.verify_scheme(scheme, [secret], headers, BODY, now=NOW)
        with pytest.raises(NoMatchingSignature):
            signing.verify_scheme(scheme, [signing.generate_secret()], headers, BODY, now=NOW)


# -- Standard Webhooks v1a (Ed25519) ---------------------------------------------------------


def test_a_keypair_is_a_whsk_and_a_whpk_of_32_bytes_each():
    secret_key, public_key = generate_keypair()
    assert secret_key.startswith("whsk_") and public_key.startswith("whpk_")
    assert len(base64.b64decode(secret_key[5:])) == 32
    assert len(base64.b64decode(public_key[5:])) == 32
    assert public_key_of(secret_key) == public_key


def test_a_v1a_signature_is_checked_with_the_public_key_only():
    secret_key, public_key = generate_keypair()
    headers = signing.sign_headers(secret_key, BODY, msg_id="msg_1", timestamp=NOW)
    assert headers["webhook-signature"].startswith("v1a,")
    signing.verify(public_key, headers, BODY, now=NOW)
    with pytest.raises(NoMatchingSignature):
        signing.verify(generate_keypair()[1], headers, BODY, now=NOW)
    with pytest.raises(NoMatchingSignature):
        signing.verify(public_key, headers, BODY + b" ", now=NOW)


def test_mixed_v1_and_v1a_lists_rotate_from_hmac_to_ed25519():
    hmac_secret = signing.generate_secret()
    secret_key, public_key = generate_keypair()
    both = signing.sign_headers([hmac_secret, secret_key], BODY, msg_id="msg_1", timestamp=NOW)
    versions = [entry.partition(",")[0] for entry in both["webhook-signature"].split()]
    assert versions == ["v1", "v1a"]
    signing.verify(hmac_secret, both, BODY, now=NOW)  # a receiver not yet moved
    signing.verify(public_key, both, BODY, now=NOW)  # a receiver that moved
    signing.verify([hmac_secret, public_key], both, BODY, now=NOW)
    only_new = signing.sign_headers(secret_key, BODY, msg_id="msg_1", timestamp=NOW)
    with pytest.raises(NoMatchingSignature, match="found versions: 'v1a'"):
        signing.verify(hmac_secret, only_new, BODY, now=NOW)


def test_rotating_ed25519_keys_accepts_either_while_both_are_trusted():
    old_secret, old_public = generate_keypair()
    new_secret, new_public = generate_keypair()
    headers = signing.sign_headers([old_secret, new_secret], BODY, msg_id="m", timestamp=NOW)
    signing.verify(old_public, headers, BODY, now=NOW)
    signing.verify(new_public, headers, BODY, now=NOW)
    later = signing.sign_headers(new_secret, BODY, msg_id="m", timestamp=NOW)
    signing.verify([old_public, new_public], later, BODY, now=NOW)
    with pytest.raises(NoMatchingSignature):
        signing.verify(old_public, later, BODY, now=NOW)


def test_libsodium_checks_our_v1a_signatures():
    import nacl.signing

    secret_key, public_key = generate_keypair()
    headers = signing.sign_headers(secret_key, BODY, msg_id="msg_1", timestamp=NOW)
    signature = base64.b64decode(headers["webhook-signature"].partition(",")[2])
    theirs = nacl.signing.VerifyKey(base64.b64decode(public_key[5:]))
    theirs.verify(f"msg_1.{NOW}.".encode() + BODY, signature)  # raises if not genuine


def test_we_check_libsodiums_v1a_signatures_and_read_its_64_byte_secret_keys():
    import nacl.signing

    key = nacl.signing.SigningKey.generate()
    public_key = "whpk_" + base64.b64encode(bytes(key.verify_key)).decode()
    signed = key.sign(f"msg_1.{NOW}.".encode() + BODY).signature
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1a," + base64.b64encode(signed).decode(),
    }
    signing.verify(public_key, headers, BODY, now=NOW)
    libsodium_form = "whsk_" + base64.b64encode(bytes(key) + bytes(key.verify_key)).decode()
    assert public_key_of(libsodium_form) == public_key
    assert signing.sign_headers(libsodium_form, BODY, msg_id="msg_1", timestamp=NOW) == headers


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("whpk_not base64!", "not valid base64"),
        ("whpk_" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("whpk_" + "A" * 500, "characters long"),
        ("whsk_" + base64.b64encode(bytes(64)).decode(), "not its own public key"),
    ],
)
def test_malformed_keys_are_refused_in_words(key, words):
    with pytest.raises(InvalidKey, match=words):
        signing.check_secret("standard", key)


def test_a_public_key_cannot_sign_and_keys_belong_to_standard_webhooks():
    secret_key, public_key = generate_keypair()
    with pytest.raises(InvalidKey, match="cannot sign"):
        signing.sign_headers(public_key, BODY)
    with pytest.raises(InvalidKey, match="cannot sign"):
        signing.check_secret("standard", public_key, role="sign")
    assert signing.check_secret("standard", public_key) == public_key
    with pytest.raises(InvalidKey, match="not github's"):
        signing.check_secret("github", secret_key)
    with pytest.raises(TypeError):
        signing.check_secret("standard", 42)


def test_a_flood_of_signatures_in_one_header_is_refused():
    secret = signing.generate_secret()
    headers = signing.sign_headers(secret, BODY, msg_id="m", timestamp=NOW)
    many = {**headers, "webhook-signature": " ".join(["v1,AAAA"] * 40)}
    with pytest.raises(MalformedHeader, match="at most 32"):
        signing.verify(secret, many, BODY, now=NOW)
    huge = {**headers, "webhook-signature": "v1," + "A" * 5000}
    with pytest.raises(MalformedHeader, match="characters long"):
        signing.verify(secret, huge, BODY, now=NOW)
