"""Lesson 1's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

from pathlib import Path

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


def test_the_unfinished_starting_point_is_not_yet_right():
    def requests_per_event(rate, interval): ...

    result = check.requests_per_event(requests_per_event)
    assert not result and "does not return a number yet" in result.message


def test_multiplying_instead_of_dividing_is_caught_with_a_hint():
    result = check.requests_per_event(lambda rate, interval: rate * interval)
    assert not result
    assert "grows when the interval grows" in result.message
    assert "denominator" in result.hint


def test_forgetting_the_rate_is_caught():
    result = check.requests_per_event(lambda rate, interval: 1 / interval)
    assert not result and "it should be" in result.message


def test_a_function_that_raises_gets_an_answer_not_a_traceback():
    result = check.requests_per_event(lambda rate, interval: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


# -- exercise 2 ------------------------------------------------------------------------------


def test_the_reference_interval_is_accepted():
    result = check.deadline_interval(solution("01_deadline.py")["interval"])
    assert result, result


def test_the_placeholder_is_not_yet_right():
    assert not check.deadline_interval(...)


def test_sizing_for_the_average_instead_of_the_slow_ones_is_caught():
    result = check.deadline_interval(40)  # mean wait 20 s: meets the average, not the deadline
    assert not result
    assert "average wait" in result.message and "slow ones" in result.message


def test_polling_far_too_often_is_called_wasteful():
    result = check.deadline_interval(5)
    assert not result and "fewer requests" in result.message


def test_nonsense_is_refused_in_plain_words():
    assert not check.deadline_interval(-3)
    assert not check.deadline_interval("twenty")
