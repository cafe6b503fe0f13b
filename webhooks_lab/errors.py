"""The root of every error the package raises.

    Error
    ├── EventError (ValueError)            events: a payload that is not an event
    │   └── InvalidPayload                 receiver: a handler refuses a payload (422)
    ├── SignatureError (ValueError)        signing: why a signature failed
    │   ├── MissingHeader  MalformedHeader
    │   ├── StaleTimestamp  FutureTimestamp
    │   └── NoMatchingSignature
    ├── UnknownScheme (ValueError)         signing: a scheme name that is not one of SCHEMES
    ├── InvalidKey (ValueError)            signing.ed25519: a whsk_/whpk_ key that is not one
    ├── HandshakeError (ValueError)        handshakes: a handshake request or answer not right (400)
    ├── PortInUseError (OSError)           runtime: the port asked for is taken
    ├── JSONRefused (ValueError)           strict_json: a body too deep, a number too long (400)
    ├── BodyTooLarge (ValueError)          http: a request body over its limit (413)
    ├── ClientDisconnected (ConnectionError)  http: the client left before its body ended
    ├── UnsafeURL (ValueError)             sender: a URL the SSRF guard refuses (a callback_url too)
    └── JobError                           jobs.model: QueueFull, JobCancelled, JobTimeout,
                                                 UnknownKind, IdempotencyConflict, InvalidParams

``except webhooks_lab.Error`` catches them all.
"""

from __future__ import annotations


class Error(Exception):
    """Something webhooks-lab refused or could not do; the message says which and why."""
