"""Verified receiving over real HTTP on 127.0.0.1: genuine deliveries pass, attacks fail visibly.

Every test here sends real requests to a real lab and reads two things back: what the receiver
answered (status and JSON), and what the inbox recorded (``verified``, ``reason``), because a
learner must be able to *see* a forged or replayed delivery fail.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks_lab import signing
from webhooks_lab.lab import Lab

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the published Standard Webhooks test secret
OLD_SECRET = "whsec_" + base64.b64encode(b"the old secret, 32 bytes long!!!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"the new secret, 32 bytes long!!!").decode()

SIGNED_SCHEMES = ("standard", "github", "stripe")
TIMED_SCHEMES = ("standard", "stripe")  # GitHub signs no timestamp
SIGNATURE_HEADER = {
    "standard": "webhook-signature",
    "github": "X-Hub-Signature-256",
    "stripe": "Stripe-Signature",
}
BODY = b'{"type": "invoice.paid", "data": {"invoice": "in_42", "amount": 1999}}'


def now(lab: Lab) -> int:
    return int(lab.clock.time())


def signed(
    scheme: str,
    secret: str,
    body: bytes,
    timestamp: int,
    msg_id: str = "msg_signed_test",
) -> dict[str, str]:
    """The headers a real sender adds for ``scheme``."""
    return signing.headers_for(scheme, secret, body, msg_id=msg_id, timestamp=timestamp)


def post(client: httpx.Client, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(
        f"/webhooks/{name}",
        content=body,
        headers={**headers, "content-type": "application/json"},
    )


def assert_refused(lab: Lab, answer: httpx.Response, reason: str, *words: str) -> None:
    """401 with a JSON reason code and a readable detail, and the inbox shows the same."""
    assert answer.status_code == 401, answer.text
    payload = answer.json()
    assert payload["error"] == "invalid_signature"
    assert payload["reason"] == reason
    for word in words:
        assert word in payload["detail"], payload["detail"]
    delivery = lab.receiver.inbox.last
    assert delivery.status == 401
    assert delivery.outcome == "rejected"
    assert delivery.verified is False
    assert delivery.reason == payload["detail"]
    assert delivery.response["reason"] == reason


# -- genuine deliveries ----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_a_correctly_signed_delivery_is_accepted_and_marked_verified(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    answer = post(client, "billing", BODY, signed(scheme, SECRET, BODY, now(lab)))

    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    delivery = lab.receiver.inbox.last
    assert delivery.verified is True
    assert delivery.reason is None
    assert delivery.body == BODY
    assert delivery.event_type == "invoice.paid"


def test_an_endpoint_that_requires_nothing_leaves_verified_unset(lab, client):
    answer = post(client, "open", BODY, {})
    assert answer.status_code == 200
    assert lab.receiver.inbox.last.verified is None


def test_open_stops_requiring_signatures(lab, client):
    endpoint = lab.receiver.endpoint("billing").require(SECRET)
    assert post(client, "billing", BODY, {}).status_code == 401
    endpoint.open()
    assert post(client, "billing", BODY, {}).status_code == 200


def test_require_all_covers_endpoints_used_for_the_first_time_later(lab, client):
    lab.receiver.require_all(SECRET, "stripe")
    assert_refused(lab, post(client, "brand-new", BODY, {}), "missing_header", "Stripe-Signature")
    genuine = post(client, "brand-new", BODY, signed("stripe", SECRET, BODY, now(lab)))
    assert genuine.status_code == 200


def test_handlers_run_for_genuine_deliveries_only(lab, client):
    handled = []
    lab.receiver.endpoint("billing").require(SECRET)
    lab.receiver.on("billing")(lambda event: handled.append(event.id))

    post(client, "billing", BODY, signed("standard", OLD_SECRET, BODY, now(lab), "msg_forged"))
    post(client, "billing", BODY, signed("standard", SECRET, BODY, now(lab), "msg_genuine"))

    assert handled == ["msg_genuine"]


# -- attacks and mistakes, each refused with its reason --------------------------------------------


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_a_tampered_body_is_refused_as_no_matching_signature(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    headers = signed(scheme, SECRET, BODY, now(lab))
    tampered = BODY.replace(b"1999", b"1")

    answer = post(client, "billing", tampered, headers)

    assert_refused(lab, answer, "no_matching_signature", "no signature matched", "changed")
    assert lab.receiver.inbox.last.body == tampered  # the learner sees exactly what came in


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_a_delivery_signed_with_the_wrong_secret_is_refused(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    answer = post(client, "billing", BODY, signed(scheme, OLD_SECRET, BODY, now(lab)))
    assert_refused(lab, answer, "no_matching_signature", "secret is wrong")


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_an_unsigned_delivery_is_refused_naming_the_missing_header(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    headers = signed(scheme, SECRET, BODY, now(lab))
    del headers[SIGNATURE_HEADER[scheme]]

    answer = post(client, "billing", BODY, headers)

    assert_refused(lab, answer, "missing_header", "missing header", SIGNATURE_HEADER[scheme])


def test_a_delivery_without_any_standard_headers_names_all_three(lab, client):
    lab.receiver.endpoint("billing").require(SECRET)
    answer = post(client, "billing", BODY, {})
    assert_refused(
        lab, answer, "missing_header", "'webhook-id'", "'webhook-timestamp'", "'webhook-signature'"
    )


@pytest.mark.parametrize(
    ("scheme", "header", "value"),
    [
        ("standard", "webhook-signature", "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        ("standard", "webhook-timestamp", "yesterday"),
        ("github", "X-Hub-Signature-256", "md5=abc"),
        ("stripe", "Stripe-Signature", "v1=abc"),
        ("stripe", "Stripe-Signature", "t=soon,v1=abc"),
    ],
)
def test_a_malformed_signature_header_is_refused_as_malformed(lab, client, scheme, header, value):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    headers = {**signed(scheme, SECRET, BODY, now(lab)), header: value}
    assert_refused(lab, post(client, "billing", BODY, headers), "malformed_header")


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_a_replayed_hour_old_message_is_refused_as_stale(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    an_hour_ago = now(lab) - 3600
    answer = post(client, "billing", BODY, signed(scheme, SECRET, BODY, an_hour_ago))
    assert_refused(lab, answer, "stale_timestamp", str(an_hour_ago), "old", "replayed")


@pytest.mark.parametrize("scheme", TIMED_SCHEMES)
def test_a_message_from_an_hour_in_the_future_is_refused(lab, client, scheme):
    lab.receiver.endpoint("billing").require(SECRET, scheme=scheme)
    in_an_hour = now(lab) + 3600
    answer = post(client, "billing", BODY, signed(scheme, SECRET, BODY, in_an_hour))
    assert_refused(lab, answer, "future_timestamp", str(in_an_hour), "in the future")


def test_a_timestamp_in_milliseconds_is_refused_with_a_hint(lab, client):
    lab.receiver.endpoint("billing").require(SECRET)
    millis = now(lab) * 1000
    answer = post(client, "billing", BODY, signed("standard", SECRET, BODY, millis))
    assert_refused(lab, answer, "future_timestamp", "milliseconds")


def test_the_endpoints_own_tolerance_decides_what_is_stale(lab, client):
    two_minutes_ago = now(lab) - 120
    lab.receiver.endpoint("relaxed").require(SECRET)
    lab.receiver.endpoint("strict").require(SECRET, tolerance=60)

    relaxed = post(client, "relaxed", BODY, signed("standard", SECRET, BODY, two_minutes_ago))
    strict = post(client, "strict", BODY, signed("standard", SECRET, BODY, two_minutes_ago))

    assert relaxed.status_code == 200
    assert_refused(lab, strict, "stale_timestamp", "tolerance is 60 s")


def test_github_signs_no_timestamp_so_an_old_replay_still_passes(lab, client):
    # Not a bug in the lab: GitHub's scheme cannot tell a replay from a new delivery.
    lab.receiver.endpoint("repo").require(SECRET, scheme="github")
    headers = {"X-Hub-Signature-256": signing.github_sign(SECRET, BODY)}
    assert post(client, "repo", BODY, headers).status_code == 200


def test_a_forged_delivery_does_not_burn_the_webhook_id_of_a_genuine_one(lab, client):
    lab.receiver.endpoint("billing").require(SECRET)
    forged = signed("standard", OLD_SECRET, BODY, now(lab), msg_id="msg_target")
    genuine = signed("standard", SECRET, BODY, now(lab), msg_id="msg_target")

    assert post(client, "billing", BODY, forged).status_code == 401
    answer = post(client, "billing", BODY, genuine)

    assert answer.status_code == 200
    assert "duplicate" not in answer.json()
    assert lab.receiver.inbox.last.outcome == "accepted"


def test_a_genuine_delivery_replayed_within_the_tolerance_is_not_processed_twice(lab, client):
    handled = []
    lab.receiver.endpoint("billing").require(SECRET)
    lab.receiver.on("billing")(lambda event: handled.append(event.id))
    headers = signed("standard", SECRET, BODY, now(lab), msg_id="msg_once")

    first, replay = post(client, "billing", BODY, headers), post(client, "billing", BODY, headers)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json()["duplicate"] is True
    assert handled == ["msg_once"]


# -- raw bytes -------------------------------------------------------------------------------------


def test_verification_uses_the_raw_bytes_so_reserialised_json_fails(lab, client):
    lab.receiver.endpoint("billing").require(SECRET)
    headers = signed("standard", SECRET, BODY, now(lab))
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert json.loads(reserialised) == json.loads(BODY)  # same JSON, other bytes

    assert_refused(lab, post(client, "billing", reserialised, headers), "no_matching_signature")
    assert post(client, "billing", BODY, headers).status_code == 200


def test_an_unusually_spaced_body_verifies_because_it_is_checked_as_sent(lab, client):
    lab.receiver.endpoint("billing").require(SECRET)
    odd = b'{ "type" :"invoice.paid",\n\t"data":{ "invoice":"in_42" } }  \n'
    answer = post(client, "billing", odd, signed("standard", SECRET, odd, now(lab)))
    assert answer.status_code == 200
    assert lab.receiver.inbox.last.body == odd


# -- rotation --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_a_rotation_accepts_both_secrets_then_only_the_new_one(lab, client, scheme):
    endpoint = lab.receiver.endpoint("rotating")

    def status(secret: str) -> int:
        return post(client, "rotating", BODY, signed(scheme, secret, BODY, now(lab))).status_code

    endpoint.require(OLD_SECRET, scheme=scheme)
    assert (status(OLD_SECRET), status(NEW_SECRET)) == (200, 401)
    endpoint.require([OLD_SECRET, NEW_SECRET], scheme=scheme)  # senders switch over meanwhile
    assert (status(OLD_SECRET), status(NEW_SECRET)) == (200, 200)
    endpoint.require(NEW_SECRET, scheme=scheme)  # every sender has switched: drop the old one
    assert (status(OLD_SECRET), status(NEW_SECRET)) == (401, 200)
    assert_refused(
        lab,
        post(client, "rotating", BODY, signed(scheme, OLD_SECRET, BODY, now(lab))),
        "no_matching_signature",
    )


def test_a_sender_signing_with_both_secrets_passes_a_receiver_that_knows_either(lab, client):
    timestamp = now(lab)
    both = " ".join(
        signing.sign(secret, "msg_both", timestamp, BODY) for secret in (OLD_SECRET, NEW_SECRET)
    )
    headers = {"webhook-id": "msg_both", "webhook-timestamp": str(timestamp)}
    headers["webhook-signature"] = both
    lab.receiver.endpoint("knows-old").require(OLD_SECRET)
    lab.receiver.endpoint("knows-new").require(NEW_SECRET)

    assert post(client, "knows-old", BODY, headers).status_code == 200
    assert post(client, "knows-new", BODY, headers).status_code == 200


# -- the lab clock is "now" ------------------------------------------------------------------------


def test_the_wall_clock_decides_what_now_is(lab, client, monkeypatch):
    # The published Standard Webhooks vector was signed in February 2021. Set the lab's wall
    # clock to ten seconds after it, and the receiver accepts it; move it on, and it is stale.
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    lab.receiver.endpoint("vector").require(SECRET)
    assert_refused(lab, post(client, "vector", body, headers), "stale_timestamp")

    monkeypatch.setattr(lab.clock, "wall", lambda: 1614265340.0)
    assert post(client, "vector", body, headers).status_code == 200
    assert lab.receiver.inbox.last.verified is True

    monkeypatch.setattr(lab.clock, "wall", lambda: 1614265330.0 + 301)
    assert_refused(lab, post(client, "vector", body, headers), "stale_timestamp", "301 s old")


# -- hostile headers -------------------------------------------------------------------------------

# Header values h11 lets through: visible ASCII and Latin-1 bytes, single spaces between words.
_VISIBLE = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0x80, 0x100)]
_word = st.text(alphabet=_VISIBLE, min_size=1, max_size=12)
_garbage = st.lists(_word, max_size=4).map(" ".join)
_digits = st.integers(min_value=0, max_value=10**19).map(str)
_hex = st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=70)
_b64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=48
)

_VALUES = {
    "standard": st.one_of(
        _garbage,
        _digits,
        st.just("NOW"),
        st.builds(lambda v, s: f"{v},{s}", st.sampled_from(["v1", "v1a", "v2", ""]), _b64),
        st.lists(st.builds("v1,{}".format, _b64), min_size=1, max_size=3).map(" ".join),
    ),
    "github": st.one_of(_garbage, st.builds("sha256={}".format, _hex)),
    "stripe": st.one_of(
        _garbage,
        st.builds("t={},v1={}".format, st.one_of(_digits, st.just("NOW")), _hex),
        st.builds("t={},v0={},v1={}".format, _digits, _hex, _garbage),
    ),
}
_NAMES = {
    "standard": [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Webhook-Signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
    ],
    "github": ["X-Hub-Signature-256", "x-hub-signature-256"],
    "stripe": ["Stripe-Signature", "stripe-signature"],
}


@pytest.mark.parametrize("scheme", SIGNED_SCHEMES)
def test_garbage_signature_headers_only_ever_get_401_and_the_server_keeps_serving(scheme):
    with Lab() as lab, httpx.Client(base_url=lab.receiver.url, timeout=10) as client:
        lab.receiver.endpoint("fuzz").require(SECRET, scheme=scheme)
        sent = []

        @settings(
            max_examples=75,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            pairs=st.lists(st.tuples(st.sampled_from(_NAMES[scheme]), _VALUES[scheme]), max_size=5),
            body=st.binary(max_size=64),
        )
        def hostile(pairs: list[tuple[str, str]], body: bytes) -> None:
            headers = [
                (name, value.replace("NOW", str(now(lab))).encode("latin-1"))
                for name, value in pairs
            ]
            answer = client.post("/webhooks/fuzz", content=body, headers=headers)
            sent.append(body)
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"] == "invalid_signature"
            assert answer.json()["reason"] in {
                "missing_header",
                "malformed_header",
                "stale_timestamp",
                "future_timestamp",
                "no_matching_signature",
            }
            assert lab.receiver.inbox.last.verified is False

        hostile()

        assert len(lab.receiver.inbox.for_endpoint("fuzz")) == len(sent)
        genuine = post(client, "fuzz", BODY, signed(scheme, SECRET, BODY, now(lab)))
        assert genuine.status_code == 200


# -- configuration mistakes fail at once, not on every delivery ------------------------------------


@pytest.mark.parametrize(
    ("secret", "scheme", "tolerance", "words"),
    [
        ("my-secret!", "standard", 300, "not valid base64"),
        ("", "github", 300, "needs a secret"),
        ([], "stripe", 300, "at least one secret"),
        (SECRET, "standard", -1, "tolerance"),
        (SECRET, "hmac", 300, "unknown scheme"),
    ],
)
def test_a_secret_or_tolerance_that_cannot_work_is_refused_when_required(
    lab, client, secret, scheme, tolerance, words
):
    endpoint = lab.receiver.endpoint("billing").require(SECRET)
    with pytest.raises(ValueError, match=words):
        endpoint.require(secret, scheme=scheme, tolerance=tolerance)
    with pytest.raises(ValueError, match=words):
        lab.receiver.require_all(secret, scheme, tolerance=tolerance)

    # Nothing changed: the endpoint still checks the secret it had; no new default was set.
    assert post(client, "billing", BODY, signed("standard", SECRET, BODY, now(lab))).is_success
    assert_refused(lab, post(client, "billing", BODY, {}), "missing_header")
    assert post(client, "first-used-later", BODY, {}).status_code == 200


def test_any_text_is_a_usable_github_or_stripe_secret(lab, client):
    for scheme in ("github", "stripe"):
        lab.receiver.endpoint(scheme).require("my-secret!", scheme=scheme)
        headers = signed(scheme, "my-secret!", BODY, now(lab))
        assert post(client, scheme, BODY, headers).status_code == 200
