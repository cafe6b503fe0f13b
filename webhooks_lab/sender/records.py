"""The sender's records: where events go, each delivery on its way, and every attempt at it.

A :class:`Destination` is a URL that wants events (and how to sign for it); an
:class:`OutgoingDelivery` is one event on its way to one destination; an :class:`Attempt` is one
try at it and what came back. The sender changes them as deliveries go, the
:class:`~webhooks_lab.sender.outbox.Outbox` stores them, and views and lessons read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webhooks_lab.events import Event, new_id
from webhooks_lab.retry import describe_seconds

__all__ = ["FINAL_STATES", "Attempt", "Destination", "OutgoingDelivery"]

FINAL_STATES = frozenset({"delivered", "dead", "disabled"})
"""A delivery in one of these states will not be tried again unless it is replayed."""


@dataclass(eq=False)
class Destination:
    """A URL that wants some (or all) events, and how to sign what is sent to it.

    ``types`` lists the event types it wants (``"user.*"`` matches every ``user.`` type); empty
    means every event. A disabled endpoint gets nothing until it is enabled again.
    """

    id: str
    url: str
    secret: str | None = None
    scheme: str = "none"
    types: tuple[str, ...] = ()
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: float = 0.0

    def wants(self, event_type: str) -> bool:
        """Does this endpoint subscribe to ``event_type``?"""
        if not self.types:
            return True
        for wanted in self.types:
            if wanted in ("*", event_type):
                return True
            if wanted.endswith(".*") and event_type.startswith(wanted[:-1]):
                return True
        return False

    def __repr__(self) -> str:
        kinds = ", ".join(self.types) or "all events"
        state = "enabled" if self.enabled else f"disabled ({self.disabled_reason or 'by hand'})"
        return f"<Destination {self.id} {self.url} {self.scheme}; {kinds}; {state}>"


@dataclass(eq=False, slots=True)
class Attempt:
    """One try at one delivery: what was sent when, and what came back.

    ``state`` is what the attempt meant for its delivery: ``"delivered"``, ``"retrying"`` (then
    ``backoff`` says how long the sender chose to wait, and ``next_attempt_at`` when, both in
    lab time), ``"dead"`` (no attempts left), ``"disabled"``
    (the endpoint answered 410 Gone), ``"trying"`` while under way, or ``"interrupted"`` if the
    sender stopped before the answer came.
    """

    delivery_id: str
    event_id: str
    url: str
    number: int
    started_at: float
    status: int | None = None
    error: str | None = None
    latency_ms: float | None = None
    next_attempt_at: float | None = None
    state: str = "trying"
    response: str = ""
    backoff: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """``"200"``, ``"503"``, or the error in a few words."""
        if self.status is not None:
            return str(self.status)
        return self.error or "no answer"

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "event_id": self.event_id,
            "url": self.url,
            "number": self.number,
            "started_at": self.started_at,
            "status": self.status,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "next_attempt_at": self.next_attempt_at,
            "backoff": self.backoff,
            "state": self.state,
            "response": self.response,
        }

    def __repr__(self) -> str:
        latency = f" in {self.latency_ms:.0f} ms" if self.latency_ms is not None else ""
        then = ""
        if self.state == "retrying" and self.backoff is not None:
            then = f", next in {_wait(self.backoff)}"
        what = f"{self.outcome}{latency} -> {self.state}{then}"
        return f"<Attempt {self.number} of {self.delivery_id}: {what}>"


def new_delivery_id(prefix: str = "dlv") -> str:
    """A unique, roughly time-ordered id like ``dlv_2fZ9a0c1d2e3f4a5b6``."""
    return new_id(prefix)


@dataclass(eq=False, slots=True)
class OutgoingDelivery:
    """One event on its way to one endpoint, with every attempt so far.

    The same ``event_id`` goes out as ``webhook-id`` on every attempt, so the receiver can tell a
    retry from a new event. ``state`` is ``"pending"`` (waiting for its first try),
    ``"retrying"``, ``"delivered"``, ``"dead"`` (a dead letter: every attempt failed) or
    ``"disabled"`` (its endpoint is disabled).
    """

    id: str
    event_id: str
    event_type: str
    url: str
    body: bytes
    endpoint_id: str | None = None
    scheme: str = "none"
    secret: str | None = field(default=None, repr=False)
    state: str = "pending"
    created_at: float = 0.0
    updated_at: float = 0.0
    next_attempt_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    round_base: int = 0  # attempts made before the latest replay; the schedule restarts there
    replays: int = 0

    @classmethod
    def of(
        cls,
        event: Event,
        url: str,
        *,
        at: float,
        scheme: str = "none",
        secret: str | None = None,
        endpoint_id: str | None = None,
        body: bytes | None = None,
    ) -> OutgoingDelivery:
        """A new delivery of ``event`` to ``url``, made at ``at`` and due at once (``body``: the
        event's, already serialised, when one event goes to many endpoints)."""
        return cls(
            id=new_delivery_id(),
            event_id=event.id,
            event_type=event.type,
            url=url,
            body=event.body() if body is None else body,
            endpoint_id=endpoint_id,
            scheme=scheme,
            secret=secret,
            created_at=at,
            updated_at=at,
            next_attempt_at=at,
        )

    def refuse(self, reason: str) -> Attempt:
        """End it before any request is made (the guard refused its URL): one attempt, dead,
        saying why."""
        attempt = Attempt(self.id, self.event_id, self.url, 1, self.created_at, error=reason)
        attempt.latency_ms, attempt.state = 0.0, "dead"
        self.attempts.append(attempt)
        self.state, self.next_attempt_at = "dead", None
        return attempt

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def delivered(self) -> bool:
        return self.state == "delivered"

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def event(self) -> Event:
        """The event this delivery carries, rebuilt from the exact bytes sent."""
        return Event.from_body(self.body, id=self.event_id)

    def timeline(self) -> str:
        """Every attempt, one line each: what came back, how fast, and how long until the next.

        The wait shown is the one the sender *chose* (schedule, jitter, ``Retry-After``); the
        attempts' own ``started_at`` show when each really began.
        """
        lines = [f"{self.id} {self.event_type} -> {self.url}: {self.state}"]
        for attempt in self.attempts:
            latency = f"{attempt.latency_ms:.0f} ms" if attempt.latency_ms is not None else "-"
            then = ""
            if attempt.state == "retrying" and attempt.backoff is not None:
                then = f", next in {_wait(attempt.backoff)}"
            what = f"{attempt.outcome:<32.32} {attempt.state}{then}"
            lines.append(f"  #{attempt.number:<2} {what}  ({latency})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        count = len(self.attempts)
        tries = f"{count} attempt{'s' if count != 1 else ''}"
        replayed = f", replayed {self.replays}x" if self.replays else ""
        if self.state == "delivered":
            how = f"delivered after {tries}"
        elif self.state == "dead":
            how = f"dead letter after {tries} (last: {self.last.outcome if self.last else '-'})"
        elif self.state == "disabled":
            how = f"endpoint disabled after {tries}"
        elif self.state == "retrying":
            how = f"retrying, {tries} so far (last: {self.last.outcome if self.last else '-'})"
        else:
            how = f"{self.state}, {tries} so far"
        return f"<OutgoingDelivery {self.id} {self.event_type} -> {self.url}: {how}{replayed}>"


def _wait(seconds: float) -> str:
    return describe_seconds(max(0.0, seconds))
