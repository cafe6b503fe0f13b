"""Lesson 10's checks accept the reference solutions and refuse the wrong answers people write."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhooks_lab.checks import production as check

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def solution(name: str, function: str):
    scope: dict = {}
    exec((SOLUTIONS / name).read_text(), scope)
    return scope[function]


# -- exercise 1: one email per job under at-least-once delivery -------------------------------


def test_the_once_per_job_check_accepts_the_reference_solution():
    result = check.once_per_job(solution("10_once_per_job.py", "notify"))
    assert result, repr(result)


def no_dedupe(event, seen, emails):
    emails.append(f"{event['data']['id']} {event['data']['status']}")


def by_webhook_id(event, seen, emails):
    if event["id"] in seen:
        return
    seen.add(event["id"])
    emails.append(f"{event['data']['id']} {event['data']['status']}")


def by_job_and_worker(event, seen, emails):
    key = (event["data"]["id"], event["data"]["worker"])
    if key not in seen:
        seen.add(key)
        emails.append(f"{event['data']['id']} {event['data']['status']}")


def only_successes(event, seen, emails):
    data = event["data"]
    if event["type"] == "job.succeeded" and data["id"] not in seen:
        seen.add(data["id"])
        emails.append(f"{data['id']} {data['status']}")


def raises_on_duplicate(event, seen, emails):
    data = event["data"]
    if data["id"] in seen:
        raise ValueError("duplicate")
    seen.add(data["id"])
    emails.append(f"{data['id']} {data['status']}")


def by_type(event, seen, emails):
    if event["type"] not in seen:
        seen.add(event["type"])
        emails.append(f"{event['data']['id']} {event['data']['status']}")


def wrong_words(event, seen, emails):
    data = event["data"]
    if data["id"] not in seen:
        seen.add(data["id"])
        emails.append(f"Your job {data['id']} is done")


@pytest.mark.parametrize(
    "wrong, words",
    [
        (no_dedupe, "emailed 3 times"),
        (by_webhook_id, "new webhook id"),
        (by_job_and_worker, "from another worker"),
        (only_successes, "no email for job_2 failed, job_3 cancelled"),
        (raises_on_duplicate, "raised ValueError"),
        (by_type, "no email for job_4 succeeded"),
        (wrong_words, "should read '<job id> <status>'"),
    ],
    ids=lambda value: getattr(value, "__name__", "words"),
)
def test_the_once_per_job_check_refuses_the_usual_wrong_answers(wrong, words):
    result = check.once_per_job(wrong)
    assert not result
    assert words in repr(result)


def test_the_once_per_job_check_says_an_unfinished_exercise_is_not_done():
    def notify(event, seen, emails): ...

    assert repr(check.once_per_job(notify)).startswith("❌ Not yet: this exercise is not done yet")


# -- exercise 2: how long until a dead worker's job runs again --------------------------------


def test_the_rerun_check_accepts_the_reference_solution():
    result = check.rerun_within(solution("10_rerun_within.py", "rerun_within"))
    assert result, repr(result)
    assert "at most 4 s" in result.message


@pytest.mark.parametrize(
    "wrong",
    [
        lambda heartbeat, sweep, abort_wait: heartbeat,
        lambda heartbeat, sweep, abort_wait: heartbeat + sweep,
        lambda heartbeat, sweep, abort_wait: max(heartbeat, sweep, abort_wait),
        lambda heartbeat, sweep, abort_wait: heartbeat + sweep + abort_wait + 1,  # + abort poll
        lambda heartbeat, sweep, abort_wait: heartbeat * sweep + abort_wait,
        lambda heartbeat, sweep, abort_wait: int(heartbeat + sweep + abort_wait),
        lambda heartbeat, sweep, abort_wait: f"{heartbeat + sweep + abort_wait} s",
    ],
    ids=["heartbeat", "no-abort-wait", "max", "plus-abort-poll", "product", "rounded", "text"],
)
def test_the_rerun_check_refuses_the_usual_wrong_answers(wrong):
    result = check.rerun_within(wrong)
    assert not result
    assert "the worst case is" in result.message


def test_the_rerun_check_says_an_unfinished_exercise_is_not_done():
    def rerun_within(heartbeat, sweep, abort_wait): ...

    assert repr(check.rerun_within(rerun_within)).startswith(
        "❌ Not yet: this exercise is not done yet"
    )
