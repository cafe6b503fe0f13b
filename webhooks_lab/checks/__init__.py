"""Exercise checks: each answers in plain words, and never raises into the learner's notebook.

A check returns a :class:`Result`. In a notebook it shows as one line that says whether the answer
is right, and if not, what is missing and a hint. ``bool(result)`` is ``True`` when it passed, so
tests can prove a check accepts the reference solution and rejects a typical wrong answer.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec

from webhooks_lab.i18n import _

P = ParamSpec("P")


@dataclass(frozen=True)
class Result:
    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        if self.passed:
            return "✅ " + _("Right: {message}", message=self.message)
        hint = "\n   " + _("Hint: {hint}", hint=self.hint) if self.hint else ""
        return "❌ " + _("Not yet: {message}", message=self.message) + hint

    def _repr_html_(self) -> str:
        from html import escape

        colour = "#0a6b2d" if self.passed else "#9a3b00"
        text = escape(repr(self)).replace("\n", "<br>")
        return f"<div style='color:{colour};font-weight:500'>{text}</div>"


def right(message: str) -> Result:
    return Result(True, message)


def not_yet(message: str, hint: str = "") -> Result:
    return Result(False, message, hint)


def check(fn: Callable[P, Result]) -> Callable[P, Result]:
    """Make a check safe: an exception inside the learner's code becomes a plain-words answer."""

    @wraps(fn)
    def safe(*args: P.args, **kwargs: P.kwargs) -> Result:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            return not_yet(_("this exercise is not done yet."), _("replace the ... with your code"))
        except Exception as exc:  # the learner's code raised: say what, where a learner can read it
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return not_yet(
                _(
                    "your code raised {error}: {exc} (line {line})",
                    error=type(exc).__name__,
                    exc=exc,
                    line=where.lineno,
                ),
                _("read the error above, fix that line, and run both cells again"),
            )

    return safe


def answer_detail(answer: Any) -> str:
    """What an HTTP answer (an ``httpx.Response``) says went wrong, in its own words."""
    kind = answer.headers.get("content-type", "")
    if kind.startswith(("application/json", "application/problem+json")):
        try:
            body = answer.json()
        except ValueError:
            return answer.text[:200]
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("reason") or _("no detail"))
    return answer.text[:200]


def is_placeholder(value: Any) -> bool:
    """True for the ``...`` a learner has not replaced yet."""
    return value is Ellipsis


__all__ = ["Result", "answer_detail", "check", "is_placeholder", "not_yet", "right"]
