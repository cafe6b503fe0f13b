"""LiveView: what every live view shares — a throttle, its subscriptions, a stable text face.

A view is an ipywidgets ``VBox``, so the last line of a cell displays it. Its ``repr`` (what
nbval compares, and what a terminal shows) describes the view, never its changing numbers.

Re-running a cell that makes a view replaces the previous view of the same kind on the same
source: the old one unsubscribes and closes, so a cell run fifty times leaves one listener, not
fifty. A view can also be closed by hand with :meth:`LiveView.close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import ipywidgets as widgets

from webhooks_lab.widgets.throttle import Throttle

# At most this many open views of one kind at once, whatever their keys: an old one closes first.
MAX_OPEN_PER_KIND = 8

_registry_lock = threading.Lock()
_open: dict[tuple[str, Hashable], LiveView] = {}


class LiveView(widgets.VBox):
    """Base of the lab's views. Subclasses build widgets, subscribe, and implement ``_flush``."""

    kind = "view"

    def __init__(
        self,
        *,
        key: Hashable,
        max_syncs_per_second: float = 10.0,
        max_per_flush: int | None = None,
        heartbeat: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.add_class("webhooks-lab-view")
        self._key = (self.kind, key)
        self._unsubscribe: list[Callable[[], object]] = []
        self._owned: list[widgets.Widget] = []
        self.throttle = Throttle(
            self._flush,
            max_syncs_per_second=max_syncs_per_second,
            max_per_flush=max_per_flush,
            heartbeat=heartbeat,
        )
        _register(self)

    # -- for subclasses --------------------------------------------------------------------------

    def _own(self, *parts: widgets.Widget) -> None:
        """Widgets this view made and must close with it."""
        self._owned.extend(parts)

    def _listen(self, unsubscribe: Callable[[], object]) -> None:
        """Remember how to stop listening; :meth:`close` calls it."""
        self._unsubscribe.append(unsubscribe)

    def _flush(self) -> int:
        """Apply what changed to the widgets; return how many widgets were sent an update."""
        return 0

    def describe(self) -> str:
        return f"{type(self).__name__}"

    # -- public ------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.throttle.closed

    def refresh(self) -> None:
        """Bring the widgets up to date now, on this thread (the throttle normally does it)."""
        self.throttle.flush_now()

    def close(self) -> None:
        """Stop listening and remove the view from the page. Safe to call twice."""
        self.throttle.close()
        while self._unsubscribe:
            stop = self._unsubscribe.pop()
            try:
                stop()
            except Exception:  # the source may already be gone (lab stopped)
                continue
        with self.throttle.lock:
            for part in self._owned:
                part.close()
            self._owned.clear()
        _unregister(self)
        super().close()

    def __repr__(self) -> str:
        return self.describe()


def _register(view: LiveView) -> None:
    with _registry_lock:
        previous = _open.pop(view._key, None)
        _open[view._key] = view
        same_kind = [k for k in _open if k[0] == view.kind]
        extra = same_kind[: max(0, len(same_kind) - MAX_OPEN_PER_KIND)]
        stale = [_open.pop(k) for k in extra]
    if previous is not None and previous is not view:
        previous.close()
    for old in stale:
        old.close()


def _unregister(view: LiveView) -> None:
    with _registry_lock:
        if _open.get(view._key) is view:
            del _open[view._key]


def open_views() -> list[LiveView]:
    """Every view still open, oldest first (for the curious, and for tests)."""
    with _registry_lock:
        return list(_open.values())


def source_key(source: object) -> int:
    """A key naming one source object (a lab, a race) for the replace-on-re-run rule."""
    return id(source)


def guard(widget: widgets.Widget, lock: threading.RLock) -> None:
    """Apply the browser's changes to ``widget`` under ``lock``, so they never interleave with a
    flush running on the throttle's thread (a click landing mid-update of a list, say)."""
    apply = widget.set_state

    def set_state(sync_data: dict[str, Any]) -> None:
        with lock:
            apply(sync_data)

    widget.set_state = set_state  # type: ignore[method-assign]
