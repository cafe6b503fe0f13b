"""Deliveries on a broker: durable SAQ jobs, real worker processes, real receivers on 127.0.0.1.

A real redis-server on a free loopback port, two ``webhooks-lab worker`` processes, and real
uvicorn receivers. Every wait is bounded by a deadline and ends on an event (an arrival, a
delivery ending), never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from broker_fixtures import (  # noqa: F401 - fixtures
    SECRET,
    broker_lab,
    fleet,
    need_redis_server,
    redis,
)
from helpers import eventually, serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from webhooks_lab import cli, signing
from webhooks_lab.events import Event
from webhooks_lab.jobs import broker
from webhooks_lab.jobs.broker_sender import DeliveryStore, Terms, dump, load
from webhooks_lab.lab import Lab
from webhooks_lab.lessons.production import WorkerProcess
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.runtime.server import Server
from webhooks_lab.sender.records import Attempt, OutgoingDelivery

# -- the record, without a broker ----------------------------------------------------------------


def test_a_delivery_and_its_terms_come_back_from_their_record_unchanged():
    delivery = OutgoingDelivery(
        "dlv_1",
        "msg_1",
        "order.paid",
        "http://127.0.0.1:9/x",
        b'{"a": "\\u00e9"}\xff',
        scheme="standard",
        secret="whsec_a whsec_b",
        state="retrying",
        created_at=1.5,
    )
    delivery.attempts.append(Attempt("dlv_1", "msg_1", delivery.url, 1, 2.0, 503, state="retrying"))
    terms = Terms((0, 5, 300), jitter=0, max_retry_after=60, timeout=3)
    again, same_terms = load(dump(delivery, terms))
    assert (again.id, again.body, again.secret, again.state) == (
        "dlv_1",
        delivery.body,
        "whsec_a whsec_b",
        "retrying",
    )
    assert [a.to_dict() for a in again.attempts] == [a.to_dict() for a in delivery.attempts]
    assert same_terms == terms
    policy = same_terms.policy()
    assert (policy.delay_after(1), policy.delay_after(3)) == (5.0, None)


# -- a receiver that can hold its answer back ----------------------------------------------------


class Receiver:
    """A real uvicorn server on 127.0.0.1: ``POST /hook`` records every arrival and answers
    ``status``; with ``hold_first``, the first request waits for ``release()`` before it does."""

    def __init__(self, *, status: int = 200, hold_first: bool = False) -> None:
        self.status, self.hold_first = status, hold_first
        self.arrivals: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        self.loop = LabLoop("test-receiver")
        self._release = self.loop.run(self._event())
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        self.server = Server(app)
        self.loop.run(self.server.start())
        self.url = f"{self.server.url}/hook"

    async def _event(self) -> asyncio.Event:
        return asyncio.Event()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.arrived:
            self.arrivals.append((dict(request.headers), body))
            first = len(self.arrivals) == 1
            self.arrived.notify_all()
        if first and self.hold_first:
            await self._release.wait()
        return Response(status_code=self.status)

    def wait_for(self, count: int, timeout: float = 60) -> list[tuple[dict[str, str], bytes]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.arrivals) >= count, timeout), (
                f"{len(self.arrivals)} of {count} deliveries arrived within {timeout} s"
            )
            return list(self.arrivals)

    def release(self) -> None:
        self.loop.call_soon(self._release.set)

    def stop(self) -> None:
        self.release()
        try:
            self.loop.run(self.server.stop(), timeout=10)
        finally:
            self.loop.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(hold_first=True)
    try:
        yield made
    finally:
        made.stop()


# -- at least once across a crash ----------------------------------------------------------------


def test_a_worker_sigkilled_mid_delivery_leaves_it_to_another_with_the_same_webhook_id(
    broker_lab,
    fleet,
    receiver,
):
    lab = broker_lab
    lab.sender.add_endpoint(receiver.url, secret=SECRET)
    (delivery,) = lab.sender.send(Event("order.paid", {"order": 42}))
    receiver.wait_for(1)  # the first attempt is at the receiver, its answer held back
    saq_job = lab.loop.run(lab.sender.queue.job(f"{delivery.id}.1"))
    holder = saq_job.worker_id
    assert holder in fleet.workers
    fleet.kill(holder)  # SIGKILL mid-POST: no answer read, nothing written down after it

    (ended,) = lab.sender.wait_deliveries([delivery], timeout=60)
    assert ended.state == "delivered"
    assert [a.state for a in ended.attempts] == ["interrupted", "delivered"]
    arrivals = receiver.wait_for(2)
    assert len(arrivals) == 2  # at least once: the receiver dedupes on webhook-id
    ids = {headers["webhook-id"] for headers, _ in arrivals}
    assert ids == {delivery.event_id}
    stamps = []
    for headers, body in arrivals:
        signing.verify(SECRET, headers, body)  # signed, with a timestamp of real time
        stamps.append(int(headers["webhook-timestamp"]))
    assert stamps[1] >= stamps[0]
    retried_by = lab.loop.run(lab.sender.queue.job(f"{delivery.id}.1")).worker_id
    assert retried_by != holder and retried_by in fleet.workers
    said = f"{retried_by}: {delivery.id}.1 webhooks-lab.deliver delivered"
    assert eventually(lambda: said in fleet.workers[retried_by].lines, 30), list(
        fleet.workers[retried_by].lines
    )


def test_a_stalled_workers_late_answer_never_erases_the_attempt_that_took_over(redis):
    """The sweep gave a stalled worker's attempt to another worker; the late answer is dropped."""
    store = DeliveryStore(broker.make_queue(redis.url))
    terms = Terms((0, 5), jitter=0, max_retry_after=60, timeout=3)

    def copy(*states: str) -> OutgoingDelivery:
        made = OutgoingDelivery("dlv_1", "msg_1", "order.paid", "http://127.0.0.1:9/x", b"{}")
        for number, state in enumerate(states, 1):
            made.attempts.append(Attempt("dlv_1", "msg_1", made.url, number, 1.0, state=state))
        made.state = states[-1]
        return made

    async def main() -> tuple[bool, list[str], bool, list[str]]:
        await store.save(copy("trying"), terms)  # worker A: on record before its POST
        await store.save(copy("interrupted", "trying"), terms)  # the sweep: worker B took over
        late = await store.save_answer(copy("delivered"), terms)  # A's answer, after all
        kept = [a.state for a in (await store.get("dlv_1"))[0].attempts]
        own = await store.save_answer(copy("interrupted", "delivered"), terms)  # B's answer
        ended = [a.state for a in (await store.get("dlv_1"))[0].attempts]
        await store.redis.aclose()
        return late, kept, own, ended

    late, kept, own, ended = asyncio.run(main())
    assert (late, kept) == (False, ["interrupted", "trying"])  # both POSTs stay on the record
    assert (own, ended) == (True, ["interrupted", "delivered"])


# -- dead letters, replayed by a call and from the command line ----------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def answered(delivery: OutgoingDelivery) -> list[int | None]:
    """The statuses of a delivery's attempts that got an answer (not interrupted)."""
    return [a.status for a in delivery.attempts if a.state != "interrupted"]


def test_a_delivery_whose_schedule_runs_out_is_a_dead_letter_and_a_replay_delivers_it(
    broker_lab,
    fleet,
):
    down = Receiver(status=503)
    try:
        lab = broker_lab
        lab.sender.policy = RetryPolicy((0, 0.2, 0.2), jitter=0)
        lab.sender.add_endpoint(down.url, secret=SECRET)
        first, second = (lab.sender.send("order.paid", {"order": n})[0] for n in (1, 2))
        dead = lab.sender.wait_deliveries([first, second], timeout=60)
        assert [d.state for d in dead] == ["dead", "dead"]
        assert [len(d.attempts) for d in dead] == [3, 3]
        # Every answer was a 503. On a starved machine a worker can stall past its heartbeat and
        # the sweep give its attempt to another: then it is on record as interrupted, not lost.
        assert all(answered(d) == [503] * len(answered(d)) for d in dead), dead
        assert {d.id for d in lab.sender.dead_letters()} == {first.id, second.id}

        listed = run_cli("deliveries", "--broker", fleet.broker, "dead")
        assert listed.returncode == 0, listed.stderr
        assert first.id in listed.stdout and "dead letter after 3 attempts" in listed.stdout

        down.status = 200  # the receiver is back
        lab.sender.replay(first)  # by a call
        replayed = run_cli("deliveries", "--broker", fleet.broker, "replay", second.id)
        assert replayed.returncode == 0, replayed.stderr  # and from the command line
        ended = lab.sender.wait_deliveries([first, second], timeout=60)
        assert [d.state for d in ended] == ["delivered", "delivered"]
        assert [d.replays for d in ended] == [1, 1]
        assert all(len(d.attempts) >= 4 for d in ended), ended  # three, then the replay
        assert all(
            answered(d)[-1] == 200 and answered(d)[:-1] == [503] * (len(answered(d)) - 1)
            for d in ended
        ), ended
        assert lab.sender.dead_letters() == []
        arrivals = down.wait_for(sum(len(answered(d)) for d in ended))
        by_id: dict[str, int] = {}
        for headers, body in arrivals:
            signing.verify(SECRET, headers, body)
            by_id[headers["webhook-id"]] = by_id.get(headers["webhook-id"], 0) + 1
        assert set(by_id) == {first.event_id, second.event_id}  # one webhook-id each, always
        for delivery in ended:  # every POST is an attempt on the record: none lost, none made up
            assert len(answered(delivery)) <= by_id[delivery.event_id] <= len(delivery.attempts)

        shown = run_cli("deliveries", "--broker", fleet.broker, "show", first.id)
        assert shown.returncode == 0 and "delivered" in shown.stdout
        unknown = run_cli("deliveries", "--broker", fleet.broker, "replay", "dlv_nothere")
        assert unknown.returncode == 1 and "no delivery" in unknown.stderr
    finally:
        down.stop()


def test_a_refused_url_is_a_dead_letter_at_once_and_nothing_is_sent(broker_lab):
    refused = broker_lab.loop.run(
        broker_lab.sender.deliver_to("http://10.0.0.5/hook", Event("x.y", {}), secret=SECRET)
    )
    assert refused.state == "dead" and "private" in refused.attempts[0].error
    assert refused.id in {d.id for d in broker_lab.sender.dead_letters()}


# -- a job given up by the sweep still says it ended ---------------------------------------------


def test_a_job_abandoned_by_its_dead_worker_still_sends_its_completion_webhook(
    broker_lab,
    fleet,
    monkeypatch,
):
    monkeypatch.setattr(broker, "ATTEMPTS", 1)  # one worker death and it is given up
    hooks = Receiver()
    try:
        job = broker_lab.jobs.start("sleep", {"seconds": 30}, callback_url=hooks.url)
        assert eventually(lambda: job.worker is not None and job.status == "running", 30)
        fleet.kill(job.worker)
        with pytest.raises(Exception, match="abandoned"):
            job.wait(60)
        assert job.status == "failed"
        ((headers, body),) = hooks.wait_for(1)
        signing.verify(SECRET, headers, body)
        sent = Event.from_body(body)
        assert sent.type == "job.failed"
        assert sent.data["id"] == job.id and "abandoned" in sent.data["error"]
    finally:
        hooks.stop()


# -- GET /jobs: every job on the broker, in bounded pages ----------------------------------------


def test_get_jobs_lists_every_job_on_the_broker_not_only_this_runners(broker_lab, fleet):
    jobs = [broker_lab.jobs.start("sleep", {"seconds": 0.05}) for _ in range(5)]
    broker_lab.jobs.wait_all(jobs, timeout=60)
    with serving("--broker", fleet.broker) as served:  # a process that started none of them
        listing = served.client.get("/jobs").json()
        assert [j["id"] for j in listing["jobs"]] == [job.id for job in jobs]  # oldest first
        assert listing["counts"]["succeeded"] == 5
        newest = served.client.get("/jobs", params={"limit": 2}).json()["jobs"]
        older = served.client.get("/jobs", params={"limit": 2, "offset": 2}).json()["jobs"]
        assert [j["id"] for j in older + newest] == [job.id for job in jobs[1:]]
        none = served.client.get("/jobs", params={"status": "failed"}).json()
        assert none["jobs"] == []
        for bad in ({"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "x"}):
            answer = served.client.get("/jobs", params=bad)
            assert answer.status_code == 400, bad
            assert answer.headers["content-type"] == "application/problem+json"


# -- worker --kinds MODULE -----------------------------------------------------------------------

KINDS_MODULE = """
def shout(text: str = "hello") -> str:
    return text.upper() + "!"


def register_kinds(runner):
    runner.register("text.shout", shout)
"""


def test_a_learners_own_kinds_run_in_a_worker_started_with_kinds_module(
    redis,
    tmp_path,
    monkeypatch,
):
    (tmp_path / "learner_kinds_ok.py").write_text(KINDS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    import learner_kinds_ok  # type: ignore[import-not-found]

    importlib.reload(learner_kinds_ok)
    monkeypatch.chdir(tmp_path)  # the worker finds the module in the folder it runs in
    worker = WorkerProcess(redis.url, "mine", kinds=["learner_kinds_ok"])
    try:
        assert any("text.shout" in line for line in worker.lines)
        lab = Lab(broker=redis.url)
        try:
            learner_kinds_ok.register_kinds(lab.jobs)  # the same function, on the lab's side
            job = lab.jobs.start("text.shout", {"text": "done"})
            assert job.wait(30) == "DONE!"
            assert job.worker == "mine"
        finally:
            lab.stop()
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("source", "said"),
    [
        (None, "does not import"),
        ("x = 1\n", "no register_kinds"),
        ("def register_kinds(runner):\n    pass\n", "registered no kinds"),
        ("def register_kinds(runner):\n    raise RuntimeError('oops')\n", "raised RuntimeError"),
    ],
)
def test_a_kinds_module_that_does_not_import_or_registers_nothing_is_refused_saying_why(
    source, said, tmp_path, monkeypatch, capsys
):
    name = f"learner_kinds_bad_{abs(hash((source, said)))}"
    if source is not None:
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the worker adds the folder; undo it after
    code = cli.main(["worker", "--broker", "redis://127.0.0.1:1", "--kinds", name])
    assert code == 2
    error = capsys.readouterr().err
    assert f"--kinds {name}" in error and said in error
