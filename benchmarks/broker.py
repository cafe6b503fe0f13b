"""What does the broker path cost, and what do more worker processes buy?

Two questions, measured in one run against a real ``redis-server`` on a free loopback port, with
real worker processes:

1. **Added cost per job**, under concurrency: ``N`` no-op jobs through SAQ used directly
   (``queue.enqueue`` then waiting on each job, a plain SAQ ``Worker``) against the same ``N``
   through :class:`~webhooks_lab.jobs.broker.BrokerRunner` and ``webhooks-lab``'s worker (checked
   params, heartbeat, progress, the mirror, waiting on ``Job``). Both workers run in their own
   process with the same concurrency. Target: the lab adds <= 3 ms per job.
2. **Two workers against one** on a CPU-bound kind (``primes.count``, pure Python in a thread:
   one process is one core, whatever its concurrency). Target: >= 1.6x on 2 cores. The
   in-process ``JobRunner`` is measured on the same jobs for comparison.

3. **Deliveries per second** through the broker (``BrokerSender``: a record in Redis and a SAQ
   job per attempt, made by two worker processes) against the in-process ``Sender`` (SQLite
   outbox in a file), both signing and posting to one real uvicorn receiver on 127.0.0.1 that
   answers 204.

Rounds alternate between the sides; each side reports its best round, so a burst of noise from
another process hurts no side more than another.

    python benchmarks/broker.py [--jobs N] [--cpu-jobs M] [--deliveries D] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webhooks_lab.jobs.broker import BrokerRunner, Queue  # noqa: E402
from webhooks_lab.jobs.kinds import (  # noqa: E402
    count_primes,
    lesson_kinds,
    register_lesson_kinds,
)
from webhooks_lab.jobs.runner import JobRunner, make_kind  # noqa: E402
from webhooks_lab.runtime.redis_server import RedisServer  # noqa: E402

CONCURRENCY = 8
PRIMES_BELOW = 400_000
SAQ_QUEUE = "bench-saq"  # SAQ's own side has a queue of its own, apart from the lab's


def saq_queue(url: str) -> Queue:
    from redis import asyncio as aioredis

    return Queue(aioredis.from_url(url), name=SAQ_QUEUE)


async def noop() -> None:
    """The smallest job there is: what is measured is the path around it."""


async def saq_noop(ctx: dict[str, Any]) -> None:
    """The same for SAQ used directly (a SAQ function takes its context first)."""


# -- worker processes (this file runs itself as one) ---------------------------------------------


def run_worker_process(kind: str, url: str, concurrency: int) -> None:
    import logging

    from saq import Worker

    from webhooks_lab.jobs.broker_worker import make_worker, run_worker

    logging.getLogger("saq").setLevel(logging.CRITICAL)
    if kind == "saq":
        worker = Worker(saq_queue(url), [saq_noop], concurrency=concurrency, dequeue_timeout=1)
    else:
        kinds = [*lesson_kinds(), make_kind("bench.noop", noop)]
        worker = make_worker(url, kinds, concurrency=concurrency, name=f"bench-{os.getpid()}")
    asyncio.run(run_worker(worker, ready=lambda: print("ready", flush=True)))


class Workers:
    """``count`` worker processes of one ``kind`` ("saq" or "lab") on ``url``."""

    def __init__(self, kind: str, url: str, count: int, concurrency: int) -> None:
        command = [sys.executable, __file__, "--worker", kind, url, str(concurrency)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(count)
        ]
        for process in self.processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                self.stop()
                raise SystemExit("a benchmark worker did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


# -- the sides ------------------------------------------------------------------------------------


async def through_saq(url: str, n: int) -> float:
    queue = saq_queue(url)
    await queue.connect()
    try:
        started = time.perf_counter()
        # SAQ's own fan-out and fan-in; a short poll so its granularity does not count.
        await queue.map("saq_noop", [{}] * n, timeout=120, poll_interval=0.005)
        return time.perf_counter() - started
    finally:
        await queue.disconnect()


async def through_lab(url: str, n: int, kind: str = "bench.noop", params: Any = None) -> float:
    runner = BrokerRunner(url)
    register_lesson_kinds(runner)  # type: ignore[arg-type]
    runner._kinds["bench.noop"] = make_kind("bench.noop", noop)  # this file is a worker's module
    await runner.connect()
    try:
        started = time.perf_counter()
        admitted = await asyncio.gather(*(runner.admit(kind, params) for _ in range(n)))
        await asyncio.wait_for(asyncio.gather(*(job for job, _ in admitted)), 120)
        return time.perf_counter() - started
    finally:
        await runner.aclose()


async def in_process(n: int) -> float:
    runner = register_lesson_kinds(JobRunner(concurrency=4))
    started = time.perf_counter()
    jobs = [runner.start("primes.count", {"below": PRIMES_BELOW}) for _ in range(n)]
    await asyncio.gather(*jobs)
    elapsed = time.perf_counter() - started
    await runner.aclose()
    return elapsed


class _Quiet:
    """A progress that listens to nobody: count_primes run bare, outside any runner."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        pass


def _bare_primes(_: int) -> int:
    return count_primes(PRIMES_BELOW, progress=_Quiet())  # type: ignore[arg-type]


def bare_processes(count: int, n: int) -> float:
    """The same work in ``count`` plain processes: what this machine can give right now."""
    import concurrent.futures

    with concurrent.futures.ProcessPoolExecutor(count) as pool:
        list(pool.map(_bare_primes, range(count)))  # start them first
        started = time.perf_counter()
        list(pool.map(_bare_primes, range(n)))
        return time.perf_counter() - started


class Receiver:
    """A real uvicorn server on 127.0.0.1, on a loop thread of its own, answering 204."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route

        from webhooks_lab.runtime.loop import LabLoop
        from webhooks_lab.runtime.server import Server

        async def hook(request: Any) -> Response:
            await request.body()
            return Response(status_code=204)

        self.loop = LabLoop("bench-receiver")
        self.server = Server(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
        self.loop.run(self.server.start())
        self.url = f"{self.server.url}/hook"

    def stop(self) -> None:
        self.loop.run(self.server.stop())
        self.loop.stop()


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _events(n: int) -> list[Any]:
    from webhooks_lab.events import Event

    return [Event("bench.sent", {"n": i}) for i in range(n)]


async def deliveries_through_broker(url: str, target: str, n: int) -> float:
    from webhooks_lab.jobs.broker_sender import BrokerSender

    sender = await BrokerSender(url=url, allow_loopback=True).start()
    sender.add_endpoint(target, secret=SECRET)
    try:
        events = _events(n)
        started = time.perf_counter()
        made = await sender.enqueue(events)
        ended = await sender.ended([d.id for d in made], 300)
        elapsed = time.perf_counter() - started
        assert all(d.state == "delivered" for d in ended), "a delivery did not arrive"
        return elapsed
    finally:
        await sender.close()


async def deliveries_in_process(target: str, n: int, folder: str) -> float:
    from webhooks_lab.sender.sender import Sender

    sender = await Sender(outbox=Path(folder) / "outbox.sqlite3", allow_loopback=True).start()
    sender.add_endpoint(target, secret=SECRET)
    try:
        events = _events(n)
        started = time.perf_counter()
        sender.send_many(events)
        await sender.idle()
        elapsed = time.perf_counter() - started
        assert sender.counts() == {"delivered": n}, sender.counts()
        return elapsed
    finally:
        await sender.close()


def best(times: list[float]) -> float:
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400, help="no-op jobs per round (400)")
    parser.add_argument("--cpu-jobs", type=int, default=12, help="CPU-bound jobs per round (12)")
    parser.add_argument(
        "--deliveries", type=int, default=400, help="webhook deliveries per round (400; 0 skips)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (3)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, url, concurrency = args.worker
        run_worker_process(kind, url, int(concurrency))
        return

    with RedisServer.start() as redis:
        url = redis.url
        print(f"redis-server {url}; {args.rounds} rounds; best of each side")

        # 1. Added cost per job, one worker process each side, concurrency 8.
        saq_times, lab_times = [], []
        saq_workers = Workers("saq", url, 1, CONCURRENCY)
        lab_workers = Workers("lab", url, 1, CONCURRENCY)
        try:
            asyncio.run(through_saq(url, 20))  # warm both paths
            asyncio.run(through_lab(url, 20))
            for _ in range(args.rounds):
                saq_times.append(asyncio.run(through_saq(url, args.jobs)))
                lab_times.append(asyncio.run(through_lab(url, args.jobs)))
        finally:
            saq_workers.stop()
            lab_workers.stop()
        n = args.jobs
        saq_ms, lab_ms = 1000 * best(saq_times) / n, 1000 * best(lab_times) / n
        print(f"\n{n} no-op jobs, 1 worker process, concurrency {CONCURRENCY}:")
        print(f"  SAQ directly:      {n / best(saq_times):7.0f} jobs/s  {saq_ms:6.2f} ms/job")
        print(f"  webhooks-lab:      {n / best(lab_times):7.0f} jobs/s  {lab_ms:6.2f} ms/job")
        added = lab_ms - saq_ms
        verdict = "meets" if added <= 3 else "misses"
        print(f"  added per job:     {added:6.2f} ms  ({verdict} the <= 3 ms target)")
        print(f"  ratio:             {best(saq_times) / best(lab_times):.2f}x of SAQ's rate")

        # 2. CPU-bound: one worker process against two, and the in-process runner.
        m = args.cpu_jobs
        params = {"below": PRIMES_BELOW}
        one_times, two_times, local_times = [], [], []
        bare_one, bare_two = [], []
        for _ in range(args.rounds):
            bare_one.append(bare_processes(1, m))
            bare_two.append(bare_processes(2, m))
            for count, into in ((1, one_times), (2, two_times)):
                workers = Workers("lab", url, count, 2)
                try:
                    # A new worker's first look at the queue is slow (about a second here):
                    # warm every slot first, so only running the work is timed.
                    asyncio.run(through_lab(url, 2 * count, "sleep", {"seconds": 0.05}))
                    into.append(asyncio.run(through_lab(url, m, "primes.count", params)))
                finally:
                    workers.stop()
            local_times.append(asyncio.run(in_process(m)))
        print(f"\n{m} primes.count(below={PRIMES_BELOW}) jobs, concurrency 2 per worker:")
        print(f"  in-process runner: {m / best(local_times):7.2f} jobs/s")
        print(f"  1 worker:          {m / best(one_times):7.2f} jobs/s")
        print(f"  2 workers:         {m / best(two_times):7.2f} jobs/s")
        speedup = best(one_times) / best(two_times)
        verdict = "meets" if speedup >= 1.6 else "misses"
        print(f"  2 workers / 1:     {speedup:.2f}x  ({verdict} the >= 1.6x target)")
        machine = best(bare_one) / best(bare_two)
        print(f"  2 bare processes / 1 on the same work: {machine:.2f}x (what the machine gave)")
        print(f"  workers' speedup / the machine's:      {speedup / machine:.2f}")

        # 3. Deliveries: through the broker (two workers) against the in-process sender.
        d = args.deliveries
        if d > 0:
            import tempfile

            receiver = Receiver()
            broker_times, local_times = [], []
            workers = Workers("lab", url, 2, CONCURRENCY)
            try:
                asyncio.run(deliveries_through_broker(url, receiver.url, 20))  # warm
                for _ in range(args.rounds):
                    broker_times.append(
                        asyncio.run(deliveries_through_broker(url, receiver.url, d))
                    )
                    with tempfile.TemporaryDirectory() as folder:
                        local_times.append(
                            asyncio.run(deliveries_in_process(receiver.url, d, folder))
                        )
            finally:
                workers.stop()
                receiver.stop()
            print(f"\n{d} signed deliveries to a uvicorn receiver on 127.0.0.1 (answers 204):")
            print(f"  in-process sender (SQLite outbox): {d / best(local_times):7.0f} deliveries/s")
            print(
                f"  broker, 2 workers x {CONCURRENCY}:           "
                f"{d / best(broker_times):7.0f} deliveries/s"
            )
            print(
                f"  broker / in-process:               "
                f"{best(local_times) / best(broker_times):.2f}x"
            )


if __name__ == "__main__":
    main()
