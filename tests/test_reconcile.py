"""Reconciliation against real servers on 127.0.0.1: after an outage in which every retry ran
out, walking the source's events list recovers what was missed, once; bad sources end a run
with a reason and lose nothing."""

from __future__ import annotations

import asyncio
import socket
from itertools import count

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from webhooks_lab.events import Event
from webhooks_lab.lab import Lab
from webhooks_lab.lessons.latest_state import LatestState
from webhooks_lab.lessons.object_source import ObjectSource
from webhooks_lab.lessons.reconcile import MAX_PAGE_BYTES, Reconciler, register_reconcile
from webhooks_lab.runtime.server import Server


@pytest.fixture
def fast_lab():
    """A lab whose clock runs a day of retries in about a second."""
    with Lab(speed=100_000) as running:
        yield running


class App:
    """The receiver's side: one table, one set of processed ids, shared by both ways in."""

    def __init__(self) -> None:
        self.table = LatestState()
        self.seen: set[str] = set()
        self.processed: list[str] = []

    def process(self, event: Event) -> None:
        self.processed.append(event.id)
        self.table.apply(event.data["object"])

    async def on_webhook(self, event: Event) -> None:
        if event.id in self.seen:
            return
        self.process(event)
        self.seen.add(event.id)


def test_reconciling_after_retries_ran_out_recovers_every_missed_event_once(fast_lab):
    lab, app = fast_lab, App()
    lab.receiver.endpoint("shop").on("*")(app.on_webhook)
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    source = ObjectSource(lab)
    try:
        before = source.change("order", "A-1", status="pending")
        lab.sender.wait_idle(20)
        assert app.processed == [before.id]

        lab.receiver.chaos("shop").fail_next(10_000)  # the outage
        missed = [source.change("order", "A-1", status=s).id for s in ("paid", "packed")]
        missed.append(source.change("order", "B-2", status="pending").id)
        lab.sender.wait_idle(30)
        assert lab.sender.counts() == {"delivered": 1, "dead": 3}  # every retry ran out
        lab.receiver.chaos("shop").reset()

        reconciler = Reconciler(source.url, app.process, seen=app.seen, page=2)
        register_reconcile(lab, reconciler)
        report = lab.jobs.start("events.reconcile").wait(20)
        assert report["complete"] and report["error"] is None
        assert report["processed_ids"] == missed
        assert (report["skipped"], report["pages"]) == (1, 2)  # A-1 v1 came by webhook
        assert app.table.get("order", "A-1")["status"] == "packed"
        assert app.table.get("order", "B-2")["version"] == 1

        again = lab.jobs.start("events.reconcile").wait(20)  # from the cursor: nothing new
        assert (again["processed"], again["read"], again["complete"]) == (0, 0, True)

        (dead, *_) = lab.sender.dead_letters()  # GitHub-style redelivery, after the fact
        lab.sender.replay(dead)
        lab.sender.wait_idle(20)
        assert app.processed == [before.id, *missed]  # redelivered, but processed once
    finally:
        source.close()


def test_a_failure_while_processing_stops_before_that_event_and_the_next_run_carries_on(lab):
    source = ObjectSource(lab)
    try:
        ids = [source.change("order", f"A-{n}", n=n).id for n in range(3)]
        broken = {"yes": True}
        done: list[str] = []

        def process(event: Event) -> None:
            if event.id == ids[1] and broken["yes"]:
                raise RuntimeError("database is down")
            done.append(event.id)

        reconciler = Reconciler(source.url, process)
        first = lab.loop.run(reconciler.run())
        assert first.processed_ids == ids[:1] and "database is down" in first.error
        assert reconciler.cursor == ids[0]
        broken["yes"] = False
        second = lab.loop.run(reconciler.run())
        assert second.processed_ids == ids[1:] and second.complete
        assert done == ids
    finally:
        source.close()


def fake_source(lab, page):
    """A real server answering GET /events with ``page(request)``."""
    server = Server(Starlette(routes=[Route("/events", page)]), "127.0.0.1", 0)
    lab.loop.run(server.start())
    return server


def test_an_events_list_that_never_ends_is_read_only_up_to_the_page_budget(lab):
    numbers = count()

    async def endless(request):
        n = next(numbers)
        event = {"id": f"evt_{n}", "type": "order.updated", "timestamp": None, "data": {}}
        event["timestamp"] = "2026-12-01T00:00:00Z"
        return JSONResponse({"data": [event], "has_more": True, "next_cursor": f"evt_{n}"})

    server = fake_source(lab, endless)
    try:
        reconciler = Reconciler(server.url, lambda event: None, max_pages=5)
        report = lab.loop.run(reconciler.run())
        assert (report.pages, report.processed, report.complete) == (5, 5, False)
        assert "stopped after 5 pages" in report.error
        assert reconciler.cursor == "evt_4"  # the next run carries on from here
    finally:
        lab.loop.run(server.stop())


def test_a_page_that_says_more_but_brings_nothing_ends_the_run(lab):
    async def stuck(request):
        return JSONResponse({"data": [], "has_more": True, "next_cursor": "evt_1"})

    server = fake_source(lab, stuck)
    try:
        report = lab.loop.run(Reconciler(server.url, lambda event: None).run())
        assert report.pages == 1 and "did not move on" in report.error
    finally:
        lab.loop.run(server.stop())


def test_a_source_that_is_down_or_refuses_the_cursor_ends_the_run_with_its_reason(lab):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = lab.loop.run(Reconciler(f"http://127.0.0.1:{port}", print).run())
    assert "could not read the events list" in down.error and down.pages == 0

    source = ObjectSource(lab)
    try:
        source.change("order", "A-1", status="x")
        refused = lab.loop.run(Reconciler(source.url, print, cursor="evt_gone").run())
        assert refused.error.startswith("the events list answered 400")
        assert "no event 'evt_gone'" in refused.error
    finally:
        source.close()


def test_the_latest_state_table_ignores_older_versions_and_unknown_fields():
    table = LatestState(known=("status",))
    assert table.apply({"type": "order", "id": "A", "version": 2, "status": "paid", "new": 1})
    assert not table.apply({"type": "order", "id": "A", "version": 1, "status": "pending"})
    assert table.get("order", "A") == {"type": "order", "id": "A", "version": 2, "status": "paid"}
    assert table.ignored == 1


def page_of(*ids: str, more: bool = True) -> dict:
    events = [
        {"id": i, "type": "order.updated", "timestamp": "2026-12-01T00:00:00Z", "data": {}}
        for i in ids
    ]
    return {"data": events, "has_more": more, "next_cursor": ids[-1] if ids else None}


def test_a_list_that_ignores_the_cursor_and_sends_the_same_page_again_ends_the_run(lab):
    async def same_page(request):
        return JSONResponse(page_of("evt_1", "evt_2"))

    server = fake_source(lab, same_page)
    try:
        done: list[str] = []
        report = lab.loop.run(Reconciler(server.url, lambda e: done.append(e.id)).run())
        assert done == ["evt_1", "evt_2"]  # each once
        assert report.pages == 2 and "did not move on" in report.error
    finally:
        lab.loop.run(server.stop())


def test_a_page_whose_body_never_ends_is_cut_off_by_the_timeout(lab):
    stop = asyncio.Event()

    async def trickle(request):
        async def body():
            yield b'{"data": ['
            while not stop.is_set():  # a space every 20 ms: never a read timeout, never the end
                yield b" "
                await asyncio.sleep(0.02)

        return StreamingResponse(body(), media_type="application/json")

    server = fake_source(lab, trickle)
    try:
        reconciler = Reconciler(server.url, print, timeout=0.5, cursor=None)
        report = lab.loop.run(reconciler.run(), timeout=20)
        assert report.pages == 0 and not report.complete
        assert "did not send a whole page within 0.5 s" in report.error
        assert reconciler.cursor is None  # nothing read, nothing lost
    finally:
        lab.loop.call_soon(stop.set)
        lab.loop.run(server.stop())


def test_a_page_larger_than_the_limit_is_refused_without_reading_it_all(lab):
    async def huge(request):
        async def body():
            for _ in range(MAX_PAGE_BYTES // 65536 + 8):
                yield b" " * 65536

        return StreamingResponse(body(), media_type="application/json")

    server = fake_source(lab, huge)
    try:
        report = lab.loop.run(Reconciler(server.url, print).run())
        assert f"larger than {MAX_PAGE_BYTES} bytes" in report.error and report.pages == 0
    finally:
        lab.loop.run(server.stop())


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"<html>maintenance</html>", "not a page of events"),
        (b'{"data": "lots", "has_more": false}', "not a page of events"),
        (b'{"has_more": false}', "not a page of events"),
        (b'{"data": [{"type": "x"}], "has_more": false}', "malformed"),
        (b'{"data": [{"id": "evt_1"}], "has_more": false}', "malformed"),
    ],
)
def test_an_answer_that_is_not_a_page_of_events_ends_the_run_with_a_reason(lab, answer, words):
    async def odd(request):
        return Response(answer, media_type="application/json")

    server = fake_source(lab, odd)
    try:
        done: list[str] = []
        report = lab.loop.run(Reconciler(server.url, lambda e: done.append(e.id)).run())
        assert words in report.error and done == [] and not report.complete
    finally:
        lab.loop.run(server.stop())
