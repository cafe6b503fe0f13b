"""The wire trace holds what really went over the wire: every exchange once, in order, with the
status the other end really answered (or the timeout), bounded however much traffic passes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from webhooks_lab.jobs import client as jobs_client
from webhooks_lab.lab import Lab
from webhooks_lab.limits import Limits
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime import trace as trace_module
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.server import Server
from webhooks_lab.runtime.trace import Trace, client_party, mermaid
from webhooks_lab.runtime.traced_http import traced_client
from webhooks_lab.sender.sender import Sender

QUICK = RetryPolicy([0, 0.01, 0.01, 0.01, 0.01], jitter=0)


class Flaky:
    """A receiver that is not the lab's: answers from a script, and writes down what it saw."""

    def __init__(self, answers: list[int], slow: set[int] = frozenset()) -> None:
        self.answers, self.slow = list(answers), slow
        self.seen: list[tuple[str, str, str | None, int]] = []  # method, path, webhook-id, status

    async def hook(self, request: Request) -> Response:
        n = len(self.seen)
        status = self.answers[min(n, len(self.answers) - 1)]
        self.seen.append(
            (request.method, request.url.path, request.headers.get("webhook-id"), status)
        )
        if n in self.slow:
            await asyncio.sleep(2)  # past the sender's timeout: the sender never hears this
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


@pytest.fixture
def flaky_sender(lab: Lab):
    """A sender with a trace of its own, on the lab loop, quick retries on a fast clock."""
    trace = Trace(Clock(speed=100))
    sender = Sender(
        outbox=":memory:",
        clock=trace.clock,
        policy=QUICK,
        timeout=0.5,
        allow_loopback=True,
        trace=trace,
        party="Shop",
    )
    lab.loop.run(sender.start())
    yield sender
    lab.loop.run(sender.close())


def serve(lab: Lab, flaky: Flaky) -> Server:
    server = Server(flaky.app())
    lab.loop.run(server.start())
    return server


def test_a_sender_against_a_flaky_receiver_is_traced_as_the_receiver_saw_it(lab, flaky_sender):
    flaky = Flaky([503, 500, 429, 200])
    server = serve(lab, flaky)
    try:
        flaky_sender.add_endpoint(f"{server.url}/hook")
        first = flaky_sender.send("order.created", {"n": 1})
        flaky_sender.wait_deliveries(first, timeout=20)
        second = flaky_sender.send("order.paid", {"n": 2})
        flaky_sender.wait_deliveries(second, timeout=20)
    finally:
        lab.loop.run(server.stop())
    traced = flaky_sender.trace.exchanges()
    assert [(x.method, x.path, x.webhook_id, x.status) for x in traced] == flaky.seen
    assert [x.status for x in traced] == [503, 500, 429, 200, 200]
    assert [x.outcome for x in traced] == ["5xx", "5xx", "4xx", "2xx", "2xx"]
    assert {x.client for x in traced} == {"Shop"}
    assert [x.event for x in traced] == ["order.created"] * 4 + ["order.paid"]
    assert all(x.latency_ms > 0 for x in traced)
    times = [x.at for x in traced]
    assert times == sorted(times)  # lab-clock times, in the order they went out


def test_an_attempt_that_times_out_is_traced_as_a_timeout_not_as_what_came_later(lab, flaky_sender):
    flaky = Flaky([200], slow={0})
    server = serve(lab, flaky)
    try:
        flaky_sender.add_endpoint(f"{server.url}/hook")
        flaky_sender.wait_deliveries(flaky_sender.send("order.created", {}), timeout=20)
    finally:
        lab.loop.run(server.stop())
    outcomes = [x.outcome for x in flaky_sender.trace.exchanges()]
    assert outcomes == ["timeout", "2xx"]
    assert flaky_sender.trace.exchanges()[0].status is None
    assert len(flaky.seen) == 2  # the receiver did see both


def test_a_refused_connection_is_traced_as_an_error(lab, flaky_sender):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once we leave: nobody listens there
    flaky_sender.policy = RetryPolicy([0], jitter=0)
    flaky_sender.add_endpoint(f"http://127.0.0.1:{port}/hook")
    flaky_sender.wait_deliveries(flaky_sender.send("order.created", {}), timeout=20)
    (only,) = flaky_sender.trace.exchanges()
    assert only.outcome == "error" and only.status is None and only.error


def test_the_lab_talking_to_itself_is_traced_once_per_exchange_from_the_senders_side(lab):
    lab.sender.policy = QUICK
    lab.receiver.chaos("flaky").fail_next(2)
    lab.sender.add_endpoint(lab.receiver.url_for("flaky"))
    since = lab.trace.last_seq
    lab.sender.wait_deliveries(lab.send("order.created", {"n": 1}), timeout=20)
    traced = [x for x in lab.trace.exchanges(since) if x.path == "/webhooks/flaky"]
    inbox = lab.receiver.inbox.for_endpoint("flaky")
    assert [x.status for x in traced] == [d.status for d in inbox] == [500, 500, 200]
    assert [x.webhook_id for x in traced] == [d.webhook_id for d in inbox]
    assert {(x.client, x.server, x.recorded_by) for x in traced} == {
        ("Sender", "Your receiver", "client")
    }
    assert lab.trace.in_flight == 0


def test_a_request_from_outside_is_traced_by_the_server_named_by_its_user_agent(lab):
    since = lab.trace.last_seq
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/shop", json={"type": "a"}, headers={"webhook-id": "msg_1"})
        http.post("/webhooks/shop", content=b"{", headers={"user-agent": "curl/8.5.0"})
        http.get("/nowhere")
        http.get("/")  # the inbox page itself is the viewer, not part of the conversation
    traced = lab.trace.exchanges(since)
    assert [(x.client, x.server, x.method, x.path, x.status) for x in traced] == [
        ("Your code", "Your receiver", "POST", "/webhooks/shop", 200),
        ("curl", "Your receiver", "POST", "/webhooks/shop", 400),
        ("Your code", "Your receiver", "GET", "/nowhere", 404),
    ]
    assert traced[0].webhook_id == "msg_1" and traced[0].recorded_by == "server"


def test_a_request_refused_before_the_app_runs_is_traced_too():
    lab = Lab(limits=Limits(max_head_bytes=1024))
    try:
        since = lab.trace.last_seq
        with httpx.Client(base_url=lab.url, trust_env=False) as http:
            answer = http.post("/webhooks/shop", json={}, headers={"x-big": "a" * 4096})
        assert answer.status_code == 431
        traced = lab.trace.exchanges(since)
        assert [(x.server, x.path, x.status) for x in traced] == [
            ("Your receiver", "/webhooks/shop", 431)
        ]
    finally:
        lab.stop()


def test_jobs_are_traced_with_their_id_from_submit_to_result_and_the_completion_webhook(lab):
    since = lab.trace.last_seq
    accepted = jobs_client.submit(
        lab.url, "sleep", {"seconds": 0.05}, callback_url=lab.receiver.url_for("jobs")
    )
    job_id = accepted.url.rsplit("/", 1)[1]
    outcome = jobs_client.poll(accepted.url, timeout=20)
    assert outcome.ok
    jobs_client.wait_for_webhook(lab.receiver.inbox, job_id, timeout=20)
    lab.sender.wait_idle()
    traced = lab.trace.exchanges(since)
    api = [x for x in traced if x.server == "Jobs API"]
    assert api[0].method == "POST" and api[0].status == 202 and api[0].job_id == job_id
    assert {x.job_id for x in api} == {job_id}
    assert api[-1].path.endswith("/result") and api[-1].status == 200
    assert {x.client for x in api} == {"Your code"}
    (callback,) = [x for x in traced if x.path == "/webhooks/jobs"]
    assert (callback.client, callback.server, callback.status) == ("Jobs API", "Your receiver", 200)
    assert callback.event == "job.succeeded"


def test_a_lab_client_names_itself_and_its_failures_are_traced(lab):
    trace = Trace()
    with traced_client("Poller", trace=trace, timeout=2) as http:
        http.get(f"{lab.url}/webhooks/shop")
        http.get(f"{lab.url}/webhooks/shop", extensions={"party": "Poller 2"})
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            http.get(f"http://127.0.0.1:{closed}/events")
    assert [(x.client, x.status, x.outcome) for x in trace.exchanges()] == [
        ("Poller", 200, "2xx"),
        ("Poller 2", 200, "2xx"),
        ("Poller", None, "error"),
    ]


def test_outside_a_lab_clients_given_no_trace_work_and_write_nothing_down(lab, monkeypatch):
    # Before any lab has started there is no trace to write to: nobody could see it.
    monkeypatch.setattr(trace_module, "_current", None)
    flaky = Flaky([503, 200])
    server = serve(lab, flaky)
    sender = Sender(outbox=":memory:", policy=QUICK, timeout=2, allow_loopback=True)
    lab.loop.run(sender.start())
    try:
        assert sender.trace is None
        sender.add_endpoint(f"{server.url}/hook")
        (delivery,) = sender.wait_deliveries(sender.send("order.created", {}), timeout=20)
        with traced_client("Your code", timeout=2) as http:
            assert http.post(f"{server.url}/hook").status_code == 200
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                closed = probe.getsockname()[1]
            with pytest.raises(httpx.ConnectError):  # a failure still reaches the caller
                http.get(f"http://127.0.0.1:{closed}/events")
    finally:
        lab.loop.run(sender.close())
        lab.loop.run(server.stop())
    assert [a.status for a in delivery.attempts] == [503, 200]
    assert [status for *_, status in flaky.seen] == [503, 200, 200]
    assert all(x.path != "/hook" for x in lab.trace.exchanges())  # nor into the lab's
    assert trace_module.current() is None


def test_the_trace_is_bounded_and_claims_never_pile_up():
    trace = Trace(keep=100)
    for n in range(10_000):
        pending = trace.begin("Sender", "POST", f"http://127.0.0.1:9/webhooks/{n % 7}")
        trace.end(pending, error="connection error")
        trace.record("Client", "Your receiver", "POST", "/webhooks/x", 200)
    assert len(trace) == 100 and trace.total == 20_000
    assert trace.exchanges()[-1].seq == 20_000
    assert trace.in_flight == 0 and trace._claims == {}
    assert len(trace.exchanges(since=19_990)) == 10


def test_user_agents_name_the_clients_nobody_claimed():
    assert client_party("python-httpx/0.28.1") == "Your code"
    assert client_party("curl/8.5.0") == "curl"
    assert client_party(None) == "Client"
    assert client_party("Stripe/1.0 (+https://stripe.com/docs/webhooks)") == "Stripe"


def test_json_export_holds_every_field_with_the_parties_renamed():
    trace = Trace()
    trace.names["Sender"] = "Shop"
    pending = trace.begin("Sender", "POST", "http://127.0.0.1:9/webhooks/orders", webhook_id="m1")
    trace.end(pending, 204)
    (row,) = json.loads(trace.to_json(names={"/webhooks/orders": "Warehouse"}))
    assert (row["client"], row["server"], row["status"], row["webhook_id"]) == (
        "Shop",
        "Warehouse",
        204,
        "m1",
    )
    assert {"method", "path", "outcome", "latency_ms", "at", "job_id", "error"} <= set(row)


# -- Mermaid ------------------------------------------------------------------------------------

PARTICIPANT = re.compile(r"^    participant (P\d+) as ([^;#\n<>:]+)$")
MESSAGE = re.compile(r"^    (P\d+)(->>|-->>|--x)(P\d+): ([^;#\n]+)$")
NOTE = re.compile(r"^    Note over (P\d+): ([^;#\n]+)$")


def parse_sequence_diagram(text: str) -> list[tuple[str, ...]]:
    """A strict reading of the subset of Mermaid's sequenceDiagram grammar the export uses:
    every line is known, every party is declared before it is used, and every request is
    followed by its answer (or a cross) the other way."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "sequenceDiagram"
    declared: dict[str, str] = {}
    events: list[tuple[str, ...]] = []
    for line in lines[1:]:
        if found := PARTICIPANT.match(line):
            assert not events, "participants come first"
            declared[found.group(1)] = found.group(2)
        elif found := MESSAGE.match(line):
            a, arrow, b, label = found.groups()
            assert a in declared and b in declared, line
            events.append((declared[a], arrow, declared[b], label))
        elif found := NOTE.match(line):
            assert found.group(1) in declared
            events.append(("note", found.group(2)))
        else:
            raise AssertionError(f"not a sequenceDiagram line: {line!r}")
    messages = [e for e in events if e[0] != "note"]
    for request, answer in zip(messages[::2], messages[1::2], strict=True):
        assert request[1] == "->>" and answer[1] in ("-->>", "--x")
        assert (request[0], request[2]) == (answer[2], answer[0])
    return events


def test_the_mermaid_export_is_a_sequence_diagram_of_every_exchange_with_waits_noted():
    trace = Trace()
    at = 1_700_000_000.0
    rows = [
        ("Sender", "Your receiver", "POST", "/webhooks/shop", 503, None, 0.0),
        ("Sender", "Your receiver", "POST", "/webhooks/shop", None, "timeout: 15 s", 5.0),
        ("Sender", "Your receiver", "POST", "/webhooks/shop", 200, None, 35.0),
        ("Your code", "Jobs API", "GET", "/jobs/job_1", 303, None, 35.1),
    ]
    for client, server, method, path, status, error, offset in rows:
        trace.record(client, server, method, path, status, at=at + offset, error=error)
    events = parse_sequence_diagram(trace.to_mermaid(names={"Sender": "Shop; #1"}))
    arrows = [e for e in events if e[0] != "note"]
    assert len(arrows) == 2 * len(rows)
    assert arrows[0] == ("Shop   1", "->>", "Your receiver", "POST /webhooks/shop")
    assert arrows[1][3].startswith("503")
    assert arrows[3][1:3] == ("--x", "Shop   1") and arrows[3][3] == "timeout"
    assert ("note", "waited 30 s") in events
    assert arrows[-1][3].startswith("303")


def test_an_empty_trace_exports_an_empty_diagram():
    assert parse_sequence_diagram(mermaid([])) == []
