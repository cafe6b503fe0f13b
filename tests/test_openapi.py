"""``GET /openapi.json``: valid OpenAPI 3.1 for the lab's API and for the webhooks it sends."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError


@pytest.fixture
def document(client):
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def test_the_served_document_is_valid_openapi_3_1(lab, document):
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": lab.receiver.url}]


def test_the_validator_would_catch_a_broken_document(document):
    broken = copy.deepcopy(document)
    del broken["paths"]["/jobs"]["post"]["responses"]
    broken["webhooks"]["job.succeeded"]["post"]["requestBody"]["content"] = "json"
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def test_it_describes_the_webhook_endpoints_and_every_jobs_route_with_their_errors(document):
    paths = document["paths"]
    assert set(paths["/webhooks/{name}"]) >= {"post", "get"}
    assert set(paths["/webhooks/{name}"]["post"]["responses"]) >= {"200", "400", "401", "413"}

    post_jobs = paths["/jobs"]["post"]["responses"]
    assert set(post_jobs) == {"202", "400", "413", "415", "422", "503"}
    assert set(post_jobs["202"]["headers"]) == {"Location", "Retry-After"}
    assert "application/problem+json" in post_jobs["422"]["content"]
    assert set(paths["/jobs/{job_id}"]["get"]["responses"]) == {"200", "303", "404"}
    assert set(paths["/jobs/{job_id}"]["delete"]["responses"]) == {"200", "404", "409"}
    assert set(paths["/jobs/{job_id}/result"]["get"]["responses"]) == {"200", "404", "409"}
    assert "/jobs/kinds" in paths


def test_the_webhooks_section_lists_the_events_the_lab_sends(document):
    assert set(document["webhooks"]) == {"job.succeeded", "job.failed", "job.cancelled", "event"}
    succeeded = document["webhooks"]["job.succeeded"]["post"]
    headers = {p["name"] for p in succeeded["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert "2XX" in succeeded["responses"]


def test_a_newly_registered_kind_appears_with_its_parameters(lab, client):
    lab.jobs.register("pdf.render", lambda pages=1: pages, params={"pages": {"type": "integer"}})
    document = client.get("/openapi.json").json()
    variants = {v["title"]: v for v in document["components"]["schemas"]["JobRequest"]["oneOf"]}
    assert variants["pdf.render"]["properties"]["params"]["properties"] == {
        "pages": {"type": "integer"}
    }
    validate(document, cls=OpenAPIV31SpecValidator)


def component(document: dict, name: str) -> Draft202012Validator:
    """A validator for one component schema, its $refs resolved within the document."""
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    )


def test_the_documented_job_schema_matches_what_the_api_answers(lab, client, document):
    accepted = client.post("/jobs", json={"kind": "sleep", "params": {"seconds": 0}})
    component(document, "JobStatus").validate(accepted.json())
    lab.jobs.get(accepted.json()["id"]).wait(5)
    outcome = client.get(accepted.headers["location"], follow_redirects=True).json()
    component(document, "JobResult").validate(outcome)


def test_the_webhook_route_documents_cloudevents_in_both_modes_and_their_refusals(document):
    post = document["paths"]["/webhooks/{name}"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/cloudevents+json",
    }
    headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
    assert headers >= {"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time"}
    for status in ("400", "415"):
        answer = post["responses"][status]["content"]["application/json"]["schema"]
        assert answer == {"$ref": "#/components/schemas/ReceiverError"}
    cloud_event = document["components"]["schemas"]["CloudEvent"]
    assert cloud_event["required"] == ["specversion", "id", "source", "type"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "application/cloudevents+json"}, {"specversion": "1.0", "id": "x"}),
        ({"content-type": "application/json"}, {"specversion": "1.0", "id": "x", "type": "t"}),
        ({"content-type": "application/cloudevents-batch+json"}, [{"specversion": "1.0"}]),
        ({"ce-specversion": "1.0", "ce-id": "x", "content-type": "application/json"}, {}),
        ({"ce-specversion": "0.3", "ce-id": "x", "ce-source": "s", "ce-type": "t"}, {}),
    ],
)
def test_what_the_receiver_answers_a_malformed_cloudevent_is_what_the_document_says(
    client, document, headers, body
):
    answer = client.post("/webhooks/ce", headers=headers, content=json.dumps(body))
    documented = document["paths"]["/webhooks/{name}"]["post"]["responses"]
    assert 400 <= answer.status_code < 500 and str(answer.status_code) in documented
    component(document, "ReceiverError").validate(answer.json())


def test_the_documented_cloudevent_example_is_one_the_receiver_takes(client, document):
    (example,) = document["components"]["schemas"]["CloudEvent"]["examples"]
    component(document, "CloudEvent").validate(example)
    answer = client.post(
        "/webhooks/ce",
        headers={"content-type": "application/cloudevents+json"},
        content=json.dumps(example),
    )
    assert answer.status_code == 200, answer.text
    component(document, "ReceiverAnswer").validate(answer.json())
    assert answer.json()["id"] == example["id"]
