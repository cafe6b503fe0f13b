"""Lesson 0's checks: the solutions and other right answers pass; the wrong answers people write
are refused, each with words that name the slip; the notebook's own starter gets a hint that
teaches without giving the answer away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab import Event
from webhooks_lab.checks import start as check

# The lesson's own cells run first, as a learner would have run them; the lab is the test's.
LESSON_SKIP = ("webhooks_lab.start(", "inbox_page(", "check_environment(")


# -- exercise 1: send a signup ---------------------------------------------------------------------


def hello(lab: Any, **request: Any) -> None:
    httpx.post(lab.receiver.url_for("hello"), **request)


SIGNUP = {"type": "user.created", "data": {"email": "ada@example.com"}}

WRONG_SIGNUPS: list[tuple[str, Callable[[Any], None], str]] = [
    ("nothing sent", lambda lab: None, "nothing has arrived at /webhooks/hello"),
    (
        "another endpoint",
        lambda lab: httpx.post(lab.receiver.url_for("signup"), json=SIGNUP),
        "arrived at /webhooks/signup",
    ),
    ("sent as a form", lambda lab: hello(lab, data={"type": "user.created"}), "not JSON"),
    (
        "encoded twice",
        lambda lab: hello(lab, json=json.dumps(SIGNUP)),
        "a JSON string, not a JSON object",
    ),
    (
        "type inside data",
        lambda lab: hello(lab, json={"data": {"type": "user.created", "email": "a@b.c"}}),
        "no type at the top level (it is inside data)",
    ),
    (
        "type misspelt",
        lambda lab: hello(lab, json={"type": "user_created", "data": {"email": "a@b.c"}}),
        "type is 'user_created', not 'user.created'",
    ),
    (
        "email next to type",
        lambda lab: hello(lab, json={"type": "user.created", "email": "a@b.c", "data": {}}),
        "no email, next to type, instead of inside data",
    ),
    (
        "not an address",
        lambda lab: hello(lab, json={"type": "user.created", "data": {"email": "ada"}}),
        "'ada' is not an address",
    ),
]


@pytest.mark.parametrize(
    ("slip", "send", "words"), WRONG_SIGNUPS, ids=[w[0] for w in WRONG_SIGNUPS]
)
def test_first_event_refuses_a_wrong_signup_naming_the_slip(lab, slip, send, words):
    send(lab)
    result = check.first_event(lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_first_event_judges_the_last_attempt_not_an_older_right_one(lab):
    hello(lab, json=SIGNUP)
    hello(lab, json={"type": "user.created", "data": {"name": "Ada"}})
    assert not check.first_event(lab)


RIGHT_SIGNUPS: list[tuple[str, Callable[[Any], None]]] = [
    (
        "url_for and more data",
        lambda lab: hello(lab, json={**SIGNUP, "data": {"email": "a@b.c", "name": "A"}}),
    ),
    (
        "bytes with a content-type",
        lambda lab: hello(
            lab, content=json.dumps(SIGNUP).encode(), headers={"content-type": "application/json"}
        ),
    ),
    (
        "the lab's own sender",
        lambda lab: asyncio.run(
            lab.sender.deliver_to(
                lab.receiver.url_for("hello"), Event("user.created", {"email": "a@b.c"})
            )
        ),
    ),
]


@pytest.mark.parametrize(("way", "send"), RIGHT_SIGNUPS, ids=[r[0] for r in RIGHT_SIGNUPS])
def test_first_event_accepts_other_right_ways(lab, way, send):
    send(lab)
    result = check.first_event(lab)
    assert result, result


def test_first_event_accepts_the_solution(lab):
    run_solution("00_first_event.py", {"lab": lab, "httpx": httpx})
    assert check.first_event(lab)


def test_first_event_answers_the_notebooks_starter_with_what_to_do(lab):
    cells = exercise("00", "first_event")
    namespace = {"lab": lab, "httpx": httpx}
    cells.run_lesson(namespace, skip=LESSON_SKIP)  # it sends a user.created to /webhooks/demo
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert "nothing has arrived at /webhooks/hello" in answer.message
    assert_teaches_without_telling(answer, "00_first_event.py", cells)


# -- exercise 2: a handler that counts ----------------------------------------------------------


def counts_every_event(lab, orders):  # type: ignore[no-untyped-def]
    @lab.receiver.on("count")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += 1


def sets_instead_of_adding(lab, orders):  # type: ignore[no-untyped-def]
    @lab.receiver.on("count", "order.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] = 1


def adds_the_order_number(lab, orders):  # type: ignore[no-untyped-def]
    @lab.receiver.on("count", "order.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += event.data["order"]


def misspells_the_type(lab, orders):  # type: ignore[no-untyped-def]
    @lab.receiver.on("count", "orders.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += 1


def uses_another_endpoint(lab, orders):  # type: ignore[no-untyped-def]
    @lab.receiver.on("orders", "order.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += 1


def counts_a_copy(lab, orders):  # type: ignore[no-untyped-def]
    count = orders["count"]

    @lab.receiver.on("count", "order.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1


WRONG_COUNTERS = [
    (counts_every_event, "the user.created event was counted too"),  # hint: "give it the type"
    (sets_instead_of_adding, "changed the count by 1, not 2"),
    (adds_the_order_number, "your handler failed on a order.created event (500)"),
    (misspells_the_type, "a handler for 'orders.created', but none for 'order.created'"),
    (uses_another_endpoint, "your order.created handler is on /webhooks/orders"),
    (counts_a_copy, "your handler ran but changed nothing"),
]


@pytest.mark.parametrize(
    ("wrong", "words"), WRONG_COUNTERS, ids=[w[0].__name__ for w in WRONG_COUNTERS]
)
def test_counting_handler_refuses_a_wrong_handler_naming_the_slip(lab, wrong, words):
    orders = {"count": 0}
    wrong(lab, orders)
    result = check.counting_handler(lab, orders)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_counting_handler_names_a_leftover_handler_for_every_type(lab):
    orders = {"count": 0}
    counts_every_event(lab, orders)  # the first attempt, still registered

    @lab.receiver.on("count", "order.created")
    def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += 1

    result = check.counting_handler(lab, orders)
    assert not result
    assert "an earlier handler for every type, count_order" in result.hint


def test_counting_handler_refuses_a_counter_that_is_not_a_dict(lab):
    result = check.counting_handler(lab, 0)
    assert not result and "should be a dict" in result.message


def test_counting_handler_accepts_one_handler_for_every_type_that_picks_its_own(lab):
    orders = {"count": 0}

    @lab.receiver.endpoint("count").on()
    def count_orders_only(event):  # type: ignore[no-untyped-def]
        if event.type == "order.created":
            orders.update(count=orders["count"] + 1)

    assert check.counting_handler(lab, orders)


def test_counting_handler_accepts_an_async_handler(lab):
    orders = {"count": 0}

    @lab.receiver.on("count", "order.created")
    async def count_order(event):  # type: ignore[no-untyped-def]
        orders["count"] += 1

    assert check.counting_handler(lab, orders)


def test_counting_handler_accepts_the_solution(lab):
    namespace = run_solution("00_counting_handler.py", {"lab": lab})
    result = check.counting_handler(lab, namespace["orders"])
    assert result, result


def test_counting_handler_answers_the_notebooks_starter_with_what_to_do(lab):
    cells = exercise("00", "counting_handler")
    namespace = {"lab": lab, "check": check}
    cells.run_lesson(namespace, skip=LESSON_SKIP)
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, "00_counting_handler.py", cells)
