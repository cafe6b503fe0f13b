"""Fast-forward: play a stretch of lab time event by event, every attempt at its exact moment.

A sped-up clock still runs on real time. At ``speed=4 * DAY`` a real millisecond is six lab
minutes, so on a busy machine an attempt due "an hour later" can go out hours late, and a week
of failures plays differently from one run to the next. :func:`fast_forward` stops the clock,
lets the sender finish everything due now (the attempt, its answer, the decision and what the
decision sends, such as an operational webhook), then jumps the clock to the next moment
anything sleeps until, and again, to the end of the stretch. However slow the machine, every
retry goes out at the lab time its schedule says, so the week is the same every time.

Only the sender's work is waited for: anything else asleep on the lab clock (a poller, a job)
gets its moments as the clock passes them, but the jump does not wait for what it does then. An
answer held back on the lab clock (a receiver's chaos ``delay``) cannot come while the clock
stands still: the sender waits for it, and :func:`fast_forward` says so when its time runs out.
"""

from __future__ import annotations

import asyncio
import time

from webhooks_lab.runtime.clock import Clock
from webhooks_lab.sender.sender import Sender

#: Real seconds between two looks at a sender still at work.
LOOK_EVERY = 0.002


async def fast_forward(sender: Sender, seconds: float, *, timeout: float = 30.0) -> None:
    """Play the next ``seconds`` of lab time on ``sender``'s clock; the clock then runs on as it
    did (or stays paused if it was). Raises ``TimeoutError`` if the sender is still at work
    after ``timeout`` real seconds in all."""
    if seconds < 0:
        raise ValueError(f"lab time only moves forward, not by {seconds!r} seconds")
    clock = sender.clock
    was_running = not clock.paused
    clock.pause()
    try:
        end = clock.time() + seconds
        give_up = time.monotonic() + timeout
        while True:
            await _settle(sender, clock, give_up, timeout)
            due = clock.deadlines()
            if not due or due[0] > end:
                break
            clock.advance(max(0.0, due[0] - clock.time()))
        clock.advance(max(0.0, end - clock.time()))
        await _settle(sender, clock, give_up, timeout)
    finally:
        if was_running:
            clock.resume()


async def _settle(sender: Sender, clock: Clock, give_up: float, timeout: float) -> None:
    """Wait until no sleeper is due and the sender has nothing queued or in flight."""
    while True:
        due = clock.deadlines()
        if sender.settled() and not (due and due[0] <= clock.time()):
            return
        if time.monotonic() > give_up:
            raise TimeoutError(
                f"fast_forward waited {timeout:g} s for the sender to finish what was due (an"
                " answer held back on the lab clock, such as a receiver's delay, never comes"
                " while the clock stands still)"
            )
        await asyncio.sleep(LOOK_EVERY)
