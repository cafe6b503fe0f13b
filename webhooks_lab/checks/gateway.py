"""A gateway between a learner's ``httpx.Client`` and the lab that varies ``Retry-After``.

The lab's server always asks for the same wait, so a fixed ``time.sleep`` would look polite. The
checks of lessons 7 and 8 hand the learner a client whose transport is a :class:`Gateway`: every
request goes on to the real lab unchanged, but the answers that ask for a wait get the check's
``Retry-After`` instead, following a plan (seconds, then an HTTP date, then seconds again). The
gateway then judges the next request that must respect the wait, and stops the learner's loop at
the first one that comes too early, or far too late.

Waits in seconds are measured on the lab clock; an HTTP date is a fact on the wire, so it is
compared with the wall clock (as any server would).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from webhooks_lab.checks import Result
from webhooks_lab.checks.hints import coach
from webhooks_lab.i18n import _

#: Seconds of leeway for a clock tick. A busy machine only makes waits longer, never shorter.
EARLY = 0.05
#: A request this much later than asked (or twice the wait, if longer) wastes the client's time.
LATE = 3.0


def http_date_after(at_least: float) -> Callable[[], str]:
    """A plan step: an HTTP date from ``at_least`` to ``at_least + 1`` seconds after the moment it
    is given (HTTP dates have whole seconds)."""

    def header() -> str:
        return email.utils.formatdate(math.ceil(time.time() + at_least), usegmt=True)

    return header


def seconds(value: int) -> Callable[[], str]:
    """A plan step: ``Retry-After: value``, a number of seconds."""
    return lambda: str(value)


@dataclass(frozen=True)
class Advice:
    """A ``Retry-After`` the gateway gave, and when."""

    header: str
    given_at: float  # lab seconds (clock.monotonic)
    not_before: float | None  # for an HTTP date: the real Unix time it names

    @property
    def is_date(self) -> bool:
        return self.not_before is not None


@dataclass(frozen=True)
class Slip:
    """A request that did not respect the last ``Retry-After``: ``early`` or ``late``."""

    kind: str
    advice: Advice
    waited: float  # seconds between the advice and the request
    asked: float  # seconds the advice asked for, counted from when it was given

    def describe(self, again: str) -> str:
        """The slip in words, e.g. ``describe(_("polled again"))``: ``again`` is a phrase in the
        learner's language. An early slip's words do not depend on timing (a notebook stores
        them), a late one's say how late."""
        if self.kind == "late":
            return _(
                "you {again} only after {waited:.1f} s, when the server asked for {asked:.1f} s",
                again=again,
                waited=self.waited,
                asked=self.asked,
            )
        if self.advice.is_date:
            return _(
                "the server's Retry-After was an HTTP date, the moment to come back, and you "
                "{again} before it",
                again=again,
            )
        return _(
            "you {again} sooner than the {asked:g} s the server asked for in Retry-After",
            again=again,
            asked=self.asked,
        )


class Stopped(BaseException):
    """Raised inside the learner's code to end its loop: a slip, too many requests, or the time
    is up. A BaseException, so that a loop which swallows every ``Exception`` still ends."""


class Gateway(httpx.BaseTransport):
    """Pass requests to the lab; give the answers ``advises`` picks the plan's ``Retry-After``;
    judge the requests ``judges(request, advised)`` picks against the last one given, where
    ``advised`` is the request whose answer carried it."""

    def __init__(
        self,
        clock: Any,
        plan: Sequence[Callable[[], str]],
        *,
        advises: Callable[[httpx.Request, httpx.Response], bool],
        judges: Callable[[httpx.Request, httpx.Request], bool],
        give_up_after: float,
        max_requests: int = 300,
        on_plan_done: Callable[[], None] | None = None,
    ) -> None:
        self._inner = httpx.HTTPTransport()
        self.clock, self.plan = clock, list(plan)
        self.advises, self.judges, self.on_plan_done = advises, judges, on_plan_done
        self.deadline = time.monotonic() + give_up_after
        self.max_requests = max_requests
        #: Every request that got an answer: method, path, status.
        self.sent: list[tuple[str, str, int]] = []
        self.given: list[Advice] = []
        self.advice: Advice | None = None
        self._advised: httpx.Request | None = None
        self.slip: Slip | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if len(self.sent) >= self.max_requests or time.monotonic() > self.deadline:
            raise Stopped("too many requests, or too long")
        advice, advised = self.advice, self._advised
        if advice is not None and advised is not None and self.judges(request, advised):
            self.slip = self._judge(advice)
            if self.slip is not None:
                raise Stopped(self.slip.kind)
            self.advice = self._advised = None
        response = self._inner.handle_request(request)
        self.sent.append((request.method, request.url.path, response.status_code))
        if self.advises(request, response):
            step = len(self.given)
            header = self.plan[min(step, len(self.plan) - 1)]()
            response.headers["Retry-After"] = header
            moment = None if header.isdigit() else email.utils.parsedate_to_datetime(header)
            self.advice = Advice(
                header, self.clock.monotonic(), moment.timestamp() if moment else None
            )
            self._advised = request
            self.given.append(self.advice)
            if step == len(self.plan) - 1 and self.on_plan_done is not None:
                self.on_plan_done()
        return response

    def _judge(self, advice: Advice) -> Slip | None:
        waited = self.clock.monotonic() - advice.given_at
        if advice.not_before is not None:
            now = time.time()
            asked = advice.not_before - (now - waited)
            early = now < advice.not_before - EARLY
        else:
            asked = float(advice.header)
            early = waited < asked - EARLY
        if early:
            return Slip("early", advice, waited, asked)
        if waited > asked + max(LATE, asked):
            return Slip("late", advice, waited, asked)
        return None

    def unreadable(self, error: BaseException) -> Advice | None:
        """The HTTP date the learner's code choked on, if ``error`` is about it."""
        advice = self.given[-1] if self.given else None
        if advice is not None and advice.is_date and advice.header in str(error):
            return advice
        return None

    def date_not_read(self, exercise: str, error: BaseException, *, detail: str) -> Result | None:
        """The verdict when the learner's code choked on an HTTP date in Retry-After
        (``detail``: how to read one, the second time); ``None`` if ``error`` is about else."""
        date = self.unreadable(error)
        if date is None:
            return None
        return coach(
            exercise,
            _(
                "your code could not read Retry-After: {header} ({exc}). Besides a "
                "number of seconds, Retry-After may be an HTTP date: the moment to come "
                "back.",
                header=date.header,
                exc=error,
            ),
            idea=_(
                "when Retry-After is not a number, it is a date: read it as one, and "
                "wait until then"
            ),
            detail=detail,
        )

    def close(self) -> None:
        self._inner.close()


__all__ = ["EARLY", "LATE", "Advice", "Gateway", "Slip", "Stopped", "http_date_after", "seconds"]
