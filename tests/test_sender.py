"""The sender against the lab's real receiver on 127.0.0.1: what it sends, when, and why.

Most tests drive the retry schedule with a :class:`FakeClock`, so "five minutes later" is one
call to ``clock.advance(300)`` and nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from helpers import eventually, lab_sender
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.clock import FakeClock
from webhooks_lab.runtime.server import Server
from webhooks_lab.sender.outbox import Outbox
from webhooks_lab.sender.sender import Sender


@pytest.fixture
def clock():
    return FakeClock(start=time.time())


@pytest.fixture
def sender(lab, clock):
    """A sender on the lab loop whose schedule moves only when the test advances the clock."""
    with lab_sender(
        lab, clock=clock, policy=RetryPolicy(jitter=0), timeout=2, concurrency=8
    ) as made:
        yield made


@pytest.fixture
def attempts(sender):
    seen = []
    sender.subscribe(seen.append)
    return seen


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- fan-out and signing ---------------------------------------------------------------------


def test_an_event_goes_to_every_enabled_endpoint_that_wants_its_type(lab, sender):
    url = lab.receiver.url_for
    sender.add_endpoint(url("users"), types=["user.*"])
    sender.add_endpoint(url("everything"))
    sender.add_endpoint(url("orders"), types="order.paid")
    sender.add_endpoint(url("off"), enabled=False)

    deliveries = sender.send("user.created", {"email": "ada@example.com"})
    sender.wait_idle(10)

    assert sorted(d.url.rsplit("/", 1)[1] for d in deliveries) == ["everything", "users"]
    assert all(d.state == "delivered" for d in deliveries)
    arrived = {d.endpoint: d.webhook_id for d in lab.receiver.inbox}
    assert arrived == {"users": deliveries[0].event_id, "everything": deliveries[0].event_id}


def test_deliveries_listed_before_the_loop_takes_them_are_the_live_ones(lab, sender):
    sender.add_endpoint(lab.receiver.url_for("shop"))
    busy, free = threading.Event(), threading.Event()

    def hold_the_loop() -> None:  # the loop cannot take new deliveries until it is free again
        busy.set()
        free.wait(10)

    lab.loop.call_soon(hold_the_loop)
    assert busy.wait(10)
    try:
        (sent,) = sender.send("order.paid", {"n": 1})
        (listed,) = sender.deliveries()
    finally:
        free.set()
    assert listed is sent  # not a copy of its outbox row, which would never change
    assert sender.wait_deliveries([listed], timeout=10)[0].state == "delivered"


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe", "slack", "shopify"])
def test_deliveries_are_signed_so_the_receiver_verifies_them(lab, sender, scheme):
    secret = signing.generate_secret()
    lab.receiver.endpoint("signed").require(secret, scheme)
    sender.add_endpoint(lab.receiver.url_for("signed"), secret=secret, scheme=scheme)
    (delivery,) = sender.send("invoice.paid", {"amount": 42})
    sender.wait_idle(10)
    assert delivery.state == "delivered"
    assert lab.receiver.inbox.last.verified is True


def test_an_ed25519_sender_is_verified_by_a_receiver_holding_only_the_public_key(lab, sender):
    secret_key, public_key = signing.generate_keypair()
    lab.receiver.endpoint("asymmetric").require(public_key)
    sender.add_endpoint(lab.receiver.url_for("asymmetric"), secret=secret_key)
    (delivery,) = sender.send("invoice.paid", {"amount": 42})
    sender.wait_idle(10)
    assert delivery.state == "delivered"
    assert lab.receiver.inbox.last.headers["webhook-signature"].startswith("v1a,")
    assert lab.receiver.inbox.last.verified is True


def test_a_sender_rotating_from_hmac_to_ed25519_signs_both_ways_at_once(lab, sender):
    hmac_secret = signing.generate_secret()
    secret_key, public_key = signing.generate_keypair()
    lab.receiver.endpoint("old-receiver").require(hmac_secret)
    lab.receiver.endpoint("new-receiver").require(public_key)
    for name in ("old-receiver", "new-receiver"):
        sender.add_endpoint(lab.receiver.url_for(name), secret=[hmac_secret, secret_key])
    deliveries = sender.send("invoice.paid", {"amount": 42})
    sender.wait_idle(10)
    assert [d.state for d in deliveries] == ["delivered", "delivered"]
    for name in ("old-receiver", "new-receiver"):
        (arrived,) = lab.receiver.inbox.for_endpoint(name)
        assert arrived.verified is True
        versions = [e.partition(",")[0] for e in arrived.headers["webhook-signature"].split()]
        assert versions == ["v1", "v1a"]


def test_only_standard_webhooks_signs_with_several_secrets(sender):
    with pytest.raises(ValueError, match="only 'standard'"):
        sender.add_endpoint("http://127.0.0.1:9/webhooks/x", secret=["a", "b"], scheme="github")
    with pytest.raises(ValueError, match="no spaces"):
        sender.add_endpoint("http://127.0.0.1:9/webhooks/x", secret="a b", scheme="github")


def test_a_sender_refuses_a_public_key_as_its_signing_key(sender):
    _, public_key = signing.generate_keypair()
    with pytest.raises(signing.InvalidKey, match="cannot sign"):
        sender.add_endpoint("http://127.0.0.1:9/webhooks/x", secret=public_key)


def test_a_wrong_secret_is_rejected_and_retried_not_delivered(lab, sender, clock, attempts):
    lab.receiver.endpoint("strict").require(signing.generate_secret())
    sender.add_endpoint(lab.receiver.url_for("strict"), secret=signing.generate_secret())
    (delivery,) = sender.send("invoice.paid", {})
    assert eventually(lambda: len(attempts) == 1)
    assert attempts[0].status == 401
    assert attempts[0].state == "retrying"
    assert "no signature matched" in attempts[0].response


def test_sending_with_no_matching_endpoint_sends_nothing(sender):
    sender.add_endpoint("http://127.0.0.1:9/x", types=["order.*"])
    assert sender.send("user.created", {}) == []


# -- retries, backoff and dead letters ---------------------------------------------------------


def test_failures_are_retried_on_the_schedule_with_the_same_webhook_id(
    lab, sender, clock, attempts
):
    lab.receiver.chaos("flaky").fail_next(2)
    sender.add_endpoint(lab.receiver.url_for("flaky"))
    (delivery,) = sender.send("order.paid", {"order": 7})
    t0 = clock.time()

    assert eventually(lambda: len(attempts) == 1)
    assert (attempts[0].status, attempts[0].state) == (500, "retrying")
    assert attempts[0].next_attempt_at == pytest.approx(t0 + 5)
    assert eventually(
        lambda: attempts[0].next_attempt_at in clock.deadlines()
    )  # the retry is waiting
    clock.advance(4.9)
    time.sleep(0.05)
    assert len(attempts) == 1  # not before its time
    clock.advance(0.1)
    assert eventually(lambda: len(attempts) == 2)
    assert attempts[1].next_attempt_at == pytest.approx(t0 + 5 + 300)
    assert eventually(lambda: attempts[1].next_attempt_at in clock.deadlines())
    clock.advance(300)
    assert eventually(lambda: len(attempts) == 3)

    assert [a.status for a in attempts] == [500, 500, 200]
    assert [a.state for a in attempts] == ["retrying", "retrying", "delivered"]
    assert delivery.state == "delivered"
    ids = [d.webhook_id for d in lab.receiver.inbox.for_endpoint("flaky")]
    assert ids == [delivery.event_id] * 3


@pytest.fixture
def short(lab, clock):
    with lab_sender(
        lab, clock=clock, policy=RetryPolicy((0, 10, 20), jitter=0), timeout=0.5
    ) as made:
        yield made


def run_out(short, clock, attempts, count: int) -> None:
    """Let every scheduled retry happen until ``count`` attempts were made."""
    deadline = time.monotonic() + 10
    while len(attempts) < count:
        assert time.monotonic() < deadline, f"only {len(attempts)} of {count} attempts"
        clock.advance(10)
        time.sleep(0.01)


def test_a_delivery_that_never_succeeds_becomes_a_dead_letter_with_its_whole_story(
    lab, short, clock
):
    seen = []
    short.subscribe(seen.append)
    lab.receiver.chaos("down").fail_next(10, status=500)
    short.add_endpoint(lab.receiver.url_for("down"))
    (delivery,) = short.send("order.paid", {})
    run_out(short, clock, seen, 3)
    assert eventually(lambda: delivery.state == "dead")

    (dead,) = short.dead_letters()
    assert dead is delivery
    assert [a.number for a in dead.attempts] == [1, 2, 3]
    assert [a.status for a in dead.attempts] == [500, 500, 500]
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in dead.attempts)
    assert [a.state for a in dead.attempts] == ["retrying", "retrying", "dead"]
    assert "chaos" in dead.attempts[0].response
    assert [a.number for a in short.attempts(dead)] == [1, 2, 3]  # the outbox log agrees


def test_a_dead_letter_can_be_replayed_with_the_same_webhook_id(lab, short, clock):
    seen = []
    short.subscribe(seen.append)
    lab.receiver.chaos("later").fail_next(3)
    short.add_endpoint(lab.receiver.url_for("later"))
    (delivery,) = short.send("order.paid", {})
    run_out(short, clock, seen, 3)
    assert eventually(lambda: delivery.state == "dead")

    replayed = short.replay(delivery)
    assert replayed is delivery
    assert eventually(lambda: delivery.state == "delivered")
    assert [a.number for a in delivery.attempts] == [1, 2, 3, 4]
    assert delivery.replays == 1
    assert {d.webhook_id for d in lab.receiver.inbox.for_endpoint("later")} == {delivery.event_id}


def test_replaying_an_endpoints_failures_since_a_time_leaves_older_ones_alone(lab, short, clock):
    seen = []
    short.subscribe(seen.append)
    endpoint = short.add_endpoint(lab.receiver.url_for("outage"))
    lab.receiver.chaos("outage").fail_next(100)
    (old,) = short.send("order.paid", {"n": 1})
    run_out(short, clock, seen, 3)
    assert eventually(lambda: old.state == "dead")
    since = clock.time()
    clock.advance(3600)
    (new,) = short.send("order.paid", {"n": 2})
    run_out(short, clock, seen, 6)
    assert eventually(lambda: new.state == "dead")
    lab.receiver.chaos("outage").reset()

    replayed = short.replay(endpoint=endpoint, since=since)
    assert replayed == [new]
    assert eventually(lambda: new.state == "delivered")
    assert old.state == "dead"


def test_a_timeout_counts_as_a_failure_and_is_retried(lab, short, clock):
    seen = []
    short.subscribe(seen.append)
    lab.receiver.chaos("slow").slow(5.0)  # lab seconds on the lab's real clock: 5 s > 0.5 s
    short.add_endpoint(lab.receiver.url_for("slow"))
    (delivery,) = short.send("report.ready", {})
    assert eventually(lambda: len(seen) == 1)
    assert seen[0].status is None
    assert seen[0].error == "timeout: no answer within 0.5 s"
    assert seen[0].latency_ms >= 500
    assert seen[0].state == "retrying"
    lab.receiver.chaos("slow").reset()


def test_a_receiver_that_is_not_listening_is_retried_with_a_clear_error(short, clock):
    seen = []
    short.subscribe(seen.append)
    short.add_endpoint(f"http://127.0.0.1:{closed_port()}/webhooks/nobody")
    short.send("order.paid", {})
    assert eventually(lambda: len(seen) == 1)
    assert seen[0].status is None
    assert seen[0].error.startswith("cannot connect to 127.0.0.1:")
    assert seen[0].state == "retrying"


def test_retry_after_on_429_is_honoured_instead_of_the_schedule(lab, sender, clock, attempts):
    lab.receiver.chaos("busy").fail_next(1, status=429, retry_after=120)
    sender.add_endpoint(lab.receiver.url_for("busy"))
    sender.send("order.paid", {})
    assert eventually(lambda: len(attempts) == 1)
    first = attempts[0]
    assert first.status == 429
    assert first.next_attempt_at - first.started_at == pytest.approx(120)
    assert eventually(lambda: first.next_attempt_at in clock.deadlines())  # the retry is waiting
    clock.advance(119)
    time.sleep(0.05)
    assert len(attempts) == 1
    clock.advance(1)
    assert eventually(lambda: len(attempts) == 2)
    assert attempts[1].status == 200


def test_retry_after_on_a_plain_500_is_ignored(lab, sender, clock, attempts):
    lab.receiver.chaos("err").fail_next(1, status=500, retry_after=120)
    sender.add_endpoint(lab.receiver.url_for("err"))
    sender.send("order.paid", {})
    assert eventually(lambda: len(attempts) == 1)
    assert attempts[0].next_attempt_at - attempts[0].started_at == pytest.approx(5)


def test_410_gone_disables_the_endpoint_and_its_waiting_deliveries(lab, sender, attempts):
    lab.receiver.chaos("gone").fail_next(1, status=410)
    endpoint = sender.add_endpoint(lab.receiver.url_for("gone"))
    (first,) = sender.send("order.paid", {"n": 1})
    assert eventually(lambda: first.done)

    assert first.state == "disabled"
    assert attempts[0].state == "disabled"
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert sender.send("order.paid", {"n": 2}) == []  # a disabled endpoint gets nothing

    with pytest.raises(ValueError, match="enable it first"):
        sender.replay(first)
    sender.enable(endpoint)
    sender.replay(first)
    assert eventually(lambda: first.state == "delivered")


def test_an_http_date_retry_after_is_read_against_the_wall_clock_not_lab_time(lab, attempts):
    from email.utils import formatdate

    async def busy(request):
        # A date on the wire is real time: "come back a minute from now", by the wall clock.
        return Response(status_code=503, headers={"retry-after": formatdate(time.time() + 60)})

    ahead = FakeClock(start=time.time() + 3600)  # a lab clock that has run an hour ahead
    sender = Sender(
        outbox=":memory:", clock=ahead, policy=RetryPolicy(jitter=0), allow_loopback=True
    )
    elsewhere = Server(Starlette(routes=[Route("/hook", busy, methods=["POST"])]))
    lab.loop.run(elsewhere.start())
    lab.loop.run(sender.start())
    sender.subscribe(attempts.append)
    try:
        sender.add_endpoint(f"{elsewhere.url}/hook")
        sender.send("order.paid", {})
        assert eventually(lambda: len(attempts) >= 1)
        time.sleep(0.1)  # room for a wrongly immediate retry to show itself
    finally:
        lab.loop.run(sender.close())
        lab.loop.run(elsewhere.stop())
    assert [a.status for a in attempts] == [503]  # not hammered again at once
    assert attempts[0].backoff == pytest.approx(60, abs=2)


def test_a_redirect_is_a_failure_and_is_not_followed(lab, sender, attempts):
    async def moved(request):
        return Response(status_code=307, headers={"location": lab.receiver.url_for("target")})

    elsewhere = Server(Starlette(routes=[Route("/hook", moved, methods=["POST"])]))
    lab.loop.run(elsewhere.start())
    try:
        sender.add_endpoint(f"{elsewhere.url}/hook")
        sender.send("order.paid", {})
        assert eventually(lambda: len(attempts) == 1)
    finally:
        lab.loop.run(elsewhere.stop())
    assert attempts[0].status == 307
    assert attempts[0].state == "retrying"
    assert "not followed" in attempts[0].error
    assert lab.receiver.inbox.for_endpoint("target") == []


# -- watching, waiting, one-off deliveries ------------------------------------------------------


def test_listeners_get_every_attempt_on_the_lab_loop_until_they_unsubscribe(lab, sender):
    calls = []
    unsubscribe = sender.subscribe(lambda a: calls.append((a, threading.current_thread().name)))
    sender.add_endpoint(lab.receiver.url_for("watched"))
    (delivery,) = sender.send("user.created", {})
    sender.wait_idle(10)
    ((attempt, thread),) = calls
    assert thread == "webhooks-lab-loop"
    assert (attempt.delivery_id, attempt.event_id, attempt.number) == (
        delivery.id,
        delivery.event_id,
        1,
    )
    assert (attempt.url, attempt.status, attempt.state) == (delivery.url, 200, "delivered")
    assert attempt.latency_ms > 0 and attempt.next_attempt_at is None and attempt.error is None

    unsubscribe()
    sender.send("user.created", {})
    sender.wait_idle(10)
    assert len(calls) == 1


def test_a_broken_listener_does_not_stop_deliveries(lab, sender):
    sender.subscribe(lambda attempt: 1 / 0)
    sender.add_endpoint(lab.receiver.url_for("fine"))
    (delivery,) = sender.send("user.created", {})
    sender.wait_idle(10)
    assert delivery.state == "delivered"
    assert not sender.listeners  # dropped after it raised, its error kept
    assert "ZeroDivisionError" in sender.listeners.errors[0]


def test_the_outbox_is_written_behind_soon_after_each_change_and_not_while_idle(lab, sender):
    sender.add_endpoint(lab.receiver.url_for("written"))
    for round_ in range(2):  # the flusher wakes again after having gone back to sleep
        (delivery,) = sender.send("order.paid", {"round": round_})
        sender.wait_deliveries([delivery], timeout=10)
        assert eventually(lambda: sender.outbox.unflushed == 0, timeout=5)
        (row,) = sender.outbox.deliveries(ids=[delivery.id])
        assert row.state == "delivered"
    flusher = next(t for t in sender._tasks if t.get_name() == "webhooks-lab-outbox-flush")
    # Idle, it sleeps on "something changed" (an event), not on a timer that wakes it to look
    # (once its last write, which may still be returning from its thread, is done).
    # While it sleeps out an interval or waits for its thread, it awaits a future, which has no
    # __qualname__.

    def awaiting() -> str | None:
        return getattr(flusher.get_coro().cr_await, "__qualname__", None)

    assert eventually(lambda: awaiting() == "Event.wait", timeout=5), awaiting()


def test_an_attempt_still_waiting_for_its_answer_is_on_record_as_trying(lab, tmp_path):
    # A fast answer's attempt is written once, answered; a slow one must not wait for its answer
    # to be on record, or a crash meanwhile would leave no trace that it may have arrived.
    lab.receiver.chaos("hung").slow(5)
    path = tmp_path / "outbox.sqlite3"
    with lab_sender(lab, outbox=path, timeout=30) as sender:
        sender.add_endpoint(lab.receiver.url_for("hung"))
        (delivery,) = sender.send("order.paid", {})

        def on_disk() -> list[tuple[str, int]]:
            # Another connection, as the next process has; closed, not only committed.
            with contextlib.closing(sqlite3.connect(path)) as db:
                return db.execute("SELECT state, number FROM attempts").fetchall()

        assert eventually(lambda: on_disk() == [("trying", 1)], timeout=5), on_disk()
        assert delivery.state == "pending"  # still waiting for the answer
        # The attempt log read through the sender has an attempt the moment it goes out.
        (second,) = sender.send("order.paid", {})
        assert eventually(lambda: bool(second.attempts), timeout=5)
        assert [a.state for a in sender.attempts(second)] == ["trying"]
    assert on_disk() == [("interrupted", 1)] * 2  # closing cut both off


def test_wait_attempts_returns_once_the_attempt_is_answered_and_not_before(
    lab, sender, clock, attempts
):
    lab.receiver.chaos("flaky").fail_next(1)
    sender.add_endpoint(lab.receiver.url_for("flaky"))
    (delivery,) = sender.send("order.paid", {})
    assert sender.wait_attempts(delivery, 1, timeout=10) is delivery
    assert delivery.state == "retrying" and delivery.attempts[0].status == 500
    with pytest.raises(TimeoutError, match="attempt 2 of .*; 1 answered so far"):
        sender.wait_attempts(delivery, 2, timeout=0.2)  # the clock has not moved
    clock.advance(5)
    sender.wait_attempts(delivery, 2, timeout=10)
    assert delivery.state == "delivered"


def test_wait_deliveries_blocks_until_every_one_has_ended(lab, sender, clock):
    lab.receiver.chaos("slow-start").fail_next(1)
    sender.add_endpoint(lab.receiver.url_for("slow-start"))
    sender.add_endpoint(lab.receiver.url_for("quick"))
    deliveries = sender.send("order.paid", {})
    sender.wait_attempts(deliveries[0], 1, timeout=10)
    with pytest.raises(TimeoutError, match="1 of 2 deliveries are still under way"):
        sender.wait_deliveries(deliveries, timeout=0.2)
    clock.advance(5)
    ended = sender.wait_deliveries(deliveries, timeout=10)
    assert [d.state for d in ended] == ["delivered", "delivered"]


def test_waiting_on_the_lab_loop_itself_is_refused_rather_than_freezing_it(lab, sender):
    async def wait_on_the_loop() -> None:
        sender.wait_deliveries([], timeout=1)

    with pytest.raises(RuntimeError, match="would block the lab loop"):
        lab.loop.run(wait_on_the_loop())


def test_wait_idle_says_what_is_still_under_way_when_it_times_out(lab, sender, attempts):
    lab.receiver.chaos("stuck").fail_next(1)
    sender.add_endpoint(lab.receiver.url_for("stuck"))
    sender.send("user.created", {})
    assert eventually(lambda: len(attempts) == 1)
    with pytest.raises(TimeoutError, match="1 deliveries are still under way; the next attempt"):
        sender.wait_idle(0.1)


def test_deliver_to_sends_one_signed_event_and_returns_when_it_has_ended(lab):
    secret = signing.generate_secret()
    lab.receiver.endpoint("callback").require(secret)
    event = Event("job.completed", {"job": "job_1"})

    async def from_the_lab_loop():
        return await lab.sender.deliver_to(lab.receiver.url_for("callback"), event, secret=secret)

    delivery = lab.loop.run(from_the_lab_loop())
    assert delivery.state == "delivered" and delivery.endpoint_id is None
    assert lab.receiver.inbox.last.verified is True
    assert lab.receiver.inbox.last.webhook_id == event.id

    async def from_another_loop():
        return await lab.sender.deliver_to(lab.receiver.url_for("open"), Event("a.b", {}))

    unsigned = asyncio.run(from_another_loop())  # e.g. an ``await`` in a notebook cell
    assert unsigned.state == "delivered"
    assert "webhook-signature" not in lab.receiver.inbox.last.headers


def test_deliver_to_without_waiting_returns_at_once(lab):
    lab.receiver.chaos("later").slow(1.0)

    async def go():
        return await lab.sender.deliver_to(
            lab.receiver.url_for("later"), Event("a.b", {}), wait=False
        )

    delivery = lab.loop.run(go())
    assert delivery.state == "pending"
    lab.sender.wait_idle(10)
    assert delivery.state == "delivered"


# -- the lab facade and durability ----------------------------------------------------------


def test_the_lab_sends_from_a_plain_cell_and_waits_for_it(lab):
    lab.sender.add_endpoint(lab.receiver.url_for("cell"), secret=signing.generate_secret())
    deliveries = lab.send("user.created", {"email": "ada@example.com"})
    assert lab.sender.wait_idle(10) == {"delivered": 1}
    assert deliveries[0].delivered
    assert lab.receiver.inbox.last.event.data == {"email": "ada@example.com"}
    assert repr(lab.sender) == "<Sender 1 endpoint; deliveries: 1 delivered; 0 under way>"


def test_adding_the_same_url_again_updates_the_endpoint(lab):
    first = lab.sender.add_endpoint(lab.receiver.url_for("again"))
    second = lab.sender.add_endpoint(lab.receiver.url_for("again"), types=["user.*"])
    assert first is second and second.types == ("user.*",)
    assert len(lab.sender.endpoints) == 1


def test_deliveries_sent_before_a_crash_are_delivered_by_the_next_sender(lab, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    before = Sender(outbox=path, allow_loopback=True)  # never started: as if it died at once
    before.add_endpoint(lab.receiver.url_for("resumed"))
    sent = before.send_many(Event("order.paid", {"n": n}) for n in range(5))
    assert all(d.state == "pending" for d in sent)
    del before

    after = Sender(outbox=path, allow_loopback=True)
    lab.loop.run(after.start())
    try:
        after.wait_idle(10)
        assert after.counts() == {"delivered": 5}
    finally:
        lab.loop.run(after.close())
    arrived = sorted(d.webhook_id for d in lab.receiver.inbox.for_endpoint("resumed"))
    assert arrived == sorted(d.event_id for d in sent)


# -- the command line ---------------------------------------------------------------------------


def webhooks_lab_send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "send", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_webhooks_lab_send_delivers_a_signed_event_and_prints_each_attempt(lab):
    secret = signing.generate_secret()
    lab.receiver.endpoint("cli").require(secret)
    lab.receiver.chaos("cli").fail_next(1, status=503)
    done = webhooks_lab_send(
        lab.receiver.url_for("cli"),
        "--secret", secret,
        "--type", "user.created",
        "--data", '{"email": "ada@example.com"}',
        "--id", "msg_cli_1",
        "--schedule", "0,0.05,0.05",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("attempt 1: 503 in ")
    assert lines[1].split(" -> ")[1].startswith("retrying, next attempt in ")
    assert lines[2].startswith("attempt 2: 200 in ") and lines[2].endswith("-> delivered")
    assert lines[3] == "delivered msg_cli_1 after 2 attempts"
    last = lab.receiver.inbox.last
    assert (last.verified, last.webhook_id, last.event.data) == (
        True,
        "msg_cli_1",
        {"email": "ada@example.com"},
    )


def test_webhooks_lab_send_exits_non_zero_when_the_delivery_ends_dead_lettered(lab):
    lab.receiver.chaos("down").fail_next(10, status=500)
    done = webhooks_lab_send(
        lab.receiver.url_for("down"), "--id", "msg_cli_2", "--schedule", "0,0.05,0.05"
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "webhooks-lab send: gave up: msg_cli_2 was not delivered after 3 attempts (last: 500); "
        "it ended as a dead letter"
    )
    assert [line.split(":")[0] for line in done.stdout.splitlines()[1:]] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]
    assert [d.webhook_id for d in lab.receiver.inbox.for_endpoint("down")] == ["msg_cli_2"] * 3


def test_webhooks_lab_send_says_why_when_the_endpoint_is_gone(lab):
    lab.receiver.chaos("gone").fail_next(1, status=410)
    done = webhooks_lab_send(lab.receiver.url_for("gone"))
    assert done.returncode == 1
    assert "answered 410 Gone" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["http://10.0.0.1/hook"], "refused http://10.0.0.1/hook: 10.0.0.1 is a private address"),
        (["http://127.0.0.1:9/x", "--data", "{oops"], "Expecting property name"),
        (["http://127.0.0.1:9/x", "--scheme", "github"], "--scheme github needs --secret"),
        (["http://127.0.0.1:9/x", "--attempts", "0"], "--attempts must be at least 1"),
    ],
)
def test_webhooks_lab_send_refuses_bad_input_before_sending_anything(args, message):
    done = webhooks_lab_send(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_no_more_attempts_are_in_flight_than_the_concurrency_limit(lab):
    in_flight, most = 0, 0

    @lab.receiver.on("narrow")
    async def handle(event):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1

    narrow = Sender(outbox=":memory:", concurrency=3, allow_loopback=True)
    lab.loop.run(narrow.start())
    try:
        narrow.add_endpoint(lab.receiver.url_for("narrow"))
        narrow.send_many(Event("a.b", {"n": n}) for n in range(20))
        assert narrow.wait_idle(10) == {"delivered": 20}
    finally:
        lab.loop.run(narrow.close())
    assert most == 3


def test_every_live_delivery_stays_the_same_object_and_ended_ones_beyond_keep_are_forgotten(lab):
    # The sender keeps this run's deliveries as live objects (their state updates in place),
    # at most ``keep`` of the ended ones: a burst bigger than that is all kept until it ends.
    with lab_sender(lab, keep=50) as sender:
        sender.add_endpoint(lab.receiver.url_for("kept"))
        first = sender.send_many(Event("a.b", {"n": n}) for n in range(300))
        assert all(sender.delivery(d.id) is d for d in first)
        assert sender.wait_idle(20) == {"delivered": 300}
        second = sender.send_many(Event("a.b", {"n": n}) for n in range(100))
        assert sender.wait_idle(20) == {"delivered": 400}
        assert all(sender.delivery(d.id) is d for d in second)
        oldest = sender.delivery(first[0].id)  # forgotten: read back from the outbox
        assert oldest is not first[0]
        assert (oldest.id, oldest.state, len(oldest.attempts)) == (first[0].id, "delivered", 1)


class _Gate:
    """A one-thread pool whose thread is held until ``open()``, counting what is submitted."""

    def __init__(self) -> None:
        self.submitted = threading.Semaphore(0)
        self.held = threading.Event()
        gate = self

        class Pool(concurrent.futures.ThreadPoolExecutor):
            def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
                future = super().submit(fn, *args, **kwargs)
                gate.submitted.release()
                return future

        self.pool = Pool(max_workers=1)

    def open(self) -> None:
        self.held.set()


def test_closing_while_a_taken_batch_waits_for_a_thread_writes_it_and_does_not_hang(tmp_path):
    # The flusher takes a batch on the loop and writes it on a worker thread. When the sender
    # closes before the thread pool has even started that write, the write must still happen
    # (the batch holds the outbox's write lock), or close() waits for the lock forever.
    gate = _Gate()

    async def go() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(gate.pool)
        sender = Sender(outbox=tmp_path / "outbox.sqlite3", allow_loopback=True)
        await sender.start()
        busy = loop.run_in_executor(None, gate.held.wait)  # the pool's only thread is taken
        try:
            await close_with_the_write_held_back(sender, busy)
        finally:
            gate.open()  # whatever happened, let the pool's thread go

    async def close_with_the_write_held_back(sender: Sender, busy: asyncio.Future[bool]) -> None:
        loop = asyncio.get_running_loop()
        assert gate.submitted.acquire(timeout=10)
        with socket.socket() as probe:  # a loopback port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await sender.deliver_to(
            f"http://127.0.0.1:{port}/hook", Event("order.paid", {}), wait=False
        )
        deadline = loop.time() + 10
        while not sender.outbox._writing.locked():  # the flusher took a batch; its write waits
            assert loop.time() < deadline, "the flusher never took a batch"
            await asyncio.sleep(0.01)
        closing = asyncio.ensure_future(sender.close())
        await asyncio.sleep(0.05)  # close() has cancelled the flusher by now
        gate.open()
        await busy
        try:
            await asyncio.wait_for(asyncio.shield(closing), 10)
        except asyncio.TimeoutError:
            sender.outbox._writing.release()  # unstick it, so the test fails rather than hangs
            await closing
            raise AssertionError("close() waited for a batch that was never written") from None

    asyncio.run(go())
    assert len(Outbox(tmp_path / "outbox.sqlite3").deliveries()) == 1


_FLUSH_MEANWHILE = r"""
import asyncio, socket, sys
from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender.outbox import Outbox
from webhooks_lab.sender.sender import Sender


class FlushedMeanwhile(Outbox):
    # Once, just after the flusher takes a batch, a flush is asked for on the loop before
    # anything else runs there (as idle() or counts() may ask on a busy, single-core machine).
    asked = flushing = False

    def flush(self):
        self.flushing = True
        try:
            return super().flush()
        finally:
            self.flushing = False

    def take(self):
        batch = super().take()
        if batch is not None and not self.flushing and not self.asked:
            self.asked = True
            asyncio.get_running_loop().call_soon(self.flush)
        return batch


async def main() -> None:
    outbox = FlushedMeanwhile(sys.argv[1])
    sender = Sender(
        outbox=outbox, allow_loopback=True, policy=RetryPolicy.quick(1), timeout=0.5
    )
    await sender.start()
    with socket.socket() as silent:  # takes the connection, never answers: one attempt, dead
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        await sender.deliver_to(url, Event("order.paid", {}), wait=False)
        await sender.idle()
    await sender.close()
    print("idle and closed", outbox.asked)


asyncio.run(main())
"""


def test_a_flush_on_the_loop_just_after_the_flusher_took_a_batch_does_not_hang(tmp_path):
    # The batch the flusher took holds the outbox's write lock until a worker thread writes it.
    # The write must be on its way to that thread before the loop runs anything else: a flush
    # on the loop waits for the lock, and would wait for ever for a write only the loop could
    # still hand over. Run apart, so that a hang is a failure, not a stuck test run.
    command = [sys.executable, "-c", _FLUSH_MEANWHILE, str(tmp_path / "outbox.sqlite3")]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("idle() waited for ever for a batch that was never written") from None
    assert result.stdout.strip() == "idle and closed True", result.stderr
