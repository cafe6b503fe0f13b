"""Lesson 9's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webhooks_lab import signing
from webhooks_lab.checks import together as check
from webhooks_lab.lab import Lab

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


@pytest.fixture
def fast_lab() -> Iterator[Lab]:
    """The lesson's lab: its clock runs 20x, so a retry due in 5 s comes after 0.25 s."""
    running = Lab(speed=20)
    try:
        yield running
    finally:
        running.stop()


def run_solution(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a solution file the way ``%load`` + run would: in the notebook's namespace."""
    exec(compile((SOLUTIONS / name).read_text(), name, "exec", dont_inherit=True), namespace)
    return namespace


# -- exercise 1: wire a case of your own -----------------------------------------------------------


def test_own_case_accepts_the_reference_solution(fast_lab):
    namespace = run_solution("09_own_case.py", {"lab": fast_lab, "signing": signing})
    result = check.own_case(fast_lab, namespace["stars_secret"], namespace["starred"])
    assert result, result
    assert len(namespace["starred"]) == 1  # the check's star, once; the forgery never got in


def test_own_case_rejects_an_endpoint_that_checks_no_signature(fast_lab):
    secret, starred = signing.generate_secret(), []
    fast_lab.receiver.on("stars", "star.created")(lambda event: starred.append(1))
    fast_lab.sender.add_endpoint(
        fast_lab.receiver.url_for("stars"), secret=secret, types=["star.created"]
    )
    result = check.own_case(fast_lab, secret, starred)
    assert not result
    assert "nobody signed" in result.message


def test_own_case_rejects_wiring_the_receiver_but_not_the_sender(fast_lab):
    secret, starred = signing.generate_secret(), []
    fast_lab.receiver.endpoint("stars").require(secret)
    fast_lab.receiver.on("stars", "star.created")(
        lambda event: starred.append(event.data["repository"])
    )
    result = check.own_case(fast_lab, secret, starred)
    assert not result
    assert "the sender does not know your URL" in result.message


def test_own_case_rejects_a_sender_signing_with_another_secret(fast_lab):
    secret, starred = signing.generate_secret(), []
    fast_lab.receiver.endpoint("stars").require(secret)
    fast_lab.receiver.on("stars", "star.created")(
        lambda event: starred.append(event.data["repository"])
    )
    fast_lab.sender.add_endpoint(
        fast_lab.receiver.url_for("stars"),
        secret=signing.generate_secret(),
        types=["star.created"],
    )
    result = check.own_case(fast_lab, secret, starred)
    assert not result
    assert "another secret" in result.message


# -- exercise 2: survive a replay after a restart -----------------------------------------------


def starting_point(lab: Lab) -> dict[str, int]:
    """The notebook's handler as given: it takes stock for every delivery it sees."""
    stock = {"mug": 10}

    @lab.receiver.on("shop-payments", "payment.succeeded")
    def take_from_stock(event):  # type: ignore[no-untyped-def]
        for product, quantity in event.data["items"].items():
            stock[product] -= quantity

    return stock


def test_surviving_a_replay_accepts_the_reference_solution(fast_lab):
    namespace = run_solution("09_survive_replay.py", {"lab": fast_lab})
    result = check.survives_replay(fast_lab, namespace["stock"])
    assert result, result
    assert namespace["stock"] == {"mug": 8}  # two different payments, one mug each


def test_surviving_a_replay_rejects_the_starting_point(fast_lab):
    stock = starting_point(fast_lab)
    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "took the mug again" in result.message


def test_surviving_a_replay_rejects_a_handler_that_ignores_every_payment_after_the_first(fast_lab):
    stock, seen = {"mug": 10}, []

    @fast_lab.receiver.on("shop-payments", "payment.succeeded")
    def take_once(event):  # type: ignore[no-untyped-def]
        if not seen:
            stock["mug"] -= 1
        seen.append(event.id)

    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "second, different payment" in result.message


def test_surviving_a_replay_judges_the_handler_not_how_often_its_cell_ran(fast_lab):
    starting_point(fast_lab)
    stock = starting_point(fast_lab)  # the cell run a second time replaces its handler
    assert len(fast_lab.receiver.endpoint("shop-payments").handlers_for("payment.succeeded")) == 1
    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "took the mug again" in result.message


def test_surviving_a_replay_notices_two_different_handlers_for_one_payment(fast_lab):
    stock = starting_point(fast_lab)

    @fast_lab.receiver.on("shop-payments", "payment.succeeded")
    def also_take(event):  # type: ignore[no-untyped-def]
        stock["mug"] -= 1

    result = check.survives_replay(fast_lab, stock)
    assert not result
    assert "2 handlers" in result.message
