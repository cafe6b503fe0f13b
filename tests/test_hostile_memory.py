"""What strangers send cannot make the lab hold more than its limits: the inbox is bounded in
bytes, and endpoint names that deliveries bring into being are bounded in number."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.limits import Limits
from webhooks_lab.receiver.inbox import Delivery, Inbox


def delivery(body: bytes) -> Delivery:
    return Delivery(
        seq=0, endpoint="e", method="POST", path="/webhooks/e", headers={}, body=body,
        received_at=0.0, status=200,
    )  # fmt: skip


def test_the_inbox_evicts_its_oldest_past_its_bytes_and_counts_them():
    inbox = Inbox(maxlen=1000, max_bytes=10_000)
    for _ in range(30):
        inbox.record(delivery(b"x" * 1000))
    assert inbox.bytes <= 10_000
    assert len(inbox) < 30 and inbox.evicted == 30 - len(inbox)
    assert [d.seq for d in inbox][-1] == 30  # the newest is always kept
    assert "older evicted" in inbox.size_text()


def test_one_delivery_larger_than_the_whole_inbox_is_still_kept_alone():
    inbox = Inbox(max_bytes=100)
    inbox.record(delivery(b"y" * 50))
    inbox.record(delivery(b"z" * 500))
    assert [d.body[:1] for d in inbox] == [b"z"]


@pytest.fixture
def few() -> Iterator[Lab]:
    with Lab(limits=Limits(max_endpoints=3)) as running:
        yield running


def test_a_refused_delivery_to_a_new_name_leaves_no_endpoint_behind(lab):
    lab.receiver.require_all("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    answer = httpx.post(f"{lab.receiver.url}/webhooks/stranger", content=b"{}", timeout=10)
    assert answer.status_code == 401
    assert "stranger" not in lab.receiver.endpoints
    assert lab.receiver.inbox.last.status == 401  # still recorded, for the learner to see


def test_past_its_limit_a_new_name_is_refused_and_set_up_ones_still_work(few):
    few.receiver.endpoint("configured")  # set up by the lesson: not a stranger's
    url = few.receiver.url
    for n in range(3):
        assert httpx.post(f"{url}/webhooks/n{n}", json={"type": "t", "data": {}}).status_code == 200
    refused = httpx.post(f"{url}/webhooks/n3", json={"type": "t", "data": {}})
    assert refused.status_code == 404 and refused.json()["error"] == "too_many_endpoints"
    assert "n3" not in few.receiver.endpoints
    again = httpx.post(f"{url}/webhooks/n0", json={"type": "t", "data": {}})
    assert again.status_code == 200
    assert httpx.post(f"{url}/webhooks/configured", json={"type": "t", "data": {}}).is_success


def test_what_the_inbox_counts_is_the_memory_its_deliveries_really_hold(lab):
    """Measured with tracemalloc: what clearing the inbox frees, against what it counted."""
    lab.receiver.endpoint("locked").require("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    shapes = {
        "signed, small, from the lab's sender": lambda i: lab.send("order.created", {"n": i}),
        "signed, 20 KB": lambda i: lab.send("order.created", {"n": i, "pad": "x" * 20_000}),
    }
    many_headers = {f"x-forged-{h}": "y" * 40 for h in range(30)}
    with httpx.Client(base_url=lab.receiver.url, timeout=10, trust_env=False) as http:
        shapes["refused, 30 headers"] = lambda i: http.post(
            "/webhooks/locked", json={"type": "t", "data": {"n": i}}, headers=many_headers
        )
        for what, send in shapes.items():
            lab.receiver.inbox.clear()
            tracemalloc.start()  # it sees the frees of what it saw allocated
            try:
                for i in range(300):
                    send(i)
                lab.receiver.inbox.wait_for(300, timeout=30)
                lab.sender.wait_idle(30)  # its own records are made by now, not while measuring
                gc.collect()
                counted, held = lab.receiver.inbox.bytes, tracemalloc.get_traced_memory()[0]
                lab.receiver.inbox.clear()
                gc.collect()
                freed = held - tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            assert 0.8 < freed / counted < 1.25, (what, freed, counted)
