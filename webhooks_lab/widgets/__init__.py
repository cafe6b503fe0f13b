"""Live views of the lab for notebooks (ipywidgets 8). Only this package imports ipywidgets.

    from webhooks_lab.widgets import InboxView, TimelineView, JobBoard, ChaosPanel, RaceView
    InboxView(lab)                 # deliveries as they arrive; select one; replay it
    TimelineView(lab)              # the sender's attempts in time: retries, backoff, dead letters
    JobBoard(lab)                  # a progress bar per job, with a Cancel button
    ChaosPanel(lab, "shop")        # make /webhooks/shop fail or dawdle on purpose
    SenderChaosPanel(lab)          # make the sender shuffle, duplicate or hold back deliveries
    HealthView(lab)                # each endpoint's health in lab time: failing, disabled, replayed
    RaceView(race)                 # polling vs webhook, scored live
    WireView(lab)                  # every exchange as a live sequence diagram (lab.wire())

Every view updates from the lab loop at most ~10 widget messages a second however fast events
arrive, shows a one-line description where widgets cannot render, and stops listening when
closed (``view.close()``) or replaced by the same view made again in a re-run cell.
"""

from __future__ import annotations

from webhooks_lab.widgets.base import LiveView, open_views
from webhooks_lab.widgets.chaos import ChaosPanel
from webhooks_lab.widgets.health import HealthView
from webhooks_lab.widgets.inbox import InboxView
from webhooks_lab.widgets.jobs import JobBoard
from webhooks_lab.widgets.race import RaceView
from webhooks_lab.widgets.sender_chaos import SenderChaosPanel
from webhooks_lab.widgets.throttle import Throttle
from webhooks_lab.widgets.timeline import TimelineView
from webhooks_lab.widgets.wire import WireView

__all__ = [
    "ChaosPanel",
    "HealthView",
    "InboxView",
    "JobBoard",
    "LiveView",
    "RaceView",
    "SenderChaosPanel",
    "Throttle",
    "TimelineView",
    "WireView",
    "open_views",
]
