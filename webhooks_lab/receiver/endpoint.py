"""An endpoint: what ``/webhooks/{name}`` checks, who handles its events, and which ids it has seen.

Each name a sender delivers to has one :class:`Endpoint`, made on first use. It holds the
configuration a learner changes from a cell (which signature scheme and secrets it requires, its
handlers, its chaos) and its memory of webhook ids (:class:`SeenIds`), which is how a retried
delivery is acknowledged without being processed twice. The
:class:`~webhooks_lab.receiver.receiver.Receiver` applies all of it to each request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from webhooks_lab import handshakes, signing
from webhooks_lab.events import Event, EventError
from webhooks_lab.receiver.chaos import Chaos

__all__ = ["Endpoint", "Handler", "InvalidPayload", "SeenIds", "usable_secrets"]

Handler = Callable[[Event], Any]


class InvalidPayload(EventError):
    """Raise it from a handler to refuse a delivery whose data is wrong.

    The sender gets ``422 Unprocessable Content`` with your message as the reason, and the inbox
    records it as rejected; any other exception from a handler is a bug on your side (``500``).
    """


class SeenIds:
    """The webhook ids an endpoint has seen, each processing or done; the oldest are forgotten.

    A receiver cannot remember every id for ever; ``remember`` bounds how many it keeps. A
    sender's retries come within hours, long before a busy endpoint forgets.
    """

    def __init__(self, remember: int = 100_000) -> None:
        self.remember = remember
        self._ids: OrderedDict[str, bool] = OrderedDict()  # id -> done (False while processing)

    def get(self, webhook_id: str) -> bool | None:
        """``True`` once processed, ``False`` while processing, ``None`` if unseen or forgotten."""
        return self._ids.get(webhook_id)

    def begin(self, webhook_id: str) -> None:
        """Handlers are running for this id: a repeat now is told to retry later."""
        self._ids[webhook_id] = False
        if len(self._ids) > self.remember:
            self._ids.popitem(last=False)

    def processed(self, webhook_id: str) -> None:
        """Processed at once, with no handler to wait for: :meth:`begin` and :meth:`finish`."""
        ids = self._ids
        ids[webhook_id] = True
        if len(ids) > self.remember:
            ids.popitem(last=False)

    def finish(self, webhook_id: str) -> None:
        """Processed: a repeat is acknowledged without processing it again."""
        self._ids[webhook_id] = True

    def discard(self, webhook_id: str) -> None:
        """Not processed after all (refused, or a handler failed): a retry is processed afresh."""
        self._ids.pop(webhook_id, None)

    def clear(self) -> None:
        self._ids.clear()

    def __len__(self) -> int:
        return len(self._ids)


class Endpoint:
    """``/webhooks/{name}``: its verification, handlers, chaos and memory of webhook ids."""

    def __init__(self, name: str, *, remember: int = 100_000) -> None:
        self.name = name
        self.scheme = "none"
        self.secrets: list[str] = []
        self.tolerance = 300
        self.chaos = Chaos()
        self.handlers: dict[str, list[Handler]] = {}
        self.seen = SeenIds(remember)
        self.handshake: tuple[str, str | None] | None = None

    def require(
        self, secret: str | Sequence[str], scheme: str = "standard", *, tolerance: int = 300
    ) -> Endpoint:
        """Only accept deliveries signed with ``secret`` (or any of several, during rotation)."""
        self.secrets = usable_secrets(secret, scheme, tolerance)
        self.scheme, self.tolerance = scheme, tolerance
        return self

    def answer_handshake(self, kind: str | None, secret: str | None = None) -> Endpoint:
        """Answer provider ``kind``'s handshake (one of ``handshakes.KINDS``; ``None``: stop).

        Zoom's and X's answers are keyed with ``secret`` (the app's secret token, the consumer
        secret). Each handshake is answered and kept in the inbox with ``handshake`` set.
        """
        if kind is None:
            self.handshake = None
            return self
        handshakes.check_kind(kind)
        if kind in handshakes.NEEDS_SECRET and (not isinstance(secret, str) or not secret):
            raise ValueError(f"the {kind} handshake is answered with an HMAC: give its secret")
        self.handshake = (kind, secret)
        return self

    def open(self) -> Endpoint:
        """Accept unsigned deliveries again."""
        self.scheme, self.secrets = "none", []
        return self

    def on(self, event_type: str = "*") -> Callable[[Handler], Handler]:
        """Decorator: run the function for each accepted event of ``event_type`` (``"*"``: all).

        Registering a function with the same name again replaces the earlier one, so re-running
        a notebook cell that defines a handler never leaves two copies running.
        """

        def register(handler: Handler) -> Handler:
            registered = self.handlers.setdefault(event_type, [])
            key = _handler_key(handler)
            kept = [h for h in registered if key is None or _handler_key(h) != key]
            registered[:] = [*kept, handler]
            return handler

        return register

    def handlers_for(self, event_type: str | None) -> list[Handler]:
        if not self.handlers:  # most endpoints under load: nothing to run, nothing to build
            return []
        return self.handlers.get(event_type or "", []) + self.handlers.get("*", [])

    def forget(self) -> None:
        """Forget every webhook-id seen, so old deliveries would be processed again."""
        self.seen.clear()

    def __repr__(self) -> str:
        kinds = ", ".join(sorted(self.handlers)) or "none"
        return (
            f"<Endpoint /webhooks/{self.name} scheme={self.scheme} handlers={kinds} {self.chaos!r}>"
        )


def usable_secrets(secret: str | Sequence[str], scheme: str, tolerance: int) -> list[str]:
    """The secrets as a list, proven usable now: a mistake fails here, not on every delivery."""
    signing.check_scheme(scheme)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if scheme == "none":
        return secrets
    if not secrets:
        raise ValueError("a signed endpoint needs at least one secret")
    if tolerance < 0:
        raise ValueError(f"tolerance is a number of seconds >= 0, got {tolerance!r}")
    for each in secrets:  # raises if, say, a Standard Webhooks secret is not base64
        signing.check_secret(scheme, each)
    return secrets


def _handler_key(handler: Handler) -> tuple[str, str] | None:
    """What makes two handlers "the same function defined again"; lambdas are never the same."""
    name = getattr(handler, "__qualname__", None)
    if not name or "<lambda>" in name:
        return None
    return (getattr(handler, "__module__", None) or "", name)
