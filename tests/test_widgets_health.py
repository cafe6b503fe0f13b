"""The health view draws each endpoint's story from a real sender and receiver: failures, the
failing spell growing, the disable, the re-enable and the replay. The sender's clock is a
FakeClock, so "a lab-day later" is one ``clock.advance``."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from helpers import eventually, lab_sender

from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.clock import FakeClock
from webhooks_lab.sender.health import DAY
from webhooks_lab.widgets import HealthView
from webhooks_lab.widgets.stress import MessageCounter

HOUR = 3600.0


@pytest.fixture
def clock():
    return FakeClock(start=time.time())


@pytest.fixture
def sender(lab, clock):
    """One attempt per delivery, so each lab-day is one failure."""
    with lab_sender(lab, clock=clock, policy=RetryPolicy((0,), jitter=0), timeout=5) as made:
        yield made


@pytest.fixture
def world(lab, sender):
    """What a HealthView reads from a lab: its sender and its loop."""
    return SimpleNamespace(sender=sender, loop=lab.loop)


def fail_for_days(sender, clock, days: int) -> list:
    """One event a lab-day, each delivery left to end before the clock moves on."""
    sent = []
    for _day in range(days):
        found = sender.send("order.paid", {"n": len(sent)})
        assert sender.wait_deliveries(found, timeout=10)
        sent.extend(found)
        clock.advance(DAY)
    return sent


def count(svg: str, cls: str) -> int:
    return len(re.findall(f'class="{cls}"', svg))


def width_of(svg: str, cls: str) -> float:
    found = re.search(f'<rect class="{cls}" x="[-\\d.]+" y="[-\\d.]+" width="([\\d.]+)"', svg)
    assert found, f"no {cls} band in the picture"
    return float(found.group(1))


def test_the_view_draws_failures_the_disable_the_reenable_and_the_replay(lab, sender, world, clock):
    lab.receiver.chaos("partner").fail_next(1000, status=503)
    partner = sender.add_endpoint(lab.receiver.url_for("partner"))
    sender.health.watch(5 * DAY)
    view = HealthView(world, heartbeat=0.05)

    fail_for_days(sender, clock, 6)  # days 0 to 5: the sixth failure is five days after the first
    assert not partner.enabled
    view.refresh()
    svg = view.chart_svg()
    assert count(svg, "attempt failed") == 6 and count(svg, "attempt ok") == 0
    assert count(svg, "failing") == 1 and count(svg, "disabled") == 1  # the two bands
    assert count(svg, "disabled-at") == 1 and count(svg, "enabled-at") == 0
    assert "disabled" in view.summary.value and "5 days" in view.summary.value
    assert "/webhooks/partner" in svg and "0 delivered, 6 failed" in svg

    lab.receiver.chaos("partner").reset()
    replayed = sender.health.reenable(partner, since=0)
    assert sender.wait_deliveries(replayed, timeout=10)
    assert eventually(lambda: count(view.chart.value, "attempt replay") == len(replayed) == 6)
    svg = view.chart.value
    assert count(svg, "enabled-at") == 1
    assert "6 delivered, 6 failed, 6 replayed" in svg
    assert "healthy" in view.summary.value
    view.close()


def test_a_failing_spell_grows_towards_the_moment_the_endpoint_will_be_disabled(
    lab, sender, world, clock
):
    lab.receiver.chaos("partner").fail_next(1000, status=503)
    sender.add_endpoint(lab.receiver.url_for("partner"))
    sender.health.watch(5 * DAY)
    view = HealthView(world, heartbeat=0.05)
    fail_for_days(sender, clock, 2)
    view.refresh()
    before = width_of(view.chart.value, "failing")
    assert count(view.chart.value, "disables-at") == 1  # the dashed line it is heading for
    assert "failing" in view.summary.value

    clock.advance(DAY)  # no attempt, only time: the heartbeat redraws the band longer
    assert eventually(lambda: width_of(view.chart.value, "failing") > before)
    view.close()


def test_a_view_made_afterwards_tells_the_same_story_as_one_that_watched(lab, sender, world, clock):
    lab.receiver.chaos("partner").fail_next(2, status=503)
    sender.add_endpoint(lab.receiver.url_for("partner"))
    sender.health.watch(5 * DAY)
    watching = HealthView(world)
    fail_for_days(sender, clock, 3)  # failed, failed, then delivered: failing, then ok again
    watching.refresh()
    lines = watching.chart_svg()
    watching.close()

    later = HealthView(world)
    assert count(later.chart.value, "attempt failed") == 2
    assert count(later.chart.value, "attempt ok") == 1
    assert count(later.chart.value, "failing") == 1  # a spell that ended with the success
    assert count(later.chart.value, "disables-at") == 0
    assert later.chart.value.count("<rect") == lines.count("<rect")
    later.close()


def test_a_view_of_one_endpoint_leaves_the_others_out_and_drops_removed_ones(lab, sender, world):
    one = sender.add_endpoint(lab.receiver.url_for("one"))
    other = sender.add_endpoint(lab.receiver.url_for("other"))
    everything = HealthView(world)
    assert "/webhooks/one" in everything.chart.value and "/webhooks/other" in everything.chart.value
    only = HealthView(world, one)
    assert "/webhooks/one" in only.chart.value and "/webhooks/other" not in only.chart.value
    sender.remove_endpoint(other)
    everything.refresh()
    assert "/webhooks/other" not in everything.chart.value
    only.close()
    everything.close()


def test_a_flood_of_attempts_sends_a_few_widget_messages_not_one_each(lab, sender, world):
    sender.add_endpoint(lab.receiver.url_for("busy"))
    with MessageCounter() as counter:
        view = HealthView(world)
        start = time.monotonic()
        found = sender.send_many(Event("order.paid", {"n": n}) for n in range(300))
        assert sender.wait_deliveries(found, timeout=30)
        assert eventually(lambda: "300 delivered" in view.chart.value)
        end = time.monotonic()
    assert counter.updates_between(start, end) <= 10 * (end - start) + 3
    assert counter.busiest_second(start, time.monotonic()) <= 12
    view.close()


def test_the_view_describes_itself_and_a_new_one_replaces_the_old(world):
    first = HealthView(world)
    second = HealthView(world)
    assert first.closed and not second.closed
    assert repr(second).startswith("HealthView (live)")
    assert "off: the sender never disables" in second.summary.value
    second.close()
    assert "closed" in repr(second)


def test_the_view_speaks_the_learners_language(world):
    from webhooks_lab.i18n import set_language

    set_language("ko")
    try:
        view = HealthView(world)
        assert "엔드포인트 상태" in view.summary.value
        assert "HealthView (실시간)" in repr(view)
    finally:
        set_language("en")
    view.close()
