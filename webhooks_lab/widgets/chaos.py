"""ChaosPanel: sliders and buttons that make one receiver endpoint misbehave, on purpose.

    from webhooks_lab.widgets import ChaosPanel
    ChaosPanel(lab, "shop")

Moving a control calls
the endpoint's :class:`~webhooks_lab.receiver.chaos.Chaos` methods, exactly as you
could in a cell (``lab.receiver.chaos("shop").fail_rate(0.3)``); a change made in a cell shows on
the panel within a second, and "fail next N" counts down as deliveries use it up.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from webhooks_lab.i18n import _
from webhooks_lab.receiver.chaos import Chaos
from webhooks_lab.widgets.base import LiveView, guard, source_key

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

STATUSES = [500, 502, 503, 504, 429, 408, 400]
_WIDE = {"description_width": "9em"}


def chaos_state(chaos: Chaos) -> tuple[Any, ...]:
    return (
        chaos.failure_rate,
        chaos.failure_status,
        chaos.slow_seconds,
        chaos.slow_rate,
        chaos.next_failures,
        chaos.next_status,
    )


class ChaosPanel(LiveView):
    """Controls for ``lab.receiver.chaos(endpoint)``, kept in step with it both ways."""

    kind = "chaos"

    def __init__(self, lab: Lab, endpoint: str, *, heartbeat: float = 0.5) -> None:
        super().__init__(key=(source_key(lab), endpoint), heartbeat=heartbeat, max_per_flush=5)
        self.lab = lab
        self.endpoint = endpoint
        self.chaos = lab.receiver.chaos(endpoint)
        self._applying = False  # True while the panel itself moves its controls
        self._shown_status = ""

        where = f"<code>/webhooks/{escape(endpoint)}</code>"
        self.title = widgets.HTML(value=_("<b>Chaos</b> on {where}", where=where))
        self.failure_rate = widgets.FloatSlider(
            value=0,
            min=0,
            max=1,
            step=0.05,
            description=_("fail at random"),
            readout_format=".0%",
            style=_WIDE,
        )
        self.status = widgets.Dropdown(
            options=STATUSES, value=500, description=_("with status"), style=_WIDE
        )
        self.slow_seconds = widgets.FloatSlider(
            value=0, min=0, max=30, step=0.5, description=_("answer after (s)"), style=_WIDE
        )
        self.slow_rate = widgets.FloatSlider(
            value=1,
            min=0,
            max=1,
            step=0.05,
            description=_("…for a share"),
            readout_format=".0%",
            style=_WIDE,
        )
        self.fail_count = widgets.BoundedIntText(
            value=3,
            min=1,
            max=1000,
            description=_("fail next"),
            style=_WIDE,
            layout=widgets.Layout(width="14em"),
        )
        self.fail_button = widgets.Button(description=_("Queue failures"), icon="bolt")
        self.reset_button = widgets.Button(description=_("Reset"), icon="undo")
        self.state = widgets.HTML(value="")
        controls = [self.failure_rate, self.status, self.slow_seconds, self.slow_rate]
        for control in controls:
            guard(control, self.throttle.lock)
            control.observe(self._moved, names="value")
        self.fail_button.on_click(lambda _b: self.fail_next(self.fail_count.value))
        self.reset_button.on_click(lambda _b: self.reset())
        self._own(*controls, self.title, self.fail_count, self.fail_button, self.reset_button)
        self._own(self.state)
        self.children = [
            self.title,
            self.failure_rate,
            self.status,
            widgets.HBox([self.slow_seconds, self.slow_rate]),
            widgets.HBox([self.fail_count, self.fail_button, self.reset_button]),
            self.state,
        ]
        self._listen(lab.receiver.inbox.subscribe(self._delivered))
        self.refresh()

    # -- the learner moves a control (kernel thread) ---------------------------------------------

    def _moved(self, change: dict[str, Any]) -> None:
        if self._applying:
            return
        with self.throttle.lock:
            self.chaos.fail_rate(self.failure_rate.value, self.status.value)
            if self.chaos.next_failures:
                self.chaos.next_status = self.status.value
            self.chaos.slow(self.slow_seconds.value, self.slow_rate.value)
        self.throttle.poke()

    def fail_next(self, count: int) -> None:
        """Fail the next ``count`` deliveries with the chosen status."""
        self.chaos.fail_next(count, self.status.value)
        self.throttle.poke()

    def reset(self) -> None:
        """Behave normally again."""
        self.chaos.reset()
        self.throttle.poke()

    # -- keeping the panel in step (throttle thread) -----------------------------------------------

    def _delivered(self, delivery: Any) -> None:
        if delivery.endpoint == self.endpoint:
            self.throttle.poke()

    def _flush(self) -> int:
        # Compare the chaos itself with the controls (not with what was shown last): a control
        # moved by hand and then undone in a cell must still snap back.
        rate, status, seconds, share, queued, next_status = chaos_state(self.chaos)
        chosen = status if rate else (next_status if queued else self.status.value)
        sent = 0
        self._applying = True
        try:
            for control, value in (
                (self.failure_rate, rate),
                (self.status, chosen if chosen in STATUSES else self.status.value),
                (self.slow_seconds, min(seconds, self.slow_seconds.max)),
                (self.slow_rate, share if seconds else self.slow_rate.value),
            ):
                if control.value != value:
                    control.value = value
                    sent += 1
        finally:
            self._applying = False
        now = _("now: {state}", state=escape(repr(self.chaos)))
        status_text = f"<span style='color:#6b6b6b'>{now}</span>"
        if status_text != self._shown_status:
            self.state.value = self._shown_status = status_text
            sent += 1
        return sent

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        return _(
            "ChaosPanel ({state}) for /webhooks/{endpoint}: random failures, slow answers, "
            "fail next N",
            state=state,
            endpoint=self.endpoint,
        )
