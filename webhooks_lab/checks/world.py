"""Checks for lesson 12, "When the world misbehaves": a thin-event handler, and reconciliation.

Each check drives the learner's function with events that arrive out of order, twice, and with
a source whose answers lag or page, and judges only what the function did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.events import Event
from webhooks_lab.i18n import _

__all__ = ["reconcile", "thin_handler"]

_EXERCISE_1, _EXERCISE_2 = "12.thin_handler", "12.reconcile"


def _thin(n: int, kind: str, key: str) -> Event:
    url = f"/objects/{kind}/{key}"
    return Event(
        f"{kind}.updated",
        {"related_object": {"type": kind, "id": key, "url": url}},
        id=f"evt_ex12_{n:02d}",
    )


class _Source:
    """Objects at the source, and a fetch that may answer from a lagging replica."""

    def __init__(self) -> None:
        self.versions = [
            {"type": "order", "id": "A-1", "version": v, "status": s}
            for v, s in enumerate(["pending", "paid", "packed", "shipped"], start=1)
        ]
        self.refund = {"type": "refund", "id": "A-1", "version": 1, "status": "requested"}
        self.lag: list[int] = []  # for each fetch of order A-1 in turn: how many versions behind
        self.fetches = 0

    def fetch(self, object_type: str, object_id: str) -> dict[str, Any]:
        self.fetches += 1
        if (object_type, object_id) == ("refund", "A-1"):
            return dict(self.refund)
        if (object_type, object_id) != ("order", "A-1"):
            raise KeyError(f"no {object_type} {object_id!r} at the source")
        behind = self.lag.pop(0) if self.lag else 0
        return dict(self.versions[max(0, len(self.versions) - 1 - behind)])


def _drive(fn: Callable[..., Any], events: list[Event], lag: list[int]) -> tuple[dict, _Source]:
    source = _Source()
    source.lag = list(lag)
    table: dict[Any, Any] = {}
    for event in events:
        fn(table, event, source.fetch)
    return table, source


def _status(table: dict[Any, Any], kind: str, key: str) -> Any:
    row = table.get((kind, key))
    return row.get("status") if isinstance(row, dict) else None


@check
def thin_handler(fn: Callable[..., Any]) -> Result:
    """``fn(table, event, fetch)`` keeps ``table[(type, id)]`` at the newest state it fetched."""
    if not callable(fn):
        return not_yet(
            _("handle_thin should be a function."), "def handle_thin(table, event, fetch): ..."
        )
    events = [_thin(n, "order", "A-1") for n in range(4)]
    table, source = _drive(fn, events, [])
    if source.fetches == 0:
        return coach(
            _EXERCISE_1,
            _(
                "your handler never called fetch, so it cannot know the order's state: a thin "
                "event carries only the object's type and id."
            ),
            idea=_("read the type and id from event.data['related_object'] and fetch them"),
            detail=_("state = fetch(ref['type'], ref['id']), then store it in the table"),
        )
    if _status(table, "order", "A-1") != "shipped":
        return coach(
            _EXERCISE_1,
            _(
                "after four thin events for order A-1 the table held {table}, not the shipped "
                "order the source has.",
                table=repr(table),
            ),
            idea=_("store what fetch returned under the key (type, id)"),
            detail="table[(state['type'], state['id'])] = state",
        )
    # A replica that lags: the first fetch answers two versions behind, the rest are current.
    table, _replica = _drive(fn, events, [2, 0, 0, 0])
    late = _thin(9, "order", "A-1")
    lagging = _Source()
    lagging.lag = [3]
    fn(table, late, lagging.fetch)  # a last, duplicated event fetched from a stale replica
    if _status(table, "order", "A-1") != "shipped":
        return coach(
            _EXERCISE_1,
            _(
                "some fetches answered from a lagging replica with older versions, and your table "
                "then said {status}, not 'shipped', the newest it had been told.",
                status=repr(_status(table, "order", "A-1")),
            ),
            idea=_("fetching the latest is not enough when answers can be stale: compare versions"),
            detail=_("store the fetched state only if its version is higher than the one you hold"),
        )
    both = [_thin(0, "order", "A-1"), _thin(1, "refund", "A-1"), _thin(2, "order", "A-1")]
    table, _replica = _drive(fn, both, [])
    if (
        _status(table, "refund", "A-1") != "requested"
        or _status(table, "order", "A-1") != "shipped"
    ):
        return coach(
            _EXERCISE_1,
            _(
                "an order and a refund share the id A-1; afterwards your table held "
                "{table}, so one overwrote the other.",
                table=repr(table),
            ),
            idea=_("an id is unique only within its type"),
            detail=_("key the table by (type, id), not by id alone"),
        )
    reversed_events = list(reversed(events))
    table, _replica = _drive(fn, reversed_events, [0, 1, 2, 3])
    if _status(table, "order", "A-1") != "shipped":
        return coach(
            _EXERCISE_1,
            _(
                "with the first fetch answering the newest version and each later one older, "
                "your table ended at {status}, not 'shipped'.",
                status=repr(_status(table, "order", "A-1")),
            ),
            idea=_("the first answer may be the newest: everything after it is older"),
            detail=_("keep the highest version seen, not the first and not the last"),
        )
    return right(
        _(
            "your table keeps each object, by type and id, at the newest version it ever "
            "fetched, whatever the order of events and answers."
        )
    )


# -- exercise 2: reconcile ------------------------------------------------------------------------


class _EventsList:
    """A source's events list in pages, counting the calls made to it."""

    def __init__(self, count: int, page: int) -> None:
        self.ids = [f"evt_{n:03d}" for n in range(1, count + 1)]
        self.page, self.calls = page, 0

    def list_page(self, after: str | None) -> dict[str, Any]:
        self.calls += 1
        if self.calls > 50:
            raise RuntimeError("more than 50 pages asked for: the loop does not end")
        start = 0 if after is None else self.ids.index(after) + 1
        chunk = self.ids[start : start + self.page]
        return {
            "data": [{"id": i, "type": "order.updated", "data": {}} for i in chunk],
            "has_more": start + self.page < len(self.ids),
            "next_cursor": chunk[-1] if chunk else after,
        }


@check
def reconcile(fn: Callable[..., Any]) -> Result:
    """``fn(list_page, process, cursor) -> cursor`` processes every event after ``cursor`` once."""
    if not callable(fn):
        return not_yet(
            _("reconcile should be a function."), "def reconcile(list_page, process, cursor): ..."
        )
    source = _EventsList(23, page=5)
    done: list[str] = []
    cursor = fn(source.list_page, lambda event: done.append(event["id"]), "evt_007")
    wanted = source.ids[7:]
    if done == source.ids or done[: len(source.ids[:7])] == source.ids[:7]:
        return coach(
            _EXERCISE_2,
            _(
                "from cursor evt_007 your code processed {count} events starting at "
                "{first}: the ones up to evt_007 were handled already.",
                count=len(done),
                first=done[0] if done else "-",
            ),
            idea=_("start reading after the cursor you were given"),
            detail=_("pass cursor to list_page the first time: list_page(cursor)"),
        )
    if done[:5] == wanted[:5] and len(done) < len(wanted):
        return coach(
            _EXERCISE_2,
            _(
                "your code processed {count} of the {total} events after evt_007 and "
                "stopped: the list has more pages.",
                count=len(done),
                total=len(wanted),
            ),
            idea=_("keep asking for the next page while has_more is true"),
            detail=_(
                "loop: page = list_page(cursor); ...; cursor = page['next_cursor']; stop when "
                "not page['has_more']"
            ),
        )
    if done != wanted:
        return coach(
            _EXERCISE_2,
            _(
                "after evt_007 your code processed {done}, not {wanted}... ({total} events, "
                "oldest first, each once).",
                done=str(done[:6]) + ("..." if len(done) > 6 else ""),
                wanted=wanted[:3],
                total=len(wanted),
            ),
            idea=_("process each event of each page in the order the page gives them"),
            detail="for event in page['data']: process(event)",
        )
    if cursor != source.ids[-1]:
        return coach(
            _EXERCISE_2,
            _(
                "your function returned the cursor {cursor}; the next run would start there, "
                "but the last event processed was {last}.",
                cursor=repr(cursor),
                last=source.ids[-1],
            ),
            idea=_(
                "return where the next run should start: the id of the last event you processed"
            ),
            detail=_("return the final page's next_cursor (or the last event's id)"),
        )
    again: list[str] = []
    cursor2 = fn(source.list_page, lambda event: again.append(event["id"]), cursor)
    if again or cursor2 != cursor:
        return coach(
            _EXERCISE_2,
            _(
                "run again from its own cursor, your code processed {count} events and "
                "returned {cursor}: nothing new had happened.",
                count=len(again),
                cursor=repr(cursor2),
            ),
            idea=_("a second run with nothing new must do nothing and keep the cursor"),
            detail=_("an empty page has has_more false and next_cursor equal to your cursor"),
        )
    empty = _EventsList(0, page=5)
    nothing: list[str] = []
    if fn(empty.list_page, lambda event: nothing.append(event["id"]), None) is not None or nothing:
        return coach(
            _EXERCISE_2,
            _(
                "for a source with no events yet, your code should process nothing and return "
                "the cursor it was given (None)."
            ),
            idea=_("an empty list is a normal answer"),
            detail=_("return page['next_cursor'] (None here) when there is nothing"),
        )
    return right(
        _(
            "your reconciliation reads every page after the cursor, processes each missed event "
            "once, oldest first, and returns where the next run starts."
        )
    )
