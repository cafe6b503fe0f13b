"""The shapes the jobs API answers with, and the completion webhook's payload, as typed models.

The HTTP API builds every answer from these (``JobStatus.of(job)`` ...), the completion webhook
builds its data from :class:`CompletionData`, and ``/openapi.json`` publishes their JSON Schemas,
so what is documented is what is sent. Every model is closed (``additionalProperties: false``):
a field added to an answer must be added here, where the document sees it too.

A job's links are the same wherever the job appears (a status answer, a result, a webhook):
``self`` is where to poll it (``/jobs/{id}``, the registered link relation for "this resource"),
``result`` is where its outcome lives (``/jobs/{id}/result``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from webhooks_lab.http.problem import ProblemDetails
from webhooks_lab.jobs.model import FINAL, STATUSES, SUCCEEDED, Job, Kind, iso

Status = Literal[STATUSES]  # type: ignore[valid-type]
FinalStatus = Literal[tuple(s for s in STATUSES if s in FINAL)]  # type: ignore[valid-type]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
EVENT_TYPES = tuple(f"job.{status}" for status in STATUSES if status in FINAL)


class Closed(BaseModel):
    """A model that refuses (and documents that it has) no fields but its own."""

    model_config = ConfigDict(extra="forbid")


class JobLinks(Closed):
    """Where to find a job: poll ``self``; its outcome is at ``result`` once it has ended."""

    self: str = Field(description="the job's status URL: /jobs/{id}")
    result: str = Field(description="the job's outcome: /jobs/{id}/result (303 points there)")

    @classmethod
    def of(cls, job: Job) -> JobLinks:
        return cls(self=f"/jobs/{job.id}", result=f"/jobs/{job.id}/result")


class JobStatus(Closed):
    """A job as ``POST /jobs``, ``GET /jobs/{id}`` and ``DELETE /jobs/{id}`` answer it."""

    id: str
    kind: str | None = Field(description="the registered kind, null for a job submitted in Python")
    name: str
    status: Status
    progress: float = Field(ge=0, le=100, description="percent done, as the job last reported")
    message: str | None = Field(description="the job's own progress note")
    error: str | None = Field(description="why it failed or was cancelled; null otherwise")
    created_at: Timestamp
    updated_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    worker: str | None = Field(
        default=None,
        description="the worker process that runs or ran it (with a broker); null in-process",
    )
    links: JobLinks

    @classmethod
    def of(cls, job: Job) -> JobStatus:
        return cls(**job.to_dict(), links=JobLinks.of(job))


class CompletionData(JobStatus):
    """The ``data`` of a completion webhook: the job as it ended, with its result."""

    status: FinalStatus
    result: Any = Field(description="what the job returned (null unless it succeeded)")

    @classmethod
    def of(cls, job: Job) -> CompletionData:
        return cls(**job.to_dict(), result=result_of(job), links=JobLinks.of(job))


class CompletionWebhook(Closed):
    """The payload of a ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` webhook."""

    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    timestamp: Timestamp
    data: CompletionData


class JobResult(Closed):
    """A finished job's outcome, as ``GET /jobs/{id}/result`` answers it."""

    id: str
    kind: str | None
    status: FinalStatus
    result: Any = Field(description="what the job returned (null unless it succeeded)")
    error: str | None
    finished_at: Timestamp
    links: JobLinks

    @classmethod
    def of(cls, job: Job) -> JobResult:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            result=result_of(job),
            error=job.error,
            finished_at=iso(job.finished_at),
            links=JobLinks.of(job),
        )


class JobCounts(Closed):
    """How many jobs are queued and running now, and how many ended each way so far."""

    queued: int = Field(ge=0)
    running: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    cancelled: int = Field(ge=0)


class JobList(Closed):
    """``GET /jobs``: the newest jobs (at most 100), oldest first, and the counts."""

    jobs: list[JobStatus]
    counts: JobCounts


class JobKind(Closed):
    """A kind of job the server runs, with the JSON Schema its ``params`` are checked against."""

    name: str
    description: str
    params: dict[str, Any] = Field(description="JSON Schema (2020-12) of the parameters")
    timeout: float | None = Field(description="lab seconds a job of this kind may run")
    retry_after: int = Field(ge=1, description="seconds a poller is asked to wait between polls")

    @classmethod
    def of(cls, kind: Kind) -> JobKind:
        return cls(**kind.to_dict())


class JobKinds(Closed):
    """``GET /jobs/kinds``."""

    kinds: list[JobKind]


class JobRequest(Closed):
    """The body of ``POST /jobs``."""

    kind: str = Field(description="a name from GET /jobs/kinds")
    params: dict[str, Any] | None = Field(default=None, description="the kind's parameters")
    callback_url: str | None = Field(
        default=None,
        json_schema_extra={"format": "uri"},
        description="a URL on this machine that gets a signed job.* webhook when the job ends",
    )


class JobProblem(ProblemDetails):
    """RFC 9457 problem details, as the jobs API answers every error."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = Field(
        default=None, description="unknown-kind: the kinds that are registered"
    )
    errors: list[str] | None = Field(
        default=None,
        description="invalid-params: each problem in plain words, naming its field (params.width)",
    )


def result_of(job: Job) -> Any:
    """The job's result as JSON-ready data (``None`` unless it succeeded)."""
    return jsonable(job.result) if job.status == SUCCEEDED else None


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: anything JSON cannot hold becomes its ``repr``.

    A job may return anything; an HTTP answer or a webhook must still be valid JSON.
    """
    try:
        return json.loads(json.dumps(value, default=repr, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


#: Every model ``/openapi.json`` publishes, by the name it publishes it under.
MODELS: tuple[type[BaseModel], ...] = (
    JobStatus,
    JobResult,
    JobList,
    JobKinds,
    JobRequest,
    JobProblem,
    CompletionWebhook,
)

__all__ = [
    "EVENT_TYPES",
    "MODELS",
    "CompletionData",
    "CompletionWebhook",
    "JobCounts",
    "JobKind",
    "JobKinds",
    "JobLinks",
    "JobList",
    "JobProblem",
    "JobRequest",
    "JobResult",
    "JobStatus",
    "jsonable",
    "result_of",
]
