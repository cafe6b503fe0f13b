"""RFC 9457 problem details: an error answer that says, as JSON, what went wrong.

A route raises :class:`Problem`; whatever catches it answers ``application/problem+json``::

    raise Problem(404, "unknown-job", "No such job", "there is no job 'job_x'")

    {"type": "urn:webhooks-lab:problem:unknown-job", "title": "No such job", "status": 404,
     "detail": "there is no job 'job_x'", "instance": "/jobs/job_x"}

``type`` names the kind of problem (a URN, so no client is tempted to fetch it), ``title`` is the
same for every problem of that type, ``detail`` is this occurrence in plain words. Members beyond
these (RFC 9457 calls them extensions) ride along as keyword arguments. :class:`ProblemDetails`
is the shape as a typed model; an API that publishes its problems subclasses it with its own
extension members and closes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


def problem_type(slug: str) -> str:
    """The ``type`` URI of a problem; a URN, so no client is tempted to fetch it."""
    return f"urn:webhooks-lab:problem:{slug}"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (extension members allowed; subclasses may close it)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        json_schema_extra={"format": "uri-reference"},
        description="what kind of problem: a URN such as urn:webhooks-lab:problem:unknown-job",
    )
    title: str = Field(description="a short summary, the same for every problem of this type")
    status: int = Field(ge=100, le=599, description="the HTTP status code of the answer")
    detail: str = Field(description="this occurrence, in plain words")
    instance: str | None = Field(default=None, description="the path that was asked for")


class Problem(Exception):
    """An error answer: becomes an RFC 9457 ``application/problem+json`` response."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra

    def details(
        self, instance: str | None = None, model: type[ProblemDetails] = ProblemDetails
    ) -> ProblemDetails:
        """The answer's body as ``model`` (which checks it: a closed model refuses strangers)."""
        return model(
            type=problem_type(self.slug),
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            **self.extra,
        )

    def response(
        self, instance: str | None = None, model: type[ProblemDetails] = ProblemDetails
    ) -> Response:
        """The ``application/problem+json`` answer, with this problem's headers."""
        body = self.details(instance, model).model_dump_json(exclude_none=True)
        return Response(
            body, status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON
        )


__all__ = ["PROBLEM_JSON", "Problem", "ProblemDetails", "problem_type"]
