"""Endpoint health against the lab's real receiver on 127.0.0.1: an endpoint that fails for five
lab-days is disabled and reported, and recovers with a replay of what failed.

The sender's clock is a :class:`FakeClock`, so "a day later" is one ``clock.advance``.
"""

from __future__ import annotations

import time

import pytest
from helpers import eventually, lab_sender

from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.clock import FakeClock
from webhooks_lab.sender.health import DAY
from webhooks_lab.sender.sender import Sender

HOUR = 3600.0


@pytest.fixture
def clock():
    return FakeClock(start=time.time())


@pytest.fixture
def sender(lab, clock):
    """Two attempts an hour apart, then a dead letter."""
    with lab_sender(lab, clock=clock, policy=RetryPolicy((0, HOUR), jitter=0), timeout=5) as made:
        yield made


def one_event_a_day(sender: Sender, clock: FakeClock, start: float, days: range) -> list:
    """On each day, send one event and let its attempts run out (or succeed)."""
    sent = []
    for day in days:
        clock.advance(start + day * DAY - clock.time())
        found = sender.send("order.paid", {"day": day})
        sent.extend(found)
        deadline = time.monotonic() + 10
        for delivery in found:
            # the first attempt goes out at the day's very moment, before the clock moves on
            assert eventually(
                lambda d=delivery: bool(d.attempts) and d.attempts[0].state != "trying"
            )
            while not delivery.done:  # advance until its retry has been made
                assert time.monotonic() < deadline, f"day {day}: {delivery!r} never ended"
                clock.advance(HOUR / 4)
                time.sleep(0.005)
    return sent


def test_an_endpoint_failing_for_five_lab_days_is_disabled_reported_and_recovered(
    lab, sender, clock
):
    lab.receiver.chaos("shop").fail_next(1000, status=503)
    endpoint = sender.add_endpoint(lab.receiver.url_for("shop"))
    sender.health.watch(5 * DAY, operational_url=lab.receiver.url_for("ops"))
    start = clock.time()

    first = one_event_a_day(sender, clock, start, range(5))  # days 0 to 4
    assert [d.state for d in first] == ["dead"] * 5
    assert sender.health.state(endpoint) == "failing" and endpoint.enabled

    (fifth,) = one_event_a_day(sender, clock, start, range(5, 6))  # five days of failures
    assert not endpoint.enabled
    assert sender.health.state(endpoint) == "disabled"
    assert "every attempt failed for 5 days" in endpoint.disabled_reason
    assert fifth.state == "disabled"  # its retry never went out

    assert eventually(lambda: len(lab.receiver.inbox.for_endpoint("ops")) == 1)
    (report,) = lab.receiver.inbox.for_endpoint("ops")
    assert report.event_type == "endpoint.disabled"
    assert report.json()["data"]["endpoint_id"] == endpoint.id
    assert report.json()["data"]["failures"] == 11  # two a day, and the fifth day's first
    assert lab.receiver.inbox.for_endpoint("shop")[-1].status == 503  # not sent to the failing one

    assert sender.send("order.paid", {"day": 6}) == []  # while disabled, nothing is made

    lab.receiver.chaos("shop").reset()
    replayed = sender.health.reenable(endpoint, since=start)
    assert sorted(d.id for d in replayed) == sorted(d.id for d in [*first, fifth])
    sender.wait_deliveries(replayed)
    assert all(d.state == "delivered" for d in replayed)
    accepted = {d.json()["data"]["day"] for d in lab.receiver.inbox.for_endpoint("shop") if d.ok}
    assert accepted == {0, 1, 2, 3, 4, 5}  # day 6 was never sent: only reconciling finds it
    assert sender.health.state(endpoint) == "ok"
    kinds = [c.state for c in sender.health.changes]
    assert kinds == ["failing", "disabled", "enabled"]


def test_one_success_restarts_the_clock(lab, sender, clock):
    chaos = lab.receiver.chaos("shop")
    endpoint = sender.add_endpoint(lab.receiver.url_for("shop"))
    sender.health.watch(5 * DAY)
    start = clock.time()
    chaos.fail_next(8)  # days 0 to 3 fail, twice each
    one_event_a_day(sender, clock, start, range(4))
    (fine,) = one_event_a_day(sender, clock, start, range(4, 5))
    assert fine.state == "delivered"
    chaos.fail_next(1000)
    one_event_a_day(sender, clock, start, range(5, 9))  # 8 days after the first failure
    assert endpoint.enabled  # but only 4 days of failures since the success
    assert [c.state for c in sender.health.changes] == ["failing", "ok", "failing"]


def test_without_watch_an_endpoint_is_never_disabled_by_time(lab, sender, clock):
    lab.receiver.chaos("shop").fail_next(1000)
    endpoint = sender.add_endpoint(lab.receiver.url_for("shop"))
    one_event_a_day(sender, clock, clock.time(), range(7))
    assert endpoint.enabled and repr(sender.health) == "<EndpointHealth off>"


@pytest.mark.parametrize("options", [{"window": 0}, {"window": -DAY}, {"min_failures": 0}])
def test_nonsense_settings_are_refused(sender, options):
    with pytest.raises(ValueError):
        sender.health.watch(**options)


def test_an_operational_url_the_guard_refuses_is_refused_at_once(sender):
    from webhooks_lab.sender.ssrf import UnsafeURL

    with pytest.raises(UnsafeURL):
        sender.health.watch(operational_url="http://10.0.0.1/ops")
