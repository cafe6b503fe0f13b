"""JSON from strangers: parsed with limits on nesting and number size, refused with a reason.

``json.loads`` trusts its input. A body nested a thousand levels deep raises ``RecursionError``
(not ``ValueError``, so ordinary ``except ValueError`` misses it), a 5,000-digit number raises
``ValueError`` only after Python's 4,300-digit guard, ``1e999`` becomes ``inf`` and ``NaN`` is
accepted though JSON has no such thing. :func:`loads` refuses each with a :class:`JSONRefused`
whose ``code`` says which (``invalid_json``, ``too_deep``, ``number_too_long``,
``not_a_number``), so the receiver and the jobs API answer 400 with a reason.

No I/O: a wire-format helper like :mod:`webhooks_lab.events`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from webhooks_lab.errors import Error
from webhooks_lab.limits import DEFAULT


class JSONRefused(Error, ValueError):
    """A body that is not JSON the lab accepts; ``code`` names why, the message says it."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def loads(
    raw: bytes | str,
    *,
    max_depth: int = DEFAULT.max_json_depth,
    max_number_chars: int = DEFAULT.max_number_chars,
) -> Any:
    """Parse ``raw`` as JSON, refusing what is too deep, too long a number, or not JSON."""

    def number(text: str, kind: type) -> Any:
        if len(text) > max_number_chars:
            raise JSONRefused(
                "number_too_long",
                f"a number in the body has {len(text)} characters; at most {max_number_chars}",
            )
        value = kind(text)
        if kind is float and not math.isfinite(value):
            raise JSONRefused("not_a_number", f"the number {text[:30]} is too large for a float")
        return value

    def constant(name: str) -> Any:
        raise JSONRefused("not_a_number", f"{name} is not a JSON number")

    try:
        value = json.loads(
            raw,
            parse_int=lambda text: number(text, int),
            parse_float=lambda text: number(text, float),
            parse_constant=constant,
        )
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused("too_deep", f"the body nests more than {max_depth} levels deep") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JSONRefused("invalid_json", f"the body is not valid JSON: {exc}") from None
    # Only a body with more brackets than the limit can nest deeper than it: skip the walk
    # for nearly every real payload (bytes.count runs in C).
    opened = raw.count(b"[" if isinstance(raw, bytes) else "[") + raw.count(
        b"{" if isinstance(raw, bytes) else "{"
    )
    if opened > max_depth and depth(value) > max_depth:
        raise JSONRefused("too_deep", f"the body nests more than {max_depth} levels deep")
    return value


def depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend(
                (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


__all__ = ["JSONRefused", "depth", "loads"]
