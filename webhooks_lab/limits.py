"""Every limit on what a client may send the lab, with its default and the reason for it.

One place, so a learner can read what the lab refuses and why, and an instructor can change it:
``webhooks_lab.start(limits=Limits(max_body=1024 * 1024))`` or ``webhooks-lab serve --max-body``.
Each limit, when hit, is answered with a 4xx and a JSON reason, and recorded in the inbox.

No I/O here: this is a plain record that the server, the receiver and the jobs API read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    """What the lab accepts; see each field's comment for why it is that size."""

    # The request line and headers together. Real webhook deliveries carry a few hundred bytes of
    # headers (about 1 KiB); 16 KiB is what Node.js and h11 allow by default.
    # Answered 431 (Request Header Fields Too Large) or 414 (URI Too Long) for the request line.
    max_head_bytes: int = 16 * KIB
    # Header lines on one request: 100 is Apache's LimitRequestFields default.
    max_headers: int = 100
    # Seconds a client may take to send its request line and headers (real time, not lab time).
    # A client that trickles them byte by byte is answered 408 and dropped, so it holds no slot.
    head_timeout: float = 10.0
    # A webhook delivery's body, and a POST /jobs body: 413 past them. Why each is that size is
    # told in webhooks_lab.http.body, which reads bodies.
    max_body: int = 256 * KIB
    max_job_body: int = 64 * KIB
    # Nesting depth of any JSON body. Real payloads nest a handful of levels; deep nesting only
    # costs stack (Python's parser recurses). 400 past it.
    max_json_depth: int = 64
    # Characters in one JSON number: enough for any int64 or float; 400 past it.
    max_number_chars: int = 64
    # Characters in an endpoint name (``/webhooks/{name}``): letters, digits, ``.``, ``_``, ``-``.
    max_name_length: int = 64
    # Endpoint names a client may bring into being by posting to them; the ones a lesson or
    # ``serve`` sets up are not counted. Past it, a new name is answered 404 and nothing is kept.
    max_endpoints: int = 1_000
    # The memory the inbox may hold: each delivery's body and headers and the record around
    # them, as Python stores them. Past it the oldest are evicted (and counted).
    max_inbox_bytes: int = 64 * MIB

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Limits.{field.name} must be a positive number, got {value!r}")

    def with_options(self, **options: Any) -> Limits:
        """A copy with these options; ``None`` keeps a value: ``with_options(max_body=1024)``."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


DEFAULT = Limits()

__all__ = ["DEFAULT", "KIB", "MIB", "Limits"]
