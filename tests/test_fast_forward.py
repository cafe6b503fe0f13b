"""Fast-forward against the lab's real receiver on 127.0.0.1: a week of failures plays with every
attempt at its exact lab time, however busy the machine, and the clock runs on afterwards."""

from __future__ import annotations

import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender.health import DAY

HOUR = 3600.0


@pytest.fixture
def fast_lab():
    with Lab(speed=60, outbox=":memory:") as running:
        yield running


def test_a_week_of_failures_plays_every_attempt_at_its_moment(fast_lab):
    lab = fast_lab
    lab.receiver.chaos("shop").fail_next(1000, status=503)
    shop = lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    lab.sender.policy = RetryPolicy((0, HOUR, 2 * HOUR), jitter=0)
    lab.sender.health.watch(5 * DAY, operational_url=lab.receiver.url_for("ops"))
    start = lab.clock.time()
    for day in range(7):
        lab.sender.send("order.placed", {"day": day})
        lab.fast_forward(DAY)

    assert lab.clock.time() - start == pytest.approx(7 * DAY, abs=60)
    played = {}
    for delivery in lab.sender.deliveries(endpoint=shop):
        first = delivery.attempts[0].started_at
        assert first - start == pytest.approx(delivery.event.data["day"] * DAY, abs=60)
        played[delivery.event.data["day"]] = (
            delivery.state,
            [round((attempt.started_at - first) / HOUR, 3) for attempt in delivery.attempts],
        )
    assert played == {
        **{day: ("dead", [0.0, 1.0, 3.0]) for day in range(5)},  # 1 h, then 2 h more
        5: ("disabled", [0.0]),  # five days of failures: no retry goes out
    }
    assert not shop.enabled
    (report,) = lab.receiver.inbox.for_endpoint("ops")  # the operational webhook was waited for
    assert report.event_type == "endpoint.disabled"
    assert not lab.clock.paused  # the clock runs on at its speed


def test_fast_forward_leaves_a_paused_clock_paused_and_refuses_to_go_back(fast_lab):
    fast_lab.clock.pause()
    before = fast_lab.clock.time()
    fast_lab.fast_forward(HOUR)
    assert fast_lab.clock.paused and fast_lab.clock.time() == before + HOUR
    with pytest.raises(ValueError, match="forward"):
        fast_lab.fast_forward(-1)


def test_an_answer_held_on_the_lab_clock_ends_fast_forward_saying_why(fast_lab):
    fast_lab.receiver.chaos("slow").slow(60)  # answers a lab minute later, on the lab clock
    fast_lab.sender.add_endpoint(fast_lab.receiver.url_for("slow"))
    fast_lab.sender.send("order.placed", {})
    with pytest.raises(TimeoutError, match="held back on the lab clock"):
        fast_lab.fast_forward(HOUR, timeout=1)
    assert not fast_lab.clock.paused  # running again: the held answer comes a minute later
    fast_lab.sender.wait_idle(timeout=30)
