"""Checks for lesson 1, "Poll or be told".

Exercise 1 asks for the arithmetic of polling's cost; the check tries the learner's function on
many rates and intervals, and, when given the lesson's own race, against what was measured.
Exercise 2 asks for the longest poll interval that still meets a delivery deadline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, is_placeholder, not_yet, right

_GRID = [(rate, interval) for rate in (0.01, 1 / 6, 0.5, 3.0) for interval in (1, 5, 30, 120)]


@check
def requests_per_event(fn: Callable[[float, float], Any], report: Any = None) -> Result:
    """Exercise 1: ``fn(rate, interval)`` -> a poller's average requests per event."""
    if not callable(fn):
        return not_yet("requests_per_event should be a function of (rate, interval).")
    for rate, interval in _GRID:
        answer = fn(rate, interval)
        if is_placeholder(answer) or answer is None:
            return not_yet(
                "requests_per_event does not return a number yet.",
                "replace the ... with an expression using rate and interval",
            )
        if not isinstance(answer, (int, float)) or math.isnan(answer):
            return not_yet(f"requests_per_event({rate:g}, {interval:g}) returned {answer!r}.")
        expected = 1 / (rate * interval)
        if math.isclose(answer, expected, rel_tol=1e-6):
            continue
        if fn(rate, interval * 2) > answer:
            return not_yet(
                f"for {rate:g} events/s polled every {interval:g} s you said {answer:.3g}, "
                f"and your answer grows when the interval grows.",
                "asking less often costs fewer requests: the interval belongs in the denominator",
            )
        return not_yet(
            f"for {rate:g} events/s polled every {interval:g} s you said {answer:.3g}; "
            f"it should be {expected:.3g}.",
            "a poller asks 1/interval times a second, and rate events happen each second: "
            "divide one by the other",
        )
    measured = ""
    if report is not None:
        worst = max(
            abs(math.log(p.requests_per_event * p.interval * report.measured_rate))
            for p in report.pollers
            if p.noticed
        )
        if worst < math.log(2):
            measured = " Every poller in this lesson's race measured within a factor 2 of it."
    return right(
        "one request per interval, shared among rate × interval events: 1 / (rate × interval)."
        + measured
    )


@check
def deadline_interval(interval: Any, deadline: float = 20.0, share: float = 0.95) -> Result:
    """Exercise 2: the longest interval for which ``share`` of events are noticed in time."""
    if is_placeholder(interval):
        return not_yet(
            "interval is still ...",
            "an event lands at a uniformly random moment between two polls",
        )
    if not isinstance(interval, (int, float)) or not interval > 0:
        return not_yet(f"interval should be a positive number of seconds, not {interval!r}.")
    longest = deadline / share
    late = share * interval
    if late > deadline + 1e-9:
        median = interval / 2
        return not_yet(
            f"polling every {interval:g} s, {share:.0%} of events wait up to {late:.3g} s: "
            f"past the {deadline:g} s deadline"
            + (
                f" (the average wait, {median:.3g} s, is fine, but the deadline is about the "
                "slow ones)."
                if median <= deadline
                else "."
            ),
            f"the wait is spread evenly from 0 to the interval, so {share:.0%} of events wait "
            f"at most {share:g} × interval",
        )
    if interval < 0.8 * longest:
        return not_yet(
            f"polling every {interval:g} s meets the deadline, but you could wait up to "
            f"{longest:.3g} s between polls and make {longest / interval:.2g}× fewer requests.",
            "find the longest interval with share × interval ≤ deadline",
        )
    return right(
        f"every {interval:g} s: {share:.0%} of events are noticed within {late:.3g} s, "
        f"inside the {deadline:g} s deadline, with no more requests than needed."
    )
