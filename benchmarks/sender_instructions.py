#!/usr/bin/env python3
"""Sender work per delivery, counted in CPU instructions: our sender against raw aiohttp.

    python benchmarks/sender_instructions.py [--events 1000]

``benchmarks/sender.py`` times deliveries per second, which a shared machine moves by a tenth
and more from one minute to the next. This counts what the sending process executes for each
delivery instead, under valgrind (Debian's ``valgrind`` package), and that count comes out the
same to about 2% run after run. The contestants are sender.py's: raw aiohttp with the same
signing, and our ``Sender`` with its outbox in a file, both 32 concurrent, both sending to the
same bare Starlette receiver in a child process (which is not counted). Our sender runs as in a
script of your own, outside a lab; a third row shows it writing each attempt into a wire trace
as well, as a lab's sender does (a lesson's sequence diagram is drawn from it).

Each contestant opens its client once and delivers ``--events`` events a round: once for one
round and once for three. The difference, over the deliveries of two rounds, leaves out
starting Python, the imports and the first connections, as sender.py's timing does. Our sender
sends each round with ``send_many`` and the round ends when its outbox counts them delivered.
Takes about a minute on two cores.

Read its ratio as the strictest of the sender's figures, not as its speed: every instruction
counts the same here, but they do not cost the same time. About 50,000 of ours' extra
instructions a delivery are its outbox's writes, mostly SQLite's compiled C, which gets through
more of them a microsecond than the interpreter does. So raw / ours by instructions (0.77-0.78x
on a two-core machine in December 2026) reads below the same two by user CPU time (0.82-0.85x)
and by deliveries per second (``benchmarks/sender.py``: 0.84-0.88x).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sender as bench  # noqa: E402  (benchmarks/sender.py: receiver, signing, raw aiohttp)

from webhooks_lab.runtime.trace import Trace  # noqa: E402

CONCURRENCY = 32


async def rounds_of(contestant: str, url: str, count: int, rounds: int) -> None:
    """Child process, under valgrind: ``rounds`` rounds of ``count`` deliveries."""
    events = bench.made_events(count)
    if contestant == "raw":
        async with bench.raw_session(CONCURRENCY) as session:
            for _ in range(rounds):
                assert await bench.raw_deliver(session, url, events, CONCURRENCY) == count
        return
    trace = Trace() if contestant == "traced" else None
    async with bench.opened_sender(url, CONCURRENCY, trace=trace) as sender:
        for n in range(1, rounds + 1):
            sender.send_many(events)
            await sender.idle()
            assert sender.counts() == {"delivered": n * count}


def instructions(contestant: str, url: str, count: int, rounds: int) -> int:
    """Instructions the child process executed for ``rounds`` rounds, as valgrind counts them."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--run",
        contestant,
        "--url",
        url,
        "--events",
        str(count),
        "--rounds",
        str(rounds),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{contestant} under valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="deliveries per round")
    parser.add_argument("--run", choices=["raw", "ours", "traced"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        asyncio.run(rounds_of(args.run, args.url, args.events, args.rounds))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("this benchmark counts instructions with valgrind: apt install valgrind")
    child, url = bench.start_receiver()
    try:
        per_delivery = {}
        for contestant in ("raw", "ours", "traced"):
            with ThreadPoolExecutor(2) as pool:  # the two runs of a contestant side by side
                one, three = pool.map(
                    lambda rounds, who=contestant: instructions(who, url, args.events, rounds),
                    (1, 3),
                )
            per_delivery[contestant] = (three - one) / (2 * args.events)
    finally:
        child.terminate()
        child.wait(10)
    raw, ours, traced = (per_delivery[who] for who in ("raw", "ours", "traced"))
    print(f"{args.events} signed deliveries a round, {CONCURRENCY} concurrent, to bare Starlette")
    print(f"  raw aiohttp                  {raw:10,.0f} instructions per delivery")
    print(f"  our sender (send_many)       {ours:10,.0f} instructions per delivery")
    print(f"  ours does {ours - raw:,.0f} more: raw / ours = {raw / ours:.3f}x")
    print(f"  ours, writing the wire trace {traced:10,.0f} instructions per delivery")
    print(f"  as a lab's sender does, {traced - ours:,.0f} more: raw / that = {raw / traced:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
