"""Checks for lesson 7, "Accept now, finish later".

Both checks run the learner's code against the real lab: a real job behind a real ``202``, polled
over real HTTP, or a real job function run by the lab's job runner. They answer with the first
thing that went wrong, in words that point at the fix.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right

_POLL_JOB_SECONDS = 1.2
_GIVE_UP_AFTER = 15
_MAX_REQUESTS = 300
_IMAGES = [f"photo_{n}.jpg" for n in range(1, 9)]


@check
def polite_poller(poll_job: Callable[[Any, str], Any], lab: Any) -> Result:
    """Exercise 1: ``poll_job(client, url)`` polls honouring Retry-After and returns the result."""
    import httpx

    if poll_job is Ellipsis or not callable(poll_job):
        return not_yet("poll_job should be a function.", "def poll_job(client, url):")
    sent: list[tuple[float, str, int]] = []
    deadline = time.monotonic() + _GIVE_UP_AFTER

    def record(response: httpx.Response) -> None:
        sent.append((time.monotonic(), response.request.url.path, response.status_code))
        if len(sent) > _MAX_REQUESTS or time.monotonic() > deadline:
            raise _StillPolling

    with httpx.Client(base_url=lab.url, timeout=10, event_hooks={"response": [record]}) as http:
        accepted = http.post(
            "/jobs", json={"kind": "sleep", "params": {"seconds": _POLL_JOB_SECONDS}}
        )
        job_id = accepted.json()["id"]
        url = f"{lab.url}{accepted.headers['location']}"
        wait = int(accepted.headers["retry-after"])
        sent.clear()
        try:
            answer = poll_job(http, url)
        except _StillPolling:
            return not_yet(
                f"your function was still polling after {len(sent)} requests and "
                f"{_GIVE_UP_AFTER} s, long after the job had ended.",
                "stop when the status URL answers 303 See Other (or the status is final)",
            )
    expected = lab.jobs.get(job_id).result if lab.jobs.get(job_id) is not None else None

    status_path, result_path = f"/jobs/{job_id}", f"/jobs/{job_id}/result"
    polls = [(moment, code) for moment, path, code in sent if path == status_path]
    if not polls:
        return not_yet(
            "your function never asked the status URL it was given.",
            "answer = client.get(url) asks it; look at answer.status_code",
        )
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(polls)]
    if any(gap < wait - 0.1 for gap in gaps):
        return not_yet(
            f"you polled again sooner than the {wait} s the server asked for in Retry-After: "
            "every extra request is work for the server and tells you nothing new.",
            "time.sleep(int(answer.headers['retry-after'])) between polls",
        )
    if not any(path == result_path for _, path, _ in sent):
        return not_yet(
            "your function never fetched /result: when the job has ended, the status URL answers "
            "303 See Other and its Location header says where the result is.",
            "if answer.status_code == 303: follow answer.headers['location'] "
            "(or let client.get(url, follow_redirects=True) do it)",
        )
    if answer is None:
        return not_yet(
            "your function returned None.", "return the 'result' field of the /result answer"
        )
    if answer != expected:
        return not_yet(
            f"your function returned {_short(answer)}, not the job's result {_short(expected)}.",
            "return answer.json()['result'] from the /result answer",
        )
    after_end = [code for _, path, code in sent if path == status_path][-1]
    if after_end != 303:
        return not_yet(
            "the result is right, but your last status poll did not see the 303 that says "
            "the job has ended.",
            "keep polling the status URL until it answers 303",
        )
    return right(
        f"you polled {len(polls)} times, never sooner than Retry-After asked, followed the 303 "
        "to /result and returned the job's result."
    )


@check
def progress_reporter(make_thumbnails: Callable[..., Any], lab: Any) -> Result:
    """Exercise 2: a job function that reports its progress after each image."""
    if make_thumbnails is Ellipsis or not callable(make_thumbnails):
        return not_yet(
            "make_thumbnails should be a function.",
            "async def make_thumbnails(images, *, progress):",
        )
    try:
        parameters = inspect.signature(make_thumbnails).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "progress" not in parameters:
        return not_yet(
            "make_thumbnails has no `progress` parameter, so the runner has nothing to hand it.",
            "async def make_thumbnails(images, *, progress): the runner passes a reporter "
            "to a parameter with exactly that name",
        )
    seen: list[tuple[str, float]] = []
    job_ids: set[str] = set()

    def listen(job: Any) -> None:
        if job.id in job_ids:
            seen.append((job.status, job.progress))

    unsubscribe = lab.jobs.subscribe(listen)
    try:
        job = lab.jobs.submit(make_thumbnails, list(_IMAGES))
        job_ids.add(job.id)
        try:
            result = job.wait(10)
        except TimeoutError:
            return not_yet(
                "the job was still running after 10 s.", "one short await per image is plenty"
            )
        except Exception as exc:
            return not_yet(
                f"the job failed: {type(exc).__name__}: {exc}",
                "read the error; progress(done, of=total) takes numbers",
            )
    finally:
        time.sleep(0.05)  # let the last updates reach the listener
        unsubscribe()
    expected = [f"thumb_{name}" for name in _IMAGES]
    if result != expected:
        return not_yet(
            f"the job returned {_short(result)}; it should return {_short(expected)}.",
            "collect f'thumb_{name}' for each image and return the list",
        )
    while_running = [pct for status, pct in seen if status == "running" and pct > 0]
    if not while_running:
        return not_yet(
            "the job finished, but while it ran its progress never moved from 0%: a client "
            "watching it would think it was stuck.",
            "call progress(done, of=len(images)) after each image",
        )
    steps = len(set(while_running))
    if steps < len(_IMAGES) - 1:
        return not_yet(
            f"progress moved in only {steps} step{'' if steps == 1 else 's'} for "
            f"{len(_IMAGES)} images; report after every image, so the bar moves as the work does.",
            "call progress(...) inside the loop, after each image",
        )
    if while_running != sorted(while_running):
        return not_yet(
            "progress went backwards at some point.",
            "report how many images are done so far: progress(index + 1, of=len(images))",
        )
    if max(while_running) < 99.9:
        return not_yet(
            "progress never reached 100% while the job ran; the last image was not counted.",
            "report after the last image too: progress(len(images), of=len(images))",
        )
    return right(
        f"the job reported {len(set(while_running))} steps of progress, one per image, "
        "up to 100%, and returned every thumbnail."
    )


class _StillPolling(BaseException):
    """Raised inside the learner's loop to stop a poller that would never stop.

    A BaseException, so that a loop which swallows every ``Exception`` still ends.
    """


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["polite_poller", "progress_reporter"]
