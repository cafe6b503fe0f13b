"""httpx clients that write each exchange into the wire trace, named for who they are.

    client = traced_async_client("Poller", timeout=10)     # every request it makes is traced
    client = traced_client("Your code", timeout=10)        # the same, for plain code
    await client.get(url, extensions={"party": "Poller 2"})  # one request as someone else

The trace is the one given, or the running lab's (:func:`webhooks_lab.runtime.trace.current`)
at the moment of each request, so a client made before the lab started still shows up in it;
with neither, it writes nothing down.
A request that got no answer is recorded as ``timeout`` or ``error``, then re-raised.
"""

from __future__ import annotations

from typing import Any

import httpx

from webhooks_lab.runtime.trace import Pending, Trace, current, job_id_in

__all__ = ["TracedAsyncTransport", "TracedTransport", "traced_async_client", "traced_client"]


def _begin(trace: Trace | None, party: str, request: httpx.Request) -> tuple[Trace, Pending] | None:
    """The claim of a request about to go out, in ``trace`` or the lab's (``None``: no lab)."""
    used = trace if trace is not None else current()
    if used is None:
        return None
    pending = used.begin(
        request.extensions.get("party") or party,
        request.method,
        str(request.url),
        webhook_id=request.headers.get("webhook-id"),
    )
    return used, pending


def _end(begun: tuple[Trace, Pending] | None, status: int | None = None, **what: Any) -> None:
    """What came back for a request :func:`_begin` claimed (nothing to do without a lab)."""
    if begun is not None:
        trace, pending = begun
        trace.end(pending, status, **what)


def _error(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout: {type(exc).__name__}"
    return f"connection error: {type(exc).__name__}"


def _job_of(response: httpx.Response) -> str | None:
    location = response.headers.get("location")
    return job_id_in(location) if location else None


class TracedAsyncTransport(httpx.AsyncBaseTransport):
    """Wraps another async transport; records each request as ``party``'s."""

    def __init__(
        self, party: str, trace: Trace | None = None, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.party, self.trace = party, trace
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        begun = _begin(self.trace, self.party, request)
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            _end(begun, error=_error(exc) if isinstance(exc, Exception) else "cancelled")
            raise
        _end(begun, response.status_code, job_id=_job_of(response))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class TracedTransport(httpx.BaseTransport):
    """Wraps another transport; records each request as ``party``'s."""

    def __init__(
        self, party: str, trace: Trace | None = None, inner: httpx.BaseTransport | None = None
    ) -> None:
        self.party, self.trace = party, trace
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        begun = _begin(self.trace, self.party, request)
        try:
            response = self.inner.handle_request(request)
        except Exception as exc:
            _end(begun, error=_error(exc))
            raise
        _end(begun, response.status_code, job_id=_job_of(response))
        return response

    def close(self) -> None:
        self.inner.close()


def traced_async_client(
    party: str, *, trace: Trace | None = None, **options: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``trust_env=False``: loopback never goes through a proxy)."""
    options.setdefault("trust_env", False)
    return httpx.AsyncClient(transport=TracedAsyncTransport(party, trace), **options)


def traced_client(party: str, *, trace: Trace | None = None, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` (``trust_env=False``: loopback never goes through a proxy)."""
    options.setdefault("trust_env", False)
    return httpx.Client(transport=TracedTransport(party, trace), **options)
