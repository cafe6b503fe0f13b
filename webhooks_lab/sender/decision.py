"""What now, after an answer: the sender's one decision, as a pure function.

After each attempt the sender must decide: is the delivery done, should it try again (and when),
or give up? That choice depends only on what came back and on the retry policy, never on
sockets or databases, so it lives here apart from the I/O, where a lesson can show it and a test
can pin it (the *sans-I/O* style)::

    >>> policy = RetryPolicy(schedule=(0, 5, 300), jitter=0)
    >>> decide(503, attempts_made=1, policy=policy)
    Decision(state='retrying', wait=5.0)
    >>> decide(503, attempts_made=1, policy=policy, retry_after="60")
    Decision(state='retrying', wait=60.0)
    >>> decide(200, attempts_made=2, policy=policy)
    Decision(state='delivered', wait=None)
    >>> decide(None, attempts_made=3, policy=policy)     # a timeout, and no attempts left
    Decision(state='dead', wait=None)

=========================  ==============================================================
the answer                 what happens next
=========================  ==============================================================
2xx                        delivered
410 Gone                   the endpoint is disabled (the receiver says it is gone for good)
429, 502, 503, 504         retried, after the receiver's ``Retry-After`` if it sent one
anything else, 3xx too,    retried on the schedule (:class:`~webhooks_lab.retry.RetryPolicy`)
a timeout, no connection   with jitter; redirects are never followed
=========================  ==============================================================

When the schedule runs out the delivery is *dead* (a dead letter). A request that can never
succeed (the SSRF guard refused its address) is dead at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhooks_lab.retry import RETRY_AFTER_STATUSES, RetryPolicy, parse_retry_after

__all__ = ["Decision", "decide"]


@dataclass(frozen=True)
class Decision:
    """What a delivery does next: its new ``state``, and for ``"retrying"`` the ``wait``.

    ``state`` is ``"delivered"``, ``"disabled"``, ``"retrying"`` or ``"dead"``; ``wait`` is lab
    seconds until the next attempt (``None`` unless retrying).
    """

    state: str
    wait: float | None = None


# The decisions that carry no wait: one each, shared (a Decision is frozen), so the common case
# (2xx) costs a comparison and no new object.
_DELIVERED, _DISABLED, _DEAD = Decision("delivered"), Decision("disabled"), Decision("dead")


def decide(
    status: int | None,
    *,
    attempts_made: int,
    policy: RetryPolicy,
    retry_after: str | None = None,
    now: float | None = None,
    permanent: bool = False,
) -> Decision:
    """The decision after an attempt that got ``status`` (``None``: no answer at all).

    ``attempts_made`` counts this round's attempts, this one included (a replay starts a new
    round). ``retry_after`` is the answer's ``Retry-After`` header, honoured only on the statuses
    that carry it; a date in it is counted from ``now``. ``permanent`` means trying again cannot
    help.
    """
    if status is not None and 200 <= status < 300:
        return _DELIVERED
    if status == 410:
        return _DISABLED
    if permanent:
        return _DEAD
    asked = parse_retry_after(retry_after, now) if status in RETRY_AFTER_STATUSES else None
    wait = policy.delay_after(attempts_made, asked)
    return _DEAD if wait is None else Decision("retrying", wait)
