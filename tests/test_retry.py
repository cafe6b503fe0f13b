"""The retry schedule: how many attempts, how long between them, jitter, and Retry-After."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhooks_lab.jobs.client import retry_after_seconds
from webhooks_lab.retry import (
    DEFAULT_SCHEDULE,
    MAX_RETRY_AFTER,
    RetryPolicy,
    describe_seconds,
    parse_retry_after,
)


def test_the_default_schedule_is_the_standard_webhooks_one():
    assert DEFAULT_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    policy = RetryPolicy()
    assert policy.attempts == 8
    assert policy.total() == pytest.approx(27 * 3600 + 35 * 60 + 5)


def test_without_jitter_each_wait_is_the_scheduled_one_and_the_last_attempt_gives_up():
    policy = RetryPolicy(jitter=0)
    waits = [policy.delay_after(made) for made in range(1, 9)]
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000, None]


def test_jitter_moves_each_wait_within_its_bounds_and_not_all_the_same_way():
    policy = RetryPolicy(schedule=(0, 100), jitter=0.2, seed=1)
    waits = [policy.delay_after(1) for _ in range(200)]
    assert all(80 <= w <= 120 for w in waits)
    assert min(waits) < 90 and max(waits) > 110
    assert len(set(waits)) > 150


def test_the_same_seed_gives_the_same_waits():
    first = RetryPolicy(seed=7)
    second = RetryPolicy(seed=7)
    assert [first.delay_after(n) for n in range(1, 8)] == [
        second.delay_after(n) for n in range(1, 8)
    ]


def test_retry_after_replaces_the_scheduled_wait_but_is_capped_and_buys_no_extra_attempts():
    policy = RetryPolicy(schedule=(0, 5, 60), jitter=0)
    assert policy.delay_after(1, retry_after=30) == 30
    assert policy.delay_after(1, retry_after=10**9) == 60  # capped at the longest step
    assert policy.delay_after(3, retry_after=30) is None


def test_parse_retry_after_reads_seconds_and_http_dates_and_ignores_nonsense():
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Tue, 14 Nov 2023 22:15:20 GMT", now) == pytest.approx(120)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0  # in the past: now
    for nonsense in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(nonsense, now) is None


NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
RETRY_AFTER_CASES = {
    "whole seconds": ("120", 120.0),
    "zero: now": ("0", 0.0),
    "leading zeros": ("007", 7.0),
    "spaces around": ("  30 ", 30.0),
    "negative": ("-5", None),
    "a plus sign": ("+5", None),
    "fractional": ("1.5", None),
    "an exponent": ("1e3", None),
    "words": ("soon", None),
    "empty": ("", None),
    "only spaces": ("   ", None),
    "absent": (None, None),
    "thousands of digits": ("9" * 5000, MAX_RETRY_AFTER),
    "more seconds than 2**31": ("99999999999", MAX_RETRY_AFTER),
    "a superscript two": ("²", None),
    "an Arabic-Indic three": ("٣", None),
    "fullwidth digits": ("１２", None),
    "a date two minutes ahead": ("Tue, 14 Nov 2023 22:15:20 GMT", 120.0),
    "a date in the past": ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),
    "a date in the obsolete RFC 850 form": ("Tuesday, 14-Nov-23 22:14:20 GMT", 60.0),
    "a date with -0000": ("Tue, 14 Nov 2023 22:14:20 -0000", 60.0),
    "a date far ahead": ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    "a date that does not exist": ("Tue, 32 Nov 2023 22:00:00 GMT", None),
    "half a date": ("Tue, 14 Nov", None),
}


@pytest.mark.parametrize("case", RETRY_AFTER_CASES)
def test_retry_after_edge_cases_have_one_reading(case):
    value, expected = RETRY_AFTER_CASES[case]
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("case", RETRY_AFTER_CASES)
def test_the_jobs_client_reads_retry_after_with_the_same_parser(case):
    value, _ = RETRY_AFTER_CASES[case]
    parsed = parse_retry_after(value)
    assert retry_after_seconds(value, default=0.25) == (0.25 if parsed is None else parsed)


def test_an_http_date_is_measured_against_the_wall_clock():
    in_ten = formatdate(time.time() + 10, usegmt=True)
    assert 8 <= parse_retry_after(in_ten) <= 10
    assert 8 <= retry_after_seconds(in_ten) <= 10


@given(st.text(max_size=60) | st.from_regex(r"\A\s*\d{1,40}\s*\Z"))
def test_any_header_value_reads_as_a_bounded_wait_or_nothing(value):
    seconds = parse_retry_after(value, NOW)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER


@pytest.mark.parametrize(
    "schedule, message",
    [((), "at least one attempt"), ((0, -1), "cannot be negative")],
)
def test_a_bad_schedule_is_refused_with_a_reason(schedule, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(schedule)


def test_quick_policies_double_their_step():
    assert RetryPolicy.quick(4, step=0.1, jitter=0).schedule == (0, 0.1, 0.2, 0.4)


def test_a_wait_just_under_a_unit_reads_in_that_unit_once_rounded():
    # 59.97 s rounds to 60: it reads "1 min", as 60.02 s does, never "60 s" (the wire view's
    # gap labels must not flip between runs at the boundary).
    assert [describe_seconds(s) for s in (0.9996, 59.97, 60.02, 3599.9)] == [
        "1 s",
        "1 min",
        "1 min",
        "1 h",
    ]


def test_waits_read_like_a_person_would_say_them():
    readings = [describe_seconds(s) for s in (0, 0.25, 5, 300, 5400, 36000)]
    assert readings == ["0", "250 ms", "5 s", "5 min", "1.5 h", "10 h"]
    assert (
        repr(RetryPolicy())
        == "RetryPolicy([0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h], jitter ±10%)"
    )
