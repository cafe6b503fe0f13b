"""Lesson 8's checks accept right answers, refuse the slips people really make, and teach."""

from __future__ import annotations

import concurrent.futures
import email.utils
import time
from typing import Any

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab.checks import scale as check
from webhooks_lab.checks.hints import forget_attempts
from webhooks_lab.retry import parse_retry_after


@pytest.fixture(autouse=True)
def no_attempts_yet():
    forget_attempts()


def load_solution(name: str, **names: Any) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's names."""
    return run_solution(name, {"time": time, **names})


def starter(check_name: str, name: str, **names: Any) -> Any:
    namespace: dict[str, Any] = {"time": time, **names}
    run_cell(exercise("08", check_name).starter, namespace)
    return namespace[name]


def resize(lab, photo):
    return lab.jobs.start("image.resize", {"source": photo, "width": 200, "height": 200})


# -- exercise 1: fan out, fan in -------------------------------------------------------------------


def waits_for_each_after_starting_all(lab):
    def make_album(photos):
        jobs = [resize(lab, photo) for photo in photos]
        return [job.wait()["url"] for job in jobs]

    return make_album


def in_a_thread_pool(lab):
    def make_album(photos):
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            return list(pool.map(lambda photo: resize(lab, photo).wait()["url"], photos))

    return make_album


@pytest.mark.parametrize(
    "make",
    [
        lambda lab: load_solution("08_make_album.py", lab=lab)["make_album"],
        waits_for_each_after_starting_all,
        in_a_thread_pool,
    ],
    ids=["the solution", "start all, then wait for each", "a thread pool"],
)
def test_starting_every_job_then_collecting_in_order_passes(lab, make):
    result = check.fans_out(make(lab), lab)
    assert result, result
    assert "at the same time" in result.message


def test_the_album_check_puts_the_resize_kind_back(lab):
    before = lab.jobs.kind("image.resize").fn
    check.fans_out(waits_for_each_after_starting_all(lab), lab)
    assert lab.jobs.kind("image.resize").fn is before


def one_at_a_time(lab):  # the lesson's starting point
    def make_album(photos):
        return [resize(lab, photo).wait()["url"] for photo in photos]

    return make_album


def as_each_finishes(lab):
    def make_album(photos):
        urls = []
        jobs = [resize(lab, photo) for photo in photos]
        for job in jobs:
            job.add_done_callback(lambda done: urls.append(done.result["url"]))
        lab.jobs.wait_all(jobs)
        return urls

    return make_album


def polls_until_all_are_done(lab):
    def make_album(photos):
        pending, urls = [resize(lab, photo) for photo in photos], []
        while pending:
            for job in [job for job in pending if job.done]:
                urls.append(job.result["url"])
                pending.remove(job)
            time.sleep(0.01)
        return urls

    return make_album


def reads_results_before_they_exist(lab):
    def make_album(photos):
        jobs = [resize(lab, photo) for photo in photos]
        return [job.result["url"] for job in jobs]

    return make_album


def wrong_size(lab):
    def make_album(photos):
        jobs = [lab.jobs.start("image.resize", {"source": photo}) for photo in photos]
        return [job.wait()["url"] for job in jobs]

    return make_album


def returns_the_whole_results(lab):
    def make_album(photos):
        jobs = [resize(lab, photo) for photo in photos]
        return [job.wait() for job in jobs]

    return make_album


def no_jobs_at_all(lab):
    return lambda photos: [check.thumbnail_url(photo) for photo in photos]


def forgets_to_return(lab):
    def make_album(photos):
        lab.jobs.wait_all([resize(lab, photo) for photo in photos])

    return make_album


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (one_at_a_time, "ran one at a time"),
        (as_each_finishes, "in the order the jobs finished"),
        (polls_until_all_are_done, "in the order the jobs finished"),
        (reads_results_before_they_exist, "a job's result is None until"),
        (wrong_size, "expected the six 200×200 thumbnail URLs"),
        (returns_the_whole_results, "expected the six 200×200 thumbnail URLs"),
        (no_jobs_at_all, "no image.resize job ran"),
        (forgets_to_return, "returned None"),
    ],
)
def test_typical_wrong_albums_are_told_what_to_fix(lab, make, words):
    result = check.fans_out(make(lab), lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_an_album_that_never_finishes_is_reported_not_waited_for_ever(lab, monkeypatch):
    monkeypatch.setattr(check, "_GIVE_UP_AFTER", 0.5)
    result = check.fans_out(lambda photos: time.sleep(2), lab)
    assert not result
    assert "still running" in result.message


def test_the_album_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.fans_out(starter("fans_out", "make_album", lab=lab), lab)
    assert_teaches_without_telling(result, "08_make_album.py", exercise("08", "fans_out"))
    assert "wait_all" not in result.hint
    assert "wait_all" in check.fans_out(one_at_a_time(lab), lab).hint


# -- exercise 2: back off when the queue is full --------------------------------------------------


def seconds_from(value: str) -> float:
    if value.isdigit():
        return int(value)
    return max(0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())


def recursive_retry(client, requests):
    def submit(request):
        answer = client.post("/jobs", json=request)
        if answer.status_code == 503:
            time.sleep(seconds_from(answer.headers["retry-after"]))
            return submit(request)
        return answer.json()["id"]

    return [submit(request) for request in requests]


@pytest.mark.parametrize(
    "submit_all",
    [load_solution("08_submit_all.py")["submit_all"], recursive_retry],
    ids=["the solution", "a recursive retry with email.utils"],
)
def test_waiting_retry_after_and_trying_again_passes(lab, submit_all):
    result = check.backs_off(submit_all, lab)
    assert result, result
    assert "503" in result.message


def test_the_check_puts_the_lab_limits_back_afterwards(lab):
    lab.jobs.concurrency, lab.jobs.queue_size = 5, 50
    check.backs_off(lambda client, requests: [], lab)
    assert (lab.jobs.concurrency, lab.jobs.queue_size) == (5, 50)


def posts_each_once(client, requests):  # the lesson's starting point
    job_ids = []
    for request in requests:
        answer = client.post("/jobs", json=request)
        if answer.status_code == 202:
            job_ids.append(answer.json()["id"])
    return job_ids


def retries_after(seconds: float) -> Any:
    def submit_all(client, requests):
        job_ids = []
        for request in requests:
            answer = client.post("/jobs", json=request)
            while answer.status_code == 503:
                time.sleep(seconds)
                answer = client.post("/jobs", json=request)
            job_ids.append(answer.json()["id"])
        return job_ids

    return submit_all


def reads_retry_after_as_a_number(client, requests):
    job_ids = []
    for request in requests:
        answer = client.post("/jobs", json=request)
        while answer.status_code == 503:
            time.sleep(int(answer.headers["retry-after"]))
            answer = client.post("/jobs", json=request)
        job_ids.append(answer.json()["id"])
    return job_ids


def retries_once(client, requests):
    job_ids = []
    for request in requests:
        answer = client.post("/jobs", json=request)
        if answer.status_code == 503:
            time.sleep(parse_retry_after(answer.headers["retry-after"]))
            answer = client.post("/jobs", json=request)
        if answer.status_code == 202:
            job_ids.append(answer.json()["id"])
    return job_ids


def posts_twice_to_be_sure(client, requests):
    job_ids = []
    for request in requests[:1]:  # two POSTs: exactly what one running and one waiting take
        for _ in range(2):
            job_ids.append(client.post("/jobs", json=request).json()["id"])
    return job_ids


def forgets_the_ids(client, requests):
    load_solution("08_submit_all.py")["submit_all"](client, requests)


@pytest.mark.parametrize(
    ("submit_all", "words"),
    [
        (posts_each_once, "never started"),
        (retries_after(0.05), "tried again sooner than the 1 s the server asked for"),
        (retries_after(1), "an HTTP date"),
        (retries_after(2), "an HTTP date"),
        (reads_retry_after_as_a_number, "could not read Retry-After"),
        (retries_once, "never started"),
        (posts_twice_to_be_sure, "started two jobs"),
        (forgets_the_ids, "instead of their ids"),
        (lambda client, requests: [], "never posted a job"),
    ],
    ids=[
        "gives up at the first 503",
        "retries at once",
        "a fixed 1 s",
        "a fixed 2 s",
        "int() of an HTTP date",
        "retries once",
        "posts twice to be sure",
        "forgets the ids",
        "posts nothing",
    ],
)
def test_typical_wrong_submitters_are_told_what_to_fix(lab, submit_all, words):
    result = check.backs_off(submit_all, lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_backoff_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.backs_off(starter("backs_off", "submit_all"), lab)
    assert_teaches_without_telling(result, "08_submit_all.py", exercise("08", "backs_off"))
    assert "Retry-After seconds" not in result.hint
    assert "Retry-After seconds" in check.backs_off(posts_each_once, lab).hint
