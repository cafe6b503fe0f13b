"""The race between polling and webhooks, over real HTTP, measured by the lab clock."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.lessons.plots import tradeoff_plot
from webhooks_lab.lessons.polling import (
    EventSource,
    Race,
    expected_empty_share,
    expected_mean_delay,
    expected_requests_per_event,
    percentile,
)


@pytest.fixture
def fast_lab() -> Iterator[Lab]:
    """A lab whose clock runs 60 times faster: a lab minute per real second."""
    with Lab(speed=60) as running:
        yield running


@pytest.fixture(scope="module")
def sweep() -> Iterator:
    """One race, four pollers at once, shared by the tests that only read its report.

    At 30 lab seconds a real one: a request's real milliseconds are few lab seconds."""
    with Lab(speed=30) as lab:
        race = Race(lab, rate=1 / 6, poll_every=[2, 5, 30, 120], endpoint="sweep", seed=3)
        started = time.monotonic()
        report = race.run(events=30)
        yield report, time.monotonic() - started


def test_the_source_lists_events_after_a_number_over_http(fast_lab):
    source = EventSource(fast_lab.clock, rate=2.0, seed=1)
    fast_lab.loop.run(source.start())
    try:
        deadline = time.monotonic() + 5
        while len(source.events) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        answer = httpx.get(f"{source.url}/events", params={"after": 2}).json()
        assert [e["seq"] for e in answer["events"]][:2] == [3, 4]
        assert answer["last"] == answer["events"][-1]["seq"]
        assert answer["events"][0]["created_at"] <= fast_lab.clock.time()
    finally:
        fast_lab.loop.run(source.stop())


def test_a_malformed_after_is_refused_with_a_400_that_says_why(fast_lab):
    source = EventSource(fast_lab.clock, rate=1.0)
    fast_lab.loop.run(source.start())
    try:
        answer = httpx.get(f"{source.url}/events", params={"after": "soon"})
        assert answer.status_code == 400
        assert "whole number" in answer.json()["detail"]
    finally:
        fast_lab.loop.run(source.stop())


def test_the_same_seed_makes_the_same_events(fast_lab):
    def first_totals(seed: int) -> list[float]:
        source = EventSource(fast_lab.clock, rate=10.0, seed=seed)
        source.limit = 5
        fast_lab.loop.run(source.start())
        deadline = time.monotonic() + 5
        while len(source.events) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        fast_lab.loop.run(source.stop())
        return [e.data["total"] for e in source.events]

    assert first_totals(7) == first_totals(7)
    assert first_totals(7) != first_totals(8)


def test_both_sides_notice_every_event_and_the_webhook_far_sooner(sweep):
    report, _ = sweep
    assert report.complete and report.events == 30
    assert all(side.noticed == 30 for side in report.sides)
    assert report.webhook.requests == 30 and report.webhook.empty == 0
    slow = next(p for p in report.pollers if p.interval == 30)
    assert report.webhook.p50 < slow.p50 / 5


def test_polling_faster_costs_more_requests_and_more_empty_answers(sweep):
    report, _ = sweep
    by_interval = sorted(report.pollers, key=lambda p: p.interval)
    per_event = [p.requests_per_event for p in by_interval]
    wasted = [p.empty_share for p in by_interval]
    assert per_event == sorted(per_event, reverse=True)
    assert wasted[0] > wasted[1] > max(wasted[2:])
    assert by_interval[0].empty_share > 0.5  # asking every 2 s: most answers are empty


def test_measured_cost_and_delay_follow_the_arithmetic(sweep):
    report, _ = sweep
    for poller in report.pollers:
        asked = report.seconds / poller.interval  # once per interval, events or not
        assert poller.requests <= asked + 1.5, poller  # never more often than its interval
        if poller.interval >= 5:  # a busy machine's slow answers hold a 2 s poller back
            assert poller.requests >= asked - max(1.5, 0.25 * asked), poller
        predicted = expected_requests_per_event(report.measured_rate, poller.interval)
        assert predicted / 2 < poller.requests_per_event < predicted * 2, poller
    # The lab clock runs during every request, so a delay in lab seconds includes the wire's own
    # (and, on a busy machine, the loop's lateness): the webhook's delay in the same run is that.
    wire = report.webhook.mean
    for poller in report.pollers:
        if poller.interval >= 5:  # at 2 s the wire's delay is most of it
            waited = poller.mean - wire
            assert 0.4 < waited / expected_mean_delay(poller.interval) < 1.8, (poller, wire)


def test_a_race_of_thirty_events_takes_seconds_not_minutes(sweep):
    _, seconds = sweep
    assert seconds < 60  # about 6 lab minutes at 30x: seconds; in real time it would be minutes


def test_the_report_reads_as_a_table(sweep):
    report, _ = sweep
    text = repr(report)
    assert text.splitlines()[0].startswith("30 events in")
    assert 0.05 < report.measured_rate < 0.5  # set to 1/6; a random source varies
    assert "webhook" in text and "poll every 120 s" in text and "⚠" not in text


def test_failed_webhook_deliveries_are_counted_and_the_report_says_what_was_missed(fast_lab):
    fast_lab.receiver.chaos("broken").fail_rate(1.0, status=503)
    race = Race(fast_lab, rate=1.0, poll_every=2, endpoint="broken")
    started = time.monotonic()
    report = race.run(events=4)
    assert time.monotonic() - started < 8  # it ends once every push was answered, no waiting
    assert not report.complete
    assert report.webhook.noticed == 0 and report.webhook.failed == 4
    assert report.polling.noticed == 4
    assert "webhook missed 4 of 4 events" in repr(report)


def test_stopping_the_race_closes_the_source_server(fast_lab):
    race = Race(fast_lab, rate=1.0, poll_every=5, endpoint="stopper").start()
    port = int(race.source.url.rsplit(":", 1)[1])
    assert race.running
    race.stop()
    assert not race.running
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    race.stop()  # twice is fine


def test_changing_the_poll_interval_mid_race_changes_how_often_it_asks(fast_lab):
    race = Race(fast_lab, rate=0.01, poll_every=60, endpoint="knob").start()
    try:
        time.sleep(0.3)
        race.poll_every = 1
        race.reset_stats()
        time.sleep(0.5)  # 30 lab seconds: about 30 questions at 1 s, not 0 or 1 at 60 s
        assert race.report().polling.requests >= 10
        assert race.report().polling.name == "poll every 1 s"
    finally:
        race.stop()


def test_nonsense_settings_are_refused_with_a_clear_message(fast_lab):
    with pytest.raises(ValueError, match="positive"):
        Race(fast_lab, poll_every=0)
    with pytest.raises(ValueError, match="positive"):
        Race(fast_lab, rate=-1)
    with pytest.raises(ValueError, match="at least one"):
        Race(fast_lab, poll_every=[])


def test_the_arithmetic_helpers():
    assert expected_requests_per_event(rate=0.5, interval=4) == 0.5
    assert expected_mean_delay(30) == 15
    assert expected_empty_share(rate=0, interval=10) == 1
    assert percentile([5, 1, 4, 2, 3], 0.5) == 3
    assert percentile([1, 2, 3, 4, 100], 0.95) == 100
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_the_tradeoff_plot_draws_two_panels_and_describes_itself(sweep):
    report, _ = sweep
    plot = tradeoff_plot(report)
    assert plot.png().startswith(b"\x89PNG")
    assert [ax.get_title() for ax in plot.figure.axes] == ["What it costs", "How late you hear"]
    assert plot.intervals == [2, 5, 30, 120]
    assert repr(plot).startswith("Trade-off plot") and "0x" not in repr(plot)


def test_the_race_and_its_plot_need_no_jupyter():
    import subprocess
    import sys

    code = (
        "import sys, webhooks_lab, webhooks_lab.lessons.polling, webhooks_lab.lessons.plots;"
        "print(sorted(m for m in ('ipywidgets', 'IPython') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
