"""Jobs on a broker: a real redis-server on a free loopback port, real worker processes.

Every wait here is bounded by a deadline and ends on an event (a job ending, a line printed), never
on a fixed sleep. Worst case for the whole file is a few tens of seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
from broker_fixtures import SECRET, broker_lab, fleet, redis  # noqa: F401 - fixtures
from helpers import serving
from saq.job import Status

import webhooks_lab
from webhooks_lab import signing
from webhooks_lab.jobs.broker import BrokerRefused, BrokerRunner, check_broker_url
from webhooks_lab.jobs.kinds import count_primes, register_lesson_kinds
from webhooks_lab.jobs.model import JobCancelled, JobTimeout, Unavailable
from webhooks_lab.lab import Lab
from webhooks_lab.lessons.production import WorkerProcess
from webhooks_lab.runtime.redis_server import RedisServer

# -- without a broker running ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["redis://10.0.0.5:6379", "redis://example.com", "http://127.0.0.1:6379", "6379"]
)
def test_a_broker_that_is_not_redis_on_this_machine_is_refused_saying_why(url):
    with pytest.raises(ValueError, match="this machine|a URL like"):
        check_broker_url(url)


def test_a_remote_broker_is_accepted_only_when_explicitly_allowed():
    assert check_broker_url("redis://10.0.0.5:6379", allow_remote=True)


def test_a_broker_that_is_down_at_start_raises_unavailable_with_a_plain_reason():
    async def go():
        runner = BrokerRunner("redis://127.0.0.1:1")
        with pytest.raises(Unavailable, match="does not answer"):
            await runner.connect()
        await runner.aclose()

    asyncio.run(go())


def test_a_function_from_a_notebook_cell_cannot_be_registered_and_the_message_says_how():
    async def go():
        runner = BrokerRunner("redis://127.0.0.1:1")

        def resize(width: int) -> int:  # nested: no worker could import it
            return width

        with pytest.raises(BrokerRefused, match="put it in a module"):
            runner.register("my.resize", resize)
        with pytest.raises(BrokerRefused, match="register"):
            runner.submit(lambda: 1)

    asyncio.run(go())


def test_starting_a_lab_without_a_broker_loads_no_saq_and_no_redis_client():
    code = (
        "import sys, webhooks_lab\n"
        "lab = webhooks_lab.start()\n"
        "print(type(lab.jobs).__name__, 'saq' in sys.modules, 'redis' in sys.modules)\n"
        "lab.stop()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["JobRunner", "False", "False"]


# -- a lab on a broker, jobs in worker processes ------------------------------------------------


def running(job, timeout: float = 30) -> None:
    """Return once a worker has taken ``job`` and said so (the lab hears it from the broker)."""
    deadline = time.monotonic() + timeout
    while job.worker is None or job.status != "running":
        assert time.monotonic() < deadline, f"the job never started: {job!r}"
        time.sleep(0.05)


def test_jobs_run_across_two_worker_processes_and_each_names_its_worker(broker_lab):
    jobs = [broker_lab.jobs.start("sleep", {"seconds": 0.4}) for _ in range(8)]
    broker_lab.jobs.wait_all(jobs, timeout=60)
    assert [job.result for job in jobs] == [{"slept": 0.4}] * 8
    assert {job.worker for job in jobs} == {"worker-1", "worker-2"}


def test_progress_timeouts_failures_and_waiting_keep_the_face_of_the_in_process_runner(
    broker_lab,
):
    seen: list[tuple[str, float]] = []
    broker_lab.jobs.subscribe(lambda job: seen.append((job.id, job.progress)))
    encoded = broker_lab.jobs.start("video.encode", {"seconds": 2, "speed": 2})
    corrupt = broker_lab.jobs.start("image.resize", {"source": "corrupt.jpg"})
    slow = broker_lab.jobs.start("sleep", {"seconds": 30}, timeout=0.5)
    assert encoded.wait(30)["frames"] == 48
    progress = [percent for job_id, percent in seen if job_id == encoded.id]
    assert any(0 < percent < 100 for percent in progress)  # it arrived on the way
    assert progress[-1] == 100
    with pytest.raises(Exception, match="cannot decode corrupt.jpg"):
        corrupt.wait(30)
    assert corrupt.status == "failed"
    with pytest.raises(JobTimeout, match="0.5 s timeout"):
        slow.wait(30)
    assert slow.status == "failed"


def test_the_runner_remembers_its_newest_jobs_only_and_asks_the_broker_for_older_ones(
    broker_lab,
):
    broker_lab.jobs.keep = 3
    jobs = [broker_lab.jobs.start("sleep", {"seconds": 0.01}) for _ in range(5)]
    broker_lab.jobs.wait_all(jobs, timeout=60)
    assert [job.id for job in broker_lab.jobs.list()] == [job.id for job in jobs[2:]]
    oldest = broker_lab.jobs.get(jobs[0].id)  # forgotten here, still on the broker
    assert oldest is not None and oldest is not jobs[0]
    assert (oldest.id, oldest.status, oldest.result) == (jobs[0].id, "succeeded", {"slept": 0.01})


def test_await_job_works_from_the_lab_loop(broker_lab):
    job = broker_lab.jobs.start("sleep", {"seconds": 0.1})

    async def wait():
        return await job

    assert broker_lab.loop.run(wait(), timeout=30) == {"slept": 0.1}


def test_submit_takes_a_registered_kinds_function_and_sends_it_by_name(broker_lab):
    job = broker_lab.jobs.submit(count_primes, 1000)
    assert job.kind == "primes.count"
    assert job.wait(30) == 168


def test_a_sigkilled_workers_job_is_run_again_by_another_worker(broker_lab, fleet):
    job = broker_lab.jobs.start("sleep", {"seconds": 3})
    running(job)
    first = job.worker
    fleet.kill(first)  # SIGKILL: no goodbye, the job half done
    assert job.wait(60) == {"slept": 3}  # heartbeat lapses (2 s), the sweep runs it again
    assert job.worker != first


def test_a_cancel_through_one_runner_stops_the_job_on_the_worker_another_started_it_on(
    broker_lab,
    fleet,
):
    job = broker_lab.jobs.start("primes.count", {"below": 5_000_000})  # a thread, many seconds
    running(job)

    async def cancel_elsewhere():
        other = await register_lesson_kinds(BrokerRunner(fleet.broker)).connect()
        try:
            seen = await other.lookup(job.id)
            assert seen is not None and seen.status == "running"
            await other.revoke(seen)
            return seen.status
        finally:
            await other.aclose()

    assert asyncio.run(cancel_elsewhere()) in ("running", "cancelled")  # told; ends soon
    with pytest.raises(JobCancelled):
        job.wait(30)
    worker = fleet.workers[job.worker]
    deadline = time.monotonic() + 30
    while not any(f"{job.id} primes.count cancelled" in line for line in worker.lines):
        assert time.monotonic() < deadline, list(worker.lines)
        time.sleep(0.05)


def test_a_cancel_overwritten_by_a_progress_update_is_sent_again_and_the_job_stops(
    broker_lab,
    fleet,
):
    # SAQ's Redis queue writes a running job back whole on each progress update: an abort that
    # lands between its read and its write is lost, and the worker, which polls the status, would
    # run the job to its end. Here the lost abort is made on purpose, right after it lands.
    job = broker_lab.jobs.start("primes.count", {"below": 5_000_000})  # a thread, many seconds
    running(job)

    async def cancel_and_lose_it():
        other = await register_lesson_kinds(BrokerRunner(fleet.broker)).connect()
        queue = other.queue
        try:
            seen = await other.lookup(job.id)
            revoking = asyncio.create_task(other.revoke(seen, wait=30))
            deadline = time.monotonic() + 10
            while (stored := await queue.job(job.id)).status != Status.ABORTING:
                assert time.monotonic() < deadline and not revoking.done()
                await asyncio.sleep(0.001)
            stored.status, stored.error = Status.ACTIVE, None  # what a racing _update leaves
            await queue.redis.set(stored.id, queue.serialize(stored))
            await revoking
        finally:
            await other.aclose()

    asyncio.run(cancel_and_lose_it())
    with pytest.raises(JobCancelled):
        job.wait(30)


def test_a_completion_webhook_is_sent_signed_by_the_worker_to_a_real_receiver(broker_lab):
    receiver = Lab()  # a receiver of its own, in this process
    try:
        url = f"{receiver.url}/webhooks/done"
        job = broker_lab.jobs.start("sleep", {"seconds": 0.1}, callback_url=url)
        job.wait(30)
        (delivery,) = receiver.receiver.inbox.wait_for(1, timeout=30, endpoint="done")
        signing.verify(SECRET, delivery.headers, delivery.body)  # raises if it is not
        body = delivery.json()
        assert body["type"] == "job.succeeded"
        assert body["data"]["id"] == job.id and body["data"]["result"] == {"slept": 0.1}
        assert body["data"]["worker"] == job.worker
    finally:
        receiver.stop()


# -- the HTTP API over two serve processes -----------------------------------------------------


def poll(client: httpx.Client, path: str, until, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(path)
        if until(answer):
            return answer
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def test_two_serve_processes_on_one_broker_see_the_same_jobs(fleet):
    with serving("--broker", fleet.broker) as one, serving("--broker", fleet.broker) as two:
        a, b = one.client, two.client
        posted = a.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0.3}})
        assert posted.status_code == 202
        job_id = posted.json()["id"]
        assert posted.headers["location"] == f"/jobs/{job_id}"
        done = poll(b, f"/jobs/{job_id}", lambda r: r.status_code == 303)
        assert done.headers["location"] == f"/jobs/{job_id}/result"
        result = b.get(f"/jobs/{job_id}/result").json()
        assert result["result"] == {"slept": 0.3}
        assert a.get(f"/jobs/{job_id}").json()["worker"] in fleet.workers

        # A cancel through one stops it on whichever worker runs it; the other sees it.
        long = a.post("/jobs", json={"kind": "sleep", "params": {"seconds": 30}}).json()["id"]
        poll(b, f"/jobs/{long}", lambda r: r.json().get("status") == "running")
        cancelled = b.delete(f"/jobs/{long}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        # The other process reads it from the broker: soon, not in the same instant. A cancel
        # that did not take would still be running there at the deadline (the job sleeps 30 s).
        poll(a, f"/jobs/{long}", lambda r: r.status_code == 303, timeout=10)
        assert a.get(f"/jobs/{long}/result").json()["status"] == "cancelled"
        assert a.delete(f"/jobs/{long}").status_code == 409

        # An Idempotency-Key holds across processes.
        headers = {"Idempotency-Key": "order-42"}
        first = a.post("/jobs", json={"kind": "sleep"}, headers=headers)
        again = b.post("/jobs", json={"kind": "sleep"}, headers=headers)
        assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        other = b.post("/jobs", json={"kind": "sleep", "params": {"seconds": 2}}, headers=headers)
        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"

        unknown = b.post("/jobs", json={"kind": "nope"})
        assert unknown.status_code == 422 and unknown.json()["kinds"]
        assert b.get("/jobs/job_nothere").status_code == 404
        schema = b.get("/openapi.json").json()["components"]["schemas"]["JobStatus"]
        assert "worker" in schema["properties"]


def test_serve_with_its_broker_down_answers_503_with_retry_after_and_never_hangs(redis):
    with serving("--broker", redis.url) as served:
        redis.stop()  # the broker goes away mid-run
        started = time.monotonic()
        answer = served.client.post("/jobs", json={"kind": "sleep"})
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert served.client.get("/jobs/job_abc").status_code == 503
        assert time.monotonic() - started < 20  # bounded by the client's short timeouts


def test_sigterm_stops_a_worker_cleanly_and_its_running_job_still_ends(broker_lab, fleet):
    job = broker_lab.jobs.start("sleep", {"seconds": 1.5})
    running(job)
    worker = fleet.workers[job.worker]
    assert worker.stop() == 0  # SIGTERM: it lets the job finish (within its grace), then exits
    assert job.wait(30) == {"slept": 1.5}
    assert "webhooks-lab worker stopped" in worker.lines


def cpu_seconds(pid: int) -> float:
    from pathlib import Path

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads CPU time from /proc")
def test_a_worker_whose_broker_goes_away_waits_quietly_and_carries_on_when_it_is_back(redis):
    worker = WorkerProcess(redis.url, "patient")
    try:
        lab = Lab(broker=redis.url)
        try:
            assert lab.jobs.start("sleep", {"seconds": 0.1}).wait(30) == {"slept": 0.1}
            port = redis.port
            redis.stop()
            with pytest.raises(Unavailable):
                lab.jobs.start("sleep")
            before = cpu_seconds(worker.pid)
            time.sleep(2)  # measuring how busy it is while it waits: the wait is the point
            assert cpu_seconds(worker.pid) - before < 0.5, (
                "the worker spins while the broker is away"
            )
            assert worker.running
            back = RedisServer.start(port=port)
            try:
                job = lab.jobs.start("sleep", {"seconds": 0.1})
                assert job.wait(30) == {"slept": 0.1}
                assert job.worker == "patient"
            finally:
                back.stop()
        finally:
            lab.stop()
    finally:
        worker.stop()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_worker_started_from_a_lab_speaks_its_language_and_is_seen_ready(redis, lang):
    webhooks_lab.set_language(lang)
    try:
        worker = WorkerProcess(redis.url, "speaker")  # raises if its banner is not recognised
        try:
            banner = worker.lines[0]
            assert ("워커" in banner) == (lang == "ko"), banner
            lab = Lab(broker=redis.url)
            try:
                assert lab.jobs.start("sleep", {"seconds": 0.1}).wait(30) == {"slept": 0.1}
            finally:
                lab.stop()
        finally:
            worker.stop()
    finally:
        webhooks_lab.set_language("en")
