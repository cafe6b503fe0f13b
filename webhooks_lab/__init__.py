"""webhooks-lab: learn webhooks and asynchronous APIs by running them.

>>> import webhooks_lab
>>> lab = webhooks_lab.start()
>>> lab.receiver.url            # a real server on 127.0.0.1
"""

from __future__ import annotations

from webhooks_lab.chaos import Chaos
from webhooks_lab.clock import Clock, FakeClock
from webhooks_lab.events import Event, EventError
from webhooks_lab.inbox import Delivery, Inbox
from webhooks_lab.jobs import Job, JobCancelled, JobRunner, JobTimeout, Progress, QueueFull
from webhooks_lab.lab import Lab, current, start, stop
from webhooks_lab.outbox import Attempt, Endpoint, Outbox, OutgoingDelivery
from webhooks_lab.receiver import InvalidPayload
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.sender import Sender
from webhooks_lab.server import PortInUseError
from webhooks_lab.ssrf import UnsafeURL

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "Chaos",
    "Clock",
    "Delivery",
    "Endpoint",
    "Event",
    "EventError",
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
    "UnsafeURL",
    "current",
    "start",
    "stop",
]
