"""Checks for lesson 7, "Accept now, finish later".

Both checks run the learner's code against the real lab: a real job behind a real ``202``, polled
over real HTTP, or a real job function run by the lab's job runner. They answer with the first
thing that went wrong, in words that point at the fix.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, gateway, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.i18n import _, n_

_GIVE_UP_AFTER = 15
_IMAGES = [f"photo_{n}.jpg" for n in range(1, 9)]
_REPORTS_SPREAD = 0.035  # seconds: 8 images with a 10 ms await each span at least 70 ms
_EXERCISE_1, _EXERCISE_2 = "07.poller", "07.progress"
_runs = itertools.count(1)

#: The Retry-After of the status URL's "still running" answers, one after another: seconds, an
#: HTTP date, seconds again; the job ends after the last. No fixed sleep and no int() of the
#: header gets through.
_PLAN = [gateway.seconds(2), gateway.http_date_after(2.5), gateway.seconds(1)]


# -- exercise 1: poll politely ---------------------------------------------------------------------


def _until_released(release: threading.Event, result: dict[str, Any]) -> dict[str, Any]:
    """The check's job: it runs until the poller has followed the plan (or the check gives up)."""
    release.wait(_GIVE_UP_AFTER + 5)
    return result


def _poll_slip(slip: gateway.Slip) -> Result:
    said = slip.describe(_("polled again"))
    if slip.kind == "late":
        return coach(
            _EXERCISE_1,
            _(
                "{said}: the job may have ended meanwhile, and your client learns it late.",
                said=said,
            ),
            idea=_("wait as long as Retry-After asks: no less, and not much more"),
            detail=_("sleep for what this answer's Retry-After says, not a long time of your own"),
        )
    if slip.advice.is_date:
        return coach(
            _EXERCISE_1,
            _("{said}.", said=said),
            idea=_(
                "Retry-After comes in two forms, a number of seconds or a date: when it is "
                "a date, wait until that moment"
            ),
            detail=_(
                "email.utils.parsedate_to_datetime(value) reads the date; wait its "
                ".timestamp() minus time.time() seconds"
            ),
        )
    return coach(
        _EXERCISE_1,
        _(
            "{said}: every early request is work for the server and tells you nothing new.",
            said=said,
        ),
        idea=_(
            "read how long to wait from each answer's Retry-After header, which can change "
            "from one answer to the next, and wait that long before you ask again"
        ),
        detail=_(
            "sleep for the seconds in answer.headers['retry-after'] of the answer you just "
            "got, not a fixed time"
        ),
    )


@check
def polite_poller(poll_job: Callable[[Any, str], Any], lab: Any) -> Result:
    """Exercise 1: ``poll_job(client, url)`` polls honouring Retry-After and returns the result.

    The job behind ``url`` ends only after three "still running" answers, whose ``Retry-After``
    says 2 seconds, then an HTTP date 2.5 to 3.5 seconds ahead, then 1 second.
    """
    import httpx

    if poll_job is Ellipsis or not callable(poll_job):
        return not_yet(_("poll_job should be a function."), "def poll_job(client, url):")
    run = next(_runs)
    release = threading.Event()
    job = lab.jobs.submit(
        _until_released, release, {"video": f"/videos/check-{run}.mp4", "frames": 240 + run}
    )
    status_path = f"/jobs/{job.id}"

    def is_poll(request: httpx.Request) -> bool:
        return request.method == "GET" and request.url.path == status_path

    transport = gateway.Gateway(
        lab.clock,
        _PLAN,
        advises=lambda request, response: is_poll(request) and response.status_code == 200,
        judges=lambda request, advised: is_poll(request),
        give_up_after=_GIVE_UP_AFTER,
        on_plan_done=release.set,  # the job ends before the next poll
    )
    answer: Any = None
    try:
        with httpx.Client(base_url=lab.url, timeout=10, transport=transport) as http:
            try:
                answer = poll_job(http, f"{lab.url}{status_path}")
            except gateway.Stopped:
                if transport.slip is not None:
                    return _poll_slip(transport.slip)
                return not_yet(
                    _(
                        "your function was still polling after {requests} requests and "
                        "{seconds} s, long after the job had ended.",
                        requests=len(transport.sent),
                        seconds=_GIVE_UP_AFTER,
                    ),
                    _("stop when the status URL answers 303 See Other (or the status is final)"),
                )
            except ValueError as exc:
                verdict = transport.date_not_read(
                    _EXERCISE_1,
                    exc,
                    detail=_("email.utils.parsedate_to_datetime(value) reads an HTTP date"),
                )
                if verdict is None:
                    raise
                return verdict
    finally:
        release.set()
    expected = job.wait(5)
    result_path = f"{status_path}/result"
    polls = [code for _, path, code in transport.sent if path == status_path]
    if not polls:
        return coach(
            _EXERCISE_1,
            _(
                "your function never asked the status URL it was given, with the client it was "
                "given."
            ),
            idea=_("ask the url you are given, with the client you are given, again and again"),
            detail=_("answer = client.get(url) asks it; look at answer.status_code"),
        )
    if len(polls) <= len(_PLAN):
        return coach(
            _EXERCISE_1,
            n_(
                "your function stopped after {count} poll, while the job was still running.",
                "your function stopped after {count} polls, while the job was still running.",
                len(polls),
            ),
            idea=_("keep polling until the status URL says the job has ended"),
            detail=_("the job has ended when the status URL answers 303 See Other"),
        )
    if not any(path == result_path for _, path, _ in transport.sent):
        return coach(
            _EXERCISE_1,
            _(
                "your function never fetched /result: when the job has ended, the status URL "
                "answers 303 See Other and its Location header says where the result is."
            ),
            idea=_("the 303 does not carry the result; it says where to fetch it"),
            detail=_(
                "if answer.status_code == 303: follow answer.headers['location'] "
                "(or let client.get(url, follow_redirects=True) do it)"
            ),
        )
    if answer is None:
        return coach(
            _EXERCISE_1,
            _("your function returned None."),
            idea=_("hand back the job's result once you have it"),
            detail=_("return the 'result' field of the /result answer"),
        )
    if answer != expected:
        return coach(
            _EXERCISE_1,
            _(
                "your function returned {answer}, not the job's result {expected}.",
                answer=_short(answer),
                expected=_short(expected),
            ),
            idea=_("the /result answer wraps the result with other fields: return only the result"),
            detail=_("return answer.json()['result'] from the /result answer"),
        )
    return right(
        _(
            "you polled {polls} times, each time as long as Retry-After asked (in seconds or as "
            "an HTTP date), followed the 303 to /result and returned the job's result.",
            polls=len(polls),
        )
    )


# -- exercise 2: report progress -------------------------------------------------------------------


@check
def progress_reporter(make_thumbnails: Callable[..., Any], lab: Any) -> Result:
    """Exercise 2: a job function that reports its progress after each image."""
    if make_thumbnails is Ellipsis or not callable(make_thumbnails):
        return not_yet(
            _("make_thumbnails should be a function."),
            "async def make_thumbnails(images, *, progress):",
        )
    try:
        parameters = inspect.signature(make_thumbnails).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "progress" not in parameters:
        return not_yet(
            _("make_thumbnails has no `progress` parameter, so the runner has nothing to hand it."),
            _(
                "async def make_thumbnails(images, *, progress): the runner passes a reporter "
                "to a parameter with exactly that name"
            ),
        )
    seen: list[tuple[float, str, float]] = []
    job_ids: set[str] = set()
    ended = threading.Event()

    def listen(job: Any) -> None:  # on the lab loop, at every change, in order
        if job.id in job_ids:
            seen.append((time.monotonic(), job.status, job.progress))
            if job.done:
                ended.set()

    unsubscribe = lab.jobs.subscribe(listen)
    try:
        job = lab.jobs.submit(make_thumbnails, list(_IMAGES))
        job_ids.add(job.id)
        if job.done:  # ended before the listener knew its id
            ended.set()
        try:
            result = job.wait(10)
        except TimeoutError:
            return not_yet(
                _("the job was still running after 10 s."),
                _("one short await per image is plenty"),
            )
        except Exception as exc:
            return not_yet(
                _("the job failed: {error}: {exc}", error=type(exc).__name__, exc=exc),
                _("read the error; progress(done, of=total) takes numbers"),
            )
        ended.wait(5)  # the listener has seen the end, so every report before it too
    finally:
        unsubscribe()
    expected = [f"thumb_{name}" for name in _IMAGES]
    if result != expected:
        return not_yet(
            _(
                "the job returned {result}; it should return {expected}.",
                result=_short(result),
                expected=_short(expected),
            ),
            # no values, so the braces stay as written: the learner's f-string
            _("collect f'thumb_{name}' for each image and return the list"),
        )
    reports = [(moment, pct) for moment, status, pct in seen if status == "running" and pct > 0]
    while_running = [pct for _, pct in reports]
    if not while_running:
        return coach(
            _EXERCISE_2,
            _(
                "the job finished, but while it ran its progress never moved from 0%: a client "
                "watching it would think it was stuck."
            ),
            idea=_(
                "only the job knows how far it has got: after each image, tell the progress "
                "reporter how many are done out of how many"
            ),
            detail=_("call progress(done, of=len(images)) after each image"),
        )
    steps = len(set(while_running))
    if steps < len(_IMAGES) - 1:
        return coach(
            _EXERCISE_2,
            n_(
                "progress moved in only {count} step for {images} images; report after every "
                "image, so the bar moves as the work does.",
                "progress moved in only {count} steps for {images} images; report after every "
                "image, so the bar moves as the work does.",
                steps,
                images=len(_IMAGES),
            ),
            idea=_("report once per image, inside the loop that does the work"),
            detail=_("call progress(...) inside the loop, after each image"),
        )
    if while_running != sorted(while_running):
        return coach(
            _EXERCISE_2,
            _("progress went backwards at some point."),
            idea=_("report how many images are done so far, a number that only grows"),
            detail=_("progress(index + 1, of=len(images)) after image number index"),
        )
    if max(while_running) <= 1.0:
        return coach(
            _EXERCISE_2,
            _(
                "your progress went from {first:g} % to {most:g} %: a fraction such as 3/8 is "
                "read as 0.375 percent, not 37.5.",
                first=while_running[0],
                most=max(while_running),
            ),
            idea=_(
                "say how many images are done and out of how many, and let the reporter work "
                "out the percentage"
            ),
            detail=_("progress(done, of=len(images)); progress(n) alone means n percent"),
        )
    if max(while_running) <= len(_IMAGES):
        return coach(
            _EXERCISE_2,
            _(
                "your progress went {first} ... {most:g} %: a count of images alone is read as "
                "a percentage.",
                first=", ".join(f"{p:g} %" for p in while_running[:3]),
                most=max(while_running),
            ),
            idea=_("tell the reporter out of how many images you count, too"),
            detail=_("progress(done, of=len(images)); progress(n) alone means n percent"),
        )
    if max(while_running) < 99.9:
        return coach(
            _EXERCISE_2,
            _("progress never reached 100% while the job ran; the last image was not counted."),
            idea=_("count an image as done once it is done, the last one too"),
            detail=_("report after the last image too: progress(len(images), of=len(images))"),
        )
    moments = [moment for moment, _ in reports]
    if max(moments) - min(moments) < _REPORTS_SPREAD:
        return coach(
            _EXERCISE_2,
            _(
                "your job reported all {steps} steps at once, with nothing done in between: a "
                "client watching it saw {empty} for the whole job, then {full}.",
                steps=steps,
                empty="0 %",  # values: "% f" in a message would read as a %-format to gettext
                full="100 %",
            ),
            idea=_("report each image as it is finished, in the loop that does the work"),
            detail=_(
                "call progress(...) right after each image's await, not in a loop of its own "
                "at the end"
            ),
        )
    return right(
        _(
            "the job reported {steps} steps of progress, one per image as the work went, up to "
            "100%, and returned every thumbnail.",
            steps=steps,
        )
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["polite_poller", "progress_reporter"]
