"""Lesson 2's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from webhooks_lab import signing
from webhooks_lab.checks import anatomy as check
from webhooks_lab.lessons.email_outbox import EmailOutbox

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"

# Generous on purpose: the right answer takes milliseconds, the wrong one at least WORK_SECONDS.
WORK_SECONDS = 1.5
PATIENCE = 0.75


def run_solution(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a solution file the way ``%load`` + run would: in the notebook's namespace."""
    exec(compile((SOLUTIONS / name).read_text(), name, "exec", dont_inherit=True), namespace)
    return namespace


# -- exercise 1: send a webhook by hand ------------------------------------------------------------


@pytest.fixture
def parcels(lab):  # type: ignore[no-untyped-def]
    secret = signing.generate_secret()
    lab.receiver.endpoint("parcels").require(secret)
    return secret


def post(lab, body: bytes, headers: dict[str, str]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(lab.receiver.url_for("parcels"), content=body, headers=headers)


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    headers = signing.sign_headers(secret, body, msg_id="msg_test", timestamp=int(time.time()))
    return {"content-type": "application/json", **headers}


SHIPPED = {"type": "order.shipped", "timestamp": "2026-11-28T10:00:00Z", "data": {"order": "A-1"}}


def test_sending_by_hand_accepts_the_reference_solution(lab, parcels):
    namespace = {"lab": lab, "parcels_secret": parcels, "json": json, "time": time}
    run_solution("02_send_by_hand.py", {**namespace, "httpx": httpx, "signing": signing})
    result = check.sent_by_hand(lab)
    assert result, result


def test_sending_by_hand_says_when_nothing_arrived(lab, parcels):
    result = check.sent_by_hand(lab)
    assert not result
    assert "nothing has arrived" in result.message


def test_sending_by_hand_rejects_a_delivery_without_a_signature(lab, parcels):
    body = json.dumps(SHIPPED).encode()
    headers = {k: v for k, v in signed_headers(parcels, body).items() if k != "webhook-signature"}
    post(lab, body, headers)
    result = check.sent_by_hand(lab)
    assert not result
    assert "webhook-signature" in result.message


def test_sending_by_hand_rejects_a_signature_over_other_bytes(lab, parcels):
    body = json.dumps(SHIPPED).encode()
    headers = signed_headers(parcels, json.dumps(SHIPPED, indent=2).encode())
    post(lab, body, headers)
    result = check.sent_by_hand(lab)
    assert not result
    assert "refused the signature" in result.message


def test_sending_by_hand_rejects_a_payload_without_a_timestamp(lab, parcels):
    body = json.dumps({"type": "order.shipped", "data": {"order": "A-1"}}).encode()
    post(lab, body, signed_headers(parcels, body))
    result = check.sent_by_hand(lab)
    assert not result
    assert "'timestamp'" in result.message


# -- exercise 2: answer fast -----------------------------------------------------------------------


@pytest.fixture
def lesson(lab):  # type: ignore[no-untyped-def]
    """The notebook's receive/process pair, with its email outbox."""
    emails = EmailOutbox()

    def receive(event):  # type: ignore[no-untyped-def]
        return {"email": event.data["email"], "status": "PROCESSING"}

    def process(row):  # type: ignore[no-untyped-def]
        time.sleep(WORK_SECONDS)
        row["status"] = "PROCESSED"
        emails.send(row["email"], "Welcome to the newsletter!")

    return {"lab": lab, "emails": emails, "receive": receive, "process": process}


def test_answering_fast_accepts_the_reference_solution(lab, lesson):
    namespace = run_solution("02_welcome_quickly.py", dict(lesson))
    result = check.answer_fast(
        lab, namespace["welcome_quickly"], lesson["emails"], timeout=PATIENCE
    )
    assert result, result


def test_answering_fast_rejects_working_before_answering(lab, lesson):
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["process"](lesson["receive"](event))

    result = check.answer_fast(lab, welcome_quickly, lesson["emails"], timeout=PATIENCE)
    assert not result
    assert "no answer within" in result.message


def test_answering_fast_rejects_skipping_the_work(lab, lesson):
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["receive"](event)  # answers at once, and never sends the email

    result = check.answer_fast(lab, welcome_quickly, lesson["emails"], timeout=PATIENCE, wait=0.3)
    assert not result
    assert "no welcome email" in result.message


def test_answering_fast_says_when_the_handler_is_not_a_function(lab, lesson):
    result = check.answer_fast(lab, ..., lesson["emails"])
    assert not result
    assert "should be a function" in result.message
