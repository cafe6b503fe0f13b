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

import functools
import json
import math
import re
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
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # The number hooks cost a Python call per number: use them only when the text holds what
    # they would refuse (a long run of digits, NaN, Infinity, a three-digit exponent). A match
    # inside a string only costs the slower parse; it never refuses anything by itself.
    hooks = _hooks(max_number_chars) if _suspect(max_number_chars).search(text) else {}
    try:
        value = json.loads(text, **hooks)
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused("too_deep", f"the body nests more than {max_depth} levels deep") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JSONRefused("invalid_json", f"the body is not valid JSON: {exc}") from None
    # Only a body with more brackets than the limit can nest deeper than it: skip the walk
    # for nearly every real payload (bytes.count runs in C).
    if (
        text.count(b"[") + text.count(b"{") > max_depth
        and depth(value, stop_past=max_depth) > max_depth
    ):
        raise JSONRefused("too_deep", f"the body nests more than {max_depth} levels deep")
    return value


def _hooks(max_number_chars: int) -> dict[str, Any]:
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

    return {
        "parse_int": lambda text: number(text, int),
        "parse_float": lambda text: number(text, float),
        "parse_constant": constant,
    }


@functools.lru_cache(maxsize=8)
def _suspect(max_number_chars: int) -> re.Pattern[bytes]:
    # A number longer than the limit has at most four runs of digits (sign, point, exponent
    # between them), so one run is at least a quarter of it.
    run = max(1, (max_number_chars - 3) // 4)
    return re.compile(rb"[0-9]{%d}|NaN|Infinity|[0-9.][eE][+-]?[0-9]{3}" % run)


def depth(value: Any, *, stop_past: int | None = None) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion.

    With ``stop_past``, counting stops at the first level deeper than it (enough to refuse).
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if stop_past is not None and level > stop_past:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


__all__ = ["JSONRefused", "depth", "loads"]
