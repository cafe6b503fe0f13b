"""The Async Request-Reply API over real HTTP on 127.0.0.1: every status code it can answer."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import eventually, serving

from webhooks_lab.jobs import client as jobs_client
from webhooks_lab.jobs.model import CANCELLED, FAILED, RUNNING, SUCCEEDED

PROBLEM = "application/problem+json"
STATUS_FIELDS = {"id", "status", "progress", "created_at", "updated_at", "error"}


def assert_problem(answer: httpx.Response, status: int, slug: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["type"] == f"urn:webhooks-lab:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def start(client: httpx.Client, kind: str = "sleep", **params: object) -> httpx.Response:
    return client.post("/jobs", json={"kind": kind, "params": params})


def job_of(lab, answer: httpx.Response):  # type: ignore[no-untyped-def]
    return lab.jobs.get(answer.headers["location"].rsplit("/", 1)[-1])


# -- the happy path --------------------------------------------------------------------------------


def test_a_job_is_accepted_with_202_then_polled_then_redirected_to_its_result(lab, client):
    accepted = start(client, seconds=0.2)

    assert accepted.status_code == 202
    location = accepted.headers["location"]
    assert re.fullmatch(r"/jobs/job_\w+", location)
    assert int(accepted.headers["retry-after"]) >= 1
    assert accepted.json()["status"] in ("queued", "running")

    polled = client.get(location)
    assert polled.status_code == 200
    assert polled.json().keys() >= STATUS_FIELDS
    assert polled.json()["status"] in ("queued", "running")
    assert int(polled.headers["retry-after"]) >= 1

    job_of(lab, accepted).wait(5)
    done = client.get(location)
    assert done.status_code == 303
    assert done.headers["location"] == f"{location}/result"

    outcome = client.get(done.headers["location"])
    assert outcome.status_code == 200
    assert outcome.json()["status"] == SUCCEEDED
    assert outcome.json()["result"] == {"slept": 0.2}
    assert outcome.json()["error"] is None


def test_the_kinds_are_listed_with_their_parameter_schemas(client):
    kinds = {kind["name"]: kind for kind in client.get("/jobs/kinds").json()["kinds"]}

    assert {"image.resize", "video.encode", "primes.count", "sleep"} <= kinds.keys()
    encode = kinds["video.encode"]
    assert encode["description"]
    assert encode["params"]["properties"]["codec"]["enum"] == ["h264", "h265", "av1"]


def test_listing_jobs_shows_them_and_counts_them(lab, client):
    accepted = start(client, seconds=0)
    job_of(lab, accepted).wait(5)
    listing = client.get("/jobs").json()
    assert [job["id"] for job in listing["jobs"]] == [job_of(lab, accepted).id]
    assert listing["counts"]["succeeded"] == 1


def test_a_job_with_a_callback_url_posts_a_signed_job_succeeded_webhook(lab, client):
    lab.receiver.endpoint("done").require(lab.jobs.secret)
    accepted = client.post(
        "/jobs",
        json={
            "kind": "sleep",
            "params": {"seconds": 0},
            "callback_url": lab.receiver.url_for("done"),
        },
    )
    [delivery] = lab.receiver.inbox.wait_for(1, endpoint="done", timeout=10)
    assert (delivery.status, delivery.verified) == (200, True)
    assert delivery.event.type == "job.succeeded"
    assert delivery.event.data["id"] == job_of(lab, accepted).id


# -- failure, timeout, cancellation ----------------------------------------------------------------


def test_a_failed_job_also_redirects_and_its_outcome_says_why(lab, client):
    accepted = start(client, seconds=0, fail=True)
    assert eventually(lambda: job_of(lab, accepted).done)

    done = client.get(accepted.headers["location"], follow_redirects=True)
    assert done.status_code == 200
    assert done.json()["status"] == FAILED
    assert done.json()["result"] is None
    assert "asked to fail" in done.json()["error"]


def test_a_job_that_runs_past_its_timeout_ends_failed(lab, client):
    async def stuck() -> None:
        await asyncio.sleep(30)

    lab.jobs.register("stuck", stuck, timeout=0.05)
    accepted = client.post("/jobs", json={"kind": "stuck"})
    assert accepted.status_code == 202
    assert eventually(lambda: job_of(lab, accepted).done)

    outcome = client.get(accepted.headers["location"], follow_redirects=True).json()
    assert outcome["status"] == FAILED
    assert "timeout" in outcome["error"]


def test_delete_cancels_a_running_job_and_a_second_delete_answers_409(lab, client):
    accepted = start(client, seconds=60)
    location = accepted.headers["location"]
    assert eventually(lambda: job_of(lab, accepted).status == RUNNING)

    cancelled = client.delete(location)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == CANCELLED
    assert client.get(location).status_code == 303
    assert client.get(f"{location}/result").json()["status"] == CANCELLED

    again = client.delete(location)
    body = assert_problem(again, 409, "already-finished")
    assert "cancelled" in body["detail"]


def test_delete_cancels_a_queued_job_before_it_starts(lab, client):
    lab.jobs.concurrency = 1
    first = start(client, seconds=60)
    second = start(client, seconds=0)
    assert client.get(second.headers["location"]).json()["status"] == "queued"

    assert client.delete(second.headers["location"]).json()["status"] == CANCELLED
    client.delete(first.headers["location"])
    assert job_of(lab, second).started_at is None


def test_a_finished_job_cannot_be_cancelled(lab, client):
    accepted = start(client, seconds=0)
    job_of(lab, accepted).wait(5)
    assert_problem(client.delete(accepted.headers["location"]), 409, "already-finished")


def test_asking_for_the_result_too_early_answers_409_with_retry_after(lab, client):
    accepted = start(client, seconds=60)
    early = client.get(f"{accepted.headers['location']}/result")
    assert_problem(early, 409, "not-finished")
    assert early.headers["retry-after"] == "1"
    client.delete(accepted.headers["location"])


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/jobs/job_nope"), ("DELETE", "/jobs/job_nope"), ("GET", "/jobs/job_nope/result")],
)
def test_unknown_job_ids_answer_404_problem_json(client, method, path):
    assert_problem(client.request(method, path), 404, "unknown-job")


def test_a_wrong_method_answers_405_with_allow(client):
    answer = client.put("/jobs/kinds")
    assert_problem(answer, 405, "method-not-allowed")
    assert answer.headers["allow"] == "GET, HEAD"


# -- idempotency -----------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_job_already_started(lab, client):
    request = {"kind": "sleep", "params": {"seconds": 0.1}}
    key = {"Idempotency-Key": "4f7c0a0e-order-1001"}
    first = client.post("/jobs", json=request, headers=key)
    second = client.post("/jobs", json=request, headers=key)

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(lab.jobs) == 1

    different = client.post("/jobs", json={**request, "params": {"seconds": 2}}, headers=key)
    assert_problem(different, 422, "idempotency-key-reused")
    assert len(lab.jobs) == 1


# -- refusing bad requests before accepting anything -----------------------------------------------

BAD_BODIES = {
    "not JSON": (b"{kind: sleep}", "invalid-json"),
    "not UTF-8": (b'{"kind": "\xff"}', "invalid-json"),
    "NaN": (b'{"kind": "sleep", "params": {"seconds": NaN}}', "invalid-json"),
    "a number too large for a float": (
        b'{"kind": "sleep", "params": {"seconds": 1e999}}',
        "invalid-json",
    ),
    "an integer with 5000 digits": (
        b'{"kind": "sleep", "n": ' + b"9" * 5000 + b"}",
        "invalid-json",
    ),
    "nested 1000 deep": (
        b"[" * 1000 + b"]" * 1000,
        "too-deep",
    ),  # refused for its depth, never a RecursionError
    "nested 40 deep": (
        b'{"kind": "sleep", "params": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}",
        "too-deep",
    ),
    "a list": (b'["sleep"]', "invalid-request"),
    "no kind": (b'{"params": {}}', "invalid-request"),
    "a numeric kind": (b'{"kind": 7}', "invalid-request"),
    "params as a list": (b'{"kind": "sleep", "params": [1]}', "invalid-request"),
    "an unknown field": (b'{"kind": "sleep", "priority": "high"}', "invalid-request"),
    "a callback off this machine": (
        b'{"kind": "sleep", "callback_url": "http://169.254.169.254/latest/meta-data/"}',
        "callback-refused",
    ),
    "a callback by host name": (
        b'{"kind": "sleep", "callback_url": "http://example.com/hook"}',
        "callback-refused",
    ),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_a_malformed_request_gets_400_problem_json_and_starts_nothing(lab, client, name):
    body, slug = BAD_BODIES[name]
    answer = client.post("/jobs", content=body, headers={"content-type": "application/json"})
    assert_problem(answer, 400, slug)
    assert len(lab.jobs) == 0


def test_a_bad_idempotency_key_gets_400(client):
    answer = client.post("/jobs", json={"kind": "sleep"}, headers={"Idempotency-Key": "x" * 300})
    assert_problem(answer, 400, "invalid-idempotency-key")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_gets_415(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post("/jobs", content=b"kind=sleep", headers=headers)
    assert_problem(answer, 415, "unsupported-media-type")
    assert answer.headers["accept-post"] == "application/json"


def test_a_declared_oversized_body_gets_413_without_being_read(client):
    body = b'{"kind": "sleep", "params": {"pad": "' + b"x" * 70_000 + b'"}}'
    answer = client.post("/jobs", content=body, headers={"content-type": "application/json"})
    assert_problem(answer, 413, "too-large")


def test_a_streamed_oversized_body_gets_413(client):
    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "sleep", "pad": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    answer = client.post("/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(answer, 413, "too-large")


def test_an_unknown_kind_gets_422_listing_the_kinds(client):
    body = assert_problem(client.post("/jobs", json={"kind": "video.encdoe"}), 422, "unknown-kind")
    assert "video.encode" in body["kinds"]


def test_bad_params_get_422_listing_every_problem(lab, client):
    answer = start(client, "video.encode", fps=0, codec="divx", colour=True)
    body = assert_problem(answer, 422, "invalid-params")
    assert sorted(body["errors"]) == sorted(
        [
            'params has unknown "colour" (this kind takes: source, seconds, fps, codec, speed)',
            "params.fps must be at least 1, got 0",
            'params.codec must be one of "h264", "h265", "av1", got "divx"',
        ]
    )
    assert len(lab.jobs) == 0


def test_a_full_queue_answers_503_with_retry_after(lab, client):
    lab.jobs.queue_size = 0
    answer = start(client, seconds=0)
    assert_problem(answer, 503, "queue-full")
    assert int(answer.headers["retry-after"]) >= 1


def test_refused_requests_are_kept_where_a_learner_can_look(lab, client):
    start(client, "nope")
    refusal = lab.jobs.refusals[-1]
    assert (refusal["method"], refusal["path"], refusal["status"]) == ("POST", "/jobs", 422)
    assert "nope" in refusal["detail"]


# -- the same API from the command line ------------------------------------------------------------


def test_webhooks_lab_serve_runs_the_lesson_kinds_over_the_same_api():
    with serving("--quiet") as served, httpx.Client(base_url=served.url, timeout=10) as client:
        served.wait_for_line(r"^\s*stop:")  # the whole banner is out
        url, printed = served.url, served.printed
        assert any("POST" in line and "/jobs" in line for line in printed)
        names = {kind["name"] for kind in client.get("/jobs/kinds").json()["kinds"]}
        assert {"image.resize", "video.encode", "primes.count", "sleep"} <= names

        accepted = start(client, "primes.count", below=1000)
        assert accepted.status_code == 202
        location = accepted.headers["location"]
        assert eventually(lambda: client.get(location).status_code == 303, timeout=10)
        assert client.get(location, follow_redirects=True).json()["result"] == 168
        assert client.get("/openapi.json").json()["openapi"] == "3.1.0"

        told = client.post(
            "/jobs",
            json={
                "kind": "sleep",
                "params": {"seconds": 0},
                "callback_url": f"{url}/webhooks/done",
            },
        )
        assert told.status_code == 202

        def deliveries() -> list[dict]:
            return client.get("/webhooks/done").json()["deliveries"]

        assert eventually(lambda: len(deliveries()) == 1, timeout=10)
        [delivery] = deliveries()
        assert (delivery["event_type"], delivery["status"]) == ("job.succeeded", 200)
        assert delivery["headers"]["webhook-signature"].startswith("v1,")


# -- the client helpers ----------------------------------------------------------------------------


def test_poll_waits_as_long_as_retry_after_asks_and_follows_the_303(lab):
    sent: list[tuple[float, str]] = []
    hooks = {"request": [lambda request: sent.append((time.monotonic(), request.url.path))]}
    accepted = jobs_client.submit(lab.url, "sleep", {"seconds": 1.2})
    assert accepted.retry_after == 1

    with httpx.Client(timeout=10, event_hooks=hooks) as client:
        outcome = jobs_client.poll(accepted.url, client=client)

    assert (outcome.status, outcome.result, outcome.error) == (SUCCEEDED, {"slept": 1.2}, None)
    assert outcome.requests == len(sent) >= 3
    assert sent[-1][1] == f"/jobs/{accepted.job_id}/result"
    polls = [moment for moment, path in sent if not path.endswith("/result")]
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(polls))


def test_poll_reports_a_failed_job_with_its_error(lab):
    accepted = jobs_client.submit(lab.url, "sleep", {"seconds": 0, "fail": True})
    outcome = jobs_client.poll(accepted.url, max_interval=0.05)
    assert outcome.status == FAILED
    assert not outcome.ok
    assert "asked to fail" in outcome.error


def test_submit_raises_the_servers_problem_when_refused(lab):
    with pytest.raises(jobs_client.JobRequestFailed) as refused:
        jobs_client.submit(lab.url, "sleep", {"seconds": -1})
    assert refused.value.status == 422
    assert refused.value.problem["errors"] == ["params.seconds must be at least 0, got -1"]


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert jobs_client.retry_after_seconds("3") == 3
    assert jobs_client.retry_after_seconds(None, default=0.5) == 0.5
    in_ten = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 10))
    assert 8 <= jobs_client.retry_after_seconds(in_ten) <= 10


def test_wait_for_webhook_returns_the_completion_event_of_that_job(lab):
    url = lab.receiver.url_for("told")
    other = jobs_client.submit(lab.url, "sleep", {"seconds": 0}, callback_url=url)
    mine = jobs_client.submit(lab.url, "sleep", {"seconds": 0.1}, callback_url=url)
    delivery = jobs_client.wait_for_webhook(lab.receiver.inbox, mine.job_id, timeout=10)
    assert delivery.event.type == "job.succeeded"
    assert delivery.event.data["id"] == mine.job_id != other.job_id


def test_racing_polling_against_the_webhook_measures_both(lab):
    result = asyncio.run(
        jobs_client.race(
            lab.url,
            "sleep",
            {"seconds": 0.3},
            inbox=lab.receiver.inbox,
            callback_url=lab.receiver.url_for("race"),
        )
    )
    assert result.status == SUCCEEDED
    assert result.poll_requests >= 3  # the POST, at least one poll while running, the result
    assert result.webhook_requests == 1
    assert 0 <= result.webhook_lag < 10 and 0 <= result.poll_lag < 10


def test_a_result_json_cannot_hold_is_shown_not_crashed_on(lab, client):
    class Thumbnail:
        def __repr__(self) -> str:
            return "<Thumbnail 64x64>"

    lab.jobs.register("thumb", lambda: {"image": Thumbnail(), "size": 64}, params={})
    accepted = client.post("/jobs", json={"kind": "thumb"})
    lab.jobs.get(accepted.json()["id"]).wait(5)
    outcome = client.get(accepted.headers["location"], follow_redirects=True).json()
    assert outcome["result"] == {"image": "<Thumbnail 64x64>", "size": 64}
