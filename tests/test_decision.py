"""The sender's decision after an answer, pinned without a socket in sight."""

from __future__ import annotations

import doctest

import pytest

from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender import decision
from webhooks_lab.sender.decision import Decision, decide

POLICY = RetryPolicy(schedule=(0, 5, 300), jitter=0)


def test_the_examples_in_the_docstring_hold():
    assert doctest.testmod(decision).failed == 0


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status):
    assert decide(status, attempts_made=1, policy=POLICY) == Decision("delivered")


def test_410_gone_disables_and_is_never_retried():
    assert decide(410, attempts_made=1, policy=POLICY) == Decision("disabled")


@pytest.mark.parametrize("status", [None, 301, 307, 400, 404, 500, 503])
def test_a_failure_waits_the_next_step_of_the_schedule(status):
    assert decide(status, attempts_made=1, policy=POLICY) == Decision("retrying", 5.0)
    assert decide(status, attempts_made=2, policy=POLICY) == Decision("retrying", 300.0)


def test_a_failure_with_no_attempts_left_is_dead():
    assert decide(503, attempts_made=3, policy=POLICY) == Decision("dead")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retry_after_replaces_the_schedule_on_the_statuses_that_carry_it(status):
    assert decide(status, attempts_made=1, policy=POLICY, retry_after="120").wait == 120.0


@pytest.mark.parametrize("status", [400, 500, 301])
def test_retry_after_on_other_statuses_is_ignored(status):
    assert decide(status, attempts_made=1, policy=POLICY, retry_after="120").wait == 5.0


def test_an_http_date_retry_after_counts_from_now():
    when = "Wed, 21 Oct 2026 07:28:00 GMT"
    moment = 1792567680.0  # that date, as Unix seconds
    assert decide(503, attempts_made=1, policy=POLICY, retry_after=when, now=moment - 30).wait == 30


def test_an_unreadable_retry_after_falls_back_to_the_schedule():
    assert decide(429, attempts_made=1, policy=POLICY, retry_after="soon").wait == 5.0


def test_retry_after_buys_no_extra_attempts():
    assert decide(503, attempts_made=3, policy=POLICY, retry_after="1") == Decision("dead")


def test_a_permanent_failure_is_dead_at_once():
    assert decide(None, attempts_made=1, policy=POLICY, permanent=True) == Decision("dead")
