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
    # Read as json.loads reads bytes; text that opens as UTF-8 JSON does needs no closer look.
    plain = text[:1] in _OPENERS and text[1:2] != b"\x00"
    # The number hooks cost a Python call per number: use them only when the text may hold
    # what they would refuse (a false alarm, digits inside a string, only costs the slower
    # parse), or when it is not UTF-8, where the look for suspect numbers sees nothing.
    suspect = not plain or _suspect(text, max_number_chars)
    decoder = _checking(max_number_chars) if suspect else _PLAIN
    try:
        text_str = text.decode("utf-8" if plain else json.detect_encoding(text), "surrogatepass")
        value = _parse(decoder, text_str) if plain else decoder.decode(text_str)
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


def _parse(decoder: json.JSONDecoder, text: str) -> Any:
    """``decoder.decode(text)`` for text that opens with ``{`` or ``[``, less its wrapping.

    The decoder's C scanner reads the value; only what follows it is left to look at (JSON
    whitespace, or it is not JSON). Anything wrong is handed back to ``decode``, so a refusal
    says exactly what ``json`` says.
    """
    try:
        value, end = decoder.scan_once(text, 0)  # type: ignore[attr-defined]
    except StopIteration:
        return decoder.decode(text)  # raises JSONDecodeError, with its usual message
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return decoder.decode(text)  # raises: data after the value
    return value


def _refuse_constant(name: str) -> Any:
    raise JSONRefused("not_a_number", f"{name} is not a JSON number")


_OPENERS = (b"{", b"[")
_JSON_SPACE = " \t\n\r"  # all the whitespace JSON allows between tokens (RFC 8259, section 2)

# NaN and Infinity cost nothing to watch for: the decoder calls parse_constant only when it
# meets one. Made once, not per body (json.loads with hooks builds a decoder each call).
_PLAIN = json.JSONDecoder(parse_constant=_refuse_constant)


@functools.lru_cache(maxsize=8)
def _checking(max_number_chars: int) -> json.JSONDecoder:
    """A decoder that also measures every number (one Python call each)."""

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

    return json.JSONDecoder(
        parse_int=lambda text: number(text, int),
        parse_float=lambda text: number(text, float),
        parse_constant=_refuse_constant,
    )


# Every digit and the decimal point become "0" and signs go, so a number is at most two runs
# of "0" (its mantissa and its exponent) with an "e" between them. Dropping a character only
# ever joins runs, so text elsewhere can raise a false alarm (the slower parse), never hide one.
_NUMBER_SHAPE = bytes.maketrans(b"0123456789.E", b"00000000000e")
_SIGNS = b"+-"


def _suspect(text: bytes, max_number_chars: int) -> bool:
    """Whether ``text`` may hold a number the checking decoder would refuse: one longer than
    ``max_number_chars`` or one too large for a float. Two searches in C, no regex."""
    shape = text.translate(_NUMBER_SHAPE, _SIGNS)
    return _long_run(max_number_chars) in shape or b"e000" in shape


@functools.lru_cache(maxsize=8)
def _long_run(max_number_chars: int) -> bytes:
    # Longer than the limit, a number has a run of at least half of it less its three
    # separators (its sign, "e" and the exponent's sign). Capped at 200 digits: a mantissa of
    # fewer, times at most 10**99 (a two-digit exponent; three digits are suspect anyway), is a
    # finite float.
    return b"0" * max(1, min((max_number_chars - 2) // 2, 200))


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
