"""Endpoint handshakes, answered by a real lab receiver and played from the provider's side over
real HTTP on 127.0.0.1; bad requests get a 4xx with the reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from webhooks_lab import handshakes, signing
from webhooks_lab.handshakes import HandshakeError, Request
from webhooks_lab.sender.handshake import play_handshake

SECRET = "zoom-or-x-app-secret"


@pytest.mark.parametrize("kind", handshakes.KINDS)
def test_each_handshake_is_answered_recorded_and_accepted_by_the_provider(lab, kind):
    lab.receiver.endpoint("hooks").answer_handshake(kind, SECRET)
    verdict = play_handshake(lab.receiver.url_for("hooks"), kind, secret=SECRET)
    assert verdict
    last = lab.receiver.inbox.last
    assert (last.handshake, last.status, last.endpoint) == (kind, 200, "hooks")
    assert last.to_dict()["handshake"] == kind


@pytest.mark.parametrize("kind", ["zoom", "x"])
def test_an_answer_keyed_with_another_secret_is_refused_by_the_provider(lab, kind):
    lab.receiver.endpoint("hooks").answer_handshake(kind, "not the app's secret")
    with pytest.raises(HandshakeError, match="expected"):
        play_handshake(lab.receiver.url_for("hooks"), kind, secret=SECRET)


def test_an_endpoint_not_expecting_a_handshake_does_not_pass_it(lab):
    with pytest.raises(HandshakeError):
        play_handshake(lab.receiver.url_for("plain"), "websub")
    with pytest.raises(HandshakeError):
        play_handshake(lab.receiver.url_for("plain"), "cloudevents")


def test_zoom_and_x_answers_are_the_documented_hmacs():
    zoom = handshakes.reply(
        "zoom", handshakes.challenge("zoom", token="qgg8vlvZRS6UYooatFL8Aw"), secret=SECRET
    )
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert json.loads(zoom.body) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }
    x = handshakes.reply("x", Request("GET", {"crc_token": "abc"}), secret=SECRET)
    digest = hmac.new(SECRET.encode(), b"abc", hashlib.sha256).digest()
    assert json.loads(x.body) == {"response_token": "sha256=" + base64.b64encode(digest).decode()}


def test_graph_gets_the_decoded_token_back_as_plain_text(lab):
    lab.receiver.endpoint("graph").answer_handshake("graph")
    token = "Validation: Testing client application reachability for subscription Request-Id: 1"
    answer = httpx.post(lab.receiver.url_for("graph"), params={"validationToken": token})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == token


def test_cloudevents_grants_the_origin_and_rate_asked_for(lab):
    lab.receiver.endpoint("ce").answer_handshake("cloudevents")
    answer = httpx.options(
        lab.receiver.url_for("ce"),
        headers={
            "WebHook-Request-Origin": "eventemitter.example.com",
            "WebHook-Request-Rate": "60",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["webhook-allowed-origin"] == "eventemitter.example.com"
    assert answer.headers["webhook-allowed-rate"] == "60"
    assert "POST" in answer.headers["allow"]


@pytest.mark.parametrize(
    ("kind", "method", "params", "headers", "body", "reason"),
    [
        ("slack", "POST", {}, {}, b'{"type":"url_verification"}', "missing_field"),
        ("slack", "POST", {}, {}, b"url_verification but not json", "invalid_json"),
        (
            "zoom",
            "POST",
            {},
            {},
            b'{"event":"endpoint.url_validation","payload":7}',
            "missing_field",
        ),
        ("x", "GET", {"crc_token": ""}, {}, b"", "missing_field"),
        ("x", "GET", {"crc_token": "a" * 5000}, {}, b"", "too_long"),
        ("graph", "POST", {"validationToken": ""}, {}, b"", "missing_field"),
        ("websub", "GET", {"hub.mode": "subscribe", "hub.topic": "t"}, {}, b"", "missing_field"),
        ("websub", "GET", {"hub.mode": "hack"}, {}, b"", "bad_field"),
        ("cloudevents", "OPTIONS", {}, {}, b"", "missing_field"),
        (
            "cloudevents",
            "OPTIONS",
            {},
            {"WebHook-Request-Origin": "o", "WebHook-Request-Rate": "x"},
            b"",
            "bad_field",
        ),
    ],
)
def test_a_handshake_with_missing_or_bad_fields_is_a_400_with_the_reason(
    lab, kind, method, params, headers, body, reason
):
    lab.receiver.endpoint("hooks").answer_handshake(kind, SECRET)
    answer = httpx.request(
        method, lab.receiver.url_for("hooks"), params=params, headers=headers, content=body
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == reason
    last = lab.receiver.inbox.last
    assert last.handshake == kind and last.status == 400 and last.reason


def test_a_signed_slack_endpoint_answers_only_a_signed_challenge(lab):
    slack_secret = "8f742231b10e8888abcd99yyyzzz85a5"
    endpoint = lab.receiver.endpoint("slack").require(slack_secret, "slack")
    endpoint.answer_handshake("slack")
    request = handshakes.challenge(
        "slack", token="3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    )
    url = lab.receiver.url_for("slack")
    unsigned = httpx.post(url, content=request.body, headers=dict(request.headers))
    assert unsigned.status_code == 401
    assert lab.receiver.inbox.last.handshake is None
    headers = {**request.headers, **signing.slack_headers(slack_secret, request.body)}
    signed = httpx.post(url, content=request.body, headers=headers)
    assert signed.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert lab.receiver.inbox.last.handshake == "slack"


def test_ordinary_deliveries_still_reach_an_endpoint_that_answers_handshakes(lab):
    lab.receiver.endpoint("hooks").answer_handshake("websub")
    answer = httpx.post(lab.receiver.url_for("hooks"), json={"type": "ping", "data": {}})
    assert answer.status_code == 200
    listing = httpx.get(lab.receiver.url_for("hooks"))  # GET without hub.mode still lists
    assert listing.json()["count"] == 1


def test_configuring_a_handshake_wrongly_is_refused_at_once(lab):
    endpoint = lab.receiver.endpoint("hooks")
    with pytest.raises(ValueError, match="unknown handshake"):
        endpoint.answer_handshake("facebook")
    with pytest.raises(ValueError, match="secret"):
        endpoint.answer_handshake("zoom")
    endpoint.answer_handshake("x", SECRET).answer_handshake(None)
    assert endpoint.handshake is None
