"""Lesson 7's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from webhooks_lab.checks import jobs as check

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(name: str, **names: Any) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's imports."""
    namespace: dict[str, Any] = {"asyncio": asyncio, "time": time, **names}
    exec(compile((SOLUTIONS / name).read_text(), str(SOLUTIONS / name), "exec"), namespace)
    return namespace


# -- exercise 1: poll politely ---------------------------------------------------------------------


def test_the_reference_poller_passes(lab):
    poll_job = load_solution("07_polite_poller.py")["poll_job"]
    result = check.polite_poller(poll_job, lab)
    assert result, result
    assert "Retry-After" in result.message


def polls_too_fast(client, url):  # the lesson's starting point
    while True:
        answer = client.get(url, follow_redirects=True)
        if answer.json()["status"] in ("succeeded", "failed", "cancelled"):
            return answer.json()["result"]
        time.sleep(0.1)


def returns_the_whole_answer(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code == 303:
            return client.get(answer.headers["location"]).json()
        time.sleep(int(answer.headers["retry-after"]))


def never_fetches_the_result(client, url):
    while True:
        answer = client.get(url)
        if answer.status_code != 200:
            return answer.json()
        time.sleep(int(answer.headers["retry-after"]))


def never_stops(client, url):
    while True:
        with contextlib.suppress(Exception):  # swallows everything, as a hurried learner might
            client.get(url)
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("poller", "words"),
    [
        (polls_too_fast, "sooner than the 1 s the server asked for in Retry-After"),
        (returns_the_whole_answer, "not the job's result"),
        (never_fetches_the_result, "never fetched /result"),
        (lambda client, url: None, "never asked the status URL"),
        (..., "should be a function"),
    ],
)
def test_typical_wrong_pollers_are_told_what_to_fix(lab, poller, words):
    result = check.polite_poller(poller, lab)
    assert not result
    assert words in result.message
    assert result.hint


def test_a_poller_that_never_stops_is_stopped_and_told(lab, monkeypatch):
    monkeypatch.setattr(check, "_GIVE_UP_AFTER", 2.5)
    result = check.polite_poller(never_stops, lab)
    assert not result
    assert "still polling" in result.message


# -- exercise 2: report progress -------------------------------------------------------------------


def test_the_reference_progress_reporter_passes(lab):
    make_thumbnails = load_solution("07_progress_reporter.py")["make_thumbnails"]
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


async def forgets_the_last_image(images, *, progress):
    thumbnails = []
    for index, name in enumerate(images):
        await asyncio.sleep(0.001)
        progress(index, of=len(images))
        thumbnails.append(f"thumb_{name}")
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
        (forgets_the_last_image, "never reached 100%"),
        (has_no_progress_parameter, "no `progress` parameter"),
        (counts_wrongly, "the job failed"),
    ],
)
def test_typical_wrong_progress_reporters_are_told_what_to_fix(lab, fn, words):
    result = check.progress_reporter(fn, lab)
    assert not result
    assert words in result.message
    assert result.hint
