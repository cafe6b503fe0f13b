from __future__ import annotations

from webhooks_lab.receiver.console import DeliveryLog
from webhooks_lab.receiver.inbox import Delivery


def delivery(seq: int, status: int = 200) -> Delivery:
    return Delivery(
        seq=seq,
        endpoint="shop",
        method="POST",
        path="/webhooks/shop",
        headers={},
        body=b"{}",
        received_at=0.0,
        status=status,
        event_type="order.created",
    )


class Ticking:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_at_human_rates_every_delivery_gets_its_line():
    lines: list[str] = []
    clock = Ticking()
    log = DeliveryLog(lines.append, per_second=10, now=clock)
    for n in range(5):
        log(delivery(n + 1))
        clock.t += 1.5
    assert len(lines) == 5 and lines[0].startswith("#1 ") and "-> 200" in lines[0]


def test_a_flood_prints_ten_lines_then_one_summary_per_second():
    lines: list[str] = []
    clock = Ticking()
    log = DeliveryLog(lines.append, per_second=10, now=clock)
    for n in range(1000):
        log(delivery(n + 1, status=200 if n % 10 else 401))
    assert len(lines) == 10  # the rest of this second is counted, not printed
    clock.t += 1
    log(delivery(1001))  # the next second: the summary first, then this one
    assert lines[10] == "... 990 more deliveries in the last second: 891 2xx, 99 4xx"
    assert lines[11].startswith("#1001")
    log.flush()
    assert len(lines) == 12  # nothing held, nothing more to say
