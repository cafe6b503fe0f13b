"""A receiver keeps what it needs to diagnose a refused delivery, and shows the diagnosis in the
inbox view and on the inbox page, in plain words. Real lab, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks_lab import signing
from webhooks_lab.widgets.inbox import detail_html

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = signing.generate_secret()
PUBLIC = signing.generate_keypair()[1]
BODY = json.dumps({"type": "order.paid", "data": {"total": 12}}, separators=(",", ":")).encode()


def post(client: httpx.Client, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(
        f"/webhooks/{name}", content=body, headers={**headers, "content-type": "application/json"}
    )


def fresh(lab, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    return signing.sign_headers(secret, body, timestamp=int(lab.clock.wall()))


def test_a_re_serialised_delivery_is_diagnosed_in_the_inbox_and_on_the_page(lab, client):
    lab.receiver.endpoint("shop").require(SECRET)
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    answer = post(client, "shop", pretty, fresh(lab))
    assert answer.status_code == 401
    delivery = lab.receiver.inbox.last
    assert delivery.diagnosis.reason == "body_reserialised"
    assert "Why:" in detail_html(delivery) and "raw bytes" in detail_html(delivery)
    record = client.get(f"/inbox/{delivery.seq}").json()
    assert record["diagnosis"]["reason"] == "body_reserialised"
    assert record["diagnosis"]["ok"] is False


def test_a_delivery_signed_with_another_secret_is_no_match_on_the_receiver(lab, client):
    lab.receiver.endpoint("shop").require(SECRET)
    post(client, "shop", BODY, fresh(lab, OTHER))
    assert lab.receiver.inbox.last.diagnosis.reason == "no_match"


def test_rotation_secrets_the_endpoint_accepts_all_count(lab, client):
    lab.receiver.endpoint("shop").require([SECRET, OTHER])
    assert post(client, "shop", BODY, fresh(lab, OTHER)).status_code == 200
    assert lab.receiver.inbox.last.diagnosis is None


def test_a_replayed_delivery_says_how_old_it_is(lab, client):
    lab.receiver.endpoint("shop").require(SECRET)
    old = signing.sign_headers(SECRET, BODY, timestamp=int(lab.clock.wall()) - 3600)
    post(client, "shop", BODY, old)
    found = lab.receiver.inbox.last.diagnosis
    assert found.reason == "timestamp_too_old"
    assert "genuine" in found.explanation


def test_the_diagnosis_uses_the_secrets_of_when_it_arrived(lab, client):
    endpoint = lab.receiver.endpoint("shop").require(OTHER)
    post(client, "shop", BODY, fresh(lab))
    endpoint.require(SECRET)  # changed afterwards: the delivery was still refused then
    assert lab.receiver.inbox.last.diagnosis.ok is False


def test_a_genuine_or_unchecked_delivery_has_no_diagnosis(lab, client):
    lab.receiver.endpoint("shop").require(SECRET)
    post(client, "shop", BODY, fresh(lab))
    post(client, "open", BODY, {})
    assert [d.diagnosis for d in lab.receiver.inbox] == [None, None]
    assert "diagnosis" not in client.get("/inbox/1").json()


def test_an_endpoint_refuses_malformed_keys_when_configured(lab):
    with pytest.raises(signing.InvalidKey, match="32 bytes"):
        lab.receiver.endpoint("shop").require("whpk_AAAA")
    with pytest.raises(TypeError):
        lab.receiver.endpoint("shop").require([SECRET, 42])


def test_a_v1a_endpoint_names_a_delivery_without_a_v1a_signature(lab, client):
    secret_key, public_key = signing.generate_keypair()
    lab.receiver.endpoint("keys").require(public_key)
    assert post(client, "keys", BODY, fresh(lab, secret_key)).status_code == 200
    assert post(client, "keys", BODY, fresh(lab, SECRET)).status_code == 401
    assert "v1a" in lab.receiver.inbox.last.reason
    huge = {**fresh(lab, secret_key), "webhook-signature": "v1a," + "A" * 5000}
    answer = post(client, "keys", BODY, huge)
    assert answer.status_code == 401 and answer.json()["reason"] == "malformed_header"
    assert lab.receiver.inbox.last.diagnosis.reason == "oversized_header"


# -- hostile signature headers never crash the receiver or its doctor ------------------------

_VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_JUNK = st.one_of(
    st.text(alphabet=_VISIBLE, min_size=1, max_size=60),
    st.sampled_from(["v1,", "v1a,", "v2,", "v0=", "sha256=", "t=1,v1="]).flatmap(
        lambda p: st.text(alphabet="AZaz09+/=,. ", max_size=80).map(lambda t: (p + t).strip())
    ),
    st.just("v1a," + "A" * 5000),
    st.just(" ".join(["v1a,AAAA"] * 50)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=st.sampled_from(["standard", "v1a", "slack", "shopify", "stripe"]),
    value=_JUNK,
    stamp=st.sampled_from(["", "abc", "1" * 30, "-5"]) | st.none(),
)
def test_junk_signatures_are_refused_with_a_4xx_and_a_diagnosis(lab, client, case, value, stamp):
    scheme = "standard" if case == "v1a" else case
    secret = PUBLIC if case == "v1a" else SECRET
    lab.receiver.endpoint("hostile").require(secret, scheme)
    header = {
        "standard": "webhook-signature",
        "slack": "X-Slack-Signature",
        "shopify": "X-Shopify-Hmac-Sha256",
        "stripe": "Stripe-Signature",
    }[scheme]
    headers = {"webhook-id": "m", "webhook-timestamp": stamp or str(int(lab.clock.wall()))}
    headers["X-Slack-Request-Timestamp"] = headers["webhook-timestamp"]
    headers[header] = value
    answer = client.post("/webhooks/hostile", content=BODY, headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert "reason" in answer.json()
    found = lab.receiver.inbox.last.diagnosis
    assert found is not None and found.ok is False and found.explanation
