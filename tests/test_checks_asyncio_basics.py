"""Lesson 6's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from webhooks_lab.checks import asyncio_basics as check

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(name: str) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's imports."""
    namespace: dict[str, Any] = {
        "asyncio": asyncio,
        "time": time,
        "resize_pixels": check.resize_pixels,
    }
    exec(compile((SOLUTIONS / name).read_text(), str(SOLUTIONS / name), "exec"), namespace)
    return namespace


# -- exercise 1: send five webhooks at once --------------------------------------------------------


def test_sending_with_gather_passes(lab):
    send_all = load_solution("06_send_all.py")["send_all"]
    result = check.send_all_at_once(send_all, lab)
    assert result, result
    assert "in flight at once" in result.message


def test_the_check_can_be_run_again_without_stacking_handlers(lab):
    send_all = load_solution("06_send_all.py")["send_all"]
    assert check.send_all_at_once(send_all, lab)
    assert check.send_all_at_once(send_all, lab)
    assert len(lab.receiver.endpoint(check.GATHER_ENDPOINT).handlers["*"]) == 1


async def one_after_another(client, url, events):  # the lesson's starting point
    answers = []
    for event in events:
        answers.append(await client.post(url, json=event))
    return answers


async def fires_and_forgets(client, url, events):
    await asyncio.gather(*(client.post(url, json=event) for event in events))


async def sends_only_the_first(client, url, events):
    return [await client.post(url, json=events[0])]


def not_async(client, url, events):
    return []


@pytest.mark.parametrize(
    ("send_all", "words"),
    [
        (one_after_another, "one after another"),
        (fires_and_forgets, "returned None"),
        (sends_only_the_first, "got 1 of the 5 webhooks"),
        (not_async, "async def"),
    ],
)
def test_typical_wrong_senders_are_told_what_to_fix(lab, send_all, words):
    result = check.send_all_at_once(send_all, lab)
    assert not result
    assert words in result.message
    assert result.hint


# -- exercise 2: give up on a slow call ------------------------------------------------------------


def test_a_timeout_with_wait_for_passes(lab):
    ask_or_give_up = load_solution("06_give_up.py")["ask_or_give_up"]
    result = check.gives_up_in_time(ask_or_give_up, lab)
    assert result, result


async def waits_for_ever(client, url, seconds):  # the lesson's starting point
    return await client.post(url, json={"type": "ping", "data": {}})


async def lets_the_timeout_escape(client, url, seconds):
    return await asyncio.wait_for(client.post(url, json={"type": "ping", "data": {}}), seconds)


async def always_gives_up(client, url, seconds):
    return None


async def waits_then_pretends_it_gave_up(client, url, seconds):
    started = time.perf_counter()
    answer = await client.post(url, json={"type": "ping", "data": {}})
    return answer if time.perf_counter() - started < seconds else None


@pytest.mark.parametrize(
    ("ask_or_give_up", "words"),
    [
        (waits_for_ever, "waited for it"),
        (lets_the_timeout_escape, "let a TimeoutError escape"),
        (always_gives_up, "returned None instead of the answer"),
        (waits_then_pretends_it_gave_up, "only after waiting"),
    ],
)
def test_typical_wrong_timeouts_are_told_what_to_fix(lab, ask_or_give_up, words):
    result = check.gives_up_in_time(ask_or_give_up, lab)
    assert not result
    assert words in result.message
    assert result.hint


# -- exercise 3: keep the loop free ----------------------------------------------------------------


def test_a_worker_thread_passes():
    make_thumbnail = load_solution("06_keep_the_loop_free.py")["make_thumbnail"]
    result = check.keeps_the_loop_free(make_thumbnail)
    assert result, result


async def blocks_the_loop(name):  # the lesson's starting point
    return check.resize_pixels(name)


async def sleeps_instead(name):
    await asyncio.sleep(0.01)
    return f"thumb_{name}"


@pytest.mark.parametrize(
    ("make_thumbnail", "words"),
    [
        (blocks_the_loop, "ran on the event loop's own thread"),
        (sleeps_instead, "never called resize_pixels"),
        (check.resize_pixels, "async def"),
    ],
)
def test_typical_blocking_thumbnails_are_told_what_to_fix(make_thumbnail, words):
    result = check.keeps_the_loop_free(make_thumbnail)
    assert not result
    assert words in result.message
    assert result.hint


def test_threads_that_take_turns_are_told_to_overlap():
    lock = asyncio.Lock()  # binds to the check's loop when first contended

    async def one_thread_at_a_time(name):
        async with lock:
            return await asyncio.to_thread(check.resize_pixels, name)

    result = check.keeps_the_loop_free(one_thread_at_a_time)
    assert not result
    assert "never two at once" in result.message


def test_a_coroutine_that_never_ends_is_reported_not_waited_for_ever(monkeypatch):
    async def never_ends(name):
        await asyncio.sleep(3600)

    monkeypatch.setattr(check, "run_in_own_loop", _impatient(check.run_in_own_loop))
    result = check.keeps_the_loop_free(never_ends)
    assert not result
    assert "still running" in result.message


def _impatient(run: Any) -> Any:
    def run_briefly(make: Any, *, timeout: float) -> Any:
        return run(make, timeout=0.5)

    return run_briefly
