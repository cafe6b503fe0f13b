"""The root of every error the package raises.

    Error
    ├── EventError (ValueError)            events: a payload that is not an event
    │   └── InvalidPayload                 receiver: a handler refuses a payload (422)
    ├── SignatureError (ValueError)        signing: why a signature failed
    │   ├── MissingHeader  MalformedHeader
    │   ├── StaleTimestamp  FutureTimestamp
    │   └── NoMatchingSignature
    ├── PortInUseError (OSError)           runtime: the port asked for is taken
    ├── UnsafeURL (ValueError)             sender: a URL the SSRF guard refuses (a callback_url too)
    └── JobError                           jobs.model: QueueFull, JobCancelled, JobTimeout,
                                                 UnknownKind, IdempotencyConflict, InvalidParams

``except webhooks_lab.Error`` catches them all.
"""

from __future__ import annotations


class Error(Exception):
    """Something webhooks-lab refused or could not do; the message says which and why."""
