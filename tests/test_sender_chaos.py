"""Chaos on the sending side, against the lab's real receiver on 127.0.0.1.

The sender's clock is a :class:`FakeClock`: the test moves it one lab second at a time and waits
for what is due, so the order things arrive in depends on the plan, not on the machine's speed.
"""

from __future__ import annotations

import math
import time

import pytest
from helpers import eventually, lab_sender

from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.clock import FakeClock
from webhooks_lab.sender.chaos import SenderChaos
from webhooks_lab.sender.records import OutgoingDelivery
from webhooks_lab.sender.sender import Sender


@pytest.fixture
def clock():
    return FakeClock(start=time.time())


@pytest.fixture
def sender(lab, clock):
    with lab_sender(lab, clock=clock, policy=RetryPolicy(jitter=0), timeout=5) as made:
        yield made


def play(clock: FakeClock, sender: Sender, lab, seconds: int) -> None:
    """Move the clock one lab second at a time, each time waiting for what became due."""
    for _ in range(seconds):
        clock.advance(1)
        due = [c for c in sender.chaos.choices if c.hold <= clock.time() - start_of(sender)]
        expected = len(due) + sum(
            1
            for c in due
            if c.duplicate_id
            and c.hold + sender.chaos.duplicate_after <= clock.time() - start_of(sender)
        )
        assert eventually(lambda n=expected: len(lab.receiver.inbox) >= n)


def start_of(sender: Sender) -> float:
    return min(d.created_at for d in sender.deliveries())


def deliveries(count: int) -> list[OutgoingDelivery]:
    return [
        OutgoingDelivery(id=f"dlv_{n}", event_id=f"evt_{n}", event_type="t", url="u", body=b"{}")
        for n in range(count)
    ]


def test_a_shuffle_holds_every_delivery_within_the_window_and_no_longer():
    planned = SenderChaos(seed=3).shuffle(60).plan(deliveries(200), now=1000.0)
    holds = [d.next_attempt_at - 1000.0 for d in planned]
    assert len(planned) == 200
    assert all(0 <= hold < 60 for hold in holds)
    assert holds != sorted(holds)  # the order is really lost
    assert max(holds) > 30  # and really spread over the window


def test_the_same_seed_gives_the_same_plan_and_another_seed_another():
    def holds(seed: int) -> list[float]:
        return [d.next_attempt_at for d in SenderChaos(seed).shuffle(10).plan(deliveries(20), 0)]

    assert holds(7) == holds(7)
    assert holds(7) != holds(8)


def test_duplicating_one_share_copies_that_share_with_the_same_event_id():
    planned = SenderChaos(seed=1).duplicate(0.3, after=5).plan(deliveries(400), now=0)
    copies = len(planned) - 400
    assert 80 < copies < 160  # about 30 %
    by_event: dict[str, list[OutgoingDelivery]] = {}
    for delivery in planned:
        by_event.setdefault(delivery.event_id, []).append(delivery)
    twins = [pair for pair in by_event.values() if len(pair) == 2]
    assert len(twins) == copies
    for first, second in twins:
        assert first.id != second.id and first.body == second.body
        assert second.next_attempt_at == first.next_attempt_at + 5


def test_one_setting_does_not_shift_anothers_choices():
    alone = SenderChaos(seed=5).shuffle(10).plan(deliveries(50), 0)
    mixed = SenderChaos(seed=5).shuffle(10).delay(100, rate=0.0).plan(deliveries(50), 0)
    assert [d.next_attempt_at for d in alone] == [d.next_attempt_at for d in mixed]


def test_a_delay_holds_only_its_share_back():
    planned = SenderChaos(seed=2).delay(3600, rate=0.25).plan(deliveries(400), now=0)
    late = [d for d in planned if d.next_attempt_at == 3600]
    assert 60 < len(late) < 140
    assert all(d.next_attempt_at in (0, 3600) for d in planned)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.shuffle(-1),
        lambda c: c.shuffle(float("inf")),
        lambda c: c.duplicate(1.5),
        lambda c: c.delay(10, rate=-0.1),
    ],
)
def test_settings_out_of_range_are_refused(call):
    with pytest.raises(ValueError):
        call(SenderChaos())


def test_chaos_is_off_by_default_and_reset_turns_it_off():
    chaos = SenderChaos()
    assert not chaos.active and repr(chaos) == "SenderChaos(off)"
    chaos.shuffle(5).duplicate(0.5)
    assert chaos.active and "shuffle within 5 s" in repr(chaos)
    assert not chaos.reset().active


def test_shuffled_deliveries_arrive_out_of_order_and_all_of_them(lab, sender, clock):
    sender.add_endpoint(lab.receiver.url_for("orders"))
    sender.chaos.shuffle(30)
    sent = sender.send_many([Event("order.updated", {"n": n}) for n in range(12)])
    assert all(d.state == "pending" for d in sent)
    assert len(lab.receiver.inbox) == 0  # held back: nothing arrives before the clock moves
    play(clock, sender, lab, 31)

    arrived = [d.webhook_id for d in lab.receiver.inbox]
    in_send_order = [d.event_id for d in sent]
    assert sorted(arrived) == sorted(in_send_order)  # nothing lost, nothing doubled
    assert arrived != in_send_order
    holds = {c.event_id: c.hold for c in sender.chaos.choices}
    # The plan, to the lab second (those due in the same second race each other, as in life).
    seconds = [math.ceil(holds[event_id]) for event_id in arrived]
    assert seconds == sorted(seconds)
    assert sender.wait_idle() == {"delivered": 12}


def test_a_held_delivery_is_due_when_planned_even_if_the_clock_moves_before_its_timer_runs(
    lab, sender, clock
):
    # A cell's clock.advance() can come before the loop first runs a new delivery's timer (a
    # busy machine makes that likely). The wait must not start over from the moved clock.
    sender.add_endpoint(lab.receiver.url_for("orders"))
    sender.chaos.shuffle(30)

    async def send_and_move_on_at_once():
        (delivery,) = sender.send_many([Event("order.updated", {})])  # its timer: made, not run
        clock.advance(delivery.next_attempt_at - clock.time())  # due now, by the plan
        return delivery

    delivery = lab.loop.run(send_and_move_on_at_once())
    assert sender.wait_deliveries([delivery], timeout=10) == [delivery]
    assert delivery.state == "delivered" and clock.deadlines() == []


def test_a_duplicated_delivery_reaches_the_receiver_twice_with_one_webhook_id(lab, sender, clock):
    sender.add_endpoint(lab.receiver.url_for("orders"))
    sender.chaos.duplicate(1.0, after=2)
    sent = sender.send("order.paid", {"n": 1})
    assert len(sent) == 2 and sent[0].event_id == sent[1].event_id
    assert eventually(lambda: len(lab.receiver.inbox) == 1)
    play(clock, sender, lab, 3)
    first, second = lab.receiver.inbox
    assert first.webhook_id == second.webhook_id == sent[0].event_id
    assert second.duplicate and not first.duplicate  # the receiver saw through it
    assert sender.wait_idle() == {"delivered": 2}  # the sender hears the second answer after
