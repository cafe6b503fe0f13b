"""Hints that grow with the attempts: first the idea, then, after a wrong try, the detail.

An exercise's first "not yet" in a kernel is usually its untouched starting point, and what a
learner reads there should say *what to do*, never what to type. Only a later "not yet" of the
same exercise names the function or the step that is missing. The full answer stays in
``notebooks/solutions/``, behind ``%load``.

>>> forget_attempts()
>>> coach("demo", "the waits never grow.", idea="think about doubling", detail="use 2 ** n").hint
'think about doubling'
>>> coach("demo", "the waits never grow.", idea="think about doubling", detail="use 2 ** n").hint
'use 2 ** n'
"""

from __future__ import annotations

import threading
from collections import Counter

from webhooks_lab.checks import Result, not_yet

_lock = threading.Lock()
_misses: Counter[str] = Counter()


def coach(exercise: str, message: str, *, idea: str, detail: str) -> Result:
    """A "not yet" whose hint is ``idea`` the first time ``exercise`` misses, ``detail`` after."""
    with _lock:
        _misses[exercise] += 1
        first = _misses[exercise] == 1
    return not_yet(message, idea if first else detail)


def forget_attempts(exercise: str | None = None) -> None:
    """Start again as if no attempt had been made (at one exercise, or at all of them)."""
    with _lock:
        if exercise is None:
            _misses.clear()
        else:
            _misses.pop(exercise, None)


__all__ = ["coach", "forget_attempts"]
