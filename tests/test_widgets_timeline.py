"""The delivery timeline, driven by the lab's real sender delivering to its real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from helpers import eventually

from webhooks_lab.lab import Lab
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.widgets import TimelineView


@pytest.fixture
def quick_lab() -> Iterator[Lab]:
    """A lab whose sender retries after 2 s, 30 s, 5 min (lab time), run 600 times faster."""
    with Lab(speed=600, outbox=":memory:") as running:
        running.sender.policy = RetryPolicy(schedule=(0, 2, 30, 300), jitter=0)
        yield running


def test_attempts_become_marks_coloured_by_outcome_with_the_backoff_between(quick_lab):
    lab = quick_lab
    lab.receiver.chaos("shop").fail_next(2, status=503)
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    view = TimelineView(lab)
    [delivery] = lab.send("order.created", {"order": 1})
    lab.sender.wait_idle(timeout=10)

    assert eventually(
        lambda: (
            len(view.rows.get(delivery.id, ()).marks) == 3 if delivery.id in view.rows else False
        )
    )
    row = view.rows[delivery.id]
    assert [row.marks[n].state for n in (1, 2, 3)] == ["retrying", "retrying", "delivered"]
    assert [row.marks[n].outcome for n in (1, 2, 3)] == ["503", "503", "200"]
    assert row.marks[1].wait == pytest.approx(2) and row.marks[2].wait == pytest.approx(30)
    assert row.event_type == "order.created"

    assert eventually(lambda: view.chart.value.count("class='attempt") == 3)
    chart = view.chart.value
    assert chart.count("class='attempt retrying'") == 2
    assert chart.count("class='attempt delivered'") == 1
    assert chart.count("class='backoff'") == 2
    assert "30 s" in chart  # the longer wait is labelled on its gap
    assert "1 delivered" in view.summary.value
    view.close()


def test_a_dead_letter_stands_out(quick_lab):
    lab = quick_lab
    lab.receiver.chaos("gone").fail_rate(1.0, status=500)
    lab.sender.add_endpoint(lab.receiver.url_for("gone"))
    view = TimelineView(lab)
    [delivery] = lab.send("payment.failed", {"id": 9})
    lab.sender.wait_idle(timeout=15)

    assert eventually(lambda: "dead-letter" in view.chart.value)
    row = view.rows[delivery.id]
    assert row.state == "dead" and len(row.marks) == 4
    assert "dead letter" in view.chart.value
    assert "class='attempt dead'" in view.chart.value
    assert "1 dead" in view.summary.value
    view.close()


def test_a_retry_still_waiting_is_drawn_as_scheduled(quick_lab):
    lab = quick_lab
    lab.sender.policy = RetryPolicy(schedule=(0, 36_000), jitter=0)  # 10 h: a minute real
    lab.receiver.chaos("later").fail_next(1)
    lab.sender.add_endpoint(lab.receiver.url_for("later"))
    view = TimelineView(lab, url="/webhooks/later")
    lab.send("invoice.due", {})
    assert eventually(lambda: "class='scheduled'" in view.chart.value)
    assert "10 h" in view.chart.value
    assert "1 retrying" in view.summary.value
    view.close()


def test_a_view_made_late_shows_earlier_attempts_and_the_filter_holds(quick_lab):
    lab = quick_lab
    for name in ("a", "b"):
        lab.sender.add_endpoint(lab.receiver.url_for(name))
    lab.send("user.created", {})
    lab.sender.wait_idle(timeout=10)
    view = TimelineView(lab, url="/webhooks/b")
    assert len(view.rows) == 1
    assert all("/webhooks/b" in row.url for row in view.rows.values())
    view.close()


@dataclass
class FakeAttempt:
    delivery_id: str
    event_id: str
    url: str
    number: int
    started_at: float
    status: int | None
    error: str | None
    latency_ms: float | None
    next_attempt_at: float | None
    state: str


class FakeSender:
    """The smallest source a timeline accepts: subscribe(listener) -> unsubscribe."""

    def __init__(self) -> None:
        self.listeners: list = []

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def attempt(self, **fields) -> None:
        for listener in list(self.listeners):
            listener(FakeAttempt(**fields))


def test_any_source_with_subscribe_will_do_and_closing_unsubscribes():
    source = FakeSender()
    view = TimelineView(source)
    source.attempt(
        delivery_id="dlv_1",
        event_id="evt_1",
        url="http://127.0.0.1:1/webhooks/x",
        number=1,
        started_at=1000.0,
        status=None,
        error="connection refused",
        latency_ms=1.0,
        next_attempt_at=1005.0,
        state="retrying",
    )
    assert eventually(lambda: "class='attempt retrying'" in view.chart.value)
    assert "connection refused" in view.chart.value
    view.close()
    assert source.listeners == []


def test_the_text_form_is_stable(quick_lab):
    view = TimelineView(quick_lab)
    assert repr(view) == "TimelineView (live): attempts per delivery, coloured by outcome"
    view.close()
