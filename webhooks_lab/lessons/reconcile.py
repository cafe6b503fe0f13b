"""Reconciliation: walk the source's events list from your last cursor and process what you missed.

Retries end. Svix gives up after about a day, Stripe after three days, and GitHub does not retry
at all; an endpoint can be disabled, and events sent while it was disabled are never attempted.
Shopify's advice is to "implement reconciliation jobs"; Stripe's is to list the events that were
not delivered; GitHub's is a script that finds failed deliveries and redelivers them
(shopify.dev/docs/apps/build/webhooks/best-practices;
docs.stripe.com/webhooks/process-undelivered-events;
docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).

Redelivery (``lab.sender.replay(delivery)``, GitHub's "Redeliver" button) can only resend what
was attempted. A :class:`Reconciler` asks the source instead: it reads
``GET /events?after=<cursor>`` page by page, hands each event it has not processed to your
``process`` function, and moves its cursor on after each one. It is idempotent: the ``seen``
set is shared with your webhook handler, so an event that came both ways is processed once. It
is bounded: at most ``max_pages`` pages a run, each whole within ``timeout`` real seconds and
:data:`MAX_PAGE_BYTES`, and a page that does not move the cursor on (empty, or the same page
again) ends the run with an error instead of looping. When something fails (the source is
down, a page is refused, ``process`` raises), the run stops *before* that event, so nothing is
lost: run it again and it carries on from there.

:func:`register_reconcile` makes it a job kind, ``events.reconcile``, that a cell, a schedule or
``POST /jobs`` can start.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from webhooks_lab.events import Event
from webhooks_lab.runtime.trace import Trace
from webhooks_lab.runtime.traced_http import traced_async_client

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

__all__ = ["MAX_PAGE_BYTES", "ReconcileReport", "Reconciler", "register_reconcile"]

MAX_PAGE_BYTES = 4 * 1024 * 1024  # a page of at most 100 events; far more is not a page


@dataclass
class ReconcileReport:
    """What one run did: pages read, events read, processed and skipped (seen before)."""

    pages: int = 0
    read: int = 0
    processed: int = 0
    skipped: int = 0
    cursor: str | None = None
    complete: bool = False  # reached the end of the events list
    error: str | None = None
    processed_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reconciler:
    """Reads a source's events list from ``cursor`` and processes every event not yet ``seen``.

    ``process(event)`` (plain or ``async``) gets a :class:`~webhooks_lab.events.Event`; the same
    function your webhook handler calls. ``seen`` is the set of event ids already processed
    (share it with the handler). ``page`` events per request, at most ``max_pages`` requests a
    run, each with ``timeout`` real seconds.
    """

    def __init__(
        self,
        source_url: str,
        process: Callable[[Event], Any],
        *,
        seen: set[str] | None = None,
        cursor: str | None = None,
        page: int = 50,
        max_pages: int = 100,
        timeout: float = 5.0,
        trace: Trace | None = None,
        party: str = "Your app",
    ) -> None:
        if not 1 <= page <= 100:
            raise ValueError(f"page must be from 1 to 100, got {page!r}")
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        self.source_url = source_url.rstrip("/")
        self.process = process
        self.seen = seen if seen is not None else set()
        self.cursor = cursor
        self.page, self.max_pages, self.timeout = page, max_pages, timeout
        self.trace, self.party = trace, party
        self.runs: list[ReconcileReport] = []

    async def run(self, max_pages: int | None = None) -> ReconcileReport:
        """One pass from the cursor to the end of the list (or ``max_pages`` pages)."""
        report = ReconcileReport(cursor=self.cursor)
        self.runs.append(report)
        budget = self.max_pages if max_pages is None else max(1, int(max_pages))
        async with traced_async_client(
            self.party, trace=self.trace, timeout=self.timeout
        ) as client:
            while report.pages < budget:
                page = await self._page(client, report)
                if page is None:
                    return report
                report.pages += 1
                events, more = page
                before = self.cursor
                for payload in events:
                    report.read += 1
                    if not await self._handle(payload, report):
                        return report
                if more and self.cursor == before:  # empty, or the same page again
                    report.error = "the events list said there is more but did not move on"
                    return report
                if not more:
                    report.complete = True
                    return report
        report.error = f"stopped after {budget} pages; run again to carry on from the cursor"
        return report

    async def _page(
        self, client: httpx.AsyncClient, report: ReconcileReport
    ) -> tuple[list[dict[str, Any]], bool] | None:
        params = {"limit": str(self.page)}
        if self.cursor:
            params["after"] = self.cursor
        try:
            # A whole page within the timeout and the size limit: a source that trickles a body
            # that never ends must not hold the run for ever, nor fill the memory.
            async with asyncio.timeout(self.timeout):
                async with client.stream("GET", f"{self.source_url}/events", params=params) as got:
                    status, raw = got.status_code, await _read_at_most(got, MAX_PAGE_BYTES)
        except TimeoutError:
            report.error = f"the events list did not send a whole page within {self.timeout:g} s"
            return None
        except httpx.HTTPError as exc:
            report.error = f"could not read the events list: {type(exc).__name__}: {exc}"
            return None
        if raw is None:
            report.error = f"a page of the events list was larger than {MAX_PAGE_BYTES} bytes"
            return None
        if status != 200:
            try:
                why = json.loads(raw).get("detail", raw[:200].decode(errors="replace"))
            except (ValueError, AttributeError):
                why = raw[:200].decode(errors="replace")
            report.error = f"the events list answered {status}: {why}"
            return None
        try:
            body = json.loads(raw)
            events, more = body["data"], bool(body["has_more"])
            if not isinstance(events, list):
                raise TypeError("data is not a list")
        except (ValueError, KeyError, TypeError):
            report.error = "the events list answered something that is not a page of events"
            return None
        return events, more

    async def _handle(self, payload: dict[str, Any], report: ReconcileReport) -> bool:
        try:
            event = Event.from_payload(payload, id=str(payload["id"]))
        except Exception as exc:
            report.error = f"an event in the list is malformed: {exc}"
            return False
        if event.id in self.seen:
            report.skipped += 1
        else:
            try:
                result = self.process(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                report.error = f"processing {event.id} failed: {type(exc).__name__}: {exc}"
                return False  # the cursor stays before it: the next run tries it again
            self.seen.add(event.id)
            report.processed += 1
            report.processed_ids.append(event.id)
        self.cursor = report.cursor = event.id
        return True


def register_reconcile(lab: Lab, reconciler: Reconciler, name: str = "events.reconcile") -> Any:
    """Register the job kind ``name`` on ``lab.jobs``: one reconciliation run per job.

    Start it with ``lab.jobs.start("events.reconcile")`` or ``POST /jobs``; its result is the
    run's :class:`ReconcileReport` as a dict. Registering again replaces the previous one.
    """

    async def reconcile(max_pages: int = reconciler.max_pages) -> dict[str, Any]:
        """Walk the source's events list from the last cursor and process what was missed."""
        if reconciler.trace is None:
            reconciler.trace = lab.trace
        return (await reconciler.run(max_pages)).to_dict()

    return lab.jobs.register(name, reconcile)


async def _read_at_most(answer: httpx.Response, limit: int) -> bytes | None:
    """The body, or ``None`` once it passes ``limit`` bytes (the rest is not read)."""
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
