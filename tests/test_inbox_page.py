"""The inbox page's HTTP side: the page, its live feed, one delivery as JSON, replay.

Everything runs against a real lab on 127.0.0.1 over real HTTP; the feed is read the way a
browser's ``EventSource`` reads it, as a stream of server-sent events. (tests/browser/ drives the
page itself in Chromium.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from webhooks_lab import signing
from webhooks_lab.lab import Lab
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.receiver.inbox_page import InboxPageLink, page_url
from webhooks_lab.receiver.live_feed import InboxFeed

WAIT = 10  # seconds; generous, the machine is shared


class FeedReader:
    """Reads ``GET /inbox/events`` in a thread, parsing server-sent events into a queue.

    A plain socket speaking HTTP/1.0 (so the body is not chunked): closing it from the test's
    thread reliably wakes the reading thread, which an HTTP client's stream does not promise.
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = httpx.URL(url)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status: int | None = None
        self._sock = socket.create_connection((parts.host, parts.port), timeout=WAIT)
        self._sock.settimeout(None)
        target = parts.raw_path.decode()
        lines = [f"GET {target} HTTP/1.0", f"Host: {parts.host}:{parts.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT), "the feed did not answer"

    def _read(self) -> None:
        event: dict[str, Any] = {}
        try:
            stream = self._sock.makefile("rb")
            self.status = int(stream.readline().split()[1])
            while stream.readline().strip():  # the response's headers
                pass
            self._opened.set()
            for raw in stream:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "event" in event:
                        self.events.put(event)
                    event = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(": ")
                    event[field] = json.loads(value) if field == "data" else value
        except OSError as exc:
            self.events.put({"event": "broken", "data": repr(exc)})
        finally:
            self._opened.set()
            self.events.put({"event": "end"})

    def next(self, kind: str = "deliveries") -> dict[str, Any]:
        while True:
            event = self.events.get(timeout=WAIT)
            if event["event"] in (kind, "end", "broken"):
                return event

    def seqs_until(self, count: int) -> list[int]:
        """Sequence numbers from ``deliveries`` events until ``count`` have come."""
        seen: list[int] = []
        while len(seen) < count:
            event = self.next()
            assert event["event"] == "deliveries", event
            seen += [d["seq"] for d in event["data"]["deliveries"]]
        return seen

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()


@contextmanager
def feed(url: str, headers: dict[str, str] | None = None) -> Iterator[FeedReader]:
    reader = FeedReader(url, headers)
    try:
        yield reader
    finally:
        reader.close()


def post(client: httpx.Client, n: int, endpoint: str = "page", **extra: Any) -> httpx.Response:
    body = {"type": "order.created", "data": {"n": n}}
    return client.post(f"/webhooks/{endpoint}", json=body, **extra)


# -- the page -------------------------------------------------------------------------------------


def test_the_page_uses_only_relative_urls_and_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "inbox/events" in html
    absolute = re.findall(r"""(?:href|src|action)=["'](?:/|https?:)""", html)
    absolute += re.findall(r"""(?:fetch|EventSource)\(\s*[`'"](?:/|https?:)""", html)
    assert absolute == []
    assert "<script src" not in html and "<link" not in html  # no CDN: the network may be closed


def test_without_javascript_the_page_still_lists_the_newest_deliveries(client):
    client.post("/webhooks/shop", json={"type": "<i>order.created", "data": {}})
    html = client.get("/").text
    noscript = html[html.index("<noscript>") : html.index("</noscript>")]
    assert "&lt;i&gt;order.created" in noscript and "<i>" not in noscript


# -- the live feed --------------------------------------------------------------------------------


def test_the_feed_starts_with_the_newest_deliveries_then_streams_each_new_one(lab, client):
    for n in range(3):
        post(client, n)
    with feed(f"{lab.url}/inbox/events?limit=2") as events:
        assert events.status == 200
        opening = events.next()["data"]
        assert [d["seq"] for d in opening["deliveries"]] == [2, 3]
        assert opening["skipped"] == 1 and opening["total"] == 3
        post(client, 3, headers={"webhook-id": "msg_live"})
        live = events.next()
        assert live["id"] == "4"
        (row,) = live["data"]["deliveries"]
        assert row["webhook_id"] == "msg_live" and row["outcome"] == "accepted"
        assert "body" not in row  # rows are summaries; GET inbox/{seq} has the body


def test_a_reconnecting_page_resumes_after_the_last_event_id_it_saw(lab, client):
    for n in range(5):
        post(client, n)
    with feed(f"{lab.url}/inbox/events", headers={"last-event-id": "3"}) as events:
        assert events.seqs_until(2) == [4, 5]


def test_deliveries_recorded_from_another_thread_still_reach_the_page(lab):
    with feed(f"{lab.url}/inbox/events") as events:
        events.next()  # the (empty) opening message
        delivery = Delivery(0, "elsewhere", "POST", "/webhooks/elsewhere", {}, b"{}", 0.0, 200)
        lab.receiver.inbox.record(delivery)  # this test's thread, not the lab loop
        assert events.seqs_until(1) == [delivery.seq]


def test_the_feed_lets_go_of_a_page_that_goes_away(lab, client):
    feed_app = lab.app.feed
    with feed(f"{lab.url}/inbox/events") as events:
        events.next()
        assert len(feed_app.clients) == 1
    post(client, 1)  # the server notices a closed connection when it next has something to do
    lab.loop.run(_until(lambda: not feed_app.clients))
    assert feed_app.clients == set()


def test_a_slow_page_gets_the_newest_deliveries_and_hears_how_many_it_skipped():
    async def scenario() -> tuple[list[int], int]:
        inbox = Inbox()
        feed_app = InboxFeed(inbox)
        client, backlog, _ = feed_app.connect(after=0, limit=10)
        assert backlog == []
        for _ in range(250):  # far more than the page takes in before its stream wakes up
            inbox.record(Delivery(0, "fast", "POST", "/webhooks/fast", {}, b"{}", 0.0, 200))
        batch, skipped = client.take()
        feed_app.disconnect(client)
        return [d.seq for d in batch], skipped

    seqs, skipped = asyncio.run(scenario())
    assert seqs == list(range(241, 251))
    assert skipped == 240


def test_only_get_opens_the_feed(client):
    refused = client.post("/inbox/events")
    assert refused.status_code == 405
    assert "GET" in refused.json()["detail"]


def test_stopping_the_lab_ends_open_feeds_at_once_with_a_goodbye(caplog):
    lab = Lab()
    try:
        events = FeedReader(f"{lab.url}/inbox/events")
        events.next()
    finally:
        with caplog.at_level(logging.INFO, logger="uvicorn.error"):
            lab.stop()
    assert events.next("bye")["event"] == "bye"
    assert events.next("end")["event"] == "end"  # the stream ended cleanly, not cut off
    events.close()
    assert "graceful shutdown exceeded" not in caplog.text


def test_webhooks_lab_serve_shows_the_page_and_ends_its_feeds_on_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "webhooks_lab.cli", "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://\S+", process.stdout.readline()).group(0)  # type: ignore[union-attr]
        assert "inbox/events" in httpx.get(url + "/").text
        events = FeedReader(f"{url}/inbox/events")
        events.next()
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=WAIT)
        assert events.next("bye")["event"] == "bye"
        events.close()
        assert process.returncode == 0
        assert "Traceback" not in errors and "graceful shutdown" not in errors
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# -- one delivery: JSON fixture and replay --------------------------------------------------------


def test_a_delivery_downloads_as_a_json_fixture_with_its_raw_body(client):
    post(client, 7, headers={"webhook-id": "msg_fixture"})
    one = client.get("/inbox/1")
    assert one.status_code == 200
    record = one.json()
    assert json.loads(record["body"]) == {"type": "order.created", "data": {"n": 7}}
    assert record["headers"]["webhook-id"] == "msg_fixture"
    assert record["status"] == 200 and record["outcome"] == "accepted"
    saved = client.get("/inbox/1", params={"download": 1})
    assert saved.headers["content-disposition"] == 'attachment; filename="delivery-1.json"'


def test_a_body_that_is_not_utf8_comes_with_a_base64_copy(client):
    client.post("/webhooks/bytes", content=b"\xff\xfe not text")
    record = client.get("/inbox/1").json()
    assert record["body_base64"] == "//4gbm90IHRleHQ="


def test_an_unknown_delivery_number_is_a_404_that_says_what_the_inbox_holds(client):
    post(client, 1)
    missing = client.get("/inbox/99")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no delivery #99 in the inbox; it holds #1 to #1"
    assert client.post("/inbox/99/replay").status_code == 404


def test_replay_posts_the_same_delivery_again_and_the_receiver_marks_it_duplicate(lab, client):
    post(client, 1, headers={"webhook-id": "msg_again"})
    replayed = client.post("/inbox/1/replay")
    assert replayed.status_code == 200
    again = replayed.json()["delivery"]
    assert again["seq"] == 2 and again["outcome"] == "duplicate"
    assert again["headers"]["x-webhooks-lab-replay-of"].startswith("#1 ")
    assert lab.receiver.inbox[1].body == lab.receiver.inbox[0].body
    assert len(lab.receiver.inbox) == 2


def test_a_replayed_signed_delivery_still_verifies(lab, client):
    secret = signing.generate_secret()
    lab.receiver.endpoint("signed").require(secret)
    body = b'{"type": "invoice.paid", "data": {"amount": 1999}}'
    headers = signing.sign_headers(secret, body, timestamp=int(lab.clock.time()))
    assert client.post("/webhooks/signed", content=body, headers=headers).status_code == 200
    again = client.post("/inbox/1/replay").json()["delivery"]
    assert again["verified"] is True and again["outcome"] == "duplicate"


def test_a_request_that_was_not_a_delivery_cannot_be_replayed_and_says_why(client):
    client.post("/hooks/typo", json={})  # 404, recorded in the inbox
    refused = client.post("/inbox/1/replay")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "not_replayable",
        "detail": "#1 was POST /hooks/typo; only POSTs to /webhooks/<name> can be replayed",
    }


# -- opening the page from a notebook -------------------------------------------------------------


def test_the_page_url_is_direct_locally_and_through_the_proxy_on_binder():
    direct = "http://127.0.0.1:8123"
    assert page_url(direct, 8123, environ={}) == "http://127.0.0.1:8123/"
    on_binder = {"JUPYTERHUB_SERVICE_PREFIX": "/user/grace-abc123/"}
    assert page_url(direct, 8123, environ=on_binder) == "/user/grace-abc123/proxy/8123/"


def test_the_lab_gives_a_notebook_a_link_to_its_page(lab, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert lab.inbox_page_url() == lab.url + "/"
    link = lab.inbox_page()
    assert repr(link) == f"Inbox page: {lab.url}/"
    assert f'href="{lab.url}/"' in link._repr_html_() and "<iframe" not in link._repr_html_()
    framed = InboxPageLink("/user/x/proxy/1/", height=300)._repr_html_()
    assert '<iframe src="/user/x/proxy/1/"' in framed and 'height="300"' in framed


async def _until(condition: Any, timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition never became true")
        await asyncio.sleep(0.01)


# -- the Wire tab -------------------------------------------------------------------------------


def test_with_wire_the_feed_also_streams_the_sequence_diagram_of_each_exchange(lab, client):
    post(client, 1)
    with feed(f"{lab.url}/inbox/events?wire=1") as events:
        opening = events.next("wire")["data"]
        assert opening["svg"].startswith("<svg") and opening["total"] == 1
        assert 'data-party="Your receiver"' in opening["svg"]
        assert opening["svg"].count('<g class="exchange"') == 1
        client.get("/jobs/kinds")
        live = events.next("wire")["data"]
        assert live["total"] == 2 and 'data-party="Jobs API"' in live["svg"]
    with feed(f"{lab.url}/inbox/events") as plain:  # without wire=1: deliveries only
        plain.next()
        post(client, 2)
        assert plain.next()["event"] == "deliveries"
        assert all(e["event"] != "wire" for e in list(plain.events.queue))


def test_a_replay_from_the_page_is_on_the_wire_as_the_replays_own_exchange(lab, client):
    post(client, 1, headers={"webhook-id": "msg_again"})
    since = lab.trace.last_seq
    assert client.post("/inbox/1/replay").status_code == 200
    (replay,) = lab.trace.exchanges(since)  # the page's own request is not part of the wire
    assert (replay.client, replay.server, replay.status) == ("Replay", "Your receiver", 200)
    assert replay.webhook_id == "msg_again"


def test_the_feed_stops_listening_to_the_trace_when_the_last_wire_page_goes(lab, client):
    before = len(lab.trace.listeners)
    with feed(f"{lab.url}/inbox/events?wire=1") as events:
        events.next("wire")
        assert len(lab.trace.listeners) == before + 1
    post(client, 1)  # the server notices a closed connection when it next has something to do
    lab.loop.run(_until(lambda: not lab.app.feed.clients))
    assert len(lab.trace.listeners) == before
