"""Hostile input to ``POST /jobs``: whatever arrives, the answer is a 4xx saying why, never a 5xx,
and the server goes on serving. One lab for the whole module, so hypothesis can run many examples.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks_lab.lab import Lab

REFUSALS = {400, 413, 415, 422}
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Lab, httpx.Client]]:
    lab = Lab()
    lab.jobs.concurrency = 64
    try:
        with httpx.Client(base_url=lab.receiver.url, timeout=10) as client:
            yield lab, client
    finally:
        lab.stop()


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
param_names = st.sampled_from(["seconds", "fail", "width", "height", "source", "fps", "below"])
job_requests = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["sleep", "video.encode", "image.resize", "primes.count"])
        | json_values
    },
    optional={
        "params": st.dictionaries(param_names | st.text(max_size=10), json_values, max_size=4)
        | json_values,
        "callback_url": st.sampled_from(
            ["http://127.0.0.1:9/x", "http://10.0.0.1/x", "file:///etc/passwd", "http://[::1"]
        )
        | json_values,
        "extra": json_values,
    },
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
).map(lambda text: text.strip(" "))  # HTTP clients refuse to send a value padded with spaces
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/problem+json"]
)


def post(client: httpx.Client, body: bytes, headers: dict[str, bytes | str]) -> httpx.Response:
    return client.post("/jobs", content=body, headers=headers)


def check_answer(lab: Lab, client: httpx.Client, answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code == 202:  # a request that happened to be valid: tidy it away
        client.delete(answer.headers["location"])
        return
    assert answer.status_code in REFUSALS, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == answer.status_code
    assert problem["detail"]


def still_serving(client: httpx.Client) -> None:
    assert client.get("/jobs/kinds").status_code == 200


@SETTINGS
@given(body=json_values, content_type=content_types)
def test_any_json_value_gets_a_clear_refusal_never_a_5xx(hostile, body, content_type):
    lab, client = hostile
    raw = json.dumps(body).encode()  # may hold NaN or Infinity, which JSON does not allow
    check_answer(lab, client, post(client, raw, {"content-type": content_type}))


@SETTINGS
@given(request=job_requests, key=st.none() | header_text)
def test_job_shaped_requests_with_wrong_types_and_huge_numbers_never_get_a_5xx(
    hostile, request, key
):
    lab, client = hostile
    headers: dict[str, bytes | str] = {"content-type": "application/json"}
    if key is not None:
        headers["idempotency-key"] = key.encode("latin-1")
    answer = post(client, json.dumps(request).encode(), headers)
    check_answer(lab, client, answer)
    assert answer.status_code != 413


@SETTINGS
@given(
    body=st.binary(max_size=3000)
    | st.builds(lambda head, size: head * size, st.binary(min_size=1, max_size=4), st.just(20_000)),
    content_type=st.none() | content_types | header_text,
)
def test_arbitrary_bytes_with_any_content_type_get_a_clear_refusal(hostile, body, content_type):
    lab, client = hostile
    headers: dict[str, bytes | str] = {}
    if content_type is not None:
        headers["content-type"] = content_type.encode("latin-1")
    check_answer(lab, client, post(client, body, headers))


@SETTINGS
@given(
    job_id=st.text(alphabet=string.ascii_letters + string.digits + "_-.~", min_size=1).filter(
        lambda text: text not in ("kinds", ".", "..")
    )
)
def test_made_up_job_ids_get_404(hostile, job_id):
    lab, client = hostile
    for method in ("GET", "DELETE"):
        answer = client.request(method, f"/jobs/{job_id}")
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_server_still_serves_and_starts_jobs_after_all_that(hostile):
    lab, client = hostile
    still_serving(client)
    accepted = client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}})
    assert accepted.status_code == 202
    lab.jobs.get(accepted.json()["id"]).wait(5)
    outcome = client.get(accepted.headers["location"], follow_redirects=True)
    assert outcome.json()["status"] == "succeeded"
