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
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right

#: Endpoints the checks send to; a lesson's own endpoints never share these names.
GATHER_ENDPOINT = "think-check-gather"
SLOW_ENDPOINT = "think-check-slow"
QUICK_ENDPOINT = "think-check-quick"

_HELD_FOR = 0.2  # seconds the gather endpoint holds each request, so overlaps are certain
_SLOW_ANSWER = 1.2  # seconds the slow endpoint takes to answer
_PATIENCE = 0.3  # seconds the learner's function is given to wait for it
_RESIZE_SECONDS = 0.2
_PHOTOS = ("beach.jpg", "dunes.jpg", "harbour.jpg", "pier.jpg")


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
            try:
                await asyncio.sleep(_HELD_FOR)
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


@check
def send_all_at_once(send_all: Callable[..., Any], lab: Any) -> Result:
    """Exercise 1: ``send_all(client, url, events)`` sends every event at once, answers in order."""
    import httpx

    if not inspect.iscoroutinefunction(send_all):
        return not_yet(
            "send_all should be a coroutine function, written with async def.",
            "async def send_all(client, url, events):",
        )
    counter = _in_flight_counter(lab)
    counter.reset()
    url = lab.receiver.url_for(GATHER_ENDPOINT)
    events = [{"type": "order.created", "data": {"order": n}} for n in range(1, 6)]

    async def trial() -> Any:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            return await send_all(client, url, [dict(event) for event in events])

    try:
        answers = run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("send_all")
    if answers is None:
        return not_yet(
            "send_all returned None.", "return the answers: return await asyncio.gather(...)"
        )
    answers = list(answers)
    if counter.seen < len(events):
        return not_yet(
            f"the receiver got {counter.seen} of the {len(events)} webhooks.",
            "send every event in events to url: client.post(url, json=event)",
        )
    if len(answers) != len(events) or not all(
        isinstance(answer, httpx.Response) for answer in answers
    ):
        return not_yet(
            "send_all should return the five answers (httpx.Response objects), one per event, "
            "in the order of the events.",
            "asyncio.gather(...) returns the results in the order you passed the awaitables",
        )
    if any(answer.status_code != 200 for answer in answers):
        codes = sorted({answer.status_code for answer in answers})
        return not_yet(
            f"some webhooks were refused (status {', '.join(map(str, codes))}).",
            "post each event as JSON: client.post(url, json=event)",
        )
    if counter.most < 2:
        return not_yet(
            "every webhook arrived, but one after another: the receiver never had more than one "
            "of your requests in flight at once, so you waited for each answer before sending "
            "the next.",
            "make all five requests first, then await them together: "
            "await asyncio.gather(*(client.post(url, json=e) for e in events))",
        )
    return right(
        f"the receiver had {counter.most} of your {len(events)} requests in flight at once, and "
        "you got every answer back in order."
    )


# -- exercise 2: give up on a slow call ------------------------------------------------------------


@check
def gives_up_in_time(ask_or_give_up: Callable[..., Any], lab: Any) -> Result:
    """Exercise 2: ``ask_or_give_up(client, url, seconds)`` returns the answer, or None if late."""
    import httpx

    if not inspect.iscoroutinefunction(ask_or_give_up):
        return not_yet(
            "ask_or_give_up should be a coroutine function, written with async def.",
            "async def ask_or_give_up(client, url, seconds):",
        )
    lab.receiver.chaos(SLOW_ENDPOINT).reset().slow(_SLOW_ANSWER)
    lab.receiver.chaos(QUICK_ENDPOINT).reset()
    slow_url, quick_url = lab.receiver.url_for(SLOW_ENDPOINT), lab.receiver.url_for(QUICK_ENDPOINT)

    async def trial() -> tuple[Any, float, Any]:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            quick = await ask_or_give_up(client, quick_url, 2.0)
            started = time.perf_counter()
            slow = await ask_or_give_up(client, slow_url, _PATIENCE)
            return quick, time.perf_counter() - started, slow

    try:
        quick, waited, slow = run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("ask_or_give_up")
    except (TimeoutError, asyncio.TimeoutError):  # distinct classes before Python 3.11
        return not_yet(
            "your function let a TimeoutError escape instead of returning None.",
            "catch it: try: ... except TimeoutError: return None",
        )
    if not isinstance(quick, httpx.Response) or quick.status_code != 200:
        return not_yet(
            f"asked a quick endpoint with 2 s to spare, your function returned {_short(quick)} "
            "instead of the answer.",
            "when the answer comes in time, return it: return await asyncio.wait_for(..., seconds)",
        )
    if slow is not None:
        return not_yet(
            f"the slow endpoint takes {_SLOW_ANSWER:g} s to answer, and your function waited for "
            f"it although it was given only {_PATIENCE:g} s.",
            "wrap the call: await asyncio.wait_for(client.post(...), seconds), and return None "
            "on TimeoutError",
        )
    if waited >= _SLOW_ANSWER - 0.5:
        return not_yet(
            "your function returned None for the slow endpoint, but only after waiting for its "
            "answer anyway.",
            "let asyncio.wait_for(..., seconds) stop the wait itself",
        )
    return right(
        f"you returned a quick answer, and gave up on a {_SLOW_ANSWER:g} s answer when the "
        f"{_PATIENCE:g} s you had ran out."
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
    """Exercise 3: ``make_thumbnail(name)`` awaits :func:`resize_pixels` without blocking."""
    global _recorder

    if not inspect.iscoroutinefunction(make_thumbnail):
        return not_yet(
            "make_thumbnail should be a coroutine function, written with async def.",
            "async def make_thumbnail(name):",
        )
    recorder = _Recorder()
    loop_thread: list[int] = []

    async def trial() -> list[Any]:
        loop_thread.append(threading.get_ident())
        return list(await asyncio.gather(*(make_thumbnail(name) for name in _PHOTOS)))

    _recorder = recorder
    try:
        thumbnails = run_in_own_loop(trial, timeout=15)
    except _StillRunning:
        return _still_running("make_thumbnail")
    finally:
        _recorder = None
    expected = [f"thumb_{name}" for name in _PHOTOS]
    if not recorder.threads:
        return not_yet(
            "make_thumbnail never called resize_pixels.",
            "the work is resize_pixels(name); run it without blocking the loop",
        )
    if thumbnails != expected:
        return not_yet(
            f"the four thumbnails came back as {_short(thumbnails)}; expected {_short(expected)}.",
            "return what resize_pixels(name) returns",
        )
    if loop_thread and loop_thread[0] in recorder.threads:
        return not_yet(
            "resize_pixels ran on the event loop's own thread: while it slept, nothing else on "
            "the loop could run, so the four thumbnails took turns instead of overlapping.",
            "hand the blocking call to a worker thread: "
            "await asyncio.to_thread(resize_pixels, name)",
        )
    if recorder.most < 2:
        return not_yet(
            "resize_pixels ran off the loop, but never two at once.",
            "await asyncio.to_thread(resize_pixels, name) lets gather run them side by side",
        )
    return right(
        f"resize_pixels ran in worker threads, {recorder.most} at once, and the loop stayed free "
        "the whole time."
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
        raise _StillRunning(f"your code was still running after {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _still_running(name: str) -> Result:
    return not_yet(
        f"{name} was still running after 15 s, long after every answer had come back.",
        "look for a loop that never ends, or an await on something that never finishes",
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
