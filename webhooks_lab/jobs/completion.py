"""Completion webhooks: a job started with a ``callback_url`` says, signed, when it has ended.

The event is ``job.succeeded``, ``job.failed`` or ``job.cancelled``; its data is the job as it
ended (:class:`~webhooks_lab.jobs.schemas.CompletionData`: status, error, times, ``result`` and the
same ``links`` the HTTP API gives). The lab and ``webhooks-lab serve`` send it through their
sender (signed, retried, logged); a runner made on its own posts it once with :func:`post_once`.
Either way the URL has passed the SSRF guard first: callbacks only ever go to this machine.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.jobs.model import Job, describe
from webhooks_lab.sender.ssrf import THIS_MACHINE, URLGuard

#: Sends a completion webhook: ``await notify(url, event, secret=...)``. The lab and
#: ``webhooks-lab serve`` pass their sender's ``deliver_to`` (signed, retried, logged);
#: a runner made without one uses :func:`post_once`.
Notify = Callable[..., Awaitable[Any]]


def completion_event(job: Job) -> Event:
    """The ``job.succeeded`` / ``job.failed`` / ``job.cancelled`` event for a finished job."""
    # Loaded on first use, as the jobs API loads it: pydantic is not worth a slower start().
    from webhooks_lab.jobs.schemas import CompletionData

    return Event(f"job.{job.status}", CompletionData.of(job).model_dump(mode="json"))


async def post_once(
    url: str,
    event: Event,
    *,
    secret: str | None = None,
    scheme: str = "standard",
    guard: URLGuard = THIS_MACHINE,
) -> dict[str, Any]:
    """Sign ``event`` and POST it to ``url`` once; return what happened.

    The simplest notifier, for a runner made on its own: no retries, no delivery log. ``guard``
    checks the URL before anything connects (:class:`~webhooks_lab.sender.ssrf.UnsafeURL` if it
    refuses). The lab and ``webhooks-lab serve`` send completion webhooks through their sender.
    """
    guard.check_url(url)
    # Imported here: most labs never send a completion webhook (and this loads httpx).
    from webhooks_lab.runtime.traced_http import traced_async_client

    body = event.body()
    timestamp = int(time.time())  # a fact on the wire: real time, whatever the lab clock says
    chosen = scheme if secret else "none"
    headers = signing.headers_for(chosen, secret, body, msg_id=event.id, timestamp=timestamp)
    headers["content-type"] = "application/json"
    async with traced_async_client("Jobs API", timeout=10) as client:
        answer = await client.post(url, content=body, headers=headers)
    return {"status": answer.status_code, "id": event.id}


async def notify_completion(job: Job, notify: Notify, secret: str | None) -> str | None:
    """Send ``job``'s completion webhook; keep what happened in ``job.notification``.

    Returns ``None``, or a line saying why it could not be sent (never raises).
    """
    assert job.callback_url is not None
    try:
        job.notification = await notify(job.callback_url, completion_event(job), secret=secret)
    except Exception as exc:
        job.notification = f"not delivered: {describe(exc)}"
        return f"completion webhook for {job.id} failed: {describe(exc)}"
    return None


__all__ = ["Notify", "completion_event", "notify_completion", "post_once"]
