"""Lesson 8's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from webhooks_lab.checks import scale as check

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(name: str, **names: Any) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's names."""
    namespace: dict[str, Any] = {"time": time, **names}
    exec(compile((SOLUTIONS / name).read_text(), str(SOLUTIONS / name), "exec"), namespace)
    return namespace


# -- exercise 1: fan out, fan in -------------------------------------------------------------------


def test_starting_every_job_then_waiting_for_all_passes(lab):
    make_album = load_solution("08_make_album.py", lab=lab)["make_album"]
    result = check.fans_out(make_album, lab)
    assert result, result
    assert "at the same time" in result.message


def one_at_a_time(lab):  # the lesson's starting point
    def make_album(photos):
        urls = []
        for photo in photos:
            job = lab.jobs.start("image.resize", {"source": photo, "width": 200, "height": 200})
            urls.append(job.wait()["url"])
        return urls

    return make_album


def wrong_size(lab):
    def make_album(photos):
        jobs = [lab.jobs.start("image.resize", {"source": photo}) for photo in photos]
        return [job.wait()["url"] for job in jobs]

    return make_album


def no_jobs_at_all(lab):
    return lambda photos: [check.thumbnail_url(photo) for photo in photos]


def forgets_to_return(lab):
    def make_album(photos):
        jobs = [
            lab.jobs.start("image.resize", {"source": p, "width": 200, "height": 200})
            for p in photos
        ]
        lab.jobs.wait_all(jobs)

    return make_album


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (one_at_a_time, "ran one at a time"),
        (wrong_size, "expected the six 200×200 thumbnail URLs"),
        (no_jobs_at_all, "no image.resize job ran"),
        (forgets_to_return, "returned None"),
    ],
)
def test_typical_wrong_albums_are_told_what_to_fix(lab, make, words):
    result = check.fans_out(make(lab), lab)
    assert not result
    assert words in result.message
    assert result.hint


def test_an_album_that_never_finishes_is_reported_not_waited_for_ever(lab, monkeypatch):
    monkeypatch.setattr(check, "_GIVE_UP_AFTER", 0.5)
    result = check.fans_out(lambda photos: time.sleep(2), lab)
    assert not result
    assert "still running" in result.message


# -- exercise 2: back off when the queue is full --------------------------------------------------


def test_waiting_retry_after_and_trying_again_passes(lab):
    submit_all = load_solution("08_submit_all.py")["submit_all"]
    result = check.backs_off(submit_all, lab)
    assert result, result
    assert "503" in result.message


def test_the_check_puts_the_lab_limits_back_afterwards(lab):
    submit_all = load_solution("08_submit_all.py")["submit_all"]
    lab.jobs.concurrency, lab.jobs.queue_size = 5, 50
    check.backs_off(submit_all, lab)
    assert (lab.jobs.concurrency, lab.jobs.queue_size) == (5, 50)


def posts_each_once(client, requests):  # the lesson's starting point
    job_ids = []
    for request in requests:
        answer = client.post("/jobs", json=request)
        if answer.status_code == 202:
            job_ids.append(answer.json()["id"])
    return job_ids


def retries_at_once(client, requests):
    job_ids = []
    for request in requests:
        answer = client.post("/jobs", json=request)
        while answer.status_code == 503:
            time.sleep(0.05)
            answer = client.post("/jobs", json=request)
        job_ids.append(answer.json()["id"])
    return job_ids


def posts_twice_to_be_sure(client, requests):
    job_ids = []
    for request in requests[:2]:  # four POSTs: exactly what the queue takes
        for _ in range(2):
            job_ids.append(client.post("/jobs", json=request).json()["id"])
    return job_ids


def forgets_the_ids(client, requests):
    load_solution("08_submit_all.py")["submit_all"](client, requests)


@pytest.mark.parametrize(
    ("submit_all", "words"),
    [
        (posts_each_once, "never started"),
        (retries_at_once, "sooner than its Retry-After asked"),
        (posts_twice_to_be_sure, "started two jobs"),
        (forgets_the_ids, "instead of their ids"),
        (lambda client, requests: [], "never posted a job"),
    ],
)
def test_typical_wrong_submitters_are_told_what_to_fix(lab, submit_all, words):
    result = check.backs_off(submit_all, lab)
    assert not result
    assert words in result.message
    assert result.hint
