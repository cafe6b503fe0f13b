"""Lesson 9's checks accept right answers, refuse the slips people really make, and teach."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab import signing
from webhooks_lab.checks import together as check
from webhooks_lab.checks.hints import forget_attempts
from webhooks_lab.lab import Lab


@pytest.fixture(autouse=True)
def no_attempts_yet():
    forget_attempts()


@pytest.fixture
def fast_lab() -> Iterator[Lab]:
    """The lesson's lab: its clock runs 20x, so a retry due in 5 s comes after 0.25 s."""
    with Lab(speed=20) as running:
        yield running


# -- exercise 1: wire a case of your own -----------------------------------------------------------


def test_own_case_accepts_the_reference_solution(fast_lab):
    namespace = run_solution("09_own_case.py", {"lab": fast_lab, "signing": signing})
    result = check.own_case(fast_lab, namespace["stars_secret"], namespace["starred"])
    assert result, result
    assert len(namespace["starred"]) == 1  # the check's star, once; the forgeries never got in


def with_a_rotation_list_and_every_type(lab: Lab, secret: str, starred: list) -> None:
    lab.receiver.endpoint("stars").require([secret, signing.generate_secret()])
    lab.receiver.on("stars", "star.created")(lambda event: starred.append(event.data["repository"]))
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=secret)


def with_a_plain_registration_call(lab: Lab, secret: str, starred: list) -> None:
    def post_to_chat(event):
        starred.append(event.data["repository"])

    endpoint = lab.receiver.endpoint("stars")
    endpoint.require(secret)
    lab.receiver.on("stars", "star.created")(post_to_chat)
    lab.sender.add_endpoint(endpoint_url(lab), secret=secret, types="star.created")


def endpoint_url(lab: Lab) -> str:
    return lab.receiver.url_for("stars")


@pytest.mark.parametrize(
    "wire", [with_a_rotation_list_and_every_type, with_a_plain_registration_call]
)
def test_own_case_accepts_other_right_wirings(fast_lab, wire):
    secret, starred = signing.generate_secret(), []
    wire(fast_lab, secret, starred)
    result = check.own_case(fast_lab, secret, starred)
    assert result, result
    assert len(starred) == 1


def receiver_only_handler(lab, secret, starred):
    lab.receiver.on("stars", "star.created")(lambda event: starred.append(event.data["repository"]))
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=secret, types=["star.created"])


def requires_a_fresh_secret(lab, secret, starred):
    lab.receiver.endpoint("stars").require(signing.generate_secret())
    receiver_only_handler(lab, secret, starred)


def handler_for_the_wrong_type(lab, secret, starred):
    lab.receiver.endpoint("stars").require(secret)
    lab.receiver.on("stars", "stars.created")(
        lambda event: starred.append(event.data["repository"])
    )
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=secret, types=["star.created"])


def appends_the_whole_payload(lab, secret, starred):
    lab.receiver.endpoint("stars").require(secret)
    lab.receiver.on("stars", "star.created")(lambda event: starred.append(event.data))
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=secret, types=["star.created"])


def wires_the_receiver_but_not_the_sender(lab, secret, starred):
    lab.receiver.endpoint("stars").require(secret)
    lab.receiver.on("stars", "star.created")(lambda event: starred.append(event.data["repository"]))


def registers_the_wrong_url(lab, secret, starred):
    wires_the_receiver_but_not_the_sender(lab, secret, starred)
    lab.sender.add_endpoint(f"{lab.receiver.url}/stars", secret=secret, types=["star.created"])


def registers_for_another_type(lab, secret, starred):
    wires_the_receiver_but_not_the_sender(lab, secret, starred)
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), secret=secret, types=["star.deleted"])


def registers_without_a_secret(lab, secret, starred):
    wires_the_receiver_but_not_the_sender(lab, secret, starred)
    lab.sender.add_endpoint(lab.receiver.url_for("stars"), types=["star.created"])


def signs_with_another_secret(lab, secret, starred):
    wires_the_receiver_but_not_the_sender(lab, secret, starred)
    lab.sender.add_endpoint(
        lab.receiver.url_for("stars"), secret=signing.generate_secret(), types=["star.created"]
    )


@pytest.mark.parametrize(
    ("wire", "words"),
    [
        (receiver_only_handler, "accepts deliveries nobody signed"),
        (requires_a_fresh_secret, "not with stars_secret"),
        (handler_for_the_wrong_type, "no handler on /webhooks/stars for star.created"),
        (appends_the_whole_payload, "starred gained [{"),
        (wires_the_receiver_but_not_the_sender, "the sender does not know your URL"),
        (registers_the_wrong_url, "the sender does not know your URL"),
        (registers_for_another_type, "for star.deleted, not star.created"),
        (registers_without_a_secret, "without a secret"),
        (signs_with_another_secret, "another secret"),
    ],
)
def test_own_case_refuses_the_usual_slips_and_names_them(fast_lab, wire, words):
    secret, starred = signing.generate_secret(), []
    wire(fast_lab, secret, starred)
    result = check.own_case(fast_lab, secret, starred)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_own_case_teaches_without_telling_on_the_starter_code(fast_lab):
    namespace: dict[str, Any] = {"lab": fast_lab}
    run_cell(exercise("09", "own_case").starter, namespace)
    result = check.own_case(fast_lab, namespace["stars_secret"], namespace["starred"])
    assert_teaches_without_telling(result, "09_own_case.py", exercise("09", "own_case"))
    assert "require" not in result.hint
    again = check.own_case(fast_lab, namespace["stars_secret"], namespace["starred"])
    assert "require" in again.hint


# -- exercise 2: survive a replay after a restart -----------------------------------------------


def stock_handler(lab: Lab, take: Callable[[Any, dict], None]) -> dict[str, int]:
    stock = {"mug": 10}
    lab.receiver.on("shop-payments", "payment.succeeded")(lambda event: take(event, stock))
    return stock


def the_starting_point(lab: Lab) -> dict[str, int]:
    namespace: dict[str, Any] = {"lab": lab}
    run_cell(exercise("09", "survives_replay").starter, namespace)
    return namespace["stock"]


def remembers_payment_ids(lab: Lab) -> dict[str, int]:
    done: set[str] = set()

    def take(event, stock):
        if event.data["payment"] not in done:
            done.add(event.data["payment"])
            stock["mug"] -= event.data["items"]["mug"]

    return stock_handler(lab, take)


def a_table_with_a_unique_key(lab: Lab) -> dict[str, int]:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE handled (event_id TEXT PRIMARY KEY)")

    def take(event, stock):
        with db:
            if db.execute("INSERT OR IGNORE INTO handled VALUES (?)", (event.id,)).rowcount:
                for product, quantity in event.data["items"].items():
                    stock[product] -= quantity

    return stock_handler(lab, take)


@pytest.mark.parametrize(
    "handler",
    [remembers_payment_ids, a_table_with_a_unique_key],
    ids=["the payment's own id", "a table with a unique key"],
)
def test_surviving_a_replay_accepts_other_right_handlers(fast_lab, handler):
    stock = handler(fast_lab)
    result = check.survives_replay(fast_lab, stock)
    assert result, result
    assert stock == {"mug": 8}


def test_surviving_a_replay_accepts_the_reference_solution(fast_lab):
    namespace = run_solution("09_survive_replay.py", {"lab": fast_lab})
    result = check.survives_replay(fast_lab, namespace["stock"])
    assert result, result
    assert namespace["stock"] == {"mug": 8}  # two different payments, one mug each


def forgets_between_calls(lab):
    def take(event, stock):
        handled = set()  # made afresh at every call: remembers nothing
        if event.id in handled:
            return
        handled.add(event.id)
        stock["mug"] -= 1

    return stock_handler(lab, take)


def trusts_the_receivers_memory(lab):
    def take(event, stock):
        if lab.receiver.endpoint("shop-payments").seen.get(event.id):  # handled before?
            return
        stock["mug"] -= 1

    return stock_handler(lab, take)


def checks_but_never_records(lab):
    handled: set[str] = set()

    def take(event, stock):
        if event.id not in handled:
            stock["mug"] -= 1

    return stock_handler(lab, take)


def dedupes_on_the_event_type(lab):
    handled: set[str] = set()

    def take(event, stock):
        if event.type in handled:
            return
        handled.add(event.type)
        stock["mug"] -= 1

    return stock_handler(lab, take)


def takes_one_of_everything(lab):
    handled: set[str] = set()

    def take(event, stock):
        if event.id not in handled:
            handled.add(event.id)
            stock["mug"] -= 2

    return stock_handler(lab, take)


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (the_starting_point, "took the mug again"),
        (forgets_between_calls, "took the mug again"),
        (trusts_the_receivers_memory, "took the mug again"),
        (checks_but_never_records, "took the mug again"),
        (dedupes_on_the_event_type, "a second, different payment"),
        (takes_one_of_everything, "changed the stock from 10 to 8"),
    ],
)
def test_surviving_a_replay_refuses_the_usual_slips_and_names_them(fast_lab, handler, words):
    stock = handler(fast_lab)
    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_surviving_a_replay_judges_the_handler_not_how_often_its_cell_ran(fast_lab):
    the_starting_point(fast_lab)
    stock = the_starting_point(fast_lab)  # the cell run a second time replaces its handler
    assert len(fast_lab.receiver.endpoint("shop-payments").handlers_for("payment.succeeded")) == 1
    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "took the mug again" in result.message


def test_surviving_a_replay_notices_two_different_handlers_for_one_payment(fast_lab):
    stock = the_starting_point(fast_lab)

    @fast_lab.receiver.on("shop-payments", "payment.succeeded")
    def also_take(event):  # type: ignore[no-untyped-def]
        stock["mug"] -= 1

    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "2 handlers" in result.message


def test_surviving_a_replay_teaches_without_telling_on_the_starter_code(fast_lab):
    stock = the_starting_point(fast_lab)
    result = check.survives_replay(fast_lab, stock)
    assert_teaches_without_telling(
        result, "09_survive_replay.py", exercise("09", "survives_replay")
    )
    assert "event.id" not in result.hint
    assert "event.id" in check.survives_replay(fast_lab, stock).hint
