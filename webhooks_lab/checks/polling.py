"""Checks for lesson 1, "Poll or be told".

Exercise 1 asks for the arithmetic of polling's cost; the check tries the learner's function on
many rates and intervals, and, when given the lesson's own race, against what was measured.
Exercise 2 asks for the longest poll interval that still meets a delivery deadline.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, is_placeholder, not_yet, right
from webhooks_lab.i18n import _

_GRID = [(rate, interval) for rate in (0.01, 1 / 6, 0.5, 3.0) for interval in (1, 5, 30, 120)]


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


@check
def requests_per_event(fn: Callable[[float, float], Any], report: Any = None) -> Result:
    """Exercise 1: ``fn(rate, interval)`` -> a poller's average requests per event."""
    if not callable(fn):
        return not_yet(_("requests_per_event should be a function of (rate, interval)."))
    for rate, interval in _GRID:
        answer = fn(rate, interval)
        if is_placeholder(answer) or answer is None:
            return not_yet(
                _("requests_per_event does not return a number yet."),
                _(
                    "picture one interval between two polls: how many requests does the poller "
                    "make in it, and how many events happen in it, on average?"
                ),
            )
        if not _number(answer):
            return not_yet(
                _(
                    "requests_per_event({rate:g}, {interval:g}) returned {answer}, not a number.",
                    rate=rate,
                    interval=interval,
                    answer=repr(answer),
                )
            )
        answer = float(answer)
        expected = 1 / (rate * interval)
        if math.isclose(answer, expected, rel_tol=1e-6):
            continue
        return not_yet(*_cost_slip(fn, rate, interval, answer, expected))
    measured = ""
    if report is not None:
        worst = max(
            abs(math.log(p.requests_per_event * p.interval * report.measured_rate))
            for p in report.pollers
            if p.noticed
        )
        if worst < math.log(2):
            measured = " " + _(
                "Every poller in this lesson's race measured within a factor 2 of it."
            )
    return right(
        _("one request per interval, shared among rate × interval events: 1 / (rate × interval).")
        + measured
    )


def _cost_slip(
    fn: Callable[[float, float], Any], rate: float, interval: float, answer: float, expected: float
) -> tuple[str, str]:
    """What the learner's formula got wrong, found by moving one input at a time."""
    said = _(
        "for {rate:g} events/s polled every {interval:g} s you said {answer:.3g}",
        rate=rate,
        interval=interval,
        answer=answer,
    )
    longer, busier = fn(rate, interval * 2), fn(rate * 2, interval)
    crowded = fn(3.0, 120)  # 360 events between two polls: one request costs 1/360 each
    if expected < 1 <= answer and _number(crowded) and crowded >= 1:
        return (
            _("{said}; it should be {expected:.3g}, less than one.", said=said, expected=expected),
            _(
                "{events:.3g} events happen between two polls, and one request finds them "
                "all: a request per event can be a fraction",
                events=rate * interval,
            ),
        )
    if float(answer).is_integer() and abs(answer - expected) < 1 + 1e-9:
        return (
            _("{said}; it should be {expected:.3g}.", said=said, expected=expected),
            _(
                "an average need not be a whole number: divide with / (// rounds down), and don't "
                "round the result"
            ),
        )
    if _number(longer) and longer > answer:
        return (
            _("{said}, and your answer grows when the interval grows.", said=said),
            _("asking less often costs fewer requests: the interval belongs in the denominator"),
        )
    if _number(busier) and busier > answer:
        return (
            _("{said}, and your answer grows when there are more events.", said=said),
            _(
                "the more events happen, the more of them each request finds: the rate belongs in "
                "the denominator too"
            ),
        )
    if _number(longer) and math.isclose(longer, answer, rel_tol=1e-9):
        return (
            _("{said}, whatever the interval.", said=said),
            _("polling less often saves requests: the interval belongs in your formula"),
        )
    if _number(busier) and math.isclose(busier, answer, rel_tol=1e-9):
        return (
            _("{said}, whatever the rate.", said=said),
            _(
                "when events come more often, each request finds more of them: the rate belongs in "
                "your formula"
            ),
        )
    return (
        _("{said}; it should be {expected:.3g}.", said=said, expected=expected),
        _(
            "a poller asks 1/interval times a second, and rate events happen each second: "
            "divide one by the other"
        ),
    )


@check
def deadline_interval(interval: Any, deadline: float = 20.0, share: float = 0.95) -> Result:
    """Exercise 2: the longest interval for which ``share`` of events are noticed in time.

    An event lands at a uniformly random moment between two polls, so its wait is spread evenly
    from 0 to the interval, and ``share`` of events wait at most ``share × interval``. The longest
    interval is ``deadline / share``, to be found exactly: rounding down to a whole second still
    costs requests, rounding up breaks the promise.
    """
    if is_placeholder(interval):
        return not_yet(
            _("interval is still ..."),
            _(
                "an event lands at a uniformly random moment between two polls: how long do "
                "the slowest events wait, and what share of events may wait longer than "
                "{deadline:g} s?",
                deadline=deadline,
            ),
        )
    if not _number(interval) or not interval > 0:
        return not_yet(
            _(
                "interval should be a positive number of seconds, not {interval}.",
                interval=repr(interval),
            )
        )
    interval = float(interval)
    longest = deadline / share
    late = share * interval
    if late > deadline * (1 + 1e-12):
        median = interval / 2
        if late <= deadline * 1.01:
            return not_yet(
                _(
                    "polling every {interval:g} s, {share:.0%} of events wait up to {late:.5g} s: "
                    "just past the {deadline:g} s deadline.",
                    interval=interval,
                    share=share,
                    late=late,
                    deadline=deadline,
                ),
                _("you are a hair over the longest interval: round down, not up"),
            )
        return not_yet(
            (
                _(
                    "polling every {interval:g} s, {share:.0%} of events wait up to {late:.3g} s: "
                    "past the {deadline:g} s deadline (the average wait, {median:.3g} s, is fine, "
                    "but the deadline is about the slow ones).",
                    interval=interval,
                    share=share,
                    late=late,
                    deadline=deadline,
                    median=median,
                )
                if median <= deadline
                else _(
                    "polling every {interval:g} s, {share:.0%} of events wait up to {late:.3g} s: "
                    "past the {deadline:g} s deadline.",
                    interval=interval,
                    share=share,
                    late=late,
                    deadline=deadline,
                )
            ),
            _(
                "the wait is spread evenly from 0 to the interval, so {share:.0%} of events wait "
                "at most {share:g} × interval",
                share=share,
            ),
        )
    if interval >= longest * (1 - 1e-3):
        return right(
            _(
                "every {interval:g} s: {share:.0%} of events are noticed within {late:.4g} s, "
                "inside the {deadline:g} s deadline, with no more requests than needed.",
                interval=interval,
                share=share,
                late=late,
                deadline=deadline,
            )
        )
    fewer = longest / interval
    if math.isclose(interval, deadline, rel_tol=1e-9):
        return not_yet(
            _(
                "polling every {interval:g} s, every event is noticed within {deadline:g} s; but "
                "the promise is only for {share:.0%} of them, so you may wait a little longer.",
                interval=interval,
                deadline=deadline,
                share=share,
            ),
            _(
                "let the slowest {slow:.0%} of events be late: which interval makes exactly "
                "{share:.0%} of them wait at most {deadline:g} s?",
                slow=1 - share,
                share=share,
                deadline=deadline,
            ),
        )
    if math.isclose(interval, deadline * share, rel_tol=1e-9):
        return not_yet(
            _(
                "{interval:g} s is the deadline × {share:g}; polling that often meets the promise "
                "with room to spare.",
                interval=interval,
                share=share,
            ),
            _(
                "it is the wait of the {share:.0%}-slowest event, {share:g} × interval, that must "
                "fit in {deadline:g} s: solve that for the interval",
                share=share,
                deadline=deadline,
            ),
        )
    if interval >= longest * 0.97:
        return not_yet(
            _(
                "polling every {interval:g} s meets the deadline, and it is close, but the longest "
                "interval is a little longer: a rounded answer still costs requests.",
                interval=interval,
            ),
            _("work it out instead of rounding: Python can do the division"),
        )
    return not_yet(
        _(
            "polling every {interval:g} s meets the deadline, but you could wait longer between "
            "polls and make {fewer:.3g}× fewer requests.",
            interval=interval,
            fewer=fewer,
        ),
        _(
            "find the longest interval with {share:g} × interval ≤ {deadline:g}",
            share=share,
            deadline=deadline,
        ),
    )
