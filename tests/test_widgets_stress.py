"""A thousand deliveries a second into an inbox with a view attached: the view keeps its budget,
misses nothing, and the kernel's thread stays responsive.

Pass or fail does not depend on how fast this machine is: if it cannot keep the pace, fewer
deliveries arrive per second and every bound below still has to hold.
"""

from __future__ import annotations

import gc
import threading
import time

from webhooks_lab.widgets import InboxView
from webhooks_lab.widgets.stress import MessageCounter, firehose, kernel_lateness

RATE, SECONDS = 1000, 2.0


def test_a_flood_of_deliveries_reaches_the_view_within_its_message_budget(lab):
    # Everything the test process already holds (every module the suite imported) goes to the
    # permanent generation, so a full garbage collection does not time the whole suite's heap.
    gc.collect()
    gc.freeze()
    try:
        flood_and_check(lab)
    finally:
        gc.unfreeze()


def flood_and_check(lab) -> None:
    with MessageCounter() as counter:
        view = InboxView(lab, "flood")
        start = time.monotonic()
        done = threading.Event()
        url = lab.receiver.url_for("flood")
        future = lab.loop.submit(firehose(url, rate=RATE, seconds=SECONDS))
        future.add_done_callback(lambda _f: done.set())
        late = kernel_lateness(done)  # this thread plays the kernel's
        end = time.monotonic()
        result = future.result()
        arrived = {d.seq for d in lab.receiver.inbox.for_endpoint("flood")}
        deadline = time.monotonic() + 5
        while set(view.rows) != arrived:  # the throttle's own last flush, no manual refresh
            assert time.monotonic() < deadline, "the view never caught up"
            time.sleep(0.02)
        time.sleep(0.3)
    view.close()

    assert result.answered == result.sent == RATE * SECONDS
    assert len(arrived) == RATE * SECONDS
    assert f"<b>{len(arrived)}</b> deliveries" in view.summary.value  # the synced state says so
    updates = counter.updates_between(start, end)
    assert updates <= 10 * (end - start) + 1
    assert counter.busiest_second(start, time.monotonic()) <= 11
    assert updates >= 2  # it did update while the flood went on, not only at the end
    # The kernel's thread is never held up by the view: a timer on it is never late by a second.
    # The 100 ms target is measured and printed by benchmarks/inbox_widget.py; here, on a machine
    # shared with the rest of the suite, only a real stall (work done on this thread) must fail.
    assert max(late) <= 1.0
