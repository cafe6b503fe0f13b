"""A thin event whose fetch of the current state hangs past its timeout, against real servers on
127.0.0.1: the receiver answers 500 with the timeout as its reason, the sender retries, the retry
stores the latest state, and nothing is left wedged. The same hang during reconciliation ends the
run with a reason and the cursor before the event, so the next run processes it.

The slow source is a real server in front of an :class:`ObjectSource`: ``GET /objects/...`` holds
the first requests until released (or a bounded wait), then answers with the state now.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from webhooks_lab.events import Event
from webhooks_lab.lab import Lab
from webhooks_lab.lessons.latest_state import LatestState
from webhooks_lab.lessons.object_source import ObjectSource
from webhooks_lab.lessons.reconcile import Reconciler
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.server import Server

FETCH_TIMEOUT = 0.3  # real seconds the receiver's fetch waits


class SlowSource:
    """``GET /objects/{type}/{id}`` that hangs for the first ``hang`` requests."""

    def __init__(self, lab: Lab, source: ObjectSource, hang: int) -> None:
        self.lab, self.source, self.hang = lab, source, hang
        self.requests = 0
        self.pending = 0  # requests it is holding now
        self.release = asyncio.Event()  # made here, used only on the lab loop
        self.server = Server(
            Starlette(routes=[Route("/objects/{type}/{id}", self.get_object)]), "127.0.0.1", 0
        )
        lab.loop.run(self.server.start())

    async def get_object(self, request):
        self.requests += 1
        if self.requests <= self.hang:
            self.pending += 1
            try:  # bounded: a test that forgets to release still ends
                await asyncio.wait_for(self.release.wait(), 10)
            except TimeoutError:
                pass
            finally:
                self.pending -= 1
        state = self.source.current(request.path_params["type"], request.path_params["id"])
        return JSONResponse(state)

    def close(self) -> None:
        self.lab.loop.call_soon(self.release.set)
        self.lab.loop.run(self.server.stop())


@pytest.fixture
def world():
    lab = Lab()
    lab.sender.policy = RetryPolicy((0, 0.5, 1), jitter=0)  # retries within seconds
    source = ObjectSource(lab, mode="thin")
    slow = None
    try:
        slow = SlowSource(lab, source, hang=1)
        yield lab, source, slow
    finally:
        if slow is not None:
            slow.close()
        source.close()
        lab.stop()


def fetcher(slow: SlowSource, table: LatestState):
    async def fetch_latest(event: Event) -> None:
        ref = event.data["related_object"]
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, trust_env=False) as client:
            answer = await client.get(slow.server.url + ref["url"])
        answer.raise_for_status()
        table.apply(answer.json())

    return fetch_latest


def test_a_fetch_that_times_out_answers_500_with_the_reason_and_the_retry_stores_the_state(world):
    lab, source, slow = world
    table = LatestState()
    lab.receiver.endpoint("thin").on("*")(fetcher(slow, table))
    lab.sender.add_endpoint(lab.receiver.url_for("thin"))

    source.change("order", "A-1", status="paid")
    (delivery,) = lab.sender.deliveries()
    assert lab.sender.wait_deliveries([delivery], timeout=20)

    first, second = lab.receiver.inbox.for_endpoint("thin")
    assert first.status == 500 and "ReadTimeout" in (first.error or "")  # says why
    assert first.webhook_id == second.webhook_id == delivery.event_id  # the same event, retried
    assert second.status == 200
    assert [a.status for a in delivery.attempts] == [500, 200]
    assert table.get("order", "A-1")["status"] == "paid"  # not lost

    # Nothing wedged: while the source still holds the first fetch, the next event goes through.
    assert slow.pending == 1
    source.change("order", "A-1", status="shipped")
    lab.sender.wait_idle(timeout=10)
    assert table.get("order", "A-1")["status"] == "shipped"
    assert slow.pending == 1


def test_a_fetch_that_times_out_while_reconciling_keeps_the_cursor_and_the_next_run_has_it(world):
    lab, source, slow = world
    table, seen = LatestState(), set()
    fetch_latest = fetcher(slow, table)
    event = source.change("order", "B-2", status="placed")
    lab.sender.wait_idle(timeout=10)  # nobody subscribed: the event is only in the events list

    reconciler = Reconciler(source.url, fetch_latest, seen=seen)
    first = lab.loop.run(reconciler.run())
    assert first.processed == 0 and not first.complete
    assert f"processing {event.id} failed: ReadTimeout" in first.error
    assert reconciler.cursor is None and event.id not in seen  # it will be read again

    second = lab.loop.run(reconciler.run())
    assert second.processed_ids == [event.id] and second.complete
    assert table.get("order", "B-2")["status"] == "placed"
