"""Who to tell when something happens: one subscribe helper for every part that has news.

The inbox tells about each delivery, the runner about each job change, the sender about each
attempt, the polling race about each score change, a scenario's journal about each line and the
email outbox about each email. They all hold a :class:`Listeners`::

    self.listeners = Listeners("inbox")
    ...
    self.listeners.notify(delivery)         # where the news happens
    unsubscribe = inbox.subscribe(print)    # where someone wants it (returns the way to stop)

One policy for a listener that raises: it is unsubscribed, and what it raised is kept in
:attr:`Listeners.errors` (the last :data:`KEEP_ERRORS`). A broken view never breaks the part it
watches, never fails again on every event, and never fails silently.

Thread-safe: subscribe and unsubscribe from any thread (a notebook cell), notify from the lab loop.
A listener runs on the thread that notifies, so it must be quick.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")

KEEP_ERRORS = 50


class Listeners(Generic[P]):
    """The functions to call when ``owner`` has news; see the module docstring for the policy."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.errors: deque[str] = deque(maxlen=KEEP_ERRORS)
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[P, object], ...] = ()

    def subscribe(self, listener: Callable[P, object]) -> Callable[[], None]:
        """Call ``listener`` with each piece of news; returns a function that stops it."""
        with self._lock:
            self._listeners = (*self._listeners, listener)
        return lambda: self.unsubscribe(listener)

    def unsubscribe(self, listener: Callable[P, object]) -> None:
        with self._lock:
            if listener in self._listeners:
                kept = list(self._listeners)
                kept.remove(listener)
                self._listeners = tuple(kept)

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in self._listeners:  # a snapshot: a listener may unsubscribe itself
            try:
                listener(*args, **kwargs)
            except Exception as exc:
                self.unsubscribe(listener)
                name = getattr(listener, "__qualname__", repr(listener))
                self.errors.append(
                    f"{self.owner} listener {name} raised {type(exc).__name__}: {exc}; unsubscribed"
                )

    def __len__(self) -> int:
        return len(self._listeners)

    def __bool__(self) -> bool:
        return bool(self._listeners)


__all__ = ["KEEP_ERRORS", "Listeners"]
