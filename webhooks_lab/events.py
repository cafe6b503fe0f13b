"""Events: what happened, as the payload a webhook carries.

An event has an ``id`` (sent as the ``webhook-id`` header, the key receivers deduplicate on), a
dotted ``type`` such as ``"user.created"``, a ``timestamp`` and a ``data`` object. On the wire the
body is the Standard Webhooks payload ``{"type": ..., "timestamp": ISO 8601, "data": {...}}``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from webhooks_lab.errors import Error

_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str = "msg") -> str:
    """A unique, URL-safe, roughly time-ordered id like ``msg_2fZ9a0c1d2e3f4a5b6c7``.

    A millisecond stamp (so ids sort roughly by creation) and 64 random bits (so they cannot be
    guessed). Events, deliveries (``dlv_``), endpoints (``ep_``) and jobs (``job_``) all use it;
    it is cheap because bursts of thousands of jobs or deliveries each need one.
    """
    global _last_stamp
    millis = int(time.time() * 1000)
    last = _last_stamp  # one read: another thread may replace it meanwhile
    if last[0] == millis:
        stamp = last[1]
    else:
        stamp, left = "", millis
        while left:
            left, digit = divmod(left, 62)
            stamp = _ID_ALPHABET[digit] + stamp
        _last_stamp = (millis, stamp)
    return f"{prefix}_{stamp}{secrets.token_hex(8)}"


_last_stamp: tuple[int, str] = (0, "")  # the stamp of the last millisecond an id was made in


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with milliseconds and a ``Z``, as payloads carry it."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventError(Error, ValueError):
    """A payload that is not a valid event."""


@dataclass(frozen=True)
class Event:
    """One thing that happened. ``Event("user.created", {"email": "ada@example.com"})``."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not _TYPE_PATTERN.match(self.type):
            raise EventError(f"event type must look like 'user.created', got {self.type!r}")
        if not isinstance(self.data, dict):
            raise EventError(f"event data must be a JSON object, got {type(self.data).__name__}")
        if self.timestamp.tzinfo is None:
            raise EventError("event timestamp must be timezone-aware")

    def payload(self) -> dict[str, Any]:
        """The JSON-ready payload: ``{"type", "timestamp", "data"}``."""
        return {"type": self.type, "timestamp": iso_utc(self.timestamp), "data": self.data}

    def body(self) -> bytes:
        """The exact bytes that go on the wire (compact JSON, UTF-8)."""
        return json.dumps(self.payload(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_payload(cls, payload: Any, *, id: str | None = None) -> Event:
        """Rebuild an event from a parsed payload; :class:`EventError` says what's wrong."""
        if not isinstance(payload, dict):
            raise EventError("payload must be a JSON object")
        missing = [key for key in ("type", "data") if key not in payload]
        if missing:
            raise EventError(f"payload is missing {', '.join(repr(k) for k in missing)}")
        stamp = payload.get("timestamp")
        try:
            moment = (
                datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                if isinstance(stamp, str)
                else datetime.now(timezone.utc)
            )
        except ValueError as exc:
            raise EventError(f"timestamp is not ISO 8601: {stamp!r}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return cls(type=payload["type"], data=payload["data"], id=id or new_id(), timestamp=moment)

    @classmethod
    def from_body(cls, body: bytes | str, *, id: str | None = None) -> Event:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise EventError(f"body is not valid JSON: {exc}") from exc
        return cls.from_payload(payload, id=id)
