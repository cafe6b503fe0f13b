"""The chaos panel drives a real endpoint's chaos, and follows changes made elsewhere."""

from __future__ import annotations

from helpers import eventually

from webhooks_lab.widgets import ChaosPanel


def deliver(client, endpoint: str = "flaky") -> int:
    return client.post(f"/webhooks/{endpoint}", json={"type": "ping", "data": {}}).status_code


def test_moving_the_failure_slider_makes_the_endpoint_fail(lab, client):
    panel = ChaosPanel(lab, "flaky")
    panel.status.value = 503
    panel.failure_rate.value = 1.0  # what dragging the slider does
    assert [deliver(client) for _ in range(3)] == [503, 503, 503]
    panel.failure_rate.value = 0.0
    assert deliver(client) == 200
    panel.close()


def test_slow_answers_are_set_from_the_sliders(lab):
    panel = ChaosPanel(lab, "flaky")
    panel.slow_seconds.value = 2.5
    panel.slow_rate.value = 0.5
    chaos = lab.receiver.chaos("flaky")
    assert (chaos.slow_seconds, chaos.slow_rate) == (2.5, 0.5)
    panel.close()


def test_queued_failures_count_down_on_the_panel_as_deliveries_use_them(lab, client):
    panel = ChaosPanel(lab, "flaky")
    panel.fail_next(2)
    assert eventually(lambda: "fail next 2" in panel.state.value)
    assert deliver(client) == 500
    assert eventually(lambda: "fail next 1" in panel.state.value)
    assert deliver(client) == 500
    assert deliver(client) == 200
    assert eventually(lambda: "Chaos(off)" in panel.state.value)
    panel.close()


def test_a_change_made_in_a_cell_shows_on_the_panel(lab):
    panel = ChaosPanel(lab, "flaky", heartbeat=0.05)
    lab.receiver.chaos("flaky").fail_rate(0.25, status=429)
    assert eventually(lambda: panel.failure_rate.value == 0.25 and panel.status.value == 429)
    lab.receiver.chaos("flaky").reset()
    assert eventually(lambda: panel.failure_rate.value == 0.0)
    panel.close()


def test_reset_makes_the_endpoint_behave_again(lab, client):
    panel = ChaosPanel(lab, "flaky")
    panel.failure_rate.value = 1.0
    panel.reset()
    assert deliver(client) == 200
    assert eventually(lambda: panel.failure_rate.value == 0.0)
    panel.close()


def test_the_panel_describes_itself_in_plain_text(lab):
    panel = ChaosPanel(lab, "flaky")
    assert repr(panel).startswith("ChaosPanel (live) for /webhooks/flaky")
    panel.close()
    assert "closed" in repr(panel)
