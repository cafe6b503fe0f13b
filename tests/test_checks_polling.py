"""Lesson 1's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell

from webhooks_lab.checks import polling as check
from webhooks_lab.lessons.polling import RaceReport, SideStats

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def solution(name: str) -> dict:
    namespace: dict = {}
    exec((SOLUTIONS / name).read_text(), namespace)
    return namespace


def measured(rate: float, *intervals: float, off_by: float = 1.0) -> RaceReport:
    """A report as a race would give it, each poller costing ``off_by`` × the arithmetic."""
    pollers = []
    for t in intervals:
        noticed = 100
        requests = round(noticed / (rate * t) * off_by)
        pollers.append(SideStats(f"poll every {t:g} s", t, noticed=noticed, requests=requests))
    webhook = SideStats("webhook", noticed=100, requests=100)
    return RaceReport(
        events=100, rate=rate, webhook=webhook, pollers=tuple(pollers), seconds=100 / rate
    )


# -- exercise 1 ------------------------------------------------------------------------------


def test_the_reference_formula_is_accepted():
    result = check.requests_per_event(solution("01_requests_per_event.py")["requests_per_event"])
    assert result, result


def test_the_reference_formula_is_accepted_and_compared_with_a_race():
    fn = solution("01_requests_per_event.py")["requests_per_event"]
    result = check.requests_per_event(fn, measured(1 / 6, 1, 5, 30))
    assert result and "measured" in result.message


def test_a_race_that_disagrees_with_the_formula_is_not_claimed_to_agree():
    fn = solution("01_requests_per_event.py")["requests_per_event"]
    result = check.requests_per_event(fn, measured(1 / 6, 1, 5, off_by=3))
    assert result and "measured" not in result.message


RIGHT_FORMULAS = [
    ("requests per second over events per second", lambda rate, interval: (1 / interval) / rate),
    ("divided twice", lambda rate, interval: 1 / rate / interval),
    ("as a Fraction-free float", lambda rate, interval: 1.0 / (interval * rate)),
    ("as a Fraction", lambda rate, interval: 1 / Fraction(rate) / Fraction(interval)),
]


@pytest.mark.parametrize(("way", "fn"), RIGHT_FORMULAS, ids=[r[0] for r in RIGHT_FORMULAS])
def test_other_ways_of_writing_the_formula_are_accepted(way, fn):
    assert check.requests_per_event(fn)


WRONG_FORMULAS = [
    ("multiplied", lambda rate, interval: rate * interval, "grows when the interval grows"),
    ("interval over rate", lambda rate, interval: interval / rate, "grows when the interval"),
    ("rate over interval", lambda rate, interval: rate / interval, "grows when there are more"),
    ("forgets the rate", lambda rate, interval: 1 / interval, "whatever the rate"),
    ("forgets the interval", lambda rate, interval: 1 / rate, "whatever the interval"),
    (
        "never below one",
        lambda rate, interval: max(1, 1 / (rate * interval)),
        "less than one",
    ),
    ("whole-number division", lambda rate, interval: 1 // (rate * interval), "it should be"),
    (
        "rounded",
        lambda rate, interval: round(1 / (rate * interval)),
        "it should be",
    ),
    ("a string", lambda rate, interval: f"{1 / (rate * interval)}", "not a number"),
]


@pytest.mark.parametrize(
    ("slip", "fn", "words"), WRONG_FORMULAS, ids=[w[0] for w in WRONG_FORMULAS]
)
def test_a_wrong_formula_is_refused_naming_the_slip(slip, fn, words):
    result = check.requests_per_event(fn)
    assert not result
    assert words in result.message, result.message


def test_whole_number_division_is_named_in_the_hint():
    assert "//" in check.requests_per_event(lambda r, i: 1 // (r * i)).hint


def test_rounding_is_named_in_the_hint():
    assert "round" in check.requests_per_event(lambda r, i: round(1 / (r * i))).hint


def test_multiplying_says_where_the_interval_belongs():
    assert "denominator" in check.requests_per_event(lambda r, i: r * i).hint


def test_a_function_that_raises_gets_an_answer_not_a_traceback():
    result = check.requests_per_event(lambda rate, interval: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


def test_the_notebooks_starter_formula_gets_a_hint_that_gives_nothing_away():
    cells = exercise("01", "requests_per_event")
    namespace: dict = {"tradeoff": measured(1 / 6, 1, 5, 30)}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert "does not return a number yet" in answer.message
    assert_teaches_without_telling(answer, "01_requests_per_event.py", cells)


# -- exercise 2 ------------------------------------------------------------------------------

LONGEST = 20 / 0.95  # 21.0526...: 95 % of waits are at most 0.95 × interval


@pytest.mark.parametrize("interval", [LONGEST, 21.05, 21.0526, Fraction(400, 19), 400 / 19])
def test_the_longest_interval_is_accepted_however_it_is_written(interval):
    result = check.deadline_interval(interval, deadline=20)
    assert result, result


def test_the_reference_interval_is_accepted():
    result = check.deadline_interval(solution("01_deadline.py")["interval"], deadline=20)
    assert result, result


WRONG_INTERVALS = [
    ("sized for the average wait", 40, "average wait"),
    ("the deadline itself", 20, "every event is noticed within 20 s"),
    ("multiplied by the share", 19, "the deadline × 0.95"),
    ("rounded down to a whole second", 21, "a rounded answer still costs requests"),
    ("rounded up", 21.06, "just past the 20 s deadline"),
    ("rounded up at the third decimal", 21.053, "just past the 20 s deadline"),
    ("half the deadline", 10, "fewer requests"),
    ("far too often", 5, "fewer requests"),
    ("share taken as the whole", 20 / 0.5, "past the 20 s deadline"),
    ("a negative number", -3, "positive number of seconds"),
    ("text", "twenty", "positive number of seconds"),
]


@pytest.mark.parametrize(
    ("slip", "interval", "words"), WRONG_INTERVALS, ids=[w[0] for w in WRONG_INTERVALS]
)
def test_a_wrong_interval_is_refused_naming_the_slip(slip, interval, words):
    result = check.deadline_interval(interval, deadline=20)
    assert not result
    assert words in result.message, result.message


def test_every_interval_shorter_than_the_longest_by_more_than_a_rounding_is_refused():
    for tenth in range(1, 210):  # 0.1 s ... 20.9 s
        assert not check.deadline_interval(tenth / 10, deadline=20), tenth / 10


def test_the_notebooks_starter_interval_gets_a_hint_that_gives_nothing_away():
    cells = exercise("01", "deadline_interval")
    namespace: dict = {"check": check}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, "01_deadline.py", cells)
