"""Lesson 5's checks accept the reference solutions and reject the usual slips, in plain words."""

from __future__ import annotations

import random
from pathlib import Path

from webhooks_lab.checks import delivery as check

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def solution(name: str, function: str):
    scope: dict = {}
    exec((SOLUTIONS / name).read_text(), scope)
    return scope[function]


# -- exercise 1: backoff with jitter -------------------------------------------------------------


def test_the_backoff_check_accepts_the_reference_solution():
    result = check.backoff(solution("05_next_wait.py", "next_wait"))
    assert result, repr(result)
    assert "double from 5 s" in result.message


def test_the_backoff_check_notices_missing_jitter():
    result = check.backoff(lambda made: min(3600, 5 * 2 ** (made - 1)))
    assert not result
    assert "was always 5 s" in result.message
    assert "random.uniform(0.8, 1.2)" in result.hint


def test_the_backoff_check_notices_a_missing_cap():
    result = check.backoff(lambda made: 5 * 2 ** (made - 1) * random.uniform(0.8, 1.2))
    assert not result
    assert "without a cap" in result.message


def test_the_backoff_check_notices_the_wrong_start():
    result = check.backoff(lambda made: min(3600, 2**made) * random.uniform(0.8, 1.2))
    assert not result
    assert "should be 5 s ± 20 %" in result.message


def test_the_backoff_check_says_an_unfinished_exercise_is_not_done():
    def next_wait(attempts_made): ...

    assert repr(check.backoff(next_wait)).startswith("❌ Not yet: this exercise is not done yet")


def test_the_backoff_check_turns_an_error_into_words():
    result = check.backoff(lambda made: 1 / 0)
    assert not result
    assert "ZeroDivisionError" in result.message


# -- exercise 2: apply the newest version, whatever the order ------------------------------------


def test_the_ordering_check_accepts_the_reference_solution():
    result = check.apply_latest(solution("05_apply_update.py", "apply_update"))
    assert result, repr(result)


def test_the_ordering_check_rejects_last_write_wins():
    def apply_update(orders, event):
        orders[event.data["order"]] = {"status": event.data["status"]}

    result = check.apply_latest(apply_update)
    assert not result
    assert "arrived last" in result.message
    assert "'paid'" in result.message
    assert "not newer" in result.hint


def test_the_ordering_check_rejects_a_handler_that_keeps_nothing():
    def apply_update(orders, event):
        orders[event.data["order"]] = {"status": "created", "version": 1}

    result = check.apply_latest(apply_update)
    assert not result
    assert "in the order they happened" in result.message


def test_the_ordering_check_says_an_unfinished_exercise_is_not_done():
    def apply_update(orders, event): ...

    assert "not done yet" in check.apply_latest(apply_update).message
