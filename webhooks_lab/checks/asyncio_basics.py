"""Checks for lesson 6, "Think in async".

Each check runs the learner's coroutine function for real, on an event loop of its own in a
helper thread (a notebook cell cannot ``asyncio.run()`` anything: its kernel already runs a loop),
against endpoints on the lab's real receiver. What it judges is behaviour it can observe without
a stopwatch: how many requests the receiver had in flight at once, whether a call came back empty
handed, which thread a blocking call ran on. A slow, busy machine does not change those answers.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.i18n import _

#: Endpoints the checks send to; a lesson's own endpoints never share these names.
GATHER_ENDPOINT = "think-check-gather"
SLOW_ENDPOINT = "think-check-slow"
QUICK_ENDPOINT = "think-check-quick"

#: Seconds the gather endpoint holds each of the five events: the first longest, so answers that
#: are collected as they finish come back in a different order from the events.
_HOLDS = {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.2, 5: 0.1}
_IN_TIME = 1.2  # seconds the quick endpoint takes to answer ...
_IN_TIME_PATIENCE = 3.0  # ... when the learner's function is given this long
_SLOW_ANSWER = 1.8  # seconds the slow endpoint takes to answer ...
_PATIENCE = 0.3  # ... when the learner's function is given this long
_TOO_LATE = 1.2  # seconds after which a give-up has waited far past its patience
_RESIZE_SECONDS = 0.2
_PHOTOS = ("beach.jpg", "dunes.jpg", "harbour.jpg", "pier.jpg")
_EXERCISE_1, _EXERCISE_2, _EXERCISE_3 = "06.send_all", "06.give_up", "06.loop_free"


# -- exercise 1: send five webhooks at once --------------------------------------------------------


class _InFlight:
    """Counts requests an endpoint is answering right now, and the most ever at once.

    Its handler runs on the lab loop, one step at a time, so plain integers are safe.
    """

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.seen = 0

    def reset(self) -> None:
        self.now = self.most = self.seen = 0

    def handler(self) -> Callable[[Any], Awaitable[None]]:
        async def hold(event: Any) -> None:
            self.now += 1
            self.seen += 1
            self.most = max(self.most, self.now)
            order = event.data.get("order") if isinstance(event.data, dict) else None
            try:
                await asyncio.sleep(_HOLDS.get(order, 0.2))
            finally:
                self.now -= 1

        return hold


_counters: weakref.WeakKeyDictionary[Any, _InFlight] = weakref.WeakKeyDictionary()


def _in_flight_counter(lab: Any) -> _InFlight:
    counter = _counters.get(lab)
    if counter is None:
        counter = _counters[lab] = _InFlight()
    # Set, not added: re-running the check never stacks a second handler on the endpoint.
    lab.receiver.endpoint(GATHER_ENDPOINT).handlers["*"] = [counter.handler()]
    return counter


def _sent_order(answer: Any) -> Any:
    """Which of the five events an answer is for, read from the request it answers."""
    try:
        return json.loads(answer.request.content)["data"]["order"]
    except (ValueError, TypeError, KeyError, RuntimeError):
        return None


@check
def send_all_at_once(send_all: Callable[..., Any], lab: Any) -> Result:
    """Exercise 1: ``send_all(client, url, events)`` sends every event at once, answers in order.

    The endpoint holds the first event longest and the last shortest, so a function that sends
    them side by side gets its answers in the reverse order: only one that keeps the events'
    order returns them in order.
    """
    import httpx

    if not inspect.iscoroutinefunction(send_all):
        return not_yet(
            _("send_all should be a coroutine function, written with async def."),
            "async def send_all(client, url, events):",
        )
    counter = _in_flight_counter(lab)
    counter.reset()
    url = lab.receiver.url_for(GATHER_ENDPOINT)
    events = [{"type": "order.created", "data": {"order": n}} for n in _HOLDS]

    async def trial() -> Any:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            return await send_all(client, url, [dict(event) for event in events])

    try:
        answers = run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("send_all")
    if answers is None:
        return coach(
            _EXERCISE_1,
            _("send_all returned None."),
            idea=_("hand the answers back to the caller, one per event"),
            detail=_("return what awaiting the requests together gives you"),
        )
    try:
        answers = list(answers)
    except TypeError:
        answers = [answers]
    if counter.seen < len(events):
        return coach(
            _EXERCISE_1,
            _(
                "the receiver got {seen} of the {total} webhooks.",
                seen=counter.seen,
                total=len(events),
            ),
            idea=_("every event in events should reach the url"),
            detail=_("make one client.post(url, json=event) for each event"),
        )
    if len(answers) != len(events) or not all(
        isinstance(answer, httpx.Response) for answer in answers
    ):
        return coach(
            _EXERCISE_1,
            _(
                "send_all returned {answers}; it should return the five answers "
                "(httpx.Response objects), one per event, in the order of the events.",
                answers=_short(answers),
            ),
            idea=_("await the requests and keep what they return, not the tasks or futures"),
            detail=_(
                "asyncio.gather(...) returns the results in the order you passed the awaitables"
            ),
        )
    if any(answer.status_code != 200 for answer in answers):
        codes = sorted({answer.status_code for answer in answers})
        return coach(
            _EXERCISE_1,
            _(
                "some webhooks were refused (status {codes}).",
                codes=", ".join(map(str, codes)),
            ),
            idea=_("send each event as it is, as JSON"),
            detail=_("post each event as JSON: client.post(url, json=event)"),
        )
    if counter.most < 2:
        return coach(
            _EXERCISE_1,
            _(
                "every webhook arrived, but one after another: the receiver never had more than "
                "one of your requests in flight at once, so you waited for each answer before "
                "sending the next."
            ),
            idea=_(
                "start all five requests before you wait for any answer, then wait for them "
                "together"
            ),
            detail=_("asyncio.gather awaits several awaitables at once; hand it every request"),
        )
    orders = [_sent_order(answer) for answer in answers]
    if orders != sorted(_HOLDS):
        return coach(
            _EXERCISE_1,
            _(
                "the requests went out together, but the answers came back for events {orders}, "
                "in the order they finished (the receiver held the first event longest), not in "
                "the order of the events.",
                orders=orders,
            ),
            idea=_(
                "the caller matches answers to events by position: keep the events' order, "
                "whichever answer comes first"
            ),
            detail=_(
                "asyncio.gather returns its results in the order of its arguments; "
                "as_completed and done-callbacks give the order of finishing"
            ),
        )
    return right(
        _(
            "the receiver had {most} of your {total} requests in flight at once, and you got "
            "every answer back in the order of the events, though they finished in reverse.",
            most=counter.most,
            total=len(events),
        )
    )


# -- exercise 2: give up on a slow call ------------------------------------------------------------


class _Slow:
    """The slow endpoint's handler: it notes when the learner's patience is long gone, and when
    it finally answers, so the check can tell *when* the learner's function gave up without a
    stopwatch of its own."""

    def __init__(self) -> None:
        self.arrived = self.too_late = self.answered = False

    async def hold(self, event: Any) -> None:
        self.arrived = True
        await asyncio.sleep(_TOO_LATE)
        self.too_late = True
        await asyncio.sleep(_SLOW_ANSWER - _TOO_LATE)
        self.answered = True


def _holding(seconds: float) -> Callable[[Any], Awaitable[None]]:
    async def hold(event: Any) -> None:
        await asyncio.sleep(seconds)

    return hold


@check
def gives_up_in_time(ask_or_give_up: Callable[..., Any], lab: Any) -> Result:
    """Exercise 2: ``ask_or_give_up(client, url, seconds)`` returns the answer, or None if late.

    It asks an endpoint that answers in 1.2 s with 3 s to spare, then one that answers in 1.8 s
    with 0.3 s: only a function that waits as long as ``seconds`` says, whatever the number, gets
    the first answer and gives up on the second in time.
    """
    import httpx

    if not inspect.iscoroutinefunction(ask_or_give_up):
        return not_yet(
            _("ask_or_give_up should be a coroutine function, written with async def."),
            "async def ask_or_give_up(client, url, seconds):",
        )
    slow = _Slow()
    for name, handler in ((SLOW_ENDPOINT, slow.hold), (QUICK_ENDPOINT, _holding(_IN_TIME))):
        lab.receiver.chaos(name).reset()
        lab.receiver.endpoint(name).handlers["*"] = [handler]
    slow_url, quick_url = lab.receiver.url_for(SLOW_ENDPOINT), lab.receiver.url_for(QUICK_ENDPOINT)
    seen: dict[str, Any] = {}

    async def trial() -> None:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            seen["quick"] = await ask_or_give_up(client, quick_url, _IN_TIME_PATIENCE)
            seen["slow"] = await ask_or_give_up(client, slow_url, _PATIENCE)
            seen["too_late"], seen["answered"] = slow.too_late, slow.answered

    try:
        run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("ask_or_give_up")
    except (TimeoutError, asyncio.TimeoutError):  # distinct classes before Python 3.11
        return coach(
            _EXERCISE_2,
            _("your function let a TimeoutError escape instead of returning None."),
            idea=_("giving up is the expected outcome here, not an error: turn it into None"),
            detail=_("catch it: try: ... except TimeoutError: return None"),
        )
    quick = seen.get("quick")
    if not isinstance(quick, httpx.Response) or quick.status_code != 200:
        return coach(
            _EXERCISE_2,
            _(
                "given {patience:g} s for an endpoint that answers in {takes:g} s, your function "
                "returned {got} instead of the answer: it gave up before the seconds it was "
                "given had run out.",
                patience=_IN_TIME_PATIENCE,
                takes=_IN_TIME,
                got=_short(quick),
            ),
            idea=_(
                "wait as long as the seconds argument says, whatever number it is, and return "
                "the answer when it comes in time"
            ),
            detail=_("pass seconds itself to the timeout, not a number of your own"),
        )
    if isinstance(seen.get("slow"), httpx.Response):
        return coach(
            _EXERCISE_2,
            _(
                "the slow endpoint takes {takes:g} s to answer, and your function waited for it "
                "although it was given only {patience:g} s.",
                takes=_SLOW_ANSWER,
                patience=_PATIENCE,
            ),
            idea=_(
                "put a limit of seconds on the wait for the answer, and return None when it "
                "runs out"
            ),
            detail=_(
                "asyncio.wait_for(awaitable, seconds) gives up after seconds, cancelling the "
                "request, and raises TimeoutError"
            ),
        )
    if seen.get("slow") is not None:
        return coach(
            _EXERCISE_2,
            _(
                "for the slow endpoint your function returned {got}, not None.",
                got=_short(seen.get("slow")),
            ),
            idea=_("when the time runs out, return None"),
            detail=_("return None in the except TimeoutError branch"),
        )
    if seen.get("answered"):
        return coach(
            _EXERCISE_2,
            _(
                "your function returned None for the slow endpoint, but only after waiting for "
                "its answer anyway."
            ),
            idea=_("the point is not to wait: stop waiting when the seconds run out"),
            detail=_("let asyncio.wait_for(..., seconds) stop the wait itself"),
        )
    if seen.get("too_late"):
        return coach(
            _EXERCISE_2,
            _(
                "your function gave up on the slow endpoint, but more than {late:g} s after "
                "asking, though it was given only {patience:g} s.",
                late=_TOO_LATE,
                patience=_PATIENCE,
            ),
            idea=_("give up when the seconds you were given run out, not after a time of your own"),
            detail=_("pass seconds itself to the timeout, not a number of your own"),
        )
    return right(
        _(
            "you returned an answer that came in time, and gave up on a {takes:g} s answer when "
            "the {patience:g} s you had ran out.",
            takes=_SLOW_ANSWER,
            patience=_PATIENCE,
        )
    )


# -- exercise 3: keep the loop free ----------------------------------------------------------------


class _Recorder:
    """Notes each call of :func:`resize_pixels` while a check watches: its thread, the overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: list[int] = []
        self.now = 0
        self.most = 0


_recorder: _Recorder | None = None


def resize_pixels(name: str) -> str:
    """A stand-in for a library call that blocks (like resizing with Pillow): 0.2 s, no await.

    Call it from async code and nothing else on that event loop runs until it returns.
    """
    recorder = _recorder
    if recorder is not None:
        with recorder.lock:
            recorder.threads.append(threading.get_ident())
            recorder.now += 1
            recorder.most = max(recorder.most, recorder.now)
    try:
        time.sleep(_RESIZE_SECONDS)
    finally:
        if recorder is not None:
            with recorder.lock:
                recorder.now -= 1
    return f"thumb_{name}"


@check
def keeps_the_loop_free(make_thumbnail: Callable[[str], Any]) -> Result:
    """Exercise 3: ``make_thumbnail(name)`` awaits :func:`resize_pixels` without blocking.

    Beside the four thumbnails, a heartbeat runs on the same loop: if it never beats while a
    ``resize_pixels`` is under way, the loop was blocked, whatever thread did the work.
    """
    global _recorder

    if not inspect.iscoroutinefunction(make_thumbnail):
        return not_yet(
            _("make_thumbnail should be a coroutine function, written with async def."),
            "async def make_thumbnail(name):",
        )
    recorder = _Recorder()
    loop_thread: list[int] = []
    beat_during_work = [False]

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(0.005)
            if recorder.now > 0:
                beat_during_work[0] = True

    async def trial() -> list[Any]:
        loop_thread.append(threading.get_ident())
        beating = asyncio.create_task(heartbeat())
        try:
            return list(await asyncio.gather(*(make_thumbnail(name) for name in _PHOTOS)))
        finally:
            beating.cancel()

    _recorder = recorder
    failure: Exception | None = None
    thumbnails: Any = None
    try:
        thumbnails = run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("make_thumbnail")
    except Exception as exc:  # judged below: what ran where says more than the error
        failure = exc
    finally:
        _recorder = None
    on_the_loop = bool(loop_thread) and loop_thread[0] in recorder.threads
    if failure is not None and not on_the_loop:
        raise failure
    expected = [f"thumb_{name}" for name in _PHOTOS]
    if not recorder.threads:
        return coach(
            _EXERCISE_3,
            _("make_thumbnail never called resize_pixels."),
            idea=_(
                "the work is resize_pixels(name): keep it, and run it where it cannot block "
                "the loop"
            ),
            detail=_("hand resize_pixels to a worker thread and await the result"),
        )
    if on_the_loop:
        called_it_yourself = failure is not None and "callable" in str(failure)
        return coach(
            _EXERCISE_3,
            _(
                "resize_pixels ran on the event loop's own thread: you called it yourself, "
                "with its parentheses, before handing its result on."
            )
            if called_it_yourself
            else _(
                "resize_pixels ran on the event loop's own thread: while it slept, nothing else "
                "on the loop could run, so the four thumbnails took turns instead of overlapping."
            ),
            idea=_(
                "a blocking call needs a thread of its own, and the coroutine should await "
                "its result there"
            ),
            detail=_(
                "asyncio.to_thread takes the function and its arguments separately: "
                "to_thread(resize_pixels, name), not to_thread(resize_pixels(name))"
            ),
        )
    if thumbnails != expected:
        return coach(
            _EXERCISE_3,
            _(
                "the four thumbnails came back as {got}; expected {expected}.",
                got=_short(thumbnails),
                expected=_short(expected),
            ),
            idea=_("make_thumbnail should return what resize_pixels returns"),
            detail=_("await the worker thread's result and return it"),
        )
    if not beat_during_work[0]:
        return coach(
            _EXERCISE_3,
            _(
                "resize_pixels ran in another thread, but the event loop stood still while it "
                "worked: your coroutine waited for the thread without awaiting it."
            ),
            idea=_("waiting must be an await, so the loop can run other things meanwhile"),
            detail=_(
                "future.result() and thread.join() block the loop; "
                "await asyncio.to_thread(...) does not"
            ),
        )
    if recorder.most < 2:
        return coach(
            _EXERCISE_3,
            _("resize_pixels ran off the loop, but never two at once."),
            idea=_("nothing should make one thumbnail wait for another"),
            detail=_(
                "await asyncio.to_thread(resize_pixels, name) lets gather run them side by side"
            ),
        )
    return right(
        _(
            "resize_pixels ran in worker threads, {most} at once, and the loop stayed free the "
            "whole time.",
            most=recorder.most,
        )
    )


# -- running a coroutine from a notebook cell ------------------------------------------------------


class _StillRunning(TimeoutError):
    """The learner's coroutine had not finished when the check stopped waiting."""


def run_in_own_loop(make: Callable[[], Awaitable[Any]], *, timeout: float) -> Any:
    """Run ``await make()`` on a new event loop in a helper thread; return or raise its outcome.

    A check is called from a plain cell, whose thread already runs the kernel's loop; a thread of
    its own may start another. If the coroutine is not done in ``timeout`` seconds, it is left to
    end on its own and ``TimeoutError`` says so.
    """
    outcome: dict[str, Any] = {}

    def main() -> None:
        loop = asyncio.new_event_loop()
        try:
            outcome["result"] = loop.run_until_complete(make())
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    thread = threading.Thread(target=main, name="check-loop", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _StillRunning(_("your code was still running after {timeout:g} s", timeout=timeout))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _still_running(name: str) -> Result:
    return not_yet(
        _(
            "{name} was still running after 15 s, long after every answer had come back.",
            name=name,
        ),
        _("look for a loop that never ends, or an await on something that never finishes"),
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = [
    "GATHER_ENDPOINT",
    "QUICK_ENDPOINT",
    "SLOW_ENDPOINT",
    "gives_up_in_time",
    "keeps_the_loop_free",
    "resize_pixels",
    "run_in_own_loop",
    "send_all_at_once",
]
