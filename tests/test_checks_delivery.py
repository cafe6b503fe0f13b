"""Lesson 5's checks accept right answers, refuse the slips people really make, and teach."""

from __future__ import annotations

import random
from typing import Any

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab.checks import delivery as check
from webhooks_lab.checks.hints import forget_attempts


@pytest.fixture(autouse=True)
def no_attempts_yet():
    forget_attempts()


def solution(name: str, function: str) -> Any:
    return run_solution(name, {})[function]


# -- exercise 1: backoff with jitter -------------------------------------------------------------


def test_the_backoff_check_accepts_the_reference_solution():
    result = check.backoff(solution("05_next_wait.py", "next_wait"))
    assert result, repr(result)
    assert "double from 5 s" in result.message


def additive_jitter(made):
    planned = min(3600, 5 * 2 ** (made - 1))
    return planned + random.uniform(-0.2 * planned, 0.2 * planned)


def doubling_loop_with_system_random(made):
    wait = 5.0
    for _ in range(made - 1):
        wait = min(wait * 2, 3600)
    return wait * (0.8 + 0.4 * random.SystemRandom().random())


@pytest.mark.parametrize("next_wait", [additive_jitter, doubling_loop_with_system_random])
def test_the_backoff_check_accepts_other_right_answers(next_wait):
    result = check.backoff(next_wait)
    assert result, repr(result)


BACKOFF_SLIPS = [
    ("no jitter", lambda n: min(3600, 5 * 2 ** (n - 1)), "was always 5 s"),
    (
        "±10 % jitter",
        lambda n: min(3600, 5 * 2 ** (n - 1)) * random.uniform(0.9, 1.1),
        "not ±20 %",
    ),
    (
        "jitter only upwards",
        lambda n: min(3600, 5 * 2 ** (n - 1)) * random.uniform(1.0, 1.2),
        "never below the planned 5 s",
    ),
    ("no cap", lambda n: 5 * 2 ** (n - 1) * random.uniform(0.8, 1.2), "without a cap"),
    (
        "cap after the jitter",
        lambda n: min(3600, 5 * 2 ** (n - 1) * random.uniform(0.8, 1.2)),
        "capped the wait after jittering",
    ),
    (
        "one doubling too many",
        lambda n: min(3600, 5 * 2**n) * random.uniform(0.8, 1.2),
        "twice the wait it should be",
    ),
    (
        "the wrong start",
        lambda n: min(3600, 2**n) * random.uniform(0.8, 1.2),
        "should be 5 s ± 20 %",
    ),
    (
        "full jitter",
        lambda n: random.uniform(0, min(3600, 5 * 2 ** (n - 1))),
        "wider than the ±20 % asked",
    ),
    ("a string", lambda n: f"{5 * 2 ** (n - 1)} s", "should return a number"),
]


@pytest.mark.parametrize(
    ("next_wait", "words"),
    [pytest.param(fn, words, id=slip) for slip, fn, words in BACKOFF_SLIPS],
)
def test_the_backoff_check_refuses_the_usual_slips_and_names_them(next_wait, words):
    result = check.backoff(next_wait)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_backoff_check_measures_the_spread_the_same_way_every_run():
    ten_percent = BACKOFF_SLIPS[1][1]
    assert check.backoff(ten_percent).message == check.backoff(ten_percent).message


def test_the_backoff_check_leaves_the_learners_random_sequence_alone():
    random.seed(42)
    expected = [random.random() for _ in range(3)]
    random.seed(42)
    check.backoff(solution("05_next_wait.py", "next_wait"))
    assert [random.random() for _ in range(3)] == expected


def test_the_backoff_check_gives_the_idea_first_and_the_detail_after_a_wrong_try():
    no_jitter = BACKOFF_SLIPS[0][1]
    first, second = check.backoff(no_jitter), check.backoff(no_jitter)
    assert "random amount" in first.hint and "random.uniform" not in first.hint
    assert "random.uniform(0.8, 1.2)" in second.hint


def test_the_backoff_check_teaches_without_telling_on_the_starter_code():
    namespace: dict[str, Any] = {}
    run_cell(exercise("05", "backoff").starter, namespace)
    starter = namespace["next_wait"]
    result = check.backoff(starter)
    assert_teaches_without_telling(result, "05_next_wait.py", exercise("05", "backoff"))
    assert "returned None" in result.message


def test_the_backoff_check_turns_an_error_into_words():
    result = check.backoff(lambda made: 1 / 0)
    assert not result
    assert "ZeroDivisionError" in result.message


# -- exercise 2: apply the newest version, whatever the order ------------------------------------


def test_the_ordering_check_accepts_the_reference_solution():
    result = check.apply_latest(solution("05_apply_update.py", "apply_update"))
    assert result, repr(result)


def keeps_the_newer_with_max(orders, event):
    new = {"status": event.data["status"], "version": event.data["version"]}
    old = orders.get(event.data["order"], new)
    orders[event.data["order"]] = max(old, new, key=lambda state: state["version"])


def skips_only_the_strictly_older(orders, event):
    current = orders.get(event.data["order"], {"version": 0})
    if event.data["version"] < current["version"]:
        return
    orders[event.data["order"]] = {"status": event.data["status"], "version": event.data["version"]}


@pytest.mark.parametrize("apply_update", [keeps_the_newer_with_max, skips_only_the_strictly_older])
def test_the_ordering_check_accepts_other_right_answers(apply_update):
    result = check.apply_latest(apply_update)
    assert result, repr(result)


def last_write_wins(orders, event):  # the lesson's starting point
    orders[event.data["order"]] = {"status": event.data["status"], "version": event.data["version"]}


def first_write_wins(orders, event):
    orders.setdefault(
        event.data["order"], {"status": event.data["status"], "version": event.data["version"]}
    )


seen_ids: set[str] = set()


def dedupes_on_the_event_id(orders, event):
    if event.id in seen_ids:
        return
    seen_ids.add(event.id)
    orders[event.data["order"]] = {"status": event.data["status"], "version": event.data["version"]}


def keeps_the_highest_version_but_always_the_new_status(orders, event):
    old = orders.get(event.data["order"], {"version": 0})["version"]
    orders[event.data["order"]] = {
        "status": event.data["status"],
        "version": max(old, event.data["version"]),
    }


newest = {"version": 0}


def compares_with_the_newest_of_any_order(orders, event):
    if event.data["version"] < newest["version"]:
        return
    newest["version"] = event.data["version"]
    orders[event.data["order"]] = {"status": event.data["status"], "version": event.data["version"]}


def stores_nothing(orders, event):
    pass


@pytest.mark.parametrize(
    ("apply_update", "words"),
    [
        (last_write_wins, "arrived last"),
        (first_write_wins, "in the order they happened"),
        (dedupes_on_the_event_id, "arrived last"),
        (keeps_the_highest_version_but_always_the_new_status, "arrived last"),
        (compares_with_the_newest_of_any_order, "order 9 should be 'cancelled'"),
        (stores_nothing, "holds no order"),
    ],
)
def test_the_ordering_check_refuses_the_usual_slips_and_names_them(apply_update, words):
    seen_ids.clear()
    newest["version"] = 0
    result = check.apply_latest(apply_update)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_ordering_check_gives_the_idea_first_and_the_detail_after_a_wrong_try():
    first, second = check.apply_latest(last_write_wins), check.apply_latest(last_write_wins)
    assert "compare it with what you hold" in first.hint
    assert "not newer than the stored one" in second.hint


def test_the_ordering_check_teaches_without_telling_on_the_starter_code():
    namespace: dict[str, Any] = {}
    run_cell(exercise("05", "apply_latest").starter, namespace)
    starter = namespace["apply_update"]
    result = check.apply_latest(starter)
    assert_teaches_without_telling(result, "05_apply_update.py", exercise("05", "apply_latest"))
    assert "arrived last" in result.message
