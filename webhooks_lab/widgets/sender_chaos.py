"""SenderChaosPanel: sliders that make the *sender* misbehave: out of order, twice, late.

    from webhooks_lab.widgets import SenderChaosPanel
    SenderChaosPanel(lab)

Moving a slider calls the sender's :class:`~webhooks_lab.sender.chaos.SenderChaos`, exactly as
``lab.sender.chaos.shuffle(60)`` would in a cell; a change made in a cell shows on the panel
within a heartbeat. The line under the sliders counts what chaos did to the deliveries sent so
far. It is the sending side's twin of :class:`~webhooks_lab.widgets.chaos.ChaosPanel`.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from webhooks_lab.i18n import _
from webhooks_lab.widgets.base import LiveView, guard, source_key

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab

_WIDE = {"description_width": "11em"}
_SHARE = {"min": 0, "max": 1, "step": 0.05, "readout_format": ".0%", "style": _WIDE}


class SenderChaosPanel(LiveView):
    """Controls for ``lab.sender.chaos``, kept in step with it both ways."""

    kind = "sender-chaos"

    def __init__(self, lab: Lab, *, heartbeat: float = 0.5) -> None:
        super().__init__(key=source_key(lab), heartbeat=heartbeat, max_per_flush=6)
        self.lab = lab
        self.chaos = lab.sender.chaos
        self._applying = False  # True while the panel itself moves its controls
        self._shown = ""
        self.title = widgets.HTML(value=_("<b>Sender chaos</b>: how new deliveries go out"))
        self.window = widgets.FloatSlider(
            value=0, min=0, max=3600, step=10, description=_("shuffle within (s)"), style=_WIDE
        )
        self.duplicate_rate = widgets.FloatSlider(value=0, description=_("send twice"), **_SHARE)
        self.delay_seconds = widgets.FloatSlider(
            value=0, min=0, max=86_400, step=600, description=_("hold back (s)"), style=_WIDE
        )
        self.delay_rate = widgets.FloatSlider(value=1, description=_("…for a share"), **_SHARE)
        self.reset_button = widgets.Button(description=_("Reset"), icon="undo")
        self.state = widgets.HTML(value="")
        controls = [self.window, self.duplicate_rate, self.delay_seconds, self.delay_rate]
        for control in controls:
            guard(control, self.throttle.lock)
            control.observe(self._moved, names="value")
        self.reset_button.on_click(lambda _b: self.reset())
        self._own(*controls, self.title, self.reset_button, self.state)
        self.children = [
            self.title,
            self.window,
            self.duplicate_rate,
            widgets.HBox([self.delay_seconds, self.delay_rate]),
            self.reset_button,
            self.state,
        ]
        self._listen(lab.sender.subscribe(lambda _attempt: self.throttle.poke()))
        self.refresh()

    def _moved(self, change: dict[str, Any]) -> None:
        if self._applying:
            return
        with self.throttle.lock:
            self.chaos.shuffle(self.window.value)
            self.chaos.duplicate(self.duplicate_rate.value, self.chaos.duplicate_after)
            self.chaos.delay(self.delay_seconds.value, self.delay_rate.value)
        self.throttle.poke()

    def reset(self) -> None:
        """Deliver in order, once, at once again."""
        self.chaos.reset()
        self.throttle.poke()

    def _flush(self) -> int:
        chaos = self.chaos
        sent = 0
        self._applying = True
        try:
            for control, value in (
                (self.window, min(chaos.window, self.window.max)),
                (self.duplicate_rate, chaos.duplicate_rate),
                (self.delay_seconds, min(chaos.delay_seconds, self.delay_seconds.max)),
                (self.delay_rate, chaos.delay_rate if chaos.delay_seconds else None),
            ):
                if value is not None and control.value != value:
                    control.value = value
                    sent += 1
        finally:
            self._applying = False
        choices = list(chaos.choices)
        held = sum(1 for c in choices if c.hold > 0)
        twice = sum(1 for c in choices if c.duplicate_id)
        words = _(
            "now: {state}; so far {held} of {total} held back, {twice} sent twice",
            state=escape(repr(chaos)),
            held=held,
            total=len(choices),
            twice=twice,
        )
        text = f"<span style='color:#6b6b6b'>{words}</span>"
        if text != self._shown:
            self.state.value = self._shown = text
            sent += 1
        return sent

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        return _(
            "SenderChaosPanel ({state}): shuffle within a window, send twice, hold back",
            state=state,
        )
