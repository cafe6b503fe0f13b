"""Every answer of the jobs API and every completion webhook fits what /openapi.json publishes.

Each real body is checked with jsonschema against the schema the document gives for *that*
route, method, status code and media type, so a route answering something the document does not
describe fails here, and so does a field the models (closed) do not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError

from webhooks_lab.jobs import schemas
from webhooks_lab.jobs.completion import completion_event, post_once
from webhooks_lab.lab import Lab

TEMPLATES = ("/jobs/kinds", "/jobs/{job_id}/result", "/jobs/{job_id}", "/jobs")


def validator(document: dict, schema: dict) -> Draft202012Validator:
    """A validator for ``schema``, with its ``#/components/...`` refs resolved in ``document``."""
    return Draft202012Validator({**schema, "components": document["components"]})


def component(document: dict, name: str) -> Draft202012Validator:
    return validator(document, {"$ref": f"#/components/schemas/{name}"})


def template_of(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[:2] == ["jobs", "kinds"] or len(parts) == 1:
        return "/" + "/".join(parts)
    return "/jobs/{job_id}" + ("/result" if parts[2:] == ["result"] else "")


def check(document: dict, answer: httpx.Response) -> dict:
    """Validate a real answer against the schema documented for it; return its body."""
    request = answer.request
    operation = document["paths"][template_of(request.url.path)][request.method.lower()]
    documented = operation["responses"].get(str(answer.status_code))
    assert documented is not None, f"{request.method} {request.url.path} {answer.status_code}"
    media = answer.headers["content-type"]
    assert media in documented["content"], (media, list(documented["content"]))
    body = answer.json()
    validator(document, documented["content"][media]["schema"]).validate(body)
    return body


def check_webhook(document: dict, body: bytes) -> dict:
    payload = json.loads(body)
    operation = document["webhooks"][payload["type"]]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator(document, schema).validate(payload)
    return payload


@pytest.fixture
def document(client: httpx.Client) -> dict:
    return client.get("/openapi.json").json()


def finished(lab: Lab, answer: httpx.Response) -> None:
    """Wait until the job of ``answer`` has ended, however it ended."""
    job = lab.jobs.get(answer.json()["id"])
    with contextlib.suppress(Exception):
        job.wait(10)
    assert job.done


# -- the models are closed, and the document says so ----------------------------------------------


def test_every_published_job_schema_is_closed(document):
    names = set(schemas.__all__) & set(document["components"]["schemas"])
    assert {"JobStatus", "JobLinks", "JobResult", "JobProblem", "CompletionWebhook"} <= names
    for name in names:
        assert document["components"]["schemas"][name]["additionalProperties"] is False, name


def test_a_field_the_models_do_not_know_fails_validation(lab, client, document):
    body = check(document, client.post("/jobs", json={"kind": "sleep"}))
    for where in (body, body["links"]):
        stranger = copy.deepcopy(body)
        (stranger if where is body else stranger["links"])["assignee"] = "w1"
        with pytest.raises(ValidationError, match="assignee"):
            component(document, "JobStatus").validate(stranger)
    finished(lab, client.get(f"/jobs/{body['id']}"))


# -- every success answer --------------------------------------------------------------------------


def test_every_answer_on_the_happy_path_fits_its_schema(lab, client, document):
    accepted = client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0.3}})
    assert accepted.status_code == 202
    check(document, accepted)
    polled = client.get(accepted.headers["location"])
    assert polled.status_code == 200
    check(document, polled)
    finished(lab, accepted)
    done = client.get(accepted.headers["location"])
    assert done.status_code == 303
    check(document, done)
    result = client.get(done.headers["location"])
    assert check(document, result)["result"] == {"slept": 0.3}
    check(document, client.get("/jobs"))
    check(document, client.get("/jobs", params={"status": "succeeded"}))
    kinds = check(document, client.get("/jobs/kinds"))
    assert {kind["name"] for kind in kinds["kinds"]} >= {"sleep", "video.encode"}


@pytest.mark.parametrize(
    ("params", "status"),
    [({"seconds": 0, "fail": True}, "failed"), ({"seconds": 60}, "cancelled")],
)
def test_failed_and_cancelled_jobs_answer_within_their_schemas(
    lab, client, document, params, status
):
    accepted = client.post("/jobs", json={"kind": "sleep", "params": params})
    if status == "cancelled":
        check(document, client.delete(accepted.headers["location"]))
    finished(lab, accepted)
    result = check(document, client.get(f"{accepted.headers['location']}/result"))
    assert (result["status"], result["result"]) == (status, None)


def test_a_job_submitted_in_python_and_a_strange_result_fit_too(lab, client, document):
    job = lab.jobs.submit(lambda: {"when": object(), "items": {1, 2}})
    job.wait(5)
    check(document, client.get("/jobs"))
    check(document, client.get(f"/jobs/{job.id}/result"))


# -- every error answer ----------------------------------------------------------------------------


def test_every_error_answer_fits_the_problem_schema(lab, client, document):
    lab.jobs.concurrency = 1
    running = client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 60}})
    post = {"headers": {"content-type": "application/json"}}
    answers = [
        client.post("/jobs", content=b"{nope", **post),  # 400 invalid-json
        client.post("/jobs", content=b"[" * 40 + b"]" * 40, **post),  # 400 too-deep
        client.post("/jobs", json={"kind": "sleep", "priority": 1}),  # 400 invalid-request
        client.post("/jobs", json={"kind": "sleep", "callback_url": "http://10.0.0.1/"}),  # 400
        client.post("/jobs", json={"kind": "sleep"}, headers={"Idempotency-Key": "k" * 300}),  # 400
        client.post("/jobs", content=b"x" * 70_000, **post),  # 413
        client.post("/jobs", content=b"kind=sleep"),  # 415
        client.post("/jobs", json={"kind": "nope"}),  # 422 unknown-kind
        client.post("/jobs", json={"kind": "sleep", "params": {"seconds": -1}}),  # 422 params
        client.get("/jobs/job_nope"),  # 404
        client.delete("/jobs/job_nope"),  # 404
        client.get("/jobs/job_nope/result"),  # 404
        client.get(f"{running.headers['location']}/result"),  # 409 not-finished
    ]
    key = {"Idempotency-Key": "order-1"}
    client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}}, headers=key)
    answers.append(
        client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 1}}, headers=key)
    )  # 422 idempotency-key-reused
    client.delete(running.headers["location"])
    answers.append(client.delete(running.headers["location"]))  # 409 already-finished
    lab.jobs.queue_size = 0
    answers.append(client.post("/jobs", json={"kind": "sleep"}))  # 503
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [400] * 5 + [404] * 3 + [409] * 2 + [413, 415] + [422] * 3 + [503]
    for answer in answers:
        problem = check(document, answer)
        assert problem["status"] == answer.status_code
        assert problem["instance"] == answer.request.url.path


def test_a_refused_callback_url_names_callback_url_and_says_why(client, document):
    answer = client.post("/jobs", json={"kind": "sleep", "callback_url": "http://10.0.0.1/x"})
    problem = check(document, answer)
    assert problem["type"] == "urn:webhooks-lab:problem:callback-refused"
    assert problem["detail"] == "callback_url refused: 10.0.0.1 is a private address"


def test_a_wrong_method_answers_a_problem_of_the_same_shape(client, document):
    answer = client.put("/jobs/kinds")
    assert answer.status_code == 405
    component(document, "JobProblem").validate(answer.json())


# -- every completion webhook ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "cancel", "event_type"),
    [
        ({"seconds": 0}, False, "job.succeeded"),
        ({"seconds": 0, "fail": True}, False, "job.failed"),
        ({"seconds": 60}, True, "job.cancelled"),
    ],
)
def test_every_completion_webhook_fits_the_documented_payload(
    lab, client, document, params, cancel, event_type
):
    accepted = client.post(
        "/jobs",
        json={"kind": "sleep", "params": params, "callback_url": lab.receiver.url_for("told")},
    )
    if cancel:
        client.delete(accepted.headers["location"])
    [delivery] = lab.receiver.inbox.wait_for(1, endpoint="told", timeout=10)
    payload = check_webhook(document, delivery.body)
    assert payload["type"] == event_type
    status = check(document, client.get(accepted.headers["location"]))
    assert payload["data"]["links"] == status["links"], "the webhook and the API agree on links"


def test_a_completion_webhook_posted_once_fits_too(lab, document):
    job = lab.jobs.submit(str, "done")
    job.wait(5)
    event = completion_event(job)
    check_webhook(document, event.body())
    sent = asyncio.run(post_once(lab.receiver.url_for("once"), event))
    assert sent["status"] == 200
    [delivery] = lab.receiver.inbox.wait_for(1, endpoint="once", timeout=10)
    assert check_webhook(document, delivery.body)["data"]["result"] == "done"


# -- whatever a client sends, the answer is one the document describes -----------------------------


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Lab, httpx.Client, dict]]:
    lab = Lab()
    lab.jobs.concurrency = 64
    try:
        with httpx.Client(base_url=lab.receiver.url, timeout=10) as client:
            yield lab, client, client.get("/openapi.json").json()
    finally:
        lab.stop()


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
requests = st.fixed_dictionaries(
    {"kind": st.sampled_from(["sleep", "video.encode", "image.resize", "nope"]) | values},
    optional={
        "params": st.dictionaries(
            st.sampled_from(["seconds", "fail", "width", "codec", "fps", "x"]), values, max_size=3
        )
        | values,
        "callback_url": st.sampled_from(["http://127.0.0.1:9/x", "http://10.0.0.1/x"]) | values,
    },
)
_lock = threading.Lock()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_any_job_request_gets_an_answer_the_document_describes(shared, request):
    lab, client, document = shared
    with _lock:
        answer = client.post(
            "/jobs",
            content=json.dumps(request).encode(),
            headers={"content-type": "application/json"},
        )
        check(document, answer)
        if answer.status_code == 202:
            check(document, client.delete(answer.headers["location"]))
