"""The sender chaos panel drives the lab sender's chaos, and follows changes made in cells."""

from __future__ import annotations

from helpers import eventually

from webhooks_lab.widgets import SenderChaosPanel


def test_moving_the_duplicate_slider_makes_the_sender_deliver_twice(lab):
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    panel = SenderChaosPanel(lab)
    panel.duplicate_rate.value = 1.0  # what dragging the slider does
    sent = lab.send("order.paid", {"n": 1})
    assert len(sent) == 2
    assert lab.receiver.inbox.wait_for(count=2, timeout=10)
    ids = {d.webhook_id for d in lab.receiver.inbox}
    assert ids == {sent[0].event_id}
    assert eventually(lambda: "1 sent twice" in panel.state.value)
    panel.close()


def test_the_shuffle_and_delay_sliders_set_the_senders_chaos(lab):
    panel = SenderChaosPanel(lab)
    panel.window.value = 120
    panel.delay_seconds.value = 3600
    panel.delay_rate.value = 0.5
    chaos = lab.sender.chaos
    assert (chaos.window, chaos.delay_seconds, chaos.delay_rate) == (120, 3600, 0.5)
    panel.close()


def test_a_change_made_in_a_cell_shows_on_the_panel_and_reset_clears_it(lab):
    panel = SenderChaosPanel(lab, heartbeat=0.05)
    lab.sender.chaos.shuffle(60).duplicate(0.25)
    assert eventually(lambda: panel.window.value == 60 and panel.duplicate_rate.value == 0.25)
    panel.reset()
    assert eventually(lambda: panel.window.value == 0 and "SenderChaos(off)" in panel.state.value)
    assert not lab.sender.chaos.active
    panel.close()


def test_the_panel_describes_itself_and_a_new_one_replaces_the_old(lab):
    first = SenderChaosPanel(lab)
    second = SenderChaosPanel(lab)
    assert first.closed and not second.closed
    assert repr(second).startswith("SenderChaosPanel (live)")
    second.close()
    assert "closed" in repr(second)
