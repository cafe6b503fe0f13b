"""Lesson 7's checks accept right answers, refuse the slips people really make, and teach."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab.checks import jobs as check
from webhooks_lab.checks.hints import forget_attempts
from webhooks_lab.retry import parse_retry_after


@pytest.fixture(autouse=True)
def no_attempts_yet():
    forget_attempts()


def load_solution(name: str) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's imports."""
    return run_solution(name, {"asyncio": asyncio, "time": time})


def starter(check_name: str, name: str) -> Any:
    namespace: dict[str, Any] = {"asyncio": asyncio, "time": time}
    run_cell(exercise("07", check_name).starter, namespace)
    return namespace[name]


# -- exercise 1: poll politely ---------------------------------------------------------------------


def with_the_labs_parser_and_redirects_followed(client, url):
    while True:
        answer = client.get(url, follow_redirects=True)
        if answer.url.path.endswith("/result"):
            return answer.json()["result"]
        time.sleep(parse_retry_after(answer.headers["retry-after"]))


def with_datetime(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()["result"]
        value = answer.headers["retry-after"]
        try:
            wait = float(value)
        except ValueError:
            then = email.utils.parsedate_to_datetime(value)
            wait = (then - datetime.now(timezone.utc)).total_seconds()
        time.sleep(max(wait, 0))


@pytest.mark.parametrize(
    "poll_job",
    [
        load_solution("07_polite_poller.py")["poll_job"],
        with_the_labs_parser_and_redirects_followed,
        with_datetime,
    ],
    ids=["the solution", "parse_retry_after, redirects followed", "datetime arithmetic"],
)
def test_a_poller_that_honours_every_retry_after_passes(lab, poll_job):
    result = check.polite_poller(poll_job, lab)
    assert result, result
    assert "as long as Retry-After asked" in result.message


def polls_too_fast(client, url):  # the lesson's starting point
    while True:
        answer = client.get(url, follow_redirects=True)
        if answer.json()["status"] in ("succeeded", "failed", "cancelled"):
            return answer.json()["result"]
        time.sleep(0.1)


def sleeps(seconds: float) -> Any:
    def poll_job(client, url):
        while True:
            answer = client.get(url)
            if answer.status_code == 303:
                return client.get(answer.headers["location"]).json()["result"]
            time.sleep(seconds)

    return poll_job


def reads_retry_after_as_a_number(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()["result"]
        time.sleep(int(answer.headers["retry-after"]))


def falls_back_to_a_second_on_a_date(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()["result"]
        value = answer.headers["retry-after"]
        time.sleep(int(value) if value.isdigit() else 1)


def keeps_the_first_retry_after(client, url):
    wait = None
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()["result"]
        wait = wait or int(answer.headers["retry-after"])
        time.sleep(wait)


def returns_the_whole_answer(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()
        time.sleep(parse_retry_after(answer.headers["retry-after"]))


def never_fetches_the_result(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code != 200:
            return answer.json()
        time.sleep(parse_retry_after(answer.headers["retry-after"]))


def asks_once(client, url):
    return client.get(url).json()


@pytest.mark.parametrize(
    ("poller", "words"),
    [
        (polls_too_fast, "sooner than the 2 s the server asked for"),
        (sleeps(1), "sooner than the 2 s the server asked for"),
        (sleeps(2), "an HTTP date"),
        (sleeps(8), "when the server asked for 2.0 s"),
        (reads_retry_after_as_a_number, "could not read Retry-After"),
        (falls_back_to_a_second_on_a_date, "an HTTP date"),
        (keeps_the_first_retry_after, "an HTTP date"),
        (returns_the_whole_answer, "not the job's result"),
        (never_fetches_the_result, "never fetched /result"),
        (asks_once, "stopped after 1 poll, while the job was still running"),
        (lambda client, url: None, "never asked the status URL"),
        (..., "should be a function"),
    ],
    ids=[
        "polls every 0.1 s",
        "a fixed 1 s",
        "a fixed 2 s",
        "a fixed 8 s",
        "int() of an HTTP date",
        "1 s for any date",
        "keeps the first Retry-After",
        "returns the whole answer",
        "never fetches /result",
        "asks once",
        "never asks",
        "not a function",
    ],
)
def test_typical_wrong_pollers_are_told_what_to_fix(lab, poller, words):
    result = check.polite_poller(poller, lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_a_poller_that_never_stops_is_stopped_and_told(lab, monkeypatch):
    monkeypatch.setattr(check, "_GIVE_UP_AFTER", 7)

    def never_stops(client, url):
        while True:
            with contextlib.suppress(Exception):  # swallows everything, as a hurried learner might
                answer = client.get(url)
                time.sleep(parse_retry_after(answer.headers.get("retry-after")) or 0.2)

    result = check.polite_poller(never_stops, lab)
    assert not result
    assert "still polling" in result.message


def test_the_poller_check_names_the_date_form_only_after_a_wrong_try(lab):
    first = check.polite_poller(falls_back_to_a_second_on_a_date, lab)
    second = check.polite_poller(falls_back_to_a_second_on_a_date, lab)
    assert "email.utils" not in first.hint
    assert "email.utils.parsedate_to_datetime" in second.hint


def test_the_poller_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.polite_poller(starter("polite_poller", "poll_job"), lab)
    assert_teaches_without_telling(result, "07_polite_poller.py", exercise("07", "polite_poller"))
    assert "retry-after']" not in result.hint
    again = check.polite_poller(starter("polite_poller", "poll_job"), lab)
    assert again.message == result.message  # the notebook stores it: no timing in the words
    assert "retry-after']" in again.hint


# -- exercise 2: report progress -------------------------------------------------------------------


def test_the_reference_progress_reporter_passes(lab):
    make_thumbnails = load_solution("07_progress_reporter.py")["make_thumbnails"]
    result = check.progress_reporter(make_thumbnails, lab)
    assert result, result


async def reports_a_percentage_with_a_message(images, *, progress):
    thumbnails = []
    for name in images:
        await asyncio.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
        progress(100 * len(thumbnails) / len(images), f"{name} resized")
    return thumbnails


def in_a_thread(images, *, progress):
    thumbnails = []
    for index, name in enumerate(images):
        time.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
        progress(index + 1, of=len(images))
    return thumbnails


@pytest.mark.parametrize("make_thumbnails", [reports_a_percentage_with_a_message, in_a_thread])
def test_other_right_progress_reporters_pass(lab, make_thumbnails):
    result = check.progress_reporter(make_thumbnails, lab)
    assert result, result


async def never_reports(images, *, progress):  # the lesson's starting point
    thumbnails = []
    for name in images:
        await asyncio.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
    return thumbnails


async def reports_only_at_the_end(images, *, progress):
    thumbnails = [f"thumb_{name}" for name in images]
    await asyncio.sleep(0.01)
    progress(100)
    return thumbnails


async def reports_every_step_after_the_work(images, *, progress):
    thumbnails = []
    for name in images:
        await asyncio.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
    for done in range(1, len(images) + 1):
        progress(done, of=len(images))
    return thumbnails


async def forgets_the_last_image(images, *, progress):
    thumbnails = []
    for index, name in enumerate(images):
        await asyncio.sleep(0.01)
        progress(index, of=len(images))
        thumbnails.append(f"thumb_{name}")
    return thumbnails


async def passes_a_count_as_a_percentage(images, *, progress):
    thumbnails = []
    for index, name in enumerate(images):
        await asyncio.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
        progress(index + 1)
    return thumbnails


async def passes_a_fraction(images, *, progress):
    thumbnails = []
    for index, name in enumerate(images):
        await asyncio.sleep(0.01)
        thumbnails.append(f"thumb_{name}")
        progress((index + 1) / len(images))
    return thumbnails


async def has_no_progress_parameter(images):
    return [f"thumb_{name}" for name in images]


async def counts_wrongly(images, *, progress):
    progress(1, of=0)
    return []


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (never_reports, "never moved from 0%"),
        (reports_only_at_the_end, "moved in only 1 step for 8 images"),
        (reports_every_step_after_the_work, "reported all 8 steps at once"),
        (forgets_the_last_image, "never reached 100%"),
        (passes_a_count_as_a_percentage, "a count of images alone is read as a percentage"),
        (passes_a_fraction, "read as 0.375 percent"),
        (has_no_progress_parameter, "no `progress` parameter"),
        (counts_wrongly, "the job failed"),
    ],
)
def test_typical_wrong_progress_reporters_are_told_what_to_fix(lab, fn, words):
    result = check.progress_reporter(fn, lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_progress_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.progress_reporter(starter("progress_reporter", "make_thumbnails"), lab)
    assert_teaches_without_telling(
        result, "07_progress_reporter.py", exercise("07", "progress_reporter")
    )
    assert "progress(" not in result.hint
    assert "progress(done, of=len(images))" in check.progress_reporter(never_reports, lab).hint
