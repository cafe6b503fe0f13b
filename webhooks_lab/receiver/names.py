"""What an endpoint name may be: the part of ``/webhooks/{name}`` that names where deliveries go.

Letters, digits, ``.``, ``_`` and ``-``, not starting with ``.`` (so never ``.`` or ``..``), and at
most ``max_name_length`` characters (64 by default, see :class:`~webhooks_lab.limits.Limits`).
Such a name needs no escaping in a URL, a file name or the inbox page, so a stored delivery can
always be shown and replayed to exactly where it came from.
"""

from __future__ import annotations

import re

from webhooks_lab.limits import DEFAULT

ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def name_problem(name: str, max_length: int = DEFAULT.max_name_length) -> str | None:
    """Why ``name`` is not an endpoint name, in plain words; ``None`` if it is one."""
    if len(name) <= max_length and ENDPOINT_NAME.fullmatch(name):
        return None
    shown = name if len(name) <= 80 else name[:80] + "..."
    return (
        f"{shown!r} is not an endpoint name: use at most {max_length} "
        "letters, digits, '.', '_' or '-', not starting with '.'"
    )


__all__ = ["ENDPOINT_NAME", "name_problem"]
