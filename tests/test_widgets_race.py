"""The race view: a live scoreboard of a real race, and sliders that change it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from helpers import eventually

from webhooks_lab.lab import Lab
from webhooks_lab.lessons.polling import Race
from webhooks_lab.widgets import RaceView


@pytest.fixture
def fast_lab() -> Iterator[Lab]:
    with Lab(speed=60) as running:
        yield running


def test_the_scoreboard_shows_each_side_as_the_race_runs(fast_lab):
    race = Race(fast_lab, rate=1 / 3, poll_every=[10, 2], endpoint="board")
    view = RaceView(race)
    assert "0</b> events so far" in view.board.value
    race.run(events=6)
    assert eventually(lambda: "6</b> events so far" in view.board.value)
    board = view.board.value
    for side in ("webhook", "poll every 10 s", "poll every 2 s"):
        assert side in board
    assert board.count("<tr>") == 1 + 3  # header and one row per side
    view.close()


def test_moving_the_sliders_changes_the_running_race_and_starts_the_score_afresh(fast_lab):
    race = Race(fast_lab, rate=1 / 6, poll_every=30, endpoint="knobs")
    view = RaceView(race)
    race.start()
    try:
        time.sleep(0.3)
        view.interval.value = 5  # what dragging the slider does
        view.rate.value = 30
        assert race.poll_every == 5
        assert race.rate == pytest.approx(0.5)
        assert race.report().events <= 1  # the score restarted
        assert eventually(lambda: "poll every 5 s" in view.board.value)
    finally:
        race.stop()
        view.close()


def test_a_change_made_in_code_moves_the_slider(fast_lab):
    race = Race(fast_lab, poll_every=30, endpoint="code")
    view = RaceView(race)
    race.poll_every = 60
    race.reset_stats()  # the score changed, so the view flushes
    assert eventually(lambda: abs(view.interval.value - 60) < 0.5)
    view.close()


def test_the_button_starts_and_stops_the_race(fast_lab):
    race = Race(fast_lab, endpoint="button")
    view = RaceView(race)
    view.run_button.click()
    assert race.running
    assert eventually(lambda: view.run_button.description == "Stop")
    view.run_button.click()
    assert not race.running
    assert eventually(lambda: view.run_button.description == "Start")
    view.close()


def test_the_view_describes_the_race_not_its_numbers(fast_lab):
    race = Race(fast_lab, endpoint="words")
    view = RaceView(race)
    before = repr(view)
    race.run(events=2)
    assert repr(view) == before
    assert "/webhooks/words" in before and len(before) <= 110
    view.close()
    assert not race.listeners  # closing unsubscribed


def test_the_browser_echoing_the_sliders_back_does_not_restart_the_score(fast_lab):
    race = Race(fast_lab, rate=1 / 3, poll_every=10, endpoint="echo")
    view = RaceView(race)
    race.run(events=3)
    # The browser can only show a choice the slider offers; the race's own settings are offered
    # exactly, so nothing gets snapped to a neighbour and sent back as a "change".
    assert (view.interval.value, view.interval.label) == (10, "10 s")
    assert (view.rate.value, view.rate.label) == (20, "20 / min")
    for slider in (view.interval, view.rate):
        slider.set_state({"index": slider.index})  # what a rendering browser sends back
    assert race.report().events == 3
    assert race.poll_every == 10
    view.close()
