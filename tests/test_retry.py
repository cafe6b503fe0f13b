"""The retry schedule: how many attempts, how long between them, jitter, and Retry-After."""

from __future__ import annotations

import pytest

from webhooks_lab.retry import DEFAULT_SCHEDULE, RetryPolicy, describe_seconds, parse_retry_after


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


@pytest.mark.parametrize(
    "schedule, message",
    [((), "at least one attempt"), ((0, -1), "cannot be negative")],
)
def test_a_bad_schedule_is_refused_with_a_reason(schedule, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(schedule)


def test_quick_policies_double_their_step():
    assert RetryPolicy.quick(4, step=0.1, jitter=0).schedule == (0, 0.1, 0.2, 0.4)


def test_waits_read_like_a_person_would_say_them():
    readings = [describe_seconds(s) for s in (0, 0.25, 5, 300, 5400, 36000)]
    assert readings == ["0", "250 ms", "5 s", "5 min", "1.5 h", "10 h"]
    assert (
        repr(RetryPolicy())
        == "RetryPolicy([0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h], jitter ±10%)"
    )
