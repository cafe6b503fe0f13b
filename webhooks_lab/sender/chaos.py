"""Chaos on the sending side: deliver out of order, twice, or late, on purpose and reproducibly.

Stripe, Shopify and GitHub all say their webhooks may arrive out of order, and any sender that
retries delivers some events more than once. A receiver has to cope, and a lesson needs a sender
that shows it doing so on cue. :class:`SenderChaos` bends new deliveries as
:meth:`~webhooks_lab.sender.sender.Sender.send` makes them:

* :meth:`~SenderChaos.shuffle` holds each delivery back a random 0 to ``window`` lab seconds, so
  events sent within one window arrive in any order, and none is later than ``window``;
* :meth:`~SenderChaos.duplicate` sends a share of deliveries a second time, ``after`` lab seconds
  later, with the same ``webhook-id`` (a second delivery in the outbox: the sender really sent it
  twice, as at-least-once senders do);
* :meth:`~SenderChaos.delay` holds a share back ``seconds`` longer.

The holds are lab time (the clock's speed applies) and are written down as each delivery's
``next_attempt_at``, so a sender resumed from its outbox keeps them. Every choice comes from a
generator seeded with ``seed``: the same sends give the same plan on every run. This is the
sending side's counterpart of the receiver's :class:`~webhooks_lab.receiver.chaos.Chaos`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from webhooks_lab.events import new_id
from webhooks_lab.sender.records import OutgoingDelivery

__all__ = ["ChaosChoice", "SenderChaos"]

KEEP_CHOICES = 1000  # choices kept for views and lessons, newest last


@dataclass(frozen=True)
class ChaosChoice:
    """What chaos did to one new delivery: held it ``hold`` lab seconds, and maybe copied it."""

    delivery_id: str
    event_id: str
    hold: float
    duplicate_id: str | None = None
    why: str = ""


class SenderChaos:
    """Misbehaviour for new deliveries. Methods chain: ``chaos.shuffle(60).duplicate(0.1)``."""

    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.Lock()  # a cell sets it while the loop (or another cell) sends
        self.choices: deque[ChaosChoice] = deque(maxlen=KEEP_CHOICES)
        self.reset(seed)

    def reset(self, seed: int | None = 0) -> SenderChaos:
        """Deliver in order, once, at once again (and reseed the random choices)."""
        with self._lock:
            self.window = 0.0
            self.duplicate_rate = 0.0
            self.duplicate_after = 1.0
            self.delay_rate = 0.0
            self.delay_seconds = 0.0
            self._random = random.Random(seed)
        return self

    def shuffle(self, window: float) -> SenderChaos:
        """Hold each new delivery a random 0 to ``window`` lab seconds: order within it is lost."""
        with self._lock:
            self.window = _seconds(window, "window")
        return self

    def duplicate(self, rate: float, after: float = 1.0) -> SenderChaos:
        """Send a share ``rate`` (0–1) of deliveries twice, the copy ``after`` lab seconds later."""
        with self._lock:
            self.duplicate_rate = _rate(rate)
            self.duplicate_after = _seconds(after, "after")
        return self

    def delay(self, seconds: float, rate: float = 1.0) -> SenderChaos:
        """Hold a share ``rate`` of deliveries ``seconds`` lab seconds longer."""
        with self._lock:
            self.delay_seconds, self.delay_rate = _seconds(seconds, "seconds"), _rate(rate)
        return self

    @property
    def active(self) -> bool:
        return bool(self.window or self.duplicate_rate or (self.delay_rate and self.delay_seconds))

    def plan(self, deliveries: Sequence[OutgoingDelivery], now: float) -> list[OutgoingDelivery]:
        """Bend new ``deliveries`` (made at lab time ``now``): set their holds, add the copies.

        Returns the deliveries to send, copies included, each copy right after its original.
        """
        planned: list[OutgoingDelivery] = []
        with self._lock:
            for delivery in deliveries:
                # Draw all three every time so one setting never shifts another's sequence.
                order, copy, late = (self._random.random() for _ in range(3))
                hold = order * self.window
                why = [f"held {hold:.3g} s (window {self.window:g} s)"] if self.window else []
                if late < self.delay_rate and self.delay_seconds:
                    hold += self.delay_seconds
                    why.append(f"delayed {self.delay_seconds:g} s")
                delivery.next_attempt_at = now + hold
                planned.append(delivery)
                duplicate_id = None
                if copy < self.duplicate_rate:
                    twin = dataclasses.replace(
                        delivery,
                        id=new_id("dlv"),
                        next_attempt_at=now + hold + self.duplicate_after,
                    )
                    twin.attempts = []
                    duplicate_id = twin.id
                    planned.append(twin)
                    why.append(f"sent twice ({self.duplicate_after:g} s apart)")
                self.choices.append(
                    ChaosChoice(delivery.id, delivery.event_id, hold, duplicate_id, "; ".join(why))
                )
        return planned

    def __repr__(self) -> str:
        if not self.active:
            return "SenderChaos(off)"
        parts = []
        if self.window:
            parts.append(f"shuffle within {self.window:g} s")
        if self.duplicate_rate:
            parts.append(f"duplicate {self.duplicate_rate:.0%}")
        if self.delay_rate and self.delay_seconds:
            parts.append(f"delay {self.delay_seconds:g} s on {self.delay_rate:.0%}")
        return f"SenderChaos({'; '.join(parts)})"


def _rate(rate: float) -> float:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    return float(rate)


def _seconds(seconds: float, name: str) -> float:
    if not 0.0 <= seconds < float("inf"):
        raise ValueError(
            f"{name} must be a finite number of seconds, not negative; got {seconds!r}"
        )
    return float(seconds)
