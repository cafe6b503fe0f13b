"""The Async Request-Reply HTTP API: accept work now (``202``), let the client check back later.

::

    POST   /jobs                {"kind", "params", "callback_url"?}  -> 202 Accepted,
                                Location: /jobs/{id}, Retry-After: seconds
    GET    /jobs/{id}           -> 200 {id, status, progress, ...} while queued or running,
                                   303 See Other -> /jobs/{id}/result once it has ended
    GET    /jobs/{id}/result    -> 200 {id, status, result, error} (409 while not ended)
    DELETE /jobs/{id}           -> 200, the job cancelled (409 if it had already ended)
    GET    /jobs/kinds          -> the kinds of job the server can run, with their parameters
    GET    /jobs                -> recent jobs and counts

``POST /jobs`` checks everything *before* accepting: a body that is not JSON (``415``), too big
(``413``), malformed or the wrong shape (``400``), a callback URL the SSRF guard refuses
(``400``), an unknown kind or bad parameters (``422``). A full queue answers ``503`` with
``Retry-After``. Every error is ``application/problem+json`` (RFC 9457) saying what is wrong, and
is kept in ``runner.refusals`` so a learner can look at it afterwards. An ``Idempotency-Key``
header makes a retried POST safe: the same key and body give back the job already started.

Every answer is built from a model in :mod:`webhooks_lab.jobs.schemas`, the same models
``/openapi.json`` publishes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webhooks_lab import strict_json
from webhooks_lab.http.body import JOB_REQUEST_BODY_LIMIT, BodyTooLarge, read_body
from webhooks_lab.http.problem import Problem
from webhooks_lab.jobs.model import (
    IdempotencyConflict,
    InvalidParams,
    Job,
    JobError,
    QueueFull,
    Unavailable,
    UnknownKind,
    iso,
)
from webhooks_lab.jobs.params import MAX_DEPTH
from webhooks_lab.jobs.runner import JobRunner
from webhooks_lab.jobs.schemas import (
    JobCounts,
    JobKind,
    JobKinds,
    JobList,
    JobProblem,
    JobResult,
    JobStatus,
)
from webhooks_lab.sender.ssrf import UnsafeURL

DEFAULT_MAX_BODY = JOB_REQUEST_BODY_LIMIT  # why that size: webhooks_lab.http.body
_FIELDS = ("kind", "params", "callback_url")
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Handler = Callable[[Request], Awaitable[Response]]


class JobsAPI:
    """The ``/jobs`` routes for one :class:`JobRunner`."""

    def __init__(self, runner: JobRunner, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.runner = runner
        self.max_body = max_body

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/jobs", self._guard(self.collection, "GET, HEAD, POST"), methods=_ALL_METHODS),
            Route("/jobs/kinds", self._guard(self.kinds, "GET, HEAD"), methods=_ALL_METHODS),
            Route(
                "/jobs/{job_id}", self._guard(self.job, "GET, HEAD, DELETE"), methods=_ALL_METHODS
            ),
            Route(
                "/jobs/{job_id}/result", self._guard(self.result, "GET, HEAD"), methods=_ALL_METHODS
            ),
        ]

    # -- endpoints --------------------------------------------------------------------------

    async def collection(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        status = request.query_params.get("status")
        offset, limit = _page(request, "offset", 0, 10**6), _page(request, "limit", 100, 100)
        jobs, counts = await self.runner.listing(status, offset=offset, limit=limit)
        return _json(JobList(jobs=[JobStatus.of(job) for job in jobs], counts=JobCounts(**counts)))

    async def kinds(self, request: Request) -> Response:
        return _json(JobKinds(kinds=[JobKind.of(kind) for kind in self.runner.kinds()]))

    async def create(self, request: Request) -> Response:
        body = await self._read_json(request)
        kind, params, callback_url = self._request_fields(body)
        key = self._idempotency_key(request)
        try:
            job, replay = await self.runner.admit(
                kind, params, callback_url=callback_url, idempotency_key=key
            )
        except UnknownKind as exc:
            raise Problem(
                422, "unknown-kind", "Unknown job kind", str(exc), kinds=exc.known
            ) from None
        except InvalidParams as exc:
            raise Problem(
                422,
                "invalid-params",
                "Invalid job parameters",
                f"the parameters for {kind!r} do not fit: {exc}",
                errors=exc.problems,
            ) from None
        except IdempotencyConflict as exc:
            raise Problem(
                422, "idempotency-key-reused", "Idempotency-Key reused", str(exc)
            ) from None
        except QueueFull as exc:
            raise Problem(
                503,
                "queue-full",
                "Job queue full",
                str(exc),
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        except Unavailable:
            raise  # answered 503 with Retry-After by _guard, as on every route
        except JobError as exc:
            raise Problem(503, "unavailable", "Not accepting jobs", str(exc)) from None
        headers = {"Location": f"/jobs/{job.id}", "Retry-After": str(job.retry_after)}
        if replay:
            headers["Idempotent-Replayed"] = "true"
        return _json(JobStatus.of(job), 202, headers)

    async def job(self, request: Request) -> Response:
        job = await self._find(request)
        if request.method == "DELETE":
            if job.done:
                raise Problem(
                    409,
                    "already-finished",
                    "Job already finished",
                    f"{job.id} already {job.status} at {iso(job.finished_at)}; "
                    "there is nothing left to cancel",
                )
            await self.runner.revoke(job)
            return _json(JobStatus.of(job))
        if job.done:
            return _json(JobStatus.of(job), 303, {"Location": f"/jobs/{job.id}/result"})
        return _json(JobStatus.of(job), headers={"Retry-After": str(job.retry_after)})

    async def result(self, request: Request) -> Response:
        job = await self._find(request)
        if not job.done:
            raise Problem(
                409,
                "not-finished",
                "Job not finished",
                f"{job.id} is still {job.status} ({job.progress:.0f}%); "
                f"poll /jobs/{job.id} and come back when it answers 303",
                headers={"Retry-After": str(job.retry_after)},
            )
        return _json(JobResult.of(job))

    # -- checking a request -------------------------------------------------------------------

    async def _read_json(self, request: Request) -> Any:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            shown = f"{media!r}" if media else "no content type"
            raise Problem(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"POST /jobs takes a JSON body (Content-Type: application/json); got {shown}",
                # The unread body may still be arriving: close rather than read it to discard.
                headers={"Accept-Post": "application/json", "Connection": "close"},
            )
        try:
            raw = await read_body(
                request.receive, self.max_body, content_length=request.headers.get("content-length")
            )
        except BodyTooLarge as exc:
            raise self._too_large(exc.size) from None
        try:
            return strict_json.loads(raw, max_depth=MAX_DEPTH)
        except strict_json.JSONRefused as exc:
            if exc.code == "too_deep":
                raise Problem(400, "too-deep", "JSON nested too deeply", str(exc)) from None
            raise Problem(400, "invalid-json", "Body is not valid JSON", str(exc)) from None

    def _too_large(self, size: int | None) -> Problem:
        told = f"{size} bytes" if size is not None else "larger than that"
        return Problem(
            413,
            "too-large",
            "Body too large",
            f"the body is {told}; POST /jobs takes at most {self.max_body} bytes",
            headers={"Connection": "close"},
        )

    def _request_fields(self, body: Any) -> tuple[str, dict[str, Any] | None, str | None]:
        shape = 'send {"kind": "...", "params": {...}, "callback_url": "..." (optional)}'
        if not isinstance(body, dict):
            raise Problem(
                400,
                "invalid-request",
                "Invalid job request",
                f"the body must be a JSON object, got {_json_word(body)}; {shape}",
            )
        unknown = [name for name in body if name not in _FIELDS]
        if unknown:
            names = ", ".join(repr(name[:40]) for name in unknown[:5])
            raise Problem(
                400,
                "invalid-request",
                "Invalid job request",
                f"unknown field {names}; a job request has only kind, params and callback_url",
            )
        kind = body.get("kind")
        if not isinstance(kind, str) or not kind:
            detail = (
                "is missing" if "kind" not in body else f"must be a string, got {_json_word(kind)}"
            )
            raise Problem(
                400, "invalid-request", "Invalid job request", f"'kind' {detail}; {shape}"
            )
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise Problem(
                400,
                "invalid-request",
                "Invalid job request",
                f"'params' must be a JSON object, got {_json_word(params)}",
            )
        callback_url = body.get("callback_url")
        if callback_url is not None:
            try:
                self.runner.callback_guard.check_url(callback_url)
            except UnsafeURL as exc:
                raise Problem(
                    400,
                    "callback-refused",
                    "Callback URL refused",
                    f"callback_url refused: {exc.reason}",
                ) from None
        return kind, params, callback_url

    def _idempotency_key(self, request: Request) -> str | None:
        key = request.headers.get("idempotency-key")
        if key is None:
            return None
        if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
            raise Problem(
                400,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is ideal)",
            )
        return key

    async def _find(self, request: Request) -> Job:
        job_id = request.path_params["job_id"]
        job = await self.runner.lookup(job_id)
        if job is None:
            raise Problem(
                404,
                "unknown-job",
                "No such job",
                f"there is no job {job_id[:60]!r} (it never existed, or finished long ago "
                "and was forgotten)",
            )
        return job

    # -- answering -----------------------------------------------------------------------------

    def _guard(self, endpoint: Handler, allow: str) -> Handler:
        """Wrap an endpoint: wrong methods get 405, any Problem becomes problem+json."""
        allowed = {method.strip() for method in allow.split(",")}

        async def guarded(request: Request) -> Response:
            try:
                if request.method == "OPTIONS":
                    return Response(status_code=204, headers={"Allow": allow})
                if request.method not in allowed:
                    raise Problem(
                        405,
                        "method-not-allowed",
                        "Method not allowed",
                        f"{request.method} is not allowed on {request.url.path}; use {allow}",
                        headers={"Allow": allow},
                    )
                return await endpoint(request)
            except Unavailable as exc:  # the broker is down: say so, and when to come back
                problem = Problem(
                    503,
                    "broker-unavailable",
                    "Job broker unavailable",
                    str(exc),
                    headers={"Retry-After": str(exc.retry_after)},
                )
                return self._answer_problem(request, problem)
            except Problem as problem:
                return self._answer_problem(request, problem)

        return guarded

    def _answer_problem(self, request: Request, problem: Problem) -> Response:
        self.runner.refusals.append(
            {
                "at": self.runner.clock.time(),
                "method": request.method,
                "path": request.url.path,
                "status": problem.status,
                "title": problem.title,
                "detail": problem.detail,
            }
        )
        return problem.response(request.url.path, JobProblem)


def routes(runner: JobRunner, *, max_body: int = DEFAULT_MAX_BODY) -> list[BaseRoute]:
    """The ``/jobs`` routes for ``runner``, ready for ``create_app(..., extra_routes=...)``."""
    return JobsAPI(runner, max_body=max_body).routes()


def _page(request: Request, name: str, default: int, most: int) -> int:
    """A paging query parameter: a whole number from 0 (1 for ``limit``) to ``most``."""
    text = request.query_params.get(name)
    if text is None:
        return default
    least = 1 if name == "limit" else 0
    if not (text.isascii() and text.isdigit()) or not least <= int(text[:8]) <= most:
        raise Problem(
            400,
            "invalid-query",
            "Invalid query parameter",
            f"{name} is a whole number from {least} to {most}, got {text[:40]!r}",
        )
    return int(text)


def _json(
    answer: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A model as the JSON answer (pydantic serializes it: no dict, no json.dumps in between)."""
    return Response(answer.model_dump_json(), status_code, headers, media_type="application/json")


def _json_word(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


__all__ = ["DEFAULT_MAX_BODY", "JobsAPI", "routes"]
