"""Keeping the latest state of objects when events arrive late, twice or out of order.

A receiver that writes every event's object as it arrives (:class:`LastArrival`) ends up with
whatever came *last*, which is not always what happened last: Stripe, Shopify and GitHub all say
their webhooks may arrive out of order. :class:`LatestState` keeps, for each object, the highest
``version`` it has seen (or, without versions, the latest ``updated_at``), and ignores anything
older: last write wins by version, not by arrival. It is also a tolerant reader: it keeps the
fields it knows (``known``) and ignores the rest, so a provider adding a field breaks nothing.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["LastArrival", "LatestState"]


class LastArrival:
    """The naive table: every arriving object overwrites the stored one. Wrong out of order."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def apply(self, state: dict[str, Any]) -> bool:
        """Store ``state`` (an object with ``type`` and ``id``); always True."""
        with self._lock:
            self.rows[(str(state["type"]), str(state["id"]))] = dict(state)
        return True

    def get(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.rows.get((object_type, object_id))
            return dict(found) if found is not None else None


class LatestState(LastArrival):
    """A table that keeps each object's highest version seen; older arrivals are ignored.

    ``known``: the fields to keep (besides ``type``, ``id``, ``version``, ``updated_at``); others
    are dropped, so an unknown field is never an error. ``None`` keeps every field.
    """

    def __init__(self, known: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.known = known
        self.ignored = 0  # arrivals older than (or as old as) what was kept

    def apply(self, state: dict[str, Any]) -> bool:
        """Keep ``state`` if it is newer than the stored one; True if it was kept."""
        key = (str(state["type"]), str(state["id"]))
        fields = {"type", "id", "version", "updated_at", *(self.known or state)}
        kept = {name: value for name, value in state.items() if name in fields}
        with self._lock:
            stored = self.rows.get(key)
            if stored is not None and _order(stored) >= _order(kept):
                self.ignored += 1
                return False
            self.rows[key] = kept
            return True


def _order(state: dict[str, Any]) -> tuple[float, float]:
    """What makes one state newer than another: its version, then its ``updated_at``."""
    return (float(state.get("version") or 0), float(state.get("updated_at") or 0))
