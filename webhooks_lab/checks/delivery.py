"""Checks for lesson 5, "Deliver reliably".

Each check runs the learner's function many times on cases built to catch the usual slips
(no jitter, no cap, last-write-wins) and answers with the first one it finds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.events import Event

_BASE, _CAP, _JITTER = 5.0, 3600.0, 0.2
_SAMPLES = 200


def _planned(attempts_made: int) -> float:
    return min(_CAP, _BASE * 2 ** (attempts_made - 1))


@check
def backoff(fn: Callable[[int], float]) -> Result:
    """``fn(attempts_made)``: 5 s doubling, capped at an hour, jittered by up to ±20 %."""
    if not callable(fn):
        return not_yet("next_wait should be a function.", "def next_wait(attempts_made): ...")
    for made in range(1, 16):
        planned = _planned(made)
        waits = [fn(made) for _ in range(_SAMPLES)]
        if any(w is None or w is Ellipsis for w in waits):
            raise NotImplementedError
        low, high = min(waits), max(waits)
        if high > _CAP * (1 + _JITTER) + 1e-9:
            return not_yet(
                f"after {made} failed attempts your wait reached {high:,.0f} s "
                f"({high / 3600:.1f} h): without a cap, the waits soon grow to days.",
                "cap the wait at 3600 s before adding the jitter: min(3600, 5 * 2 ** (n - 1))",
            )
        if low < planned * (1 - _JITTER) - 1e-9 or high > planned * (1 + _JITTER) + 1e-9:
            return not_yet(
                f"after {made} failed attempt{'s' if made > 1 else ''} the wait should be "
                f"{planned:g} s ± 20 %, but yours ranged from {low:.4g} to {high:.4g} s.",
                "start from 5 s after the first failure and double it each time: "
                "5 * 2 ** (attempts_made - 1), capped at 3600",
            )
        if high - low < planned * _JITTER / 2:
            same = "always" if high == low else "nearly always"
            return not_yet(
                f"after {made} failed attempt{'s' if made > 1 else ''} your wait was {same} "
                f"{low:.4g} s: every delivery that failed at the same moment would come back "
                "at the same moment too, and knock the receiver over again.",
                "multiply the wait by random.uniform(0.8, 1.2)",
            )
    return right(
        "your waits double from 5 s, stop growing at an hour, and are spread ±20 % by jitter."
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
        return not_yet("apply_update should be a function.", "def apply_update(orders, event): ...")
    history = _history()
    expected = _latest(history)
    in_order = _run(fn, history)
    if in_order == {} or all(v is None for v in in_order.values()):
        raise NotImplementedError
    if in_order != expected:
        return not_yet(
            f"with the events in the order they happened, the orders ended as {in_order}, "
            f"not {expected}.",
            "store each order as orders[order] = {'status': ..., 'version': ...}",
        )
    late_retry = [*history[:2], *history[3:], history[2]]  # "paid" for 7 retried, arrives last
    got = _run(fn, late_retry)
    if got != expected:
        return not_yet(
            f"order 7's 'paid' update (version 2) arrived last, after 'shipped' (version 3), "
            f"as a retried delivery would; your code then said order 7 is {got.get(7)!r}, "
            "but it was shipped.",
            "ignore an update whose version is not newer than the one you already have",
        )
    redelivered = [*history, history[5], history[2], history[0]]
    got = _run(fn, redelivered)
    if got != expected:
        return not_yet(
            f"after the same deliveries arrived a second time the orders were {got}, "
            f"not {expected}.",
            "a repeat has a version you have already seen: skip it",
        )
    backwards = _run(fn, list(reversed(history)))
    if backwards != expected:
        return not_yet(
            f"with every event arriving in reverse order, the orders ended as {backwards}, "
            f"not {expected}.",
            "keep the highest version seen for each order, and only then its status",
        )
    return right(
        "each order ends at its newest version, in order, out of order, or delivered twice."
    )


__all__ = ["apply_latest", "backoff"]
