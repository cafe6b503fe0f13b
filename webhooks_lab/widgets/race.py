"""RaceView: the polling-versus-webhook race as a live scoreboard, with sliders to change it.

    from webhooks_lab.lessons.polling import Race
    from webhooks_lab.widgets import RaceView
    race = Race(lab, rate=1/6, poll_every=30)
    RaceView(race)
    race.run(events=40)

Each row is one side: how many events it noticed, how many requests it made and how many came
back empty, and how late it was (median and 95th percentile, in lab seconds), with a bar per side
so the difference is seen before it is read. Moving a slider changes the running race and starts
the score afresh, so the numbers always describe one setting.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import ipywidgets as widgets

from webhooks_lab.i18n import N_, _
from webhooks_lab.lessons.polling import Race, RaceReport
from webhooks_lab.widgets.base import LiveView, guard, source_key

_COLOURS = {"webhook": "#0a6b2d", "poll": "#9a3b00"}


def _fmt(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def scoreboard_html(report: RaceReport) -> str:
    """The race as an HTML table, with a bar per side for its median delay."""
    slowest = max((s.p50 for s in report.sides if s.delays), default=0.0) or 1.0
    rows = []
    for side in report.sides:
        colour = _COLOURS["webhook" if side.interval is None else "poll"]
        width = 0.0 if not side.delays else max(0.5, 100 * side.p50 / slowest)
        bar = (
            f"<div style='background:{colour};height:0.8em;width:{width:.1f}%;min-width:2px'></div>"
            if side.delays
            else ""
        )
        wasted = f"{side.empty} ({side.empty_share:.0%})" if side.requests else "0"
        per_event = f"{side.requests_per_event:.2f}" if side.noticed else "–"
        rows.append(
            f"<tr><td style='color:{colour}'><b>{escape(side.name)}</b></td>"
            f"<td>{side.noticed}</td><td>{side.requests}</td><td>{wasted}</td>"
            f"<td>{per_event}</td><td>{_fmt(side.p50)}</td><td>{_fmt(side.p95)}</td>"
            f"<td style='width:30%'>{bar}</td></tr>"
        )
    head = "".join(
        f"<th style='text-align:left;padding-right:1em'>{_(h)}</th>"
        for h in (
            N_("side"),
            N_("noticed"),
            N_("requests"),
            N_("empty answers"),
            N_("requests / event"),
            N_("delay p50"),
            "p95",
            N_("median delay"),
        )
    )
    so_far = _(
        "<b>{events}</b> events so far, at about {per_minute:.3g} a minute (lab time)",
        events=report.events,
        per_minute=report.rate * 60,
    )
    return f"<div>{so_far}</div><table style='width:100%'><tr>{head}</tr>{''.join(rows)}</table>"


class RaceView(LiveView):
    """A live scoreboard for a :class:`~webhooks_lab.lessons.polling.Race`, with its two sliders."""

    kind = "race"

    def __init__(self, race: Race) -> None:
        super().__init__(key=source_key(race), max_per_flush=4)
        self.race = race
        self._applying = False
        self._shown_board = ""
        # Sliders over fixed choices: a continuous slider would snap 30 to its own grid in the
        # browser and send the snapped value back, quietly changing the race.
        self.interval = widgets.SelectionSlider(
            options=_choices(INTERVALS, race.poll_every, "s"),
            value=race.poll_every,
            description=_("poll every"),
            style={"description_width": "7em"},
        )
        self.rate = widgets.SelectionSlider(
            options=_choices(RATES, race.rate * 60, "/ min"),
            value=_close_to(RATES, race.rate * 60),
            description=_("events"),
            style={"description_width": "5em"},
        )
        self.run_button = widgets.Button(description=_("Start"), icon="play")
        self.board = widgets.HTML(value="")
        for slider in (self.interval, self.rate):
            guard(slider, self.throttle.lock)
            slider.observe(self._moved, names="value")
        self.run_button.on_click(lambda _b: self.toggle())
        self._own(self.interval, self.rate, self.run_button, self.board)
        self.children = [
            widgets.HTML(
                value=_(
                    "<b>Poll or be told</b>: one source, a poller and a webhook to {where}",
                    where="<code>/webhooks/" + escape(race.endpoint) + "</code>",
                )
            ),
            widgets.HBox([self.interval, self.rate, self.run_button]),
            self.board,
        ]
        self._listen(race.subscribe(self.throttle.poke))
        self.refresh()

    def _moved(self, change: dict[str, Any]) -> None:
        if self._applying:
            return
        interval, rate = float(self.interval.value), float(self.rate.value) / 60
        if math.isclose(interval, self.race.poll_every) and math.isclose(rate, self.race.rate):
            return  # the browser echoing what it was given is not a change
        self.race.poll_every, self.race.rate = interval, rate
        self.race.reset_stats()

    def toggle(self) -> None:
        """Start the race if it is stopped, stop it if it runs."""
        if self.race.running:
            self.race.stop()
        else:
            self.race.start()
        self.throttle.poke()

    def _flush(self) -> int:
        sent = 0
        board = scoreboard_html(self.race.report())
        if board != self._shown_board:
            self.board.value = self._shown_board = board
            sent += 1
        running = self.race.running
        label = _("Stop") if running else _("Start")
        if self.run_button.description != label:
            with self.run_button.hold_sync():
                self.run_button.description = label
                self.run_button.icon = "stop" if running else "play"
            sent += 1
        self._applying = True
        try:
            for slider, value, unit, usual in (
                (self.interval, self.race.poll_every, "s", INTERVALS),
                (self.rate, self.race.rate * 60, "/ min", RATES),
            ):
                if math.isclose(slider.value, value, rel_tol=1e-6):
                    continue
                with slider.hold_sync():
                    chosen = _close_to(usual, value)
                    if chosen != value:
                        slider.options = _choices(usual, value, unit)
                    slider.value = chosen
                sent += 1
        finally:
            self._applying = False
        return sent

    def describe(self) -> str:
        state = _("closed") if self.closed else _("live")
        return _(
            "RaceView ({state}): polling vs webhook to /webhooks/{endpoint}; "
            "noticed, requests, delays",
            state=state,
            endpoint=self.race.endpoint,
        )


INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600)  # lab seconds between polls
RATES = (1, 2, 5, 10, 20, 30, 60, 120)  # events per lab minute


def _close_to(usual: tuple[float, ...], value: float) -> float:
    """``value`` itself, unless it is (nearly) one of the usual choices."""
    for choice in usual:
        if math.isclose(choice, value, rel_tol=1e-6):
            return choice
    return value


def _choices(usual: tuple[float, ...], value: float, unit: str) -> list[tuple[str, float]]:
    """Slider choices: the usual ones, plus ``value`` if it is not among them."""
    values = sorted({*usual, _close_to(usual, value)})
    return [(f"{v:g} {unit}", v) for v in values]


__all__ = ["RaceView", "scoreboard_html"]
