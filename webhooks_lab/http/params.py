"""Reading numbers that clients put in paths, queries and headers, without surprises.

``int(text)`` takes more than a client should send: ``"²"`` and ``"٣"`` are digits to
``str.isdigit`` (and ``int("٣")`` is 3), ``" 7 "`` has spaces, and ``int()`` of five thousand
digits raises ``ValueError`` (Python caps int-from-string conversion at 4,300 digits) after
spending time on it. Every number the lab reads from a request goes through :func:`plain_int`:
ASCII digits only, as many as the largest value allowed needs, and no more.
"""

from __future__ import annotations


def plain_int(text: str | bytes | None, *, maximum: int = 2**53) -> int | None:
    """``text`` as a non-negative int if it is plain ASCII digits no greater than ``maximum``.

    ``None`` for anything else (empty, signs, spaces, other scripts' digits, too many digits).
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if not text or len(text) > len(str(maximum)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None


__all__ = ["plain_int"]
