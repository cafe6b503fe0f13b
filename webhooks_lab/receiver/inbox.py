"""The inbox: every request that tried to deliver a webhook, newest last, as the lab saw it."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from webhooks_lab import signing, strict_json
from webhooks_lab.events import Event, EventError
from webhooks_lab.i18n import _, n_
from webhooks_lab.limits import DEFAULT
from webhooks_lab.runtime.listeners import Listeners


@dataclass(slots=True)  # one object per delivery, not two: inboxes get big
class Delivery:
    """One request to a webhook endpoint and what the receiver answered.

    ``verified`` is ``None`` when the endpoint checks no signature, ``True``/``False`` otherwise;
    ``reason`` says why a delivery was rejected or failed, in words a learner can read, and
    ``diagnosis`` why a signature was refused, from the signature doctor.
    """

    seq: int
    endpoint: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)
    webhook_id: str | None = None
    event_type: str | None = None
    verified: bool | None = None
    reason: str | None = None
    duplicate: bool = False
    error: str | None = None
    duration_ms: float = 0.0
    handshake: str | None = None  # "slack", "zoom", ...: a provider's handshake, not a delivery
    response_body: bytes | None = field(default=None, repr=False, compare=False)
    # How a refused signature was checked: (scheme, secrets, tolerance, wall time). Kept, not
    # diagnosed: a flood of forgeries costs one tuple each, and the doctor runs when asked.
    refused_check: tuple[str, list[str], int, float] | None = field(
        default=None, repr=False, compare=False
    )
    _diagnosis: signing.Diagnosis | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def accepted(self) -> bool:
        """Answered 2xx and handed to the handlers (not a duplicate)."""
        return self.ok and not self.duplicate

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` if it is not JSON)."""
        return strict_json.loads(self.body)

    @property
    def event(self) -> Event:
        """The body as an :class:`Event` (raises :class:`EventError` if it is not one)."""
        return Event.from_body(self.body, id=self.webhook_id)

    @property
    def diagnosis(self) -> signing.Diagnosis | None:
        """Why the signature check refused this delivery, in plain words (``None`` if it didn't).

        The doctor (:func:`webhooks_lab.signing.diagnose`) runs on first use, with the scheme,
        secrets, tolerance and time the receiver checked with, and its answer is kept.
        """
        if self._diagnosis is None and self.refused_check is not None:
            scheme, secrets, tolerance, now = self.refused_check
            self._diagnosis = signing.diagnose(
                secrets,
                self.headers,
                self.body,
                scheme=scheme,
                tolerance=tolerance,
                now=now,
                accepted=len(secrets),
            )
        return self._diagnosis

    @property
    def outcome(self) -> str:
        """One word for what happened: accepted, duplicate, rejected, failed."""
        if self.duplicate:
            return "duplicate"
        if self.ok:
            return "accepted"
        return "failed" if self.status >= 500 else "rejected"

    def to_dict(self, *, include_body: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq": self.seq,
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "webhook_id": self.webhook_id,
            "event_type": self.event_type,
            "received_at": self.received_at,
            "status": self.status,
            "outcome": self.outcome,
            "verified": self.verified,
            "reason": self.reason,
            "duplicate": self.duplicate,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "handshake": self.handshake,
            "headers": self.headers,
            "response": self.response,
        }
        if include_body:
            record["body"] = self.body.decode("utf-8", errors="replace")
        return record

    def __repr__(self) -> str:
        what = self.event_type or "-"
        extra = f" reason={self.reason!r}" if self.reason else ""
        return (
            f"<Delivery #{self.seq} {self.method} {self.endpoint} {what} "
            f"-> {self.status} {self.outcome}{extra}>"
        )


DeliveryListener = Callable[[Delivery], object]


class Inbox:
    """A bounded, thread-safe log of deliveries.

    Written on the lab loop, read from notebook cells. Indexing and iteration work on a snapshot,
    so a cell can read it while deliveries keep arriving.
    """

    def __init__(self, maxlen: int = 50_000, max_bytes: int = DEFAULT.max_inbox_bytes) -> None:
        """At most ``maxlen`` deliveries and ``max_bytes`` of memory for them (see
        :func:`_size`); past either, the oldest are evicted and counted in :attr:`evicted`."""
        self.maxlen, self.max_bytes = maxlen, max_bytes
        self._items: deque[Delivery] = deque()
        self._sizes: deque[int] = deque()  # each item's cost, kept so eviction need not recount
        self._bytes = 0
        self.evicted = 0
        self._seq = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait_for: with none, a delivery wakes nobody (hot path)
        self.listeners: Listeners[[Delivery]] = Listeners("inbox")

    def record(self, delivery: Delivery) -> None:
        """Append ``delivery``, numbering it in arrival order (``delivery.seq``)."""
        with self._lock:  # the condition's own lock, entered without its Python-level wrapper
            self._seq += 1
            delivery.seq = self._seq
            size = _size(delivery)
            self._items.append(delivery)
            self._sizes.append(size)
            self._bytes += size
            while len(self._items) > 1 and (
                len(self._items) > self.maxlen or self._bytes > self.max_bytes
            ):
                self._items.popleft()
                self._bytes -= self._sizes.popleft()
                self.evicted += 1
            if self._waiting:
                self._changed.notify_all()
        self.listeners.notify(delivery)

    @property
    def bytes(self) -> int:
        """The memory the inbox holds now, in bytes, as :func:`_size` counts each delivery."""
        return self._bytes

    def subscribe(self, listener: DeliveryListener) -> Callable[[], None]:
        """Call ``listener(delivery)`` on the lab loop for each new one; returns unsubscribe.

        A listener that raises is unsubscribed, and what it raised kept in
        ``inbox.listeners.errors``: a broken view never breaks the receiver.
        """
        return self.listeners.subscribe(listener)

    def snapshot(self) -> list[Delivery]:
        with self._changed:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Delivery]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> Delivery:
        return self.snapshot()[index]

    @property
    def last(self) -> Delivery | None:
        items = self.snapshot()
        return items[-1] if items else None

    def for_endpoint(self, name: str) -> list[Delivery]:
        return [d for d in self.snapshot() if d.endpoint == name]

    def counts(self) -> dict[str, int]:
        """How many deliveries ended each way: accepted, duplicate, rejected, failed."""
        tally = {"accepted": 0, "duplicate": 0, "rejected": 0, "failed": 0}
        for delivery in self.snapshot():
            tally[delivery.outcome] += 1
        return tally

    def clear(self) -> None:
        with self._changed:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0

    def wait_for(
        self, count: int = 1, timeout: float = 10.0, *, endpoint: str | None = None
    ) -> list[Delivery]:
        """Block until ``count`` deliveries (to ``endpoint``, if given) are in the inbox."""

        def matching() -> list[Delivery]:
            items = list(self._items)
            return items if endpoint is None else [d for d in items if d.endpoint == endpoint]

        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := matching()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"waited {timeout:g} s for {count} deliveries, {len(found)} arrived"
                    )
                self._waiting += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting -= 1
            return found

    def size_text(self) -> str:
        text = n_("{count} delivery", "{count} deliveries", len(self._items))
        if not self.evicted:
            return text
        return _("{deliveries} ({evicted} older evicted)", deliveries=text, evicted=self.evicted)

    def __repr__(self) -> str:
        items = self.snapshot()
        if not items:
            return _("Inbox: empty")
        lines = [_("Inbox: {size}", size=self.size_text())]
        for d in items[-10:]:
            why = f"  ({d.reason})" if d.reason else ""
            lines.append(
                f"  #{d.seq:<4} {d.method:<5} {d.endpoint:<14} {d.event_type or '-':<22} "
                f"{d.status}  {d.outcome}{why}"
            )
        if len(items) > 10:
            lines.insert(1, "  ... " + _("{count} earlier", count=len(items) - 10))
        return "\n".join(lines)


# What Python spends around the characters, measured with tracemalloc on deliveries that came
# over HTTP (tests/test_hostile_memory.py holds the count to the measurement): a header is two
# str objects and a slot of the dict; a delivery is its record, its answer, its ids and the body's
# bytes object.
_PER_HEADER = 122
_PER_DELIVERY = 800


def _size(delivery: Delivery) -> int:
    """The memory a delivery holds in the inbox, in bytes: its body and headers, and the rest."""
    headers = delivery.headers
    chars = sum(map(len, headers)) + sum(map(len, headers.values()))
    return len(delivery.body) + chars + _PER_HEADER * len(headers) + _PER_DELIVERY


def event_type_of(body: bytes) -> str | None:
    """The ``type`` field of a JSON body, if it has one; never raises."""
    try:
        payload = strict_json.loads(body)
    except strict_json.JSONRefused:
        return None
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


__all__ = ["Delivery", "Inbox", "EventError", "event_type_of"]
