"""The client's side of Async Request-Reply: start a job, then find out when it is done.

There are two ways to find out, and a lesson races them:

* **Poll** the status URL from ``Location``, waiting as long as ``Retry-After`` asks between
  requests, until the server answers ``303 See Other``; then fetch the result it points to.
  :func:`poll` (or :func:`poll_async`) does exactly that and counts its requests.
* **Be told**: give a ``callback_url`` when you start the job and wait for the signed
  ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` webhook: :func:`wait_for_webhook`.

::

    accepted = jobs_client.submit(lab.url, "video.encode", {"seconds": 10})
    outcome = jobs_client.poll(accepted.url)        # Outcome(succeeded, 3 requests, ...)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from webhooks_lab.jobs.model import FINAL, SUCCEEDED
from webhooks_lab.receiver.inbox import Delivery, Inbox
from webhooks_lab.retry import parse_retry_after
from webhooks_lab.runtime.traced_http import traced_async_client, traced_client

# Who this client is on the wire trace when it makes its own connection: the learner's code.
PARTY = "Your code"


class JobRequestFailed(Exception):
    """The server refused a request; ``problem`` holds its RFC 9457 answer."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        detail = problem.get("detail") or problem.get("title") or "no details"
        super().__init__(f"{status}: {detail}")
        self.status, self.problem = status, problem


@dataclass
class Accepted:
    """A ``202 Accepted``: where to poll (``url``), how long to wait first, the job's id."""

    job_id: str
    url: str
    retry_after: float
    replayed: bool = False
    status_code: int = 202

    def __repr__(self) -> str:
        again = ", replayed" if self.replayed else ""
        return f"<Accepted {self.job_id}: poll {self.url} after {self.retry_after:g} s{again}>"


@dataclass
class Outcome:
    """How a job ended, as a poller found out: status, result or error, and what it cost."""

    job_id: str
    status: str
    result: Any
    error: str | None
    requests: int
    seconds: float
    learned_at: float = field(repr=False)
    progress_seen: list[float] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    def __repr__(self) -> str:
        what = f"result={self.result!r}" if self.ok else f"error={self.error!r}"
        return (
            f"<Outcome {self.job_id} {self.status}, {what}; "
            f"{self.requests} requests over {self.seconds:.1f} s>"
        )


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """``Retry-After`` as seconds (:func:`webhooks_lab.retry.parse_retry_after`: a number or an
    HTTP date against the wall clock); ``default`` if it is absent or unreadable."""
    seconds = parse_retry_after(value)
    return default if seconds is None else seconds


def _answer(response: httpx.Response, base: str) -> Accepted:
    if response.status_code != 202:
        raise JobRequestFailed(response.status_code, _problem(response))
    location = response.headers["location"]
    return Accepted(
        job_id=location.rstrip("/").rsplit("/", 1)[-1],
        url=str(httpx.URL(base).join(location)),
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
        replayed=response.headers.get("idempotent-replayed") == "true",
    )


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:200]}
    return body if isinstance(body, dict) else {"detail": str(body)[:200]}


def _request(
    kind: str,
    params: dict[str, Any] | None,
    callback_url: str | None,
    idempotency_key: str | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    body: dict[str, Any] = {"kind": kind, "params": params or {}}
    if callback_url is not None:
        body["callback_url"] = callback_url
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return body, headers


def submit(
    base_url: str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
    client: httpx.Client | None = None,
) -> Accepted:
    """``POST {base_url}/jobs``; return the :class:`Accepted` answer or raise what was refused."""
    body, headers = _request(kind, params, callback_url, idempotency_key)
    url = f"{base_url.rstrip('/')}/jobs"
    if client is None:
        with traced_client(PARTY, timeout=10) as own:
            return _answer(own.post(url, json=body, headers=headers), url)
    return _answer(client.post(url, json=body, headers=headers), url)


async def submit_async(
    base_url: str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    callback_url: str | None = None,
    idempotency_key: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> Accepted:
    """:func:`submit` for an ``async`` cell."""
    body, headers = _request(kind, params, callback_url, idempotency_key)
    url = f"{base_url.rstrip('/')}/jobs"
    if client is None:
        async with traced_async_client(PARTY, timeout=10) as own:
            return _answer(await own.post(url, json=body, headers=headers), url)
    return _answer(await client.post(url, json=body, headers=headers), url)


class _Poll:
    """One polling conversation: what to do with each answer (shared by sync and async)."""

    def __init__(self, url: str, timeout: float, min_interval: float, max_interval: float | None):
        self.url, self.timeout = url, timeout
        self.min_interval, self.max_interval = min_interval, max_interval
        self.started = time.monotonic()
        self.requests = 0
        self.progress: list[float] = []

    def next_step(self, response: httpx.Response) -> tuple[str, Any]:
        """``("wait", seconds)``, ``("follow", url)`` or ``("done", Outcome)``."""
        self.requests += 1
        if response.status_code == 303:
            return "follow", str(httpx.URL(self.url).join(response.headers["location"]))
        if response.status_code != 200:
            raise JobRequestFailed(response.status_code, _problem(response))
        body = response.json()
        if body.get("status") in FINAL and "result" in body:
            return "done", self._outcome(body)
        self.progress.append(body.get("progress", 0))
        wait = retry_after_seconds(response.headers.get("retry-after"))
        wait = max(self.min_interval, wait)
        if self.max_interval is not None:
            wait = min(wait, self.max_interval)
        if time.monotonic() - self.started + wait > self.timeout:
            raise TimeoutError(
                f"{body.get('id', 'the job')} was still {body.get('status')} after "
                f"{self.requests} polls; gave up after {self.timeout:g} s"
            )
        return "wait", wait

    def _outcome(self, body: dict[str, Any]) -> Outcome:
        return Outcome(
            job_id=body.get("id", ""),
            status=body["status"],
            result=body.get("result"),
            error=body.get("error"),
            requests=self.requests,
            seconds=time.monotonic() - self.started,
            learned_at=time.time(),
            progress_seen=self.progress,
        )


def poll(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
    min_interval: float = 0.0,
    max_interval: float | None = None,
) -> Outcome:
    """Poll a job's status URL, honouring ``Retry-After``, until it ends; follow the ``303``.

    ``max_interval`` caps the wait the server asks for (never poll slower than this);
    ``min_interval`` floors it (never poll faster). Raises ``TimeoutError`` after ``timeout`` s.
    """
    state = _Poll(url, timeout, min_interval, max_interval)
    own = client is None
    http = client or traced_client(PARTY, timeout=10)
    try:
        target = url
        while True:
            step, value = state.next_step(http.get(target))
            if step == "done":
                return value
            if step == "follow":
                target = value
            else:
                time.sleep(value)
    finally:
        if own:
            http.close()


async def poll_async(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 60.0,
    min_interval: float = 0.0,
    max_interval: float | None = None,
) -> Outcome:
    """:func:`poll` for an ``async`` cell (or to race against a webhook)."""
    state = _Poll(url, timeout, min_interval, max_interval)
    own = client is None
    http = client or traced_async_client(PARTY, timeout=10)
    try:
        target = url
        while True:
            step, value = state.next_step(await http.get(target))
            if step == "done":
                return value
            if step == "follow":
                target = value
            else:
                await asyncio.sleep(value)
    finally:
        if own:
            await http.aclose()


def _is_for(delivery: Delivery, job_id: str) -> bool:
    if not delivery.ok or not (delivery.event_type or "").startswith("job."):
        return False
    try:
        data = json.loads(delivery.body).get("data")
    except (ValueError, AttributeError):
        return False
    return isinstance(data, dict) and data.get("id") == job_id


def wait_for_webhook(inbox: Inbox, job_id: str, *, timeout: float = 30.0) -> Delivery:
    """Block until the ``job.*`` webhook for ``job_id`` has been accepted into ``inbox``."""
    arrived: list[Delivery] = []
    signal = threading.Event()

    def listener(delivery: Delivery) -> None:
        if _is_for(delivery, job_id):
            arrived.append(delivery)
            signal.set()

    unsubscribe = inbox.subscribe(listener)
    try:
        for delivery in inbox.snapshot():
            if _is_for(delivery, job_id):
                return delivery
        if not signal.wait(timeout):
            raise TimeoutError(f"no job.* webhook for {job_id} arrived within {timeout:g} s")
        return arrived[0]
    finally:
        unsubscribe()


async def wait_for_webhook_async(inbox: Inbox, job_id: str, *, timeout: float = 30.0) -> Delivery:
    """:func:`wait_for_webhook` for an ``async`` cell: the kernel stays free while it waits."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Delivery] = loop.create_future()

    def settle(delivery: Delivery) -> None:
        if not future.done():
            future.set_result(delivery)

    def listener(delivery: Delivery) -> None:  # called on the lab loop, as it is recorded
        if _is_for(delivery, job_id):
            loop.call_soon_threadsafe(settle, delivery)

    unsubscribe = inbox.subscribe(listener)
    try:
        for delivery in inbox.snapshot():
            if _is_for(delivery, job_id):
                return delivery
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"no job.* webhook for {job_id} arrived within {timeout:g} s"
            ) from None
    finally:
        unsubscribe()


@dataclass
class CompletionRace:
    """Polling against a completion webhook, for one job: who knew first, and at what cost."""

    job_id: str
    status: str
    poll_lag: float
    poll_requests: int
    webhook_lag: float
    webhook_requests: int = 1

    @property
    def winner(self) -> str:
        return "webhook" if self.webhook_lag <= self.poll_lag else "polling"

    def __repr__(self) -> str:
        return (
            f"<CompletionRace {self.job_id}: webhook knew {self.webhook_lag * 1000:.0f} ms "
            f"after the end (1 request), polling {self.poll_lag * 1000:.0f} ms after "
            f"({self.poll_requests} requests)>"
        )


async def race(
    base_url: str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    inbox: Inbox,
    callback_url: str,
    timeout: float = 60.0,
) -> CompletionRace:
    """Start one job with a callback, then poll for it *and* wait for its webhook, together.

    Lags are measured from the moment the job finished (its ``finished_at``) to the moment
    each side knew. Polling honours ``Retry-After``, as a polite client must.
    """
    accepted = await submit_async(base_url, kind, params, callback_url=callback_url)

    async def told() -> tuple[Delivery, float]:
        delivery = await wait_for_webhook_async(inbox, accepted.job_id, timeout=timeout)
        return delivery, time.time()

    polled, (delivery, told_at) = await asyncio.gather(
        poll_async(accepted.url, timeout=timeout), told()
    )
    finished = _unix(json.loads(delivery.body)["data"]["finished_at"])
    return CompletionRace(
        job_id=accepted.job_id,
        status=polled.status,
        poll_lag=max(0.0, polled.learned_at - finished),
        poll_requests=polled.requests + 1,  # the POST that started it counts too
        webhook_lag=max(0.0, told_at - finished),
    )


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


__all__ = [
    "Accepted",
    "CompletionRace",
    "JobRequestFailed",
    "Outcome",
    "poll",
    "poll_async",
    "race",
    "retry_after_seconds",
    "submit",
    "submit_async",
    "wait_for_webhook",
    "wait_for_webhook_async",
]
