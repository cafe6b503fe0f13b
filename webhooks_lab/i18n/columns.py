"""Text in the columns of a monospace font, where a wide character (한, 漢) takes two.

Python's ``f"{text:<20}"`` counts characters, so a Korean label pushes the next column out;
these count columns instead.
"""

from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    """How many columns ``text`` takes: wide characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def ljust(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` (never cut), like ``str.ljust`` by width."""
    return text + " " * max(0, columns - width(text))


def fit(text: str, columns: int, *, pad: bool = True) -> str:
    """``text`` in exactly ``columns`` columns: padded with spaces, or cut with "…" when
    longer. ``pad=False`` only cuts. Whitespace runs become one space, so a newline or tab in
    a client's value cannot break a row."""
    text = " ".join(text.split())
    if width(text) <= columns:
        return ljust(text, columns) if pad else text
    cut, used = [], 0
    for char in text:
        if used + width(char) > columns - 1:
            break
        cut.append(char)
        used += width(char)
    return "".join(cut) + "…" + (" " * (columns - 1 - used) if pad else "")


__all__ = ["fit", "ljust", "width"]
