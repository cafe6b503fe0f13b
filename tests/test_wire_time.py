"""Facts on the wire are real time: a lab clock sped up 3,600 times still signs what any outside
verifier accepts, and still checks tolerance against the real clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.lab import Lab

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def fast() -> Iterator[Lab]:
    with Lab(speed=3600) as running:
        yield running


def test_a_sped_up_lab_signs_with_real_time_and_the_reference_verifier_agrees(fast):
    time.sleep(1.1)  # an hour of lab time has passed; the wire must not notice
    fast.sender.add_endpoint(fast.receiver.url_for("wire"), secret=SECRET)
    fast.send(Event("order.paid", {"n": 1}))
    (arrived,) = fast.receiver.inbox.wait_for(1, timeout=10, endpoint="wire")
    stamp = int(arrived.headers["webhook-timestamp"])
    assert abs(stamp - time.time()) < 60, "webhook-timestamp is lab time, not real time"
    Webhook(SECRET).verify(arrived.body, arrived.headers)  # raises if it would refuse it


def test_a_sped_up_lab_checks_tolerance_against_real_time(fast):
    fast.receiver.endpoint("checked").require(SECRET)
    time.sleep(1.1)  # an hour of lab time: a delivery signed now is still fresh in real time
    body = b'{"type": "t", "data": {}}'
    headers = signing.headers_for(
        "standard", SECRET, body, msg_id="msg_fresh", timestamp=int(time.time())
    )
    answer = httpx.post(fast.receiver.url_for("checked"), content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
