"""Lesson 2's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell

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


SHIPPED = {
    "type": "order.shipped",
    "timestamp": "2026-11-28T10:00:00Z",
    "data": {"order": "A-1", "carrier": "ParcelPost"},
}


def test_sending_by_hand_accepts_the_reference_solution(lab, parcels):
    namespace = {"lab": lab, "parcels_secret": parcels, "json": json, "time": time}
    run_solution("02_send_by_hand.py", {**namespace, "httpx": httpx, "signing": signing})
    result = check.sent_by_hand(lab)
    assert result, result


def test_sending_by_hand_answers_the_notebooks_starter_with_what_to_do(lab):
    cells = exercise("02", "sent_by_hand")
    namespace = {"lab": lab, "signing": signing}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, "02_send_by_hand.py", cells)


def shipped(**changes: Any) -> bytes:
    return json.dumps({**SHIPPED, **changes}).encode()


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def signed_at(secret: str, body: bytes, timestamp: int, stamp: str | None = None) -> dict[str, str]:
    """Headers signed at ``timestamp`` but saying ``stamp`` (the same, unless a slip)."""
    headers = signing.sign_headers(secret, body, msg_id="msg_test", timestamp=timestamp)
    headers["webhook-timestamp"] = stamp or str(timestamp)
    return {"content-type": "application/json", **headers}


def wrong_secret(secret: str) -> tuple[bytes, dict[str, str]]:
    return shipped(), signed_headers(signing.generate_secret(), shipped())


WRONG_DELIVERIES: list[tuple[str, Callable[[str], tuple[bytes, dict[str, str]]], str, str]] = [
    (
        "no signature",
        lambda s: (shipped(), without(signed_headers(s, shipped()), "webhook-signature")),
        "no webhook-signature header",
        "four",
    ),
    (
        "no content-type (content=bytes)",
        lambda s: (shipped(), without(signed_headers(s, shipped()), "content-type")),
        "no content-type header",
        "content=bytes",
    ),
    (
        "text/plain",
        lambda s: (shipped(), {**signed_headers(s, shipped()), "content-type": "text/plain"}),
        "cannot know the body is JSON",
        "application/json",
    ),
    (
        "signed one serialisation, sent another (json=payload)",
        lambda s: (
            json.dumps(SHIPPED, separators=(",", ":")).encode(),
            signed_headers(s, shipped()),
        ),
        "refused the signature",
        "spaced differently",
    ),
    (
        "time taken twice",
        lambda s: (shipped(), signed_at(s, shipped(), int(time.time()) - 1, str(int(time.time())))),
        "refused the signature",
        "another timestamp",
    ),
    (
        "milliseconds",
        lambda s: (shipped(), signed_at(s, shipped(), int(time.time() * 1000))),
        "refused the signature",
        "not milliseconds",
    ),
    ("another secret", wrong_secret, "refused the signature", "parcels_secret"),
    (
        "no timestamp in the payload",
        lambda s: (
            b := json.dumps(
                {"type": "order.shipped", "data": {"order": 1, "carrier": "P"}}
            ).encode(),
            signed_headers(s, b),
        ),
        "has no 'timestamp'",
        "three keys",
    ),
    (
        "Unix seconds in the payload",
        lambda s: (b := shipped(timestamp=int(time.time())), signed_headers(s, b)),
        "not an ISO 8601 date and time",
        "webhook-timestamp header",
    ),
    (
        "another type",
        lambda s: (b := shipped(type="order_shipped"), signed_headers(s, b)),
        "type is 'order_shipped', not 'order.shipped'",
        "exact strings",
    ),
    (
        "empty data",
        lambda s: (b := shipped(data={}), signed_headers(s, b)),
        "data is empty",
        "carrier",
    ),
    (
        "no carrier",
        lambda s: (b := shipped(data={"order": "A-1"}), signed_headers(s, b)),
        "does not say which carrier",
        "the order and the carrier",
    ),
]


@pytest.mark.parametrize(
    ("slip", "build", "words", "hint"), WRONG_DELIVERIES, ids=[w[0] for w in WRONG_DELIVERIES]
)
def test_sending_by_hand_refuses_a_wrong_delivery_naming_the_slip(
    lab, parcels, slip, build, words, hint
):
    body, headers = build(parcels)
    post(lab, body, headers)
    result = check.sent_by_hand(lab)
    assert not result
    assert words in result.message, result.message
    assert hint in result.hint, result.hint


RIGHT_DELIVERIES: list[tuple[str, Callable[[str], tuple[bytes, dict[str, str]]]]] = [
    (
        "compact JSON, Title-Case headers",
        lambda s: (
            b := json.dumps(SHIPPED, separators=(",", ":")).encode(),
            {k.title(): v for k, v in signed_headers(s, b).items()},
        ),
    ),
    (
        "an isoformat timestamp and nested data",
        lambda s: (
            b := shipped(
                timestamp=datetime.now(timezone.utc).isoformat(),
                data={"order": {"id": "A-7", "carrier": "ParcelPost"}},
            ),
            signed_headers(s, b),
        ),
    ),
]


@pytest.mark.parametrize(("way", "build"), RIGHT_DELIVERIES, ids=[r[0] for r in RIGHT_DELIVERIES])
def test_sending_by_hand_accepts_other_right_deliveries(lab, parcels, way, build):
    body, headers = build(parcels)
    post(lab, body, headers)
    result = check.sent_by_hand(lab)
    assert result, result


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

    return {"lab": lab, "emails": emails, "receive": receive, "process": process, "time": time}


def test_answering_fast_accepts_the_reference_solution(lab, lesson):
    namespace = run_solution("02_welcome_quickly.py", dict(lesson))
    result = check.answer_fast(
        lab, namespace["welcome_quickly"], lesson["emails"], timeout=PATIENCE
    )
    assert result, result


def test_answering_fast_answers_the_notebooks_starter_with_what_to_do(lab, lesson):
    cells = exercise("02", "answer_fast")
    namespace = {**lesson, "check": check}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)  # as the notebook calls it: patience 0.5 s
    assert "no answer within" in answer.message
    assert_teaches_without_telling(answer, "02_welcome_quickly.py", cells)


def only_the_quick_part(lesson):  # type: ignore[no-untyped-def]
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["receive"](event)

    return welcome_quickly


def submits_what_process_returns(lesson):  # type: ignore[no-untyped-def]
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["lab"].jobs.submit(lesson["process"](lesson["receive"](event)))

    return welcome_quickly


def submits_the_event_not_the_row(lesson):  # type: ignore[no-untyped-def]
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["receive"](event)
        lesson["lab"].jobs.submit(lesson["process"], event)

    return welcome_quickly


def async_but_blocking(lesson):  # type: ignore[no-untyped-def]
    async def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["process"](lesson["receive"](event))

    return welcome_quickly


def async_awaiting_the_work(lesson):  # type: ignore[no-untyped-def]
    async def welcome_quickly(event):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(lesson["process"], lesson["receive"](event))

    return welcome_quickly


def emails_twice(lesson):  # type: ignore[no-untyped-def]
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        row = lesson["receive"](event)
        lesson["emails"].send(row["email"], "Welcome!")  # "so it goes at once"
        lesson["lab"].jobs.submit(lesson["process"], row)

    return welcome_quickly


WRONG_HANDLERS = [
    (only_the_quick_part, "no welcome email was sent", "background job"),
    (submits_what_process_returns, "when it did finish, it had failed", "not what calling it"),
    (submits_the_event_not_the_row, "the background job failed", "the row that receive made"),
    (async_but_blocking, "Making the handler async does not make its work quick", "return"),
    (async_awaiting_the_work, "Making the handler async does not make its work quick", "job"),
    (emails_twice, "2 welcome emails went out for one subscription", "once"),
]


@pytest.mark.parametrize(
    ("wrong", "words", "hint"), WRONG_HANDLERS, ids=[w[0].__name__ for w in WRONG_HANDLERS]
)
def test_answering_fast_refuses_a_wrong_handler_naming_the_slip(lab, lesson, wrong, words, hint):
    result = check.answer_fast(lab, wrong(lesson), lesson["emails"], timeout=PATIENCE, wait=4)
    assert not result
    assert words in result.message, result.message
    assert hint in result.hint, result.hint


def test_answering_fast_accepts_a_thread_of_ones_own(lab, lesson):
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        row = lesson["receive"](event)
        threading.Thread(target=lesson["process"], args=(row,), daemon=True).start()

    result = check.answer_fast(lab, welcome_quickly, lesson["emails"], timeout=PATIENCE)
    assert result, result


def test_answering_fast_accepts_a_job_that_does_all_of_it(lab, lesson):
    def welcome_quickly(event):  # type: ignore[no-untyped-def]
        lesson["lab"].jobs.submit(lambda: lesson["process"](lesson["receive"](event)))

    result = check.answer_fast(lab, welcome_quickly, lesson["emails"], timeout=PATIENCE)
    assert result, result


def test_answering_fast_says_when_the_handler_is_not_a_function(lab, lesson):
    result = check.answer_fast(lab, ..., lesson["emails"])
    assert not result
    assert "should be a function" in result.message
