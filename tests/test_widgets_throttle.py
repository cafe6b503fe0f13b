"""The throttle: however many pokes arrive, from whatever thread, flushes stay within the budget."""

from __future__ import annotations

import threading
import time

from helpers import eventually

from webhooks_lab.widgets.throttle import Throttle


def test_a_lone_poke_flushes_at_once_on_another_thread():
    threads: list[threading.Thread] = []
    throttle = Throttle(lambda: threads.append(threading.current_thread()) or 1)
    started = time.monotonic()
    throttle.poke()
    assert eventually(lambda: threads)
    assert time.monotonic() - started < 1.0  # leading edge: no waiting for a timer
    assert threads[0] is not threading.current_thread()
    throttle.close()


def test_a_flood_of_pokes_from_many_threads_becomes_at_most_ten_flushes_a_second():
    moments: list[float] = []

    def flush() -> int:
        moments.append(time.monotonic())
        return 1

    throttle = Throttle(flush, max_syncs_per_second=10)
    stop = time.monotonic() + 1.5

    def poke_hard() -> None:
        while time.monotonic() < stop:
            throttle.poke()

    pokers = [threading.Thread(target=poke_hard) for _ in range(3)]
    for t in pokers:
        t.start()
    for t in pokers:
        t.join()
    assert eventually(lambda: not throttle._scheduled)
    throttle.close()

    assert throttle.pokes > 1000
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert min(gaps) >= 0.1 - 0.005  # never two flushes closer than the budget allows
    assert len(moments) <= 1.6 * 10 + 1


def test_a_flush_that_sends_more_messages_waits_longer_before_the_next():
    moments: list[float] = []
    throttle = Throttle(lambda: moments.append(time.monotonic()) or 4, max_syncs_per_second=20)
    stop = time.monotonic() + 1.0
    while time.monotonic() < stop:
        throttle.poke()
        time.sleep(0.001)
    throttle.close()
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert gaps and min(gaps) >= 4 / 20 - 0.005  # 4 messages at 20/s: 0.2 s apart


def test_every_poke_is_eventually_reflected_in_a_flush():
    pending: list[int] = []
    shown: list[int] = []
    lock = threading.Lock()

    def flush() -> int:
        with lock:
            shown.extend(pending)
            pending.clear()
        return 1

    throttle = Throttle(flush)
    for n in range(5000):
        with lock:
            pending.append(n)
        throttle.poke()
    assert eventually(lambda: len(shown) == 5000)
    assert shown == list(range(5000))
    throttle.close()


def test_a_failing_flush_is_recorded_and_later_pokes_still_flush():
    calls = []

    def flush() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("view broke")
        return 1

    throttle = Throttle(flush, max_syncs_per_second=100)
    throttle.poke()
    assert eventually(lambda: throttle.last_error is not None)
    throttle.poke()
    assert eventually(lambda: len(calls) == 2)
    assert isinstance(throttle.last_error, RuntimeError)
    throttle.close()


def test_a_closed_throttle_never_flushes_again():
    calls = []
    throttle = Throttle(lambda: calls.append(1) or 1)
    throttle.close()
    throttle.poke()
    time.sleep(0.3)
    assert calls == []


def test_a_heartbeat_flushes_with_no_pokes_at_all():
    calls = []
    throttle = Throttle(lambda: calls.append(1) or 0, heartbeat=0.05)
    assert eventually(lambda: len(calls) >= 3, timeout=3)
    throttle.close()


def test_pokes_during_a_slow_flush_still_wait_out_the_gap_after_it():
    spans: list[tuple[float, float]] = []

    def slow_flush() -> int:
        began = time.monotonic()
        time.sleep(0.05)
        spans.append((began, time.monotonic()))
        return 1

    throttle = Throttle(slow_flush, max_syncs_per_second=10)
    stop = time.monotonic() + 1.2
    while time.monotonic() < stop:
        throttle.poke()
        time.sleep(0.002)
    throttle.close()
    pauses = [nxt[0] - prev[1] for prev, nxt in zip(spans, spans[1:], strict=False)]
    assert len(spans) >= 3
    assert min(pauses) >= 0.1 - 0.005


def test_no_one_second_window_ever_holds_more_messages_than_the_budget():
    import random

    sizes = random.Random(5)
    sent: list[tuple[float, int]] = []

    def flush() -> int:
        n = sizes.randint(1, 4)
        sent.append((time.monotonic(), n))
        return n

    throttle = Throttle(flush, max_syncs_per_second=10, max_per_flush=4)
    stop = time.monotonic() + 2.5
    while time.monotonic() < stop:
        throttle.poke()
        time.sleep(0.002)
    throttle.close()
    busiest = max(sum(n for t, n in sent if start <= t < start + 1.0) for start, _ in sent)
    assert busiest <= 10
    assert sum(n for _, n in sent) >= 15  # and it did keep flushing, not just stall
