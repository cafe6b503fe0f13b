"""``GET /openapi.json``: the lab's HTTP API described the way the ecosystem describes APIs.

OpenAPI 3.1 has two halves that matter here. ``paths`` are the requests *you* can make to the lab
(deliver a webhook, start a job, poll it). ``webhooks`` are the requests *the lab* makes to you:
the events it sends, such as ``job.succeeded``, each with its payload and the answer it expects.
That second half is how real providers document their webhooks, so a learner can put the two
side by side. The jobs API's schemas are generated from the models its answers are built from
(:mod:`webhooks_lab.jobs.schemas`), and the job kinds' parameters come from the runner, so a newly
registered kind shows up in the document at once. (The receiver's schemas are still written out
here by hand.)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from webhooks_lab import cloud_events
from webhooks_lab.http.openapi import component_schemas
from webhooks_lab.http.openapi import schema_ref as _ref
from webhooks_lab.http.problem import PROBLEM_JSON as _PROBLEM
from webhooks_lab.jobs import schemas
from webhooks_lab.jobs.model import STATUSES
from webhooks_lab.jobs.runner import JobRunner

_JSON = "application/json"


def _json_body(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}, **extra}


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    content = {_PROBLEM: {"schema": _ref("JobProblem")}}
    return {"description": description, "content": content, **extra}


def _receiver_error(description: str) -> dict[str, Any]:
    return _json_body(_ref("ReceiverError"), description)


_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id, as in the Location header of POST /jobs.",
    "schema": {"type": "string", "examples": ["job_2fZ9xK7cQe1LmNpRsTuVwXy"]},
}
_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": False,
        "description": "Unique message id; a receiver deduplicates on it.",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": False,
        "description": "Integer Unix seconds when the message was signed.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": False,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` "
        "(Standard Webhooks). Required when the endpoint checks signatures.",
        "schema": {"type": "string"},
    },
]


_CE_HEADERS = [  # CloudEvents 1.0 binary mode: the attributes as ce-* headers, the data as the body
    {
        "name": f"ce-{name}",
        "in": "header",
        "required": False,
        "description": f"CloudEvents binary mode: the `{name}` attribute{note}",
        "schema": schema,
    }
    for name, note, schema in (
        ("specversion", ". Its presence makes the request a CloudEvent.", {"const": "1.0"}),
        (
            "id",
            "; it becomes the delivery's webhook id (a repeated one is a duplicate).",
            {"type": "string", "minLength": 1, "maxLength": 2048},
        ),
        ("source", " (a URI reference).", {"type": "string", "minLength": 1, "maxLength": 2048}),
        (
            "type",
            "; it becomes the event type.",
            {"type": "string", "minLength": 1, "maxLength": 2048},
        ),
        ("time", " (RFC 3339), optional.", {"type": "string", "format": "date-time"}),
        ("subject", ", optional.", {"type": "string", "maxLength": 2048}),
    )
]


def _schemas(runner: JobRunner | None) -> dict[str, Any]:
    generated = component_schemas(schemas.MODELS)
    kinds = runner.kinds() if runner is not None else []
    if kinds:  # one variant per kind: its name, and the very schema its params are checked against
        generated["JobRequest"]["oneOf"] = [
            {
                "title": kind.name,
                "description": kind.description,
                "properties": {"kind": {"const": kind.name}, "params": kind.params},
            }
            for kind in kinds
        ]
    return {**_RECEIVER_SCHEMAS, **generated}


_RECEIVER_SCHEMAS: dict[str, Any] = {
    "Event": {
        "type": "object",
        "description": "A Standard Webhooks payload.",
        "properties": {
            "type": {"type": "string", "examples": ["user.created"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {"type": "object"},
        },
        "required": ["type", "timestamp", "data"],
    },
    "ReceiverAnswer": {
        "type": "object",
        "properties": {
            "ok": {"type": "boolean"},
            "id": {"type": ["string", "null"]},
            "endpoint": {"type": "string"},
            "duplicate": {"type": "boolean"},
            "detail": {"type": "string"},
        },
        "required": ["ok"],
    },
    "CloudEvent": {
        "type": "object",
        "description": "A CloudEvents 1.0 event in structured mode: the attributes and the data "
        "in one JSON body (Content-Type: application/cloudevents+json). The `id` becomes the "
        "delivery's webhook id, the `type` its event type. A webhook signature over this body "
        "covers every attribute; in binary mode it covers only the data.",
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1, "maxLength": 2048},
            "source": {"type": "string", "minLength": 1, "maxLength": 2048},
            "type": {"type": "string", "minLength": 1, "maxLength": 2048},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "maxLength": 2048},
            "datacontenttype": {"type": "string"},
            "data": {},
            "data_base64": {"type": "string", "contentEncoding": "base64"},
        },
        "required": ["specversion", "id", "source", "type"],
        "examples": [
            {
                "specversion": "1.0",
                "id": "evt_cloud_1",
                "source": "https://shop.example/orders",
                "type": "order.paid",
                "data": {"order": "A-1"},
            }
        ],
    },
    "ReceiverError": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "detail": {"type": "string"},
            "reason": {
                "type": "string",
                "description": "A finer code; for a refused CloudEvent one of "
                "`missing_attribute`, `unsupported_specversion`, `invalid_cloudevent`, "
                "`wrong_content_type`.",
            },
        },
        "required": ["error", "detail"],
    },
}


def _paths() -> dict[str, Any]:
    not_found = _problem("No job with that id.")
    job_json = _json_body(_ref("JobStatus"), "The job.")
    return {
        "/": {
            "get": {
                "operationId": "inboxPage",
                "tags": ["webhooks"],
                "summary": "The live inbox page",
                "responses": {
                    "200": {"description": "HTML page", "content": {"text/html": {}}},
                },
            }
        },
        "/webhooks": {
            "get": {
                "operationId": "listEndpoints",
                "tags": ["webhooks"],
                "summary": "Endpoints that exist or have received deliveries",
                "responses": {"200": _json_body({"type": "object"}, "Endpoint names and counts")},
            }
        },
        "/webhooks/{name}": {
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Any endpoint name; it is created on first use.",
                }
            ],
            "post": {
                "operationId": "deliverWebhook",
                "tags": ["webhooks"],
                "summary": "Deliver a webhook",
                "description": "Checks in this order: size, signature (on the raw bytes), JSON, "
                "duplicate webhook-id, handlers. Every attempt lands in the inbox. A CloudEvent "
                "(1.0) is taken in either HTTP mode: structured, the whole event as the body "
                "with Content-Type `application/cloudevents+json`; or binary, the attributes "
                "as `ce-*` headers and the data as the body with its own Content-Type.",
                "parameters": [*_SIGNATURE_HEADERS, *_CE_HEADERS],
                "requestBody": {
                    "required": True,
                    "description": "A Standard Webhooks payload as JSON; a structured "
                    "CloudEvent; or, with the ce-* headers, a binary-mode CloudEvent's data.",
                    "content": {
                        _JSON: {"schema": {"anyOf": [_ref("Event"), {}]}},
                        cloud_events.STRUCTURED: {"schema": _ref("CloudEvent")},
                    },
                },
                "responses": {
                    "200": _json_body(_ref("ReceiverAnswer"), "Accepted (or a known duplicate)"),
                    "400": _receiver_error(
                        "The body is not JSON, or a CloudEvent is malformed: a required "
                        "attribute (specversion, id, source, type) missing or empty, another "
                        "specversion, a bad time or data."
                    ),
                    "415": _receiver_error(
                        "A CloudEvent with the wrong Content-Type: a structured event sent as "
                        "application/json, binary mode with a CloudEvents content type, or a "
                        "batch (not taken)."
                    ),
                    "401": _receiver_error("The signature is missing, stale or wrong."),
                    "409": _receiver_error("This webhook-id is still being processed."),
                    "413": _receiver_error("The body is too large."),
                    "422": _receiver_error("The payload is not an event a handler can take."),
                    "500": _receiver_error("A handler raised."),
                    "default": _receiver_error("Chaos controls made the endpoint misbehave."),
                },
            },
            "get": {
                "operationId": "listDeliveries",
                "tags": ["webhooks"],
                "summary": "Deliveries received by this endpoint",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": _json_body({"type": "object"}, "A page of deliveries")},
            },
        },
        "/jobs": {
            "get": {
                "operationId": "listJobs",
                "tags": ["jobs"],
                "summary": "The newest jobs, and counts",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(STATUSES)},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "description": "skip this many newer jobs (a page further back)",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 1000000},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "at most this many jobs (default and most: 100)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                ],
                "responses": {
                    "200": _json_body(_ref("JobList"), "Jobs and counts"),
                    "400": _problem("A paging parameter (offset, limit) out of range."),
                },
            },
            "post": {
                "operationId": "startJob",
                "tags": ["jobs"],
                "summary": "Start a job: accepted now, finished later",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Repeat a POST safely: the same key and body give back "
                        "the job already started (with Idempotent-Replayed: true).",
                        "schema": {"type": "string", "maxLength": 255},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("JobRequest")}},
                },
                "callbacks": {
                    "jobEnded": {
                        "{$request.body#/callback_url}": {
                            "post": {
                                "summary": "job.succeeded, job.failed or job.cancelled",
                                "requestBody": {
                                    "content": {_JSON: {"schema": _ref("CompletionWebhook")}},
                                },
                                "responses": {"2XX": {"description": "Acknowledged"}},
                            }
                        }
                    }
                },
                "responses": {
                    "202": _json_body(
                        _ref("JobStatus"),
                        "Accepted: poll the Location",
                        headers={
                            "Location": {
                                "description": "where to poll: /jobs/{job_id}",
                                "schema": {"type": "string"},
                            },
                            **_RETRY_AFTER,
                        },
                    ),
                    "400": _problem("Malformed JSON, wrong shape, or a refused callback_url."),
                    "413": _problem("The body is too large."),
                    "415": _problem("The body is not JSON."),
                    "422": _problem("Unknown kind, invalid params, or a reused Idempotency-Key."),
                    "503": _problem("The queue is full: retry later.", headers=_RETRY_AFTER),
                },
            },
        },
        "/jobs/kinds": {
            "get": {
                "operationId": "listJobKinds",
                "tags": ["jobs"],
                "summary": "The kinds of job this server runs",
                "responses": {
                    "200": _json_body(
                        _ref("JobKinds"), "Registered kinds with their parameter schemas"
                    )
                },
            }
        },
        "/jobs/{job_id}": {
            "parameters": [_JOB_ID],
            "get": {
                "operationId": "getJobStatus",
                "tags": ["jobs"],
                "summary": "Poll a job",
                "responses": {
                    "200": {**job_json, "headers": _RETRY_AFTER},
                    "303": {
                        "description": "The job has ended: see its outcome at the Location",
                        "headers": {
                            "Location": {
                                "description": "/jobs/{job_id}/result",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {_JSON: {"schema": _ref("JobStatus")}},
                    },
                    "404": not_found,
                },
            },
            "delete": {
                "operationId": "cancelJob",
                "tags": ["jobs"],
                "summary": "Cancel a queued or running job",
                "responses": {
                    "200": _json_body(_ref("JobStatus"), "Cancelled"),
                    "404": not_found,
                    "409": _problem("The job had already ended."),
                },
            },
        },
        "/jobs/{job_id}/result": {
            "parameters": [_JOB_ID],
            "get": {
                "operationId": "getJobResult",
                "tags": ["jobs"],
                "summary": "A finished job's outcome",
                "responses": {
                    "200": _json_body(_ref("JobResult"), "The outcome"),
                    "404": not_found,
                    "409": _problem("The job has not ended yet.", headers=_RETRY_AFTER),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json_body({"type": "object"}, "OpenAPI 3.1")},
            }
        },
    }


def _webhooks() -> dict[str, Any]:
    acknowledge = {
        "2XX": {"description": "Acknowledged. Answer fast; do the work later."},
        "default": {"description": "Anything else counts as a failed delivery and is retried."},
    }

    def webhook(event_type: str, summary: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "post": {
                "operationId": f"on_{event_type.replace('.', '_')}",
                "summary": summary,
                "parameters": _SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": schema}},
                },
                "responses": acknowledge,
            }
        }

    def job_event(status: str) -> dict[str, Any]:
        return {
            "allOf": [
                _ref("CompletionWebhook"),
                {"properties": {"type": {"const": f"job.{status}"}}},
            ]
        }

    return {
        "job.succeeded": webhook(
            "job.succeeded", "A job finished; data.result holds its result", job_event("succeeded")
        ),
        "job.failed": webhook(
            "job.failed", "A job failed; data.error says why", job_event("failed")
        ),
        "job.cancelled": webhook("job.cancelled", "A job was cancelled", job_event("cancelled")),
        "event": webhook(
            "event",
            "Any other event the lab sends (user.created, order.paid, ...)",
            _ref("Event"),
        ),
    }


def openapi_document(runner: JobRunner | None = None, *, server_url: str | None = None) -> dict:
    """The OpenAPI 3.1 document for the lab's HTTP API (kinds taken from ``runner``)."""
    from webhooks_lab import __version__

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "webhooks-lab",
            "version": __version__,
            "summary": "A webhook receiver and an Async Request-Reply job API, on your machine.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "webhooks", "description": "Receive webhooks and look at them"},
            {"name": "jobs", "description": "Accept now, finish later"},
        ],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "schemas": _schemas(runner),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before asking again",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def routes(runner: JobRunner | None = None) -> list[BaseRoute]:
    """``GET /openapi.json``, built per request so newly registered kinds appear."""

    async def serve(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(openapi_document(runner, server_url=base))

    return [Route("/openapi.json", serve, methods=["GET"])]


__all__ = ["openapi_document", "routes"]
