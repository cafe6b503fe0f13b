"""Lesson 6's checks accept right answers, refuse the slips people really make, and teach."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any

import httpx
import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab.checks import asyncio_basics as check
from webhooks_lab.checks.hints import forget_attempts


@pytest.fixture(autouse=True)
def no_attempts_yet():
    forget_attempts()


def load_solution(name: str) -> dict[str, Any]:
    """Run a solution file the way ``%load`` would, in a namespace with the lesson's imports."""
    return run_solution(
        name, {"asyncio": asyncio, "time": time, "resize_pixels": check.resize_pixels}
    )


def starter(check_name: str, name: str) -> Any:
    namespace: dict[str, Any] = {"asyncio": asyncio, "httpx": httpx}
    run_cell(exercise("06", check_name).starter, namespace)
    return namespace[name]


# -- exercise 1: send five webhooks at once --------------------------------------------------------


async def with_a_task_group(client, url, events):
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(client.post(url, json=event)) for event in events]
    return [task.result() for task in tasks]


async def tasks_first_then_await_each(client, url, events):
    tasks = [asyncio.create_task(client.post(url, json=event)) for event in events]
    return [await task for task in tasks]


@pytest.mark.parametrize(
    "send_all",
    [load_solution("06_send_all.py")["send_all"], with_a_task_group, tasks_first_then_await_each],
    ids=["the solution", "a TaskGroup", "tasks first, then await each"],
)
def test_sending_side_by_side_in_order_passes(lab, send_all):
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


async def awaits_each_in_a_comprehension(client, url, events):
    return [await client.post(url, json=event) for event in events]


async def fires_and_forgets(client, url, events):
    await asyncio.gather(*(client.post(url, json=event) for event in events))


async def collects_as_completed(client, url, events):
    return [
        await answer for answer in asyncio.as_completed([client.post(url, json=e) for e in events])
    ]


async def appends_when_each_is_done(client, url, events):
    answers = []
    tasks = [asyncio.create_task(client.post(url, json=event)) for event in events]
    for task in tasks:
        task.add_done_callback(lambda done: answers.append(done.result()))
    await asyncio.gather(*tasks)
    return answers


async def returns_the_tasks(client, url, events):
    tasks = [asyncio.create_task(client.post(url, json=event)) for event in events]
    await asyncio.wait(tasks)
    return tasks


async def returns_what_wait_gives(client, url, events):
    return await asyncio.wait([asyncio.create_task(client.post(url, json=e)) for e in events])


async def sends_only_the_first(client, url, events):
    return [await client.post(url, json=events[0])]


def not_async(client, url, events):
    return []


@pytest.mark.parametrize(
    ("send_all", "words"),
    [
        (one_after_another, "one after another"),
        (awaits_each_in_a_comprehension, "one after another"),
        (fires_and_forgets, "returned None"),
        (collects_as_completed, "in the order they finished"),
        (appends_when_each_is_done, "in the order they finished"),
        (returns_the_tasks, "should return the five answers"),
        (returns_what_wait_gives, "should return the five answers"),
        (sends_only_the_first, "got 1 of the 5 webhooks"),
        (not_async, "async def"),
    ],
)
def test_typical_wrong_senders_are_told_what_to_fix(lab, send_all, words):
    result = check.send_all_at_once(send_all, lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_sender_check_gives_the_idea_first_and_the_detail_after_a_wrong_try(lab):
    first = check.send_all_at_once(one_after_another, lab)
    second = check.send_all_at_once(one_after_another, lab)
    assert "gather" not in first.hint
    assert "asyncio.gather" in second.hint


def test_the_sender_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.send_all_at_once(starter("send_all_at_once", "send_all"), lab)
    assert_teaches_without_telling(result, "06_send_all.py", exercise("06", "send_all_at_once"))
    assert "one after another" in result.message


# -- exercise 2: give up on a slow call ------------------------------------------------------------

PING = {"type": "ping", "data": {}}


async def with_asyncio_timeout(client, url, seconds):
    try:
        async with asyncio.timeout(seconds):
            return await client.post(url, json=PING)
    except TimeoutError:
        return None


async def with_httpx_timeout(client, url, seconds):
    try:
        return await client.post(url, json=PING, timeout=seconds)
    except httpx.TimeoutException:
        return None


@pytest.mark.parametrize(
    "ask_or_give_up",
    [load_solution("06_give_up.py")["ask_or_give_up"], with_asyncio_timeout, with_httpx_timeout],
    ids=["the solution", "asyncio.timeout", "httpx's own timeout"],
)
def test_giving_up_when_the_seconds_run_out_passes(lab, ask_or_give_up):
    result = check.gives_up_in_time(ask_or_give_up, lab)
    assert result, result


async def waits_for_ever(client, url, seconds):  # the lesson's starting point
    return await client.post(url, json=PING)


async def lets_the_timeout_escape(client, url, seconds):
    return await asyncio.wait_for(client.post(url, json=PING), seconds)


async def catches_the_wrong_error(client, url, seconds):
    try:
        return await asyncio.wait_for(client.post(url, json=PING), seconds)
    except asyncio.CancelledError:
        return None


async def always_gives_up(client, url, seconds):
    return None


async def waits_then_pretends_it_gave_up(client, url, seconds):
    started = time.perf_counter()
    answer = await client.post(url, json=PING)
    return answer if time.perf_counter() - started < seconds else None


def gives_up_after(fixed: float) -> Any:
    async def ask_or_give_up(client, url, seconds):
        try:
            return await asyncio.wait_for(client.post(url, json=PING), fixed)
        except TimeoutError:
            return None

    return ask_or_give_up


@pytest.mark.parametrize(
    ("ask_or_give_up", "words"),
    [
        (waits_for_ever, "waited for it"),
        (lets_the_timeout_escape, "let a TimeoutError escape"),
        (catches_the_wrong_error, "let a TimeoutError escape"),
        (always_gives_up, "gave up before the seconds it was given"),
        (waits_then_pretends_it_gave_up, "only after waiting"),
        (gives_up_after(0.3), "gave up before the seconds it was given"),
        (gives_up_after(1), "gave up before the seconds it was given"),
        (gives_up_after(1.5), "more than 1.2 s after asking"),
        (gives_up_after(5), "waited for it"),
    ],
    ids=[
        "no timeout",
        "TimeoutError escapes",
        "catches CancelledError",
        "always None",
        "waits, then pretends",
        "a fixed 0.3 s",
        "a fixed 1 s",
        "a fixed 1.5 s",
        "a fixed 5 s",
    ],
)
def test_typical_wrong_timeouts_are_told_what_to_fix(lab, ask_or_give_up, words):
    result = check.gives_up_in_time(ask_or_give_up, lab)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_the_timeout_check_teaches_without_telling_on_the_starter_code(lab):
    result = check.gives_up_in_time(starter("gives_up_in_time", "ask_or_give_up"), lab)
    assert_teaches_without_telling(result, "06_give_up.py", exercise("06", "gives_up_in_time"))
    assert "wait_for" not in result.hint
    assert "waited for it" in result.message


def test_the_timeout_check_names_wait_for_after_a_wrong_try(lab):
    check.gives_up_in_time(waits_for_ever, lab)
    assert "asyncio.wait_for" in check.gives_up_in_time(waits_for_ever, lab).hint


# -- exercise 3: keep the loop free ----------------------------------------------------------------


async def in_the_default_executor(name):
    return await asyncio.get_running_loop().run_in_executor(None, check.resize_pixels, name)


async def to_thread_with_a_lambda(name):
    return await asyncio.to_thread(lambda: check.resize_pixels(name))


@pytest.mark.parametrize(
    "make_thumbnail",
    [
        load_solution("06_keep_the_loop_free.py")["make_thumbnail"],
        in_the_default_executor,
        to_thread_with_a_lambda,
    ],
    ids=["the solution", "run_in_executor", "to_thread with a lambda"],
)
def test_a_worker_thread_passes(make_thumbnail):
    result = check.keeps_the_loop_free(make_thumbnail)
    assert result, result


async def blocks_the_loop(name):  # the lesson's starting point
    return check.resize_pixels(name)


async def sleeps_first_then_blocks(name):
    await asyncio.sleep(0)
    return check.resize_pixels(name)


async def calls_it_before_handing_it_on(name):
    return await asyncio.to_thread(check.resize_pixels(name))


_pool = concurrent.futures.ThreadPoolExecutor(4)


async def waits_for_the_future_without_await(name):
    return _pool.submit(check.resize_pixels, name).result()


async def starts_a_thread_and_returns(name):
    threading.Thread(target=check.resize_pixels, args=(name,)).start()


async def sleeps_instead(name):
    await asyncio.sleep(0.01)
    return f"thumb_{name}"


@pytest.mark.parametrize(
    ("make_thumbnail", "words"),
    [
        (blocks_the_loop, "ran on the event loop's own thread"),
        (sleeps_first_then_blocks, "ran on the event loop's own thread"),
        (calls_it_before_handing_it_on, "you called it yourself"),
        (waits_for_the_future_without_await, "the event loop stood still"),
        (starts_a_thread_and_returns, "came back as [None, None"),
        (sleeps_instead, "never called resize_pixels"),
        (check.resize_pixels, "async def"),
    ],
)
def test_typical_blocking_thumbnails_are_told_what_to_fix(make_thumbnail, words):
    result = check.keeps_the_loop_free(make_thumbnail)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_threads_that_take_turns_are_told_to_overlap():
    lock = asyncio.Lock()  # binds to the check's loop when first contended

    async def one_thread_at_a_time(name):
        async with lock:
            return await asyncio.to_thread(check.resize_pixels, name)

    result = check.keeps_the_loop_free(one_thread_at_a_time)
    assert not result
    assert "never two at once" in result.message


def test_the_loop_check_teaches_without_telling_on_the_starter_code():
    result = check.keeps_the_loop_free(starter("keeps_the_loop_free", "make_thumbnail"))
    assert_teaches_without_telling(
        result, "06_keep_the_loop_free.py", exercise("06", "keeps_the_loop_free")
    )
    assert "to_thread" not in result.hint
    assert "to_thread" in check.keeps_the_loop_free(blocks_the_loop).hint


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
