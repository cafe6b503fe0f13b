"""Checks for lesson 8, "Run jobs at scale".

Both checks run the learner's function against the lab's real job runner and jobs API, and judge
what they can observe rather than how long things took: how many of the learner's jobs were
running at the same moment (the runner announces every change), in which order the URLs came
back while the jobs finished in another, which answers the server gave, and when each request was
sent after a ``503`` whose ``Retry-After`` varies (:mod:`webhooks_lab.checks.gateway`). A slow,
busy machine makes waits longer, never shorter, so it does not change those answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from webhooks_lab.checks import Result, check, gateway, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.i18n import _, n_

PHOTOS = [
    "album/beach.jpg",
    "album/dunes.jpg",
    "album/harbour.jpg",
    "album/lighthouse.jpg",
    "album/pier.jpg",
    "album/sunset.jpg",
]
#: Extra lab seconds each photo's resize takes during the check: the first photo slowest, so
#: jobs started together finish in the reverse order and only results collected in the order of
#: the photos come back in order.
_STAGGER = {photo: 0.06 * (len(PHOTOS) - 1 - n) for n, photo in enumerate(PHOTOS)}
#: How many requests the backpressure check sends, and the small limits it sets meanwhile.
BURST = 6
_BUSY_CONCURRENCY = 1
_BUSY_QUEUE = 1
#: Distinct, so each request can be told apart. The first job is long, so the third request is
#: refused twice in a row: once is not always enough.
_SECONDS = [1.5, 0.6, 0.61, 0.62, 0.63, 0.64]
#: The Retry-After of the 503s, one after another: seconds, an HTTP date, then seconds.
_PLAN = [gateway.seconds(1), gateway.http_date_after(2.5), gateway.seconds(1)]
_GIVE_UP_AFTER = 20.0
_EXERCISE_1, _EXERCISE_2 = "08.fan_out", "08.back_off"
_START_ONE = 'lab.jobs.start("image.resize", {"source": photo, ...})'  # code, in any language


def thumbnail_url(photo: str, size: int = 200) -> str:
    """The URL the ``image.resize`` kind returns for ``photo`` at ``size`` × ``size``."""
    return f"/images/{photo.rsplit('.', 1)[0]}_{size}x{size}.jpg"


# -- exercise 1: fan out, fan in -------------------------------------------------------------------


@contextmanager
def _staggered(runner: Any) -> Iterator[None]:
    """While the check runs, ``image.resize`` takes a little longer for the album's first photos."""
    kind = runner.kind("image.resize")
    if kind is None:
        yield
        return
    resize = kind.fn

    async def resize_staggered(
        source: str = "photo.jpg", width: int = 800, height: int = 600, *, progress: Any, clock: Any
    ) -> Any:
        await clock.sleep(_STAGGER.get(source, 0.0))
        return await resize(source, width, height, progress=progress, clock=clock)

    def register(fn: Callable[..., Any]) -> None:
        runner.register(
            kind.name,
            fn,
            params=kind.params,
            description=kind.description,
            timeout=kind.timeout,
            retry_after=kind.retry_after,
        )

    register(resize_staggered)
    try:
        yield
    finally:
        register(resize)


@check
def fans_out(make_album: Callable[[list[str]], Any], lab: Any) -> Result:
    """Exercise 1: ``make_album(photos)`` resizes every photo as its own job, all at once.

    The first photo takes longest and the last shortest, so the jobs finish in the reverse of
    the order they started: URLs gathered as jobs finish come back in the wrong order.
    """
    if make_album is Ellipsis or not callable(make_album):
        return not_yet(_("make_album should be a function."), "def make_album(photos):")
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
        with _staggered(lab.jobs):
            finished, urls = _call_with_deadline(make_album, list(PHOTOS))
    except TypeError as exc:
        if "NoneType" not in str(exc):
            raise
        return coach(
            _EXERCISE_1,
            _(
                "your code raised TypeError: {exc}: a job's result is None until the job has "
                "finished.",
                exc=exc,
            ),
            idea=_("fan in before you read the results: wait until the jobs have ended"),
            detail=_(
                "job.wait() (or lab.jobs.wait_all(jobs)) first; then job.result holds the outcome"
            ),
        )
    finally:
        unsubscribe()
    if not finished:
        return not_yet(
            _(
                "make_album was still running after {seconds:g} s; six small resizes take "
                "well under a second.",
                seconds=_GIVE_UP_AFTER,
            ),
            _("wait for the jobs you started, e.g. lab.jobs.wait_all(jobs), not for ever"),
        )
    if not seen:
        return coach(
            _EXERCISE_1,
            _("no image.resize job ran for the album's photos."),
            idea=_("each photo is resized by a job of the lab's image.resize kind"),
            detail=_("start one job per photo: {call}", call=_START_ONE),
        )
    expected = [thumbnail_url(photo) for photo in PHOTOS]
    if urls is None:
        return coach(
            _EXERCISE_1,
            _("make_album returned None."),
            idea=_("hand the thumbnails' URLs back to the caller"),
            detail=_("return the list of thumbnail URLs, one per photo"),
        )
    try:
        urls = list(urls)
    except TypeError:
        urls = [urls]
    if sorted(map(str, urls)) == sorted(expected) and urls != expected:
        return coach(
            _EXERCISE_1,
            _(
                "make_album returned the right six URLs, but in the order the jobs finished (the "
                "first photo took longest), not in the order of the photos."
            ),
            idea=_(
                "the caller matches each URL to its photo by position: keep the photos' order, "
                "whichever job ends first"
            ),
            detail=_(
                "keep the jobs in a list in the order you started them, and read their "
                "results from that list once all have ended"
            ),
        )
    if urls != expected:
        return coach(
            _EXERCISE_1,
            _(
                "make_album returned {urls}; expected the six 200×200 thumbnail URLs in the "
                "order of the photos, starting {first}.",
                urls=_short(urls),
                first=repr(expected[0]),
            ),
            idea=_("each job's result holds the thumbnail's URL; size them 200 by 200"),
            detail=_(
                "collect job.result['url'] for each job, in the order you started them, with "
                "width and height 200"
            ),
        )
    if most[0] < 2:
        return coach(
            _EXERCISE_1,
            _(
                "the thumbnails are right, but the six jobs ran one at a time: you waited for "
                "each job to finish before starting the next."
            ),
            idea=_("fan out first, then fan in: start every job before you wait for any of them"),
            detail=_(
                "start all six jobs in one loop, then wait for them all (lab.jobs.wait_all(jobs))"
            ),
        )
    return right(
        _(
            "all six thumbnails are there, in the order of the photos, and up to {most} of their "
            "jobs ran at the same time.",
            most=most[0],
        )
    )


# -- exercise 2: back off when the queue is full --------------------------------------------------


def burst_requests() -> list[dict[str, Any]]:
    """The six job requests the backpressure check hands to ``submit_all``."""
    return [{"kind": "sleep", "params": {"seconds": seconds}} for seconds in _SECONDS]


def _is_post(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path == "/jobs"


def _retry_slip(slip: gateway.Slip) -> Result:
    said = slip.describe(_("tried again"))
    if slip.kind == "late":
        return coach(
            _EXERCISE_2,
            _("{said}: the queue had room long before, and your jobs started late.", said=said),
            idea=_("wait as long as Retry-After asks: no less, and not much more"),
            detail=_("sleep for what this 503's Retry-After says, not a long time of your own"),
        )
    if slip.advice.is_date:
        return coach(
            _EXERCISE_2,
            _("after a 503, {said}.", said=said),
            idea=_(
                "Retry-After comes in two forms, a number of seconds or a date: when it is a "
                "date, wait until that moment"
            ),
            detail=_("webhooks_lab.retry.parse_retry_after(value) turns either form into seconds"),
        )
    return coach(
        _EXERCISE_2,
        _(
            "after a 503, {said}: a server that is full needs the time it asked for, and every "
            "early request is more load.",
            said=said,
        ),
        idea=_(
            "each 503 says in its Retry-After header how long to wait, and it can differ from "
            "one 503 to the next: wait that long before you post the same request again"
        ),
        detail=_("sleep for the seconds in this answer's Retry-After header, not a fixed time"),
    )


@check
def backs_off(submit_all: Callable[[Any, list[dict[str, Any]]], Any], lab: Any) -> Result:
    """Exercise 2: ``submit_all(client, requests)`` gets every job accepted, honouring 503s.

    With one job running and one waiting at most, the lab refuses most of the burst with ``503``;
    its ``Retry-After`` says 1 second, then an HTTP date 2.5 to 3.5 seconds ahead, then 1 second.
    Only the retry of the refused request is judged against it.
    """
    if submit_all is Ellipsis or not callable(submit_all):
        return not_yet(_("submit_all should be a function."), "def submit_all(client, requests):")
    transport = gateway.Gateway(
        lab.clock,
        _PLAN,
        advises=lambda request, response: _is_post(request) and response.status_code == 503,
        judges=lambda request, advised: _is_post(request) and request.content == advised.content,
        give_up_after=_GIVE_UP_AFTER,
    )
    runner = lab.jobs
    saved = runner.concurrency, runner.queue_size
    before = {job.id for job in runner.list()}
    runner.concurrency, runner.queue_size = _BUSY_CONCURRENCY, _BUSY_QUEUE
    stopped = False
    try:
        with httpx.Client(base_url=lab.url, timeout=10, trust_env=False, transport=transport) as c:
            try:
                finished, job_ids = _call_with_deadline(submit_all, c, burst_requests())
            except gateway.Stopped:
                finished, job_ids, stopped = True, None, True
            except ValueError as exc:
                verdict = transport.date_not_read(
                    _EXERCISE_2,
                    exc,
                    detail=_(
                        "webhooks_lab.retry.parse_retry_after(value) turns either form into seconds"
                    ),
                )
                if verdict is None:
                    raise
                return verdict
    finally:
        runner.concurrency, runner.queue_size = saved
    started = [
        job
        for job in runner.list()
        if job.id not in before
        and job.kind == "sleep"
        and (job.params or {}).get("seconds") in _SECONDS
    ]
    if not finished or stopped:
        for job in started:
            job.cancel()
    if transport.slip is not None:
        return _retry_slip(transport.slip)
    if not finished or stopped:
        return not_yet(
            _(
                "submit_all was still running after {seconds:g} s and {requests} requests.",
                seconds=_GIVE_UP_AFTER,
                requests=len(transport.sent),
            ),
            _(
                "after a 503, wait Retry-After seconds and try that request again; stop when "
                "every request has had a 202"
            ),
        )
    if not transport.sent:
        return coach(
            _EXERCISE_2,
            _("submit_all never posted a job."),
            idea=_("post each request to /jobs with the client you are given"),
            detail=_('client.post("/jobs", json=request) posts one'),
        )
    per_request = {seconds: 0 for seconds in _SECONDS}
    for job in started:
        per_request[job.params["seconds"]] += 1
    if any(count > 1 for count in per_request.values()):
        return coach(
            _EXERCISE_2,
            _("some request started two jobs: you posted it again after it had been accepted."),
            idea=_("only a refused request needs sending again; an accepted one has started"),
            detail=_(
                "retry a request only when its answer was 503; a 202 means the job is started"
            ),
        )
    if any(count == 0 for count in per_request.values()):
        return coach(
            _EXERCISE_2,
            _(
                "some of your jobs never started: the server answered 503 Service Unavailable "
                "(its queue was full) and you did not try those requests again."
            ),
            idea=_(
                "a 503 means 'not now', not 'no': wait as long as the server asks, then send "
                "the same request again, as often as it takes"
            ),
            detail=_(
                "loop until the answer is 202; on 503, wait Retry-After seconds, then post the "
                "same request again"
            ),
        )
    if job_ids is None or sorted(map(str, job_ids)) != sorted(job.id for job in started):
        return coach(
            _EXERCISE_2,
            _(
                "every job started, but submit_all returned {got} instead of their ids.",
                got=_short(job_ids),
            ),
            idea=_("hand back the id of each job the server accepted"),
            detail=_("append answer.json()['id'] for each 202 and return the list"),
        )
    refusals = sum(1 for _, _, status in transport.sent if status == 503)
    return right(
        n_(
            "all {burst} jobs were accepted, each exactly once; the server refused {count} "
            "request with 503, and you waited as long as Retry-After asked every time, in "
            "seconds or as an HTTP date.",
            "all {burst} jobs were accepted, each exactly once; the server refused {count} "
            "requests with 503, and you waited as long as Retry-After asked every time, in "
            "seconds or as an HTTP date.",
            refusals,
            burst=BURST,
        )
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


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["BURST", "PHOTOS", "backs_off", "burst_requests", "fans_out", "thumbnail_url"]
