"""webhooks-lab: learn webhooks and asynchronous APIs by running them.

>>> import webhooks_lab
>>> lab = webhooks_lab.start()
>>> lab.receiver.url            # a real server on 127.0.0.1

This is the package's face. Each name loads its module on first use (PEP 562), so
``import webhooks_lab.signing`` costs only signing, and ``import webhooks_lab`` starts nothing.
Where things live, layer by layer:

- ``events``, ``signing``, ``retry``: wire formats and schedules, no I/O;
- ``runtime``: the lab clock, the lab loop thread, the pre-bound server;
- ``http``: what every route shares: RFC 9457 problems, body limits;
- ``receiver``, ``sender``, ``jobs``: HTTP in, HTTP out, and work that finishes later;
- ``service``: the one ASGI app and its OpenAPI document;
- ``lab``: wires them together; ``lessons``, ``widgets``, ``checks``: what the course adds on top.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; a name that is a module maps to itself.
_FACE = {
    "start": "webhooks_lab.lab",
    "stop": "webhooks_lab.lab",
    "current": "webhooks_lab.lab",
    "set_language": "webhooks_lab.i18n",
    "Lab": "webhooks_lab.lab",
    "Error": "webhooks_lab.errors",
    "Event": "webhooks_lab.events",
    "EventError": "webhooks_lab.events",
    "RetryPolicy": "webhooks_lab.retry",
    "Clock": "webhooks_lab.runtime.clock",
    "FakeClock": "webhooks_lab.runtime.clock",
    "PortInUseError": "webhooks_lab.runtime.server",
    "Trace": "webhooks_lab.runtime.trace",
    "Exchange": "webhooks_lab.runtime.trace",
    "InvalidPayload": "webhooks_lab.receiver.endpoint",
    "Chaos": "webhooks_lab.receiver.chaos",
    "Delivery": "webhooks_lab.receiver.inbox",
    "Inbox": "webhooks_lab.receiver.inbox",
    "Sender": "webhooks_lab.sender.sender",
    "Outbox": "webhooks_lab.sender.outbox",
    "OutgoingDelivery": "webhooks_lab.sender.records",
    "Attempt": "webhooks_lab.sender.records",
    "Destination": "webhooks_lab.sender.records",
    "UnsafeURL": "webhooks_lab.sender.ssrf",
    "Job": "webhooks_lab.jobs.model",
    "Progress": "webhooks_lab.jobs.model",
    "JobCancelled": "webhooks_lab.jobs.model",
    "JobTimeout": "webhooks_lab.jobs.model",
    "QueueFull": "webhooks_lab.jobs.model",
    "JobRunner": "webhooks_lab.jobs.runner",
}
_MODULES = {
    "signing": "webhooks_lab.signing",
    "events": "webhooks_lab.events",
    "retry": "webhooks_lab.retry",
    "jobs_client": "webhooks_lab.jobs.client",
}

__all__ = [
    "Attempt",
    "Chaos",
    "Clock",
    "Delivery",
    "Destination",
    "Error",
    "Event",
    "EventError",
    "Exchange",
    "FakeClock",
    "Inbox",
    "InvalidPayload",
    "Job",
    "JobCancelled",
    "JobRunner",
    "JobTimeout",
    "Lab",
    "Outbox",
    "OutgoingDelivery",
    "PortInUseError",
    "Progress",
    "QueueFull",
    "RetryPolicy",
    "Sender",
    "Trace",
    "UnsafeURL",
    "current",
    "events",
    "jobs_client",
    "retry",
    "set_language",
    "signing",
    "start",
    "stop",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
    elif name in _FACE:
        module = getattr(importlib.import_module(_FACE[name]), name)
    else:
        raise AttributeError(f"module 'webhooks_lab' has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:  # what type checkers and editors see; nothing of it runs
    from webhooks_lab import events, retry, signing
    from webhooks_lab.errors import Error
    from webhooks_lab.events import Event, EventError
    from webhooks_lab.jobs import client as jobs_client
    from webhooks_lab.jobs.model import Job, JobCancelled, JobTimeout, Progress, QueueFull
    from webhooks_lab.jobs.runner import JobRunner
    from webhooks_lab.lab import Lab, current, start, stop
    from webhooks_lab.receiver.chaos import Chaos
    from webhooks_lab.receiver.endpoint import InvalidPayload
    from webhooks_lab.receiver.inbox import Delivery, Inbox
    from webhooks_lab.retry import RetryPolicy
    from webhooks_lab.runtime.clock import Clock, FakeClock
    from webhooks_lab.runtime.server import PortInUseError
    from webhooks_lab.sender.outbox import Outbox
    from webhooks_lab.sender.records import Attempt, Destination, OutgoingDelivery
    from webhooks_lab.sender.sender import Sender
    from webhooks_lab.sender.ssrf import UnsafeURL
