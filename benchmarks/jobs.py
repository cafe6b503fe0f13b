"""What does the job runner cost per job, next to a bare ``asyncio.gather`` of the same work?

The work is the smallest a coroutine can do (``await asyncio.sleep(0)``), so what is measured is
pure overhead: making a Job, queueing it, starting it under the concurrency limit, recording its
result, waking its waiters. All sides run on the same lab loop in the same process, in
alternating rounds; each reports its best round, so a burst of noise from another process
hurts no side more than another.

* ``gather``: ``await asyncio.gather(*(work() for _ in range(n)))``, no limit at all.
* ``gather + semaphore(8)``: the same, at most 8 at once (what the runner's limit does by hand).
* ``runner, from the loop``: ``runner.submit(work)`` n times inside a coroutine on the lab loop,
  then ``await asyncio.gather(*jobs)``; concurrency 8.
* ``runner, from a cell``: the same submits made from another thread, as a notebook cell makes
  them, then ``runner.wait_all(jobs)``.

    python benchmarks/jobs.py [--jobs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhooks_lab.jobs.runner import JobRunner  # noqa: E402
from webhooks_lab.runtime.loop import LabLoop  # noqa: E402

CONCURRENCY = 8


async def work() -> None:
    await asyncio.sleep(0)


def bare_gather(n: int) -> Coroutine[Any, Any, float]:
    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(n)))
        return time.perf_counter() - started

    return run()


def gather_with_semaphore(n: int) -> Coroutine[Any, Any, float]:
    async def run() -> float:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def limited() -> None:
            async with limit:
                await work()

        started = time.perf_counter()
        await asyncio.gather(*(limited() for _ in range(n)))
        return time.perf_counter() - started

    return run()


def runner_on_loop(runner: JobRunner, n: int) -> Coroutine[Any, Any, float]:
    async def run() -> float:
        started = time.perf_counter()
        jobs = [runner.submit(work) for _ in range(n)]
        await asyncio.gather(*jobs)
        return time.perf_counter() - started

    return run()


def runner_from_cell(runner: JobRunner, n: int) -> float:
    started = time.perf_counter()
    jobs = [runner.submit(work) for _ in range(n)]
    runner.wait_all(jobs, timeout=120)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per round (20,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (5)")
    args = parser.parse_args(argv)
    n = args.jobs

    loop = LabLoop(name="webhooks-lab-benchmark")
    runner = JobRunner(loop, concurrency=CONCURRENCY, queue_size=n, keep=n)
    sides: dict[str, Callable[[], float]] = {
        "gather (no limit)": lambda: loop.run(bare_gather(n), timeout=120),
        f"gather + semaphore({CONCURRENCY})": lambda: loop.run(
            gather_with_semaphore(n), timeout=120
        ),
        f"runner({CONCURRENCY}), submitted on the loop": lambda: loop.run(
            runner_on_loop(runner, n), timeout=120
        ),
        f"runner({CONCURRENCY}), submitted from a cell": lambda: runner_from_cell(runner, n),
    }
    best = dict.fromkeys(sides, float("inf"))
    try:
        for _ in range(args.rounds):
            for name, side in sides.items():
                best[name] = min(best[name], side())
    finally:
        runner.close()
        loop.stop()

    baseline = best["gather (no limit)"]
    print(f"{n:,} jobs of `await asyncio.sleep(0)`, best of {args.rounds} rounds\n")
    print(f"{'':44} {'µs/job':>9} {'jobs/s':>10} {'× gather':>9}")
    for name, seconds in best.items():
        per_job = seconds / n * 1e6
        print(f"{name:44} {per_job:9.1f} {n / seconds:10,.0f} {seconds / baseline:9.1f}")
    overhead = (best[f"runner({CONCURRENCY}), submitted on the loop"] - baseline) / n * 1e6
    print(f"\nthe runner adds about {overhead:.0f} µs per job to a bare gather")
    return 0


if __name__ == "__main__":
    sys.exit(main())
