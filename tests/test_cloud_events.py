"""CloudEvents 1.0 over HTTP against the lab's real receiver on 127.0.0.1, interoperating with
the official ``cloudevents`` SDK both ways; malformed CloudEvents refused with a reason; what a
signature covers in each mode."""

from __future__ import annotations

import json

import pytest

from webhooks_lab import cloud_events, signing
from webhooks_lab.events import Event

sdk = pytest.importorskip("cloudevents.v1.http", reason="the cloudevents SDK is a test extra")
conversion = pytest.importorskip("cloudevents.v1.conversion")

SOURCE = "https://shop.example/orders"


def sdk_event(**extra):
    attributes = {"type": "order.paid", "source": SOURCE, "id": "ce-1", **extra}
    return sdk.CloudEvent(attributes, {"order": "A-1", "total": 42})


@pytest.fixture
def handled(lab):
    seen = []
    lab.receiver.endpoint("ce").on("*")(seen.append)
    return seen


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_cloudevent_from_the_sdk_becomes_a_lab_event(lab, client, handled, mode):
    headers, body = getattr(conversion, f"to_{mode}")(sdk_event(subject="A-1"))
    answer = client.post("/webhooks/ce", headers=headers, content=body)
    assert answer.status_code == 200, answer.text
    (event,) = handled
    assert (event.type, event.id, event.data) == (
        "order.paid",
        "ce-1",
        {"order": "A-1", "total": 42},
    )
    assert lab.receiver.inbox.last.webhook_id == "ce-1"  # the CloudEvent's id is the webhook id


def test_a_repeated_cloudevent_id_is_acknowledged_not_processed_again(client, handled):
    headers, body = conversion.to_structured(sdk_event())
    assert client.post("/webhooks/ce", headers=headers, content=body).status_code == 200
    again = client.post("/webhooks/ce", headers=headers, content=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(handled) == 1


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_what_the_lab_sends_the_sdk_reads(mode):
    event = Event("order.paid", {"order": "A-1"}, id="evt_1")
    headers, body = cloud_events.request(event, SOURCE, mode=mode)
    read = sdk.from_http(headers, body)
    assert (read["id"], read["type"], read["source"], read["specversion"]) == (
        "evt_1",
        "order.paid",
        SOURCE,
        "1.0",
    )
    assert read.data == {"order": "A-1"}


def binary(**drop_or_set):
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "ce-9",
        "ce-source": SOURCE,
        "ce-type": "order.paid",
        "content-type": "application/json",
    }
    for name, value in drop_or_set.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return headers, b'{"order": "A-1"}'


def structured(drop=(), content_type=cloud_events.STRUCTURED, **values):
    envelope = {"specversion": "1.0", "id": "ce-9", "source": SOURCE, "type": "order.paid"}
    envelope.update(values, data={"order": "A-1"})
    for name in drop:
        envelope.pop(name)
    return {"content-type": content_type}, json.dumps(envelope).encode()


@pytest.mark.parametrize(
    ("request_", "status", "reason", "words"),
    [
        *[
            (binary(**{f"ce_{name}": None}), 400, "missing_attribute", name)
            for name in cloud_events.REQUIRED  # without ce-specversion too: not a plain delivery
        ],
        *[
            (binary(**{f"ce_{name}": ""}), 400, "missing_attribute", name)
            for name in cloud_events.REQUIRED
        ],
        *[
            (structured(**{name: value}), 400, "missing_attribute", name)
            for name in cloud_events.REQUIRED[1:]
            for value in ("", None)
        ],
        (structured(type="t" * 5000), 400, "invalid_cloudevent", "longer than"),
        (structured(content_type="application/cloudevents+xml"), 415, "wrong_content_type", "xml"),
        *[
            (structured(drop=[name]), 400, "missing_attribute", name)
            for name in cloud_events.REQUIRED
        ],
        (binary(ce_specversion="0.3"), 400, "unsupported_specversion", "0.3"),
        (structured(specversion=1.0), 400, "invalid_cloudevent", "must be a string"),
        (structured(time="yesterday"), 400, "invalid_cloudevent", "RFC 3339"),
        (binary(content_type=cloud_events.STRUCTURED), 415, "wrong_content_type", "binary"),
        (structured(content_type="application/json"), 415, "wrong_content_type", "looks like"),
        (
            structured(content_type="application/cloudevents-batch+json"),
            415,
            "wrong_content_type",
            "batch",
        ),
        (
            ({"content-type": cloud_events.STRUCTURED}, b"{not json"),
            400,
            "invalid_cloudevent",
            "JSON",
        ),
        (
            ({"content-type": cloud_events.STRUCTURED}, b"[1, 2]"),
            400,
            "invalid_cloudevent",
            "object",
        ),
        ((binary()[0], b"{not json"), 400, "invalid_cloudevent", "data"),
    ],
)
def test_malformed_cloudevents_are_refused_with_a_reason(
    lab, client, handled, request_, status, reason, words
):
    headers, body = request_
    answer = client.post("/webhooks/ce", headers=headers, content=body)
    assert answer.status_code == status, answer.text
    refusal = answer.json()
    assert refusal["error"] == "invalid_cloudevent" and refusal["reason"] == reason
    assert words in refusal["detail"]
    assert handled == []
    assert lab.receiver.inbox.last.reason == refusal["detail"]  # where a learner sees it


def test_a_signature_covers_every_attribute_in_structured_mode_and_only_the_data_in_binary(
    lab, client, handled
):
    secret = signing.generate_secret()
    lab.receiver.endpoint("ce").require(secret)
    event = Event("order.paid", {"order": "A-1"}, id="evt_b")

    headers, body = cloud_events.request(event, SOURCE, mode="binary", secret=secret)
    headers["ce-type"] = "order.refunded"  # changed in transit
    answer = client.post("/webhooks/ce", headers=headers, content=body)
    assert answer.status_code == 200  # the signature did not notice
    assert handled[-1].type == "order.refunded"

    event = Event("order.paid", {"order": "A-1"}, id="evt_s")
    headers, body = cloud_events.request(event, SOURCE, mode="structured", secret=secret)
    tampered = body.replace(b'"order.paid"', b'"order.refunded"')
    assert client.post("/webhooks/ce", headers=headers, content=tampered).status_code == 401
    assert client.post("/webhooks/ce", headers=headers, content=body).status_code == 200
    assert handled[-1].type == "order.paid"


def test_a_plain_lab_delivery_is_not_taken_for_a_cloudevent(client, handled):
    answer = client.post("/webhooks/ce", json={"type": "order.paid", "data": {"n": 1}})
    assert answer.status_code == 200 and handled[-1].data == {"n": 1}
