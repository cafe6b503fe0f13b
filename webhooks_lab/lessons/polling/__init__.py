"""Poll or be told: the same events, noticed by a poller and by a webhook, measured side by side.

An :class:`EventSource` is a pretend provider (a shop taking orders). It makes events at random
moments (a seeded Poisson process in lab time), serves them on its own small HTTP API,
``GET /events?after=<seq>``, and POSTs each one, as it happens, to every webhook URL subscribed.

A :class:`Race` wires one source to two kinds of listener and keeps score:

- one or more *pollers*, each asking the source "anything new?" every ``interval`` lab seconds
  over real HTTP, counting its requests and the empty answers;
- a *webhook*: an endpoint on the lab's own receiver, to which the source pushes each event.

For every event, each side's *detection delay* is the lab time from the moment the event happened
to the moment that side knew of it. Everything runs on the lab loop; cells only read the score.

    race = Race(lab, rate=1/6, poll_every=30)     # an order every ~6 s; ask every 30 s
    report = race.run(events=40)                   # blocks until both sides saw all 40
    report.webhook.p50, report.polling.p50
"""

from __future__ import annotations

from webhooks_lab.lessons.polling.poller import Poller
from webhooks_lab.lessons.polling.race import Race
from webhooks_lab.lessons.polling.score import (
    RaceReport,
    SideStats,
    expected_empty_share,
    expected_mean_delay,
    expected_requests_per_event,
    percentile,
)
from webhooks_lab.lessons.polling.source import EventSource, SourceEvent

__all__ = [
    "EventSource",
    "Poller",
    "Race",
    "RaceReport",
    "SideStats",
    "SourceEvent",
    "expected_empty_share",
    "expected_mean_delay",
    "expected_requests_per_event",
    "percentile",
]
