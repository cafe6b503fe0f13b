"""Checks for lesson 5, "Deliver reliably".

Each check runs the learner's function many times on cases built to catch the usual slips
(no jitter, no cap, last-write-wins) and answers with the first one it finds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.events import Event
from webhooks_lab.i18n import _, n_

_BASE, _CAP, _JITTER = 5.0, 3600.0, 0.2
_SAMPLES = 400
#: How far towards each edge of the ±20 % band the draws must reach: 400 uniform draws fall short
#: of 0.84 or 1.16 with a chance of about 1e-18, while ±10 % never gets there.
_FILL = 0.8
_EXERCISE_1, _EXERCISE_2 = "05.backoff", "05.apply_latest"


def _planned(attempts_made: int) -> float:
    return min(_CAP, _BASE * 2 ** (attempts_made - 1))


def _draws(fn: Callable[[int], Any], made: int) -> list[Any]:
    """``_SAMPLES`` answers of ``fn(made)``, from a seeded ``random`` so a run can be repeated."""
    saved = random.getstate()
    random.seed(f"webhooks-lab backoff {made}")
    try:
        return [fn(made) for _ in range(_SAMPLES)]
    finally:
        random.setstate(saved)


def _attempts(made: int) -> str:
    return n_("{count} failed attempt", "{count} failed attempts", made)


@check
def backoff(fn: Callable[[int], float]) -> Result:
    """``fn(attempts_made)``: 5 s doubling, capped at an hour, jittered by up to ±20 %.

    It draws each wait hundreds of times from a seeded ``random`` and looks at the spread: the
    waits must stay inside the band around the planned wait, and fill it.
    """
    if not callable(fn):
        return not_yet(_("next_wait should be a function."), "def next_wait(attempts_made): ...")
    for made in range(1, 16):
        planned = _planned(made)
        waits = _draws(fn, made)
        if any(w is None or w is Ellipsis for w in waits):
            return coach(
                _EXERCISE_1,
                _(
                    "next_wait({made}) returned {answer}, not a number of seconds.",
                    made=made,
                    answer=repr(waits[0]),
                ),
                idea=_(
                    "work out the planned wait first (5 s after the first failure, twice as "
                    "long after each further one, never more than an hour), then move it up or "
                    "down by a random amount of at most a fifth, and return it"
                ),
                detail=_(
                    "return a number: the planned wait times a random factor between 0.8 and "
                    "1.2 (random.uniform draws one)"
                ),
            )
        if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in waits):
            return not_yet(
                _(
                    "next_wait({made}) returned {answer}; it should return a number of seconds.",
                    made=made,
                    answer=repr(waits[0]),
                ),
                _("return the wait itself, a float such as 5.3"),
            )
        low, high = min(waits), max(waits)
        if high > _CAP * (1 + _JITTER) + 1e-9:
            return coach(
                _EXERCISE_1,
                _(
                    "after {attempts} your wait reached {high:,.0f} s ({hours:.1f} h): without a "
                    "cap, the waits soon grow to days.",
                    attempts=_attempts(made),
                    high=high,
                    hours=high / 3600,
                ),
                idea=_("the waits must stop growing at an hour, whatever the number of attempts"),
                detail=_("cap the planned wait at 3600 s with min(...), then add the jitter"),
            )
        if planned == _CAP and high <= _CAP + 1e-9:
            return coach(
                _EXERCISE_1,
                _(
                    "after {attempts} your waits never went above 3600 s, though the jitter "
                    "should spread them to {band} of the hour: you capped the wait after jittering "
                    "it, so most deliveries that fail together still come back at exactly 3600 s.",
                    attempts=_attempts(made),
                    band="±20 %",  # a value: "% o" in a message would read as a %-format to gettext
                ),
                idea=_("cap the planned wait first, and jitter what the cap left"),
                detail=_(
                    "min(3600, ...) goes around the planned wait only; multiply its result "
                    "by the random factor"
                ),
            )
        width = (high - low) / planned
        if low < planned * (1 - _JITTER) - 1e-9 or high > planned * (1 + _JITTER) + 1e-9:
            middle = (high + low) / 2 / planned
            spread = (high - low) / max(high + low, 1e-12)  # half the width, around the middle
            if spread > _JITTER + 0.01:
                why = _(
                    "a spread of ±{spread:.0f} %, wider than the ±20 % asked", spread=spread * 100
                )
                idea = _("the random factor should stay within a fifth of 1, either way")
                detail = _("multiply the planned wait by a factor from 0.8 to 1.2, no wider")
            elif 1.7 < middle < 2.3 or 0.43 < middle < 0.58:
                why = (
                    _("about twice the wait it should be: one doubling too many or too few")
                    if middle > 1
                    else _("about half the wait it should be: one doubling too many or too few")
                )
                idea = _("the first failure waits 5 s; only the second waits 10 s")
                detail = _("5 * 2 ** (attempts_made - 1) is 5 when attempts_made is 1")
            else:
                why = _("outside the band")
                idea = _("5 s after the first failure, then twice as long after each further one")
                detail = _("the planned wait is 5 * 2 ** (attempts_made - 1), at most 3600")
            return coach(
                _EXERCISE_1,
                _(
                    "after {attempts} the wait should be {planned:g} s ± 20 %, but yours ranged "
                    "from {low:.4g} to {high:.4g} s: {why}.",
                    attempts=_attempts(made),
                    planned=planned,
                    low=low,
                    high=high,
                    why=why,
                ),
                idea=idea,
                detail=detail,
            )
        if width < 1e-9:
            return coach(
                _EXERCISE_1,
                _(
                    "after {attempts} your wait was always {low:.4g} s: every delivery that "
                    "failed at the same moment would come back at the same moment too, and "
                    "knock the receiver over again.",
                    attempts=_attempts(made),
                    low=low,
                ),
                idea=_(
                    "spread the waits out: move each one by a random amount, up to a fifth "
                    "of it either way"
                ),
                detail=_("multiply the planned wait by random.uniform(0.8, 1.2)"),
            )
        if low > planned * (1 - _JITTER * _FILL) or high < planned * (1 + _JITTER * _FILL):
            below, above = (planned - low) / planned * 100, (high - planned) / planned * 100
            if low >= planned - 1e-9 or high <= planned + 1e-9:
                why = (
                    _(
                        "never below the planned {planned:g} s: jitter must go both ways",
                        planned=planned,
                    )
                    if low >= planned - 1e-9
                    else _(
                        "never above the planned {planned:g} s: jitter must go both ways",
                        planned=planned,
                    )
                )
                idea = _(
                    "the random factor should be as likely to shorten a wait as to lengthen it"
                )
                detail = _("draw the factor from 0.8 to 1.2, around 1")
            else:
                why = _(
                    "only {below:.0f} % below and {above:.0f} % above, not ±20 %",
                    below=below,
                    above=above,
                )
                idea = _("the jitter should spread the waits over the whole of ±20 %")
                detail = _(
                    "random.uniform(0.8, 1.2) spreads over all of it; a narrower range "
                    "leaves receivers more bunched"
                )
            return coach(
                _EXERCISE_1,
                _(
                    "after {attempts}, in {samples} draws, your waits stayed between {low:.4g} "
                    "and {high:.4g} s around the planned {planned:g} s: {why}.",
                    attempts=_attempts(made),
                    samples=_SAMPLES,
                    low=low,
                    high=high,
                    planned=planned,
                    why=why,
                ),
                idea=idea,
                detail=detail,
            )
    return right(
        _("your waits double from 5 s, stop growing at an hour, and are spread ±20 % by jitter.")
    )


def _event(order: int, status: str, version: int, event_id: str) -> Event:
    return Event(
        "order.updated", {"order": order, "status": status, "version": version}, id=event_id
    )


def _history() -> list[Event]:
    """Three orders, each through a few states, in the order things happened."""
    steps = [
        (7, "created"),
        (8, "created"),
        (7, "paid"),
        (9, "created"),
        (8, "paid"),
        (7, "shipped"),
        (9, "cancelled"),
        (8, "shipped"),
        (8, "delivered"),
    ]
    versions: dict[int, int] = {}
    events = []
    for n, (order, status) in enumerate(steps):
        versions[order] = versions.get(order, 0) + 1
        events.append(_event(order, status, versions[order], f"msg_ex5_{n:02d}"))
    return events


def _latest(events: list[Event]) -> dict[int, str]:
    latest: dict[int, tuple[int, str]] = {}
    for event in events:
        order, version = event.data["order"], event.data["version"]
        if order not in latest or version > latest[order][0]:
            latest[order] = (version, event.data["status"])
    return {order: status for order, (_, status) in latest.items()}


def _run(fn: Callable[[dict[Any, Any], Event], Any], events: list[Event]) -> dict[int, str]:
    orders: dict[Any, Any] = {}
    for event in events:
        fn(orders, event)
    statuses = {}
    for order, value in orders.items():
        statuses[order] = value.get("status") if isinstance(value, dict) else value
    return statuses


@check
def apply_latest(fn: Callable[[dict[Any, Any], Event], Any]) -> Result:
    """``fn(orders, event)`` keeps each order at its newest version, whatever the arrival order."""
    if not callable(fn):
        return not_yet(
            _("apply_update should be a function."), "def apply_update(orders, event): ..."
        )
    history = _history()
    expected = _latest(history)
    in_order = _run(fn, history)
    if in_order == {} or all(v is None for v in in_order.values()):
        return coach(
            _EXERCISE_2,
            _("after a day of updates, orders still holds no order with a status."),
            idea=_("store each order's newest status, with its version, under the order's number"),
            detail=_(
                "orders[order] should be a dict with the 'status' and 'version' of the "
                "newest update"
            ),
        )
    if in_order != expected:
        wrong = sorted(order for order in expected if in_order.get(order) != expected[order])
        return coach(
            _EXERCISE_2,
            _(
                "with the events in the order they happened, the orders ended as {got}, "
                "not {expected}: order {order} should be {status}.",
                got=in_order,
                expected=expected,
                order=wrong[0],
                status=repr(expected[wrong[0]]),
            ),
            idea=_(
                "in order, every update is newer than the last one for its order: each "
                "should be kept"
            ),
            detail=_(
                "compare an update's version with the version stored for the same order "
                "only, and keep every newer one"
            ),
        )
    late_retry = [*history[:2], *history[3:], history[2]]  # "paid" for 7 retried, arrives last
    got = _run(fn, late_retry)
    if got != expected:
        return coach(
            _EXERCISE_2,
            _(
                "order 7's 'paid' update (version 2) arrived last, after 'shipped' (version 3), "
                "as a retried delivery would; your code then said order 7 is {status}, "
                "but it was shipped.",
                status=repr(got.get(7)),
            ),
            idea=_(
                "a late retry can bring older news than you already have: before you store "
                "an update, compare it with what you hold for that order"
            ),
            detail=_(
                "ignore an update whose version is not newer than the stored one; an event "
                "id alone cannot tell you which news is newer"
            ),
        )
    redelivered = [*history, history[5], history[2], history[0]]
    got = _run(fn, redelivered)
    if got != expected:
        return coach(
            _EXERCISE_2,
            _(
                "after the same deliveries arrived a second time the orders were {got}, "
                "not {expected}.",
                got=got,
                expected=expected,
            ),
            idea=_("a repeat carries a version you have already seen: it should change nothing"),
            detail=_("skip an update whose version is equal to or older than the stored one"),
        )
    backwards = _run(fn, list(reversed(history)))
    if backwards != expected:
        return coach(
            _EXERCISE_2,
            _(
                "with every event arriving in reverse order, the orders ended as {got}, "
                "not {expected}.",
                got=backwards,
                expected=expected,
            ),
            idea=_("the newest update may come first: everything after it is older news"),
            detail=_("keep the highest version seen for each order, and only its status"),
        )
    return right(
        _("each order ends at its newest version, in order, out of order, or delivered twice.")
    )


__all__ = ["apply_latest", "backoff"]
