"""Endpoint health: disable an endpoint that has failed for days, tell someone, and recover it.

What providers document:

* **Svix** disables an endpoint when "all attempts to a specific endpoint fail for a period of
  5 days", and sends an operational webhook (``endpoint.disabled``, ``EndpointDisabledEvent``) to
  the sender's own account, "not to the failing endpoint". The clock "only starts after multiple
  deliveries failed within a 24 hour span, with at least 12 hours difference between the first
  and the last failure". Recovery is "Recover failed messages" since a given time
  (docs.svix.com/retries; docs.svix.com/incoming-webhooks;
  docs.svix.com/receiving/using-app-portal/replaying-messages).
* **Stripe** retries for up to three days and may disable an endpoint; for an endpoint that is
  disabled, "Stripe won't attempt to resend any events generated while the respective webhook
  endpoint is disabled" (docs.stripe.com/webhooks/process-undelivered-events;
  stripe.com/docs/workbench/webhooks).

:class:`EndpointHealth` does the Svix version on the lab clock. It watches every attempt the
sender makes; an endpoint whose every attempt has failed for ``window`` lab seconds (five
lab-days by default), with at least ``min_failures`` failures, is disabled, its waiting
deliveries end as ``"disabled"``, and an ``endpoint.disabled`` event goes to the
``operational_url`` (signed with ``operational_secret``) if one is set. One success resets the
clock. :meth:`EndpointHealth.reenable` turns it back on and replays everything to it that failed
since a moment. Events sent *while* it was disabled were never made into deliveries (as with
Stripe): only a receiver that reconciles from the source's events list gets those back.

It is off until :meth:`EndpointHealth.watch` is called: a sender never disables an endpoint
by time unless asked to.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webhooks_lab.events import Event
from webhooks_lab.retry import describe_seconds
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.sender.records import Attempt, Destination, OutgoingDelivery

if TYPE_CHECKING:
    from webhooks_lab.sender.sender import Sender

__all__ = ["DAY", "EndpointHealth", "HealthChange"]

DAY = 86_400.0
KEEP_CHANGES = 2000


@dataclass(frozen=True)
class HealthChange:
    """One step in an endpoint's health: ``state`` is ``"ok"``, ``"failing"``, ``"disabled"``
    or ``"enabled"``, at lab time ``at``."""

    endpoint_id: str
    at: float
    state: str
    detail: str = ""


class EndpointHealth:
    """Watches a sender's attempts and disables endpoints that keep failing (Svix-style)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.window: float | None = None  # off until watch()
        self.min_failures = 2
        self.operational_url: str | None = None
        self.operational_secret: str | None = None
        self.failing_since: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.changes: deque[HealthChange] = deque(maxlen=KEEP_CHANGES)
        self.reports: list[OutgoingDelivery] = []  # operational events sent
        self.listeners: Listeners[[HealthChange]] = Listeners("endpoint health")
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Any = None  # subscribed only while watching: no cost on the hot path

    def watch(
        self,
        window: float = 5 * DAY,
        *,
        min_failures: int = 2,
        operational_url: str | None = None,
        operational_secret: str | None = None,
    ) -> EndpointHealth:
        """Disable an endpoint once its attempts have all failed for ``window`` lab seconds.

        ``operational_url`` receives an ``endpoint.disabled`` event when that happens (signed
        with ``operational_secret``, Standard Webhooks, if given). Calling it again changes the
        settings (a re-run cell is harmless).
        """
        if not window > 0:
            raise ValueError(f"window must be a positive number of lab seconds, got {window!r}")
        if min_failures < 1:
            raise ValueError(f"min_failures must be at least 1, got {min_failures!r}")
        if operational_url is not None:
            self.sender.guard.check_url(operational_url)
        self.window, self.min_failures = float(window), int(min_failures)
        self.operational_url, self.operational_secret = operational_url, operational_secret
        if self._unsubscribe is None:
            self._unsubscribe = self.sender.subscribe(self._observe)
        return self

    def stop_watching(self) -> EndpointHealth:
        """Never disable by time again (what a sender does by default)."""
        self.window = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        return self

    def state(self, endpoint: str | Destination) -> str:
        """``"ok"``, ``"failing"`` (since when is in :attr:`failing_since`) or ``"disabled"``."""
        found = self.sender.endpoint(endpoint)
        if not found.enabled:
            return "disabled"
        return "failing" if found.id in self.failing_since else "ok"

    def reenable(
        self, endpoint: str | Destination, *, since: float | None = None
    ) -> list[OutgoingDelivery]:
        """Enable ``endpoint`` and replay every dead or disabled delivery to it since ``since``.

        ``since`` is lab time (default: when it started failing, or everything if unknown).
        Returns the replayed deliveries: Svix's "Recover failed messages".
        """
        found = self.sender.enable(endpoint)
        with self._lock:
            started = self.failing_since.pop(found.id, None)
            self.failures.pop(found.id, None)
        self._record(HealthChange(found.id, self.sender.clock.time(), "enabled", "by hand"))
        replayed = self.sender.replay(endpoint=found, since=since if since is not None else started)
        assert isinstance(replayed, list)
        return replayed

    # -- on the lab loop, after every attempt ------------------------------------------------------

    def _observe(self, attempt: Attempt) -> None:
        if attempt.state in ("trying", "interrupted"):
            return
        try:
            delivery = self.sender.delivery(attempt.delivery_id)
        except KeyError:
            return
        endpoint_id = delivery.endpoint_id
        if endpoint_id is None:
            return  # a callback URL, not a registered endpoint
        now = self.sender.clock.time()
        if attempt.ok:
            with self._lock:
                was_failing = self.failing_since.pop(endpoint_id, None) is not None
                self.failures.pop(endpoint_id, None)
            if was_failing:
                self._record(HealthChange(endpoint_id, now, "ok", "a delivery succeeded"))
            return
        with self._lock:
            first = self.failing_since.setdefault(endpoint_id, attempt.started_at)
            count = self.failures[endpoint_id] = self.failures.get(endpoint_id, 0) + 1
        if count == 1:
            self._record(HealthChange(endpoint_id, now, "failing", attempt.outcome))
        window = self.window
        failing_for = attempt.started_at - first  # when the attempts were made, not answered
        if window is None or count < self.min_failures or failing_for < window:
            return
        endpoint = self.sender._endpoints.get(endpoint_id)
        if endpoint is None or not endpoint.enabled:
            return
        reason = (
            f"every attempt failed for {_span(failing_for)} "
            f"({count} failures, last: {attempt.outcome})"
        )
        self.sender.disable(endpoint, reason)
        self._record(HealthChange(endpoint_id, now, "disabled", reason))
        self._report(endpoint, first, now, count, attempt.outcome)

    def _report(
        self, endpoint: Destination, first: float, now: float, count: int, last: str
    ) -> None:
        if self.operational_url is None:
            return
        event = Event(
            "endpoint.disabled",
            {
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "reason": endpoint.disabled_reason,
                "failing_since": first,
                "disabled_at": now,
                "failures": count,
                "last_outcome": last,
            },
        )
        task = asyncio.get_running_loop().create_task(
            self.sender.deliver_to(
                self.operational_url,
                event,
                secret=self.operational_secret,
                wait=False,
                party="Endpoint health",
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is None:
            self.reports.append(task.result())

    def _record(self, change: HealthChange) -> None:
        self.changes.append(change)
        self.listeners.notify(change)

    def subscribe(self, listener: Any) -> Any:
        """Call ``listener(change)`` on every :class:`HealthChange`; returns unsubscribe."""
        return self.listeners.subscribe(listener)

    def __repr__(self) -> str:
        if self.window is None:
            return "<EndpointHealth off>"
        failing = len(self.failing_since)
        disabled = sum(not e.enabled for e in self.sender.endpoints)
        return (
            f"<EndpointHealth disable after {_span(self.window)} of failures; "
            f"{failing} failing, {disabled} disabled>"
        )


def _span(seconds: float) -> str:
    """A span in days once it is a day or more: five lab-days read as "5 days", not "120 h"."""
    if seconds >= DAY:
        days = seconds / DAY
        return f"{days:.3g} day{'s' if days != 1 else ''}"
    return describe_seconds(seconds)
