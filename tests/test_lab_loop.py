"""The lab loop: a cell's thread runs a coroutine on it and gets back what it returned or raised."""

from __future__ import annotations

import asyncio

import pytest

from webhooks_lab.runtime.loop import LabLoop


@pytest.fixture
def loop():
    running = LabLoop(name="webhooks-lab-test-loop")
    try:
        yield running
    finally:
        running.stop()


def test_a_coroutines_own_timeout_reaches_the_caller_with_its_words(loop):
    async def gives_up() -> None:
        raise TimeoutError("the partner never answered")

    with pytest.raises(TimeoutError, match="the partner never answered"):
        loop.run(gives_up(), timeout=5)


def test_a_coroutine_that_outlasts_the_wait_is_cancelled_and_the_wait_says_so(loop):
    async def forever() -> None:
        await asyncio.sleep(3600)

    with pytest.raises(TimeoutError, match="did not finish within 0.2 s"):
        loop.run(forever(), timeout=0.2)
    assert loop.run(asyncio.sleep(0, "still serving"), timeout=5) == "still serving"
