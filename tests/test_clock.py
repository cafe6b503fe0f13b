from __future__ import annotations

import asyncio
import time

import pytest

from webhooks_lab.runtime.clock import Clock, FakeClock


def test_a_fast_clock_times_out_in_lab_seconds():
    async def main() -> float:
        clock = Clock(speed=100)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await clock.wait_for(asyncio.sleep(60), 10)  # 10 lab seconds = 0.1 s
        return time.monotonic() - started

    assert asyncio.run(main()) < 30  # far less than the 60 s the sleep asked for


def test_wait_for_returns_what_finished_in_time():
    async def main() -> str:
        async def quick() -> str:
            return "done"

        return await Clock(speed=2).wait_for(quick(), 5)

    assert asyncio.run(main()) == "done"


def test_a_fake_clock_times_out_only_when_advanced_past_the_deadline():
    async def main() -> list[str]:
        clock = FakeClock()
        never = asyncio.get_running_loop().create_future()
        waiting = asyncio.ensure_future(clock.wait_for(never, 30))
        seen = []
        await asyncio.sleep(0.01)
        clock.advance(29)
        await asyncio.sleep(0.01)
        seen.append("waiting" if not waiting.done() else "ended early")
        clock.advance(2)
        with pytest.raises(TimeoutError):
            await waiting
        seen.append("timed out")
        seen.append("cancelled" if never.cancelled() else "left running")
        return seen

    assert asyncio.run(main()) == ["waiting", "timed out", "cancelled"]


def test_a_lab_duration_becomes_real_seconds_only_through_the_clock():
    assert Clock(speed=60).real_seconds(120) == pytest.approx(2.0)
    assert Clock().real_seconds(5) == 5
    assert Clock(speed=10).real_seconds(-3) == 0  # a deadline already passed is now
    assert FakeClock().real_seconds(7) == 7  # a fake clock counts one for one


def test_real_seconds_follow_a_change_of_speed():
    clock = Clock(speed=2)
    clock.speed = 100
    assert clock.real_seconds(50) == pytest.approx(0.5)
