"""At least once, made exactly once: 5,000 events through a receiver that misbehaves on purpose.

The receiver is the lab's, on 127.0.0.1, over real HTTP. Its chaos controls fail 30 % of
requests at random with a 500, and hold another 5 % well past the sender's timeout (those are
processed *after* the sender gave up on them, as a real slow receiver would). The sender retries
on a short schedule (milliseconds instead of hours, so this takes seconds). At the end:

* every event was delivered, and the receiver's handler ran exactly once for each one: the
  receiver's dedupe on ``webhook-id`` absorbed every repeat caused by a timeout;
* nothing was lost, and the attempt log accounts for every request: the outbox (read back from
  its file), the listener and the receiver count the same tries, per event.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter

import pytest

from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender.sender import Sender

EVENTS = 5_000
FAIL_RATE = 0.30
SLOW_RATE = 0.05
TIMEOUT = 0.5  # real seconds the sender waits for an answer
SLOW = 1.5  # seconds a slow answer takes: three times the timeout


@pytest.mark.slow
def test_five_thousand_events_through_a_flaky_receiver_are_each_handled_exactly_once(lab, tmp_path):
    handled: Counter[str] = Counter()

    @lab.receiver.on("flaky")
    async def handle(event):
        handled[event.id] += 1

    # Chaos draws "fail?" first, then "slow?" for the rest: 5 % of all requests are slow.
    chaos = lab.receiver.chaos("flaky").fail_rate(FAIL_RATE, seed=42)
    chaos.slow(SLOW, rate=SLOW_RATE / (1 - FAIL_RATE))

    path = tmp_path / "outbox.sqlite3"
    schedule = (0, 0.02, 0.05, *([0.1] * 17))  # 20 attempts: 0.35**20 is about 1e-9
    sender = Sender(
        outbox=path,
        clock=lab.clock,
        policy=RetryPolicy(schedule, jitter=0.2, seed=1),
        timeout=TIMEOUT,
        concurrency=64,
        allow_loopback=True,
    )
    logged = []
    sender.subscribe(logged.append)
    lab.loop.run(sender.start())
    try:
        sender.add_endpoint(lab.receiver.url_for("flaky"))
        events = [Event("order.paid", {"order": n}) for n in range(EVENTS)]
        deliveries = sender.send_many(events)
        counts = sender.wait_idle(timeout=120)
        # Requests the sender timed out on may still be sleeping in the receiver; let them land.
        # (On a busy machine an attempt can also time out before the receiver has read it at
        # all: that one never lands, and only a timed-out attempt may be missing, below.)
        deadline = time.monotonic() + 10
        while len(lab.receiver.inbox.for_endpoint("flaky")) < len(logged):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        lab.loop.run(sender.close())

    # Every event delivered; the handler ran once per event, no more, no less.
    assert counts == {"delivered": EVENTS}
    assert all(d.state == "delivered" for d in deliveries)
    assert set(handled) == {e.id for e in events}
    assert max(handled.values()) == 1

    # The chaos really happened.
    errors = Counter(a.status if a.status is not None else a.error.split(":")[0] for a in logged)
    assert errors[500] > 0.25 * EVENTS
    assert errors["timeout"] > 0.03 * EVENTS

    # The attempt log accounts for every try: outbox file == listener == receiver, per event.
    with sqlite3.connect(path) as db:
        stored = db.execute("SELECT delivery_id, number, status, state FROM attempts").fetchall()
        states = dict(db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state"))
    assert states == {"delivered": EVENTS}
    assert len(stored) == len(logged) == sum(len(d.attempts) for d in deliveries)
    for delivery in deliveries:
        numbers = [a.number for a in delivery.attempts]
        assert numbers == list(range(1, len(numbers) + 1))
        assert [a.state for a in delivery.attempts[:-1]] == ["retrying"] * (len(numbers) - 1)
        assert delivery.attempts[-1].status == 200
    received = Counter(d.webhook_id for d in lab.receiver.inbox.for_endpoint("flaky"))
    tried = Counter(a.event_id for a in logged)
    assert not received - tried  # the receiver saw nothing the sender did not try
    timed_out = Counter(a.event_id for a in logged if a.status is None)
    assert not (tried - received) - timed_out  # an attempt it never saw was one that timed out
    answered = Counter((a.event_id, a.status) for a in logged if a.status is not None)
    seen = Counter((d.webhook_id, d.status) for d in lab.receiver.inbox.for_endpoint("flaky"))
    assert not answered - seen  # every answer the sender logged, the receiver gave
