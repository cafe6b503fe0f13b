"""Kill the sender with SIGKILL mid-stream; a new one on the same outbox file finishes the job.

A real sender process (``python -c``) queues 2,000 events into its SQLite outbox and starts
delivering them to the lab's receiver on 127.0.0.1. Partway through, the test kills it with
SIGKILL: no ``finally``, no flush, no goodbye. A second process opened on the same file resumes
what was pending. Every event is then handled exactly once by the receiver; the only repeats are
deliveries whose answer the first process never wrote down, and the receiver's dedupe on
``webhook-id`` absorbs them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

EVENTS = 2_000

SENDER = """
import asyncio, sys
from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender.sender import Sender

async def main(path, url, mode, count):
    sender = Sender(
        outbox=path,
        policy=RetryPolicy((0, 0.01, 0.02, *[0.05] * 17), jitter=0.2),
        timeout=5,
        concurrency=8,
        allow_loopback=True,
    )
    if mode == "send":
        sender.add_endpoint(url)
        sender.send_many(Event("order.paid", {"n": n}, id=f"msg_{n:06d}") for n in range(count))
        print("queued", flush=True)
    await sender.start()
    await sender.idle()
    await sender.close()
    print("done", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


def run_sender(path, url: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SENDER, str(path), url, mode, str(EVENTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def states(path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")))


@pytest.mark.slow
def test_a_sender_killed_mid_stream_loses_nothing_when_restarted_on_its_outbox(lab, tmp_path):
    handled: Counter[str] = Counter()

    @lab.receiver.on("crash")
    async def handle(event):
        handled[event.id] += 1

    # Some failures so retries are in flight too, and a small delay so the run takes a while.
    lab.receiver.chaos("crash").fail_rate(0.2, seed=3).slow(0.004)
    path = tmp_path / "outbox.sqlite3"
    url = lab.receiver.url_for("crash")

    first = run_sender(path, url, "send")
    try:
        assert first.stdout.readline().strip() == "queued"
        deadline = time.monotonic() + 30
        while len(handled) < EVENTS // 5:
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first sender made no progress"
            time.sleep(0.002)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        first.wait(10)
        first.stdout.close()
        first.stderr.close()
    assert first.returncode == -signal.SIGKILL
    time.sleep(0.2)  # requests already on the wire finish in the receiver
    handled_before = len(handled)
    left = states(path)
    assert handled_before < EVENTS, "the sender finished before it could be killed"
    assert left["pending"] + left["retrying"] > 0
    assert sum(left.values()) == EVENTS  # every delivery was in the outbox before the kill

    second = run_sender(path, url, "resume")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert out.strip() == "done"

    assert states(path) == {"delivered": EVENTS}
    assert set(handled) == {f"msg_{n:06d}" for n in range(EVENTS)}
    assert max(handled.values()) == 1  # repeats reached the receiver, never the handler twice
    duplicates = [d for d in lab.receiver.inbox.for_endpoint("crash") if d.duplicate]
    print(f"handled before the kill: {handled_before}; repeats absorbed: {len(duplicates)}")
