"""The line ``webhooks-lab serve`` prints per delivery, coalesced when deliveries pour in.

At human rates a person watching the terminal sees every delivery the moment it lands. Under load
a line per delivery would cost more than answering it (a terminal write per request throttles the
server), so past ``per_second`` lines in a second the log keeps count instead and prints one
summary line a second::

    #12    POST /webhooks/shop  order.created  -> 200 processed
    ... 4,812 more deliveries in the last second: 4,790 2xx, 22 4xx

Runs on the loop the receiver runs on; :meth:`start` begins the once-a-second summary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from webhooks_lab.i18n import _
from webhooks_lab.receiver.inbox import Delivery


class DeliveryLog:
    """Write a line per delivery up to ``per_second`` a second; then a summary each second."""

    def __init__(
        self,
        write: Callable[[str], object],
        *,
        per_second: int = 10,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.per_second, self.now = write, per_second, now
        self._second = -1
        self._shown = 0
        self._held: dict[int, int] = {}  # status // 100 (0: no answer) -> deliveries held back
        self._task: asyncio.Task[None] | None = None

    def __call__(self, delivery: Delivery) -> None:
        second = int(self.now())
        if second != self._second:
            self.flush()
            self._second, self._shown = second, 0
        if self._shown < self.per_second:
            self._shown += 1
            self.write(line(delivery))
        else:  # the flood's hot path: count, and name the kinds only in the summary
            held, kind = self._held, delivery.status // 100
            held[kind] = held.get(kind, 0) + 1

    def flush(self) -> None:
        """Print the summary of what was held back, if anything was."""
        if not self._held:
            return
        total = sum(self._held.values())
        named = sorted(
            (f"{kind}xx" if kind else _("no answer"), n) for kind, n in self._held.items()
        )
        parts = ", ".join(f"{n:,} {kind}" for kind, n in named)
        self.write(
            "... "
            + _(
                "{total} more deliveries in the last second: {parts}",
                total=format(total, ","),
                parts=parts,
            )
        )
        self._held.clear()

    def start(self) -> DeliveryLog:
        self._task = asyncio.ensure_future(self._tick())
        return self

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            if int(self.now()) != self._second:
                self.flush()


def line(delivery: Delivery) -> str:
    why = f"  {delivery.reason}" if delivery.reason else ""
    return (
        f"#{delivery.seq:<5} {delivery.method} {delivery.path}  {delivery.event_type or '-'}  "
        f"-> {delivery.status} {delivery.outcome}{why}"
    )
