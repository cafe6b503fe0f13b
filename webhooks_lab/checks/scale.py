"""Checks for lesson 8, "Run jobs at scale".

Both checks run the learner's function against the lab's real job runner and jobs API, and judge
what they can observe rather than how long things took: how many of the learner's jobs were
running at the same moment (the runner announces every change), which answers the server gave,
and when each request was sent after a ``503``. A slow, busy machine does not change those.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right

PHOTOS = [
    "album/beach.jpg",
    "album/dunes.jpg",
    "album/harbour.jpg",
    "album/lighthouse.jpg",
    "album/pier.jpg",
    "album/sunset.jpg",
]
#: How many requests the backpressure check sends, and the small limits it sets meanwhile.
BURST = 6
_BUSY_CONCURRENCY = 2
_BUSY_QUEUE = 2
_SECONDS = [0.8, 0.81, 0.82, 0.83, 0.84, 0.85]  # distinct, so each request can be told apart
_GIVE_UP_AFTER = 20.0


def thumbnail_url(photo: str, size: int = 200) -> str:
    """The URL the ``image.resize`` kind returns for ``photo`` at ``size`` × ``size``."""
    return f"/images/{photo.rsplit('.', 1)[0]}_{size}x{size}.jpg"


# -- exercise 1: fan out, fan in -------------------------------------------------------------------


@check
def fans_out(make_album: Callable[[list[str]], Any], lab: Any) -> Result:
    """Exercise 1: ``make_album(photos)`` resizes every photo as its own job, all at once."""
    if make_album is Ellipsis or not callable(make_album):
        return not_yet("make_album should be a function.", "def make_album(photos):")
    running: set[str] = set()
    seen: set[str] = set()
    most = [0]

    def watch(job: Any) -> None:  # on the lab loop, at every change of every job
        params = job.params or {}
        if job.kind != "image.resize" or params.get("source") not in PHOTOS:
            return
        seen.add(job.id)
        if job.status == "running":
            running.add(job.id)
            most[0] = max(most[0], len(running))
        else:
            running.discard(job.id)

    unsubscribe = lab.jobs.subscribe(watch)
    try:
        finished, urls = _call_with_deadline(make_album, list(PHOTOS))
    finally:
        unsubscribe()
    if not finished:
        return not_yet(
            f"make_album was still running after {_GIVE_UP_AFTER:g} s; six small resizes take "
            "well under a second.",
            "wait for the jobs you started, e.g. lab.jobs.wait_all(jobs), not for ever",
        )
    if not seen:
        return not_yet(
            "no image.resize job ran for the album's photos.",
            'start one job per photo: lab.jobs.start("image.resize", {"source": photo, ...})',
        )
    expected = [thumbnail_url(photo) for photo in PHOTOS]
    if urls is None:
        return not_yet(
            "make_album returned None.", "return the list of thumbnail URLs, one per photo"
        )
    if list(urls) != expected:
        return not_yet(
            f"make_album returned {_short(urls)}; expected the six 200×200 thumbnail URLs in the "
            f"order of the photos, starting {expected[0]!r}.",
            "collect job.result['url'] for each job, in the order you started them, with "
            "width and height 200",
        )
    if most[0] < 2:
        return not_yet(
            "the thumbnails are right, but the six jobs ran one at a time: you waited for each "
            "job to finish before starting the next.",
            "fan out first (start every job), then fan in (wait for them all)",
        )
    return right(
        f"all six thumbnails are there, and up to {most[0]} of their jobs ran at the same time."
    )


# -- exercise 2: back off when the queue is full --------------------------------------------------


def burst_requests() -> list[dict[str, Any]]:
    """The six job requests the backpressure check hands to ``submit_all``."""
    return [{"kind": "sleep", "params": {"seconds": seconds}} for seconds in _SECONDS]


@check
def backs_off(submit_all: Callable[[Any, list[dict[str, Any]]], Any], lab: Any) -> Result:
    """Exercise 2: ``submit_all(client, requests)`` gets every job accepted, honouring 503s."""
    import httpx

    if submit_all is Ellipsis or not callable(submit_all):
        return not_yet("submit_all should be a function.", "def submit_all(client, requests):")
    sent: list[tuple[float, int, float | None]] = []  # when, status, Retry-After
    lock = threading.Lock()

    def record(response: httpx.Response) -> None:
        if response.request.method == "POST" and response.request.url.path == "/jobs":
            retry_after = response.headers.get("retry-after")
            with lock:
                sent.append((time.monotonic(), response.status_code, _seconds(retry_after)))

    runner = lab.jobs
    saved = runner.concurrency, runner.queue_size
    before = {job.id for job in runner.list()}
    runner.concurrency, runner.queue_size = _BUSY_CONCURRENCY, _BUSY_QUEUE
    try:
        with httpx.Client(
            base_url=lab.url, timeout=10, trust_env=False, event_hooks={"response": [record]}
        ) as client:
            finished, job_ids = _call_with_deadline(submit_all, client, burst_requests())
    finally:
        runner.concurrency, runner.queue_size = saved
    started = [
        job
        for job in runner.list()
        if job.id not in before
        and job.kind == "sleep"
        and (job.params or {}).get("seconds") in _SECONDS
    ]
    if not finished:
        for job in started:
            job.cancel()
        return not_yet(
            f"submit_all was still running after {_GIVE_UP_AFTER:g} s.",
            "after a 503, wait Retry-After seconds and try that request again; stop when every "
            "request has had a 202",
        )
    if not sent:
        return not_yet(
            "submit_all never posted a job.", 'client.post("/jobs", json=request) posts one'
        )
    per_request = {seconds: 0 for seconds in _SECONDS}
    for job in started:
        per_request[job.params["seconds"]] += 1
    if any(count > 1 for count in per_request.values()):
        return not_yet(
            "some request started two jobs: you posted it again after it had been accepted.",
            "retry a request only when its answer was 503; a 202 means the job is started",
        )
    if any(count == 0 for count in per_request.values()):
        return not_yet(
            "some of your jobs never started: the server answered 503 Service Unavailable (its "
            "queue was full) and you did not try those requests again.",
            "loop until the answer is 202; on 503, wait Retry-After seconds, then post the same "
            "request again",
        )
    for (when, status, wait), (later, _, _) in itertools.pairwise(sent):
        if status == 503 and later - when < (wait or 1) - 0.05:
            return not_yet(
                "after a 503 you tried again sooner than its Retry-After asked: a server that is "
                "full needs the time it asked for, and every early request is more load.",
                "time.sleep(int(answer.headers['retry-after'])) before the next POST",
            )
    if job_ids is None or sorted(map(str, job_ids)) != sorted(job.id for job in started):
        return not_yet(
            f"every job started, but submit_all returned {_short(job_ids)} instead of their ids.",
            "append answer.json()['id'] for each 202 and return the list",
        )
    refusals = sum(1 for _, status, _ in sent if status == 503)
    return right(
        f"all {BURST} jobs were accepted, each exactly once; the server refused "
        f"{refusals} request{'' if refusals == 1 else 's'} with 503, and you waited as long as "
        "Retry-After asked every time."
    )


# -- helpers ---------------------------------------------------------------------------------------


def _call_with_deadline(fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Call ``fn(*args)`` in a helper thread; ``(False, None)`` if it is not done in time.

    An exception from ``fn`` is raised here, so the ``@check`` wrapper can describe it.
    """
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["result"] = fn(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call, name="check-call", daemon=True)
    thread.start()
    thread.join(_GIVE_UP_AFTER)
    if thread.is_alive():
        return False, None
    if "error" in outcome:
        raise outcome["error"]
    return True, outcome.get("result")


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["BURST", "PHOTOS", "backs_off", "burst_requests", "fans_out", "thumbnail_url"]
