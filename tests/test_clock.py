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


def test_a_paused_clock_stands_still_and_its_sleepers_wait_until_it_moves():
    async def main() -> list[str]:
        clock = Clock(speed=1000)
        clock.pause()
        stood = clock.time()
        sleeper = asyncio.ensure_future(clock.sleep(10))  # 10 ms of real time, were it running
        await asyncio.sleep(0.1)
        seen = [f"time moved {clock.time() - stood:g}", "asleep" if not sleeper.done() else "woke"]
        clock.advance(9)
        await asyncio.sleep(0.05)
        seen.append("asleep" if not sleeper.done() else "woke early")
        clock.advance(1)
        await asyncio.wait_for(sleeper, 5)
        seen.append(f"woke at +{clock.time() - stood:g}")
        clock.resume()
        await asyncio.sleep(0.01)
        seen.append("running" if clock.time() > stood + 10 else "still")
        return seen

    assert asyncio.run(main()) == ["time moved 0", "asleep", "asleep", "woke at +10", "running"]


def test_a_sleeper_already_asleep_follows_a_change_of_speed():
    async def main() -> float:
        clock = Clock(speed=1)
        sleeper = asyncio.ensure_future(clock.sleep(3600))  # an hour at speed 1
        await asyncio.sleep(0.01)
        started = time.monotonic()
        clock.speed = 3600 * 100  # now an hour is 10 ms
        await asyncio.wait_for(sleeper, 10)
        return time.monotonic() - started

    assert asyncio.run(main()) < 10  # before, it slept on for the hour it first asked


def test_lab_seconds_since_the_start_never_go_back_when_the_speed_changes():
    clock = Clock(speed=1000)
    time.sleep(0.01)
    before = clock.monotonic()
    clock.speed = 1
    assert clock.monotonic() >= before >= 10
    clock.pause()
    clock.advance(5)
    assert clock.monotonic() >= before + 5
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
