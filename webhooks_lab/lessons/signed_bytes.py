"""What a signature covers, drawn: the exact bytes each scheme feeds into its HMAC.

    from webhooks_lab.lessons.signed_bytes import signed_bytes_figure
    signed_bytes_figure(secret, msg_id, timestamp, body)

One row per scheme (Standard Webhooks, Stripe, GitHub). Each row lays the signed content out as
boxes as wide as their bytes: the message id, the timestamp and the body, with the dots that join
them. A part a scheme leaves out is simply not in its row, so what an attacker may change without
breaking the signature can be read off the picture. On the right, the signature the lab computes
over exactly those bytes, checked against :mod:`webhooks_lab.signing` before anything is drawn.

The figure is drawn with matplotlib's object API (no pyplot); its text form names the parts and
their sizes, which depend only on the inputs, so a stored notebook output stays the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from webhooks_lab import signing
from webhooks_lab.i18n import _
from webhooks_lab.lessons.figure import LessonFigure

__all__ = ["Part", "SchemeRow", "SignedBytesFigure", "scheme_rows", "signed_bytes_figure"]

COLOURS = {"id": "#4a6fa5", "timestamp": "#c77700", "body": "#0a6b2d", "dot": "#9e9e9e"}


@dataclass(frozen=True)
class Part:
    """One piece of the signed content: what it is and its bytes."""

    kind: str  # "id", "timestamp", "body" or "dot"
    data: bytes


@dataclass(frozen=True)
class SchemeRow:
    """A scheme's signed content, the key it uses, and the signature value it sends."""

    name: str
    parts: tuple[Part, ...]
    key: str  # how the key is made, in words
    header: str  # the header value the lab sends for these bytes

    @property
    def content(self) -> bytes:
        return b"".join(part.data for part in self.parts)

    @property
    def covers(self) -> tuple[str, ...]:
        return tuple(part.kind for part in self.parts if part.kind != "dot")


def scheme_rows(secret: str, msg_id: str, timestamp: int, body: bytes) -> list[SchemeRow]:
    """The signed content of each scheme for one message, each checked against the lab's signer.

    Raises ``RuntimeError`` if the bytes laid out here do not give the signature
    :mod:`webhooks_lab.signing` computes: the picture never shows a recipe the lab does not use.
    """
    dot = Part("dot", b".")
    ts = Part("timestamp", str(timestamp).encode())
    standard = SchemeRow(
        "Standard Webhooks",
        (Part("id", msg_id.encode()), dot, ts, dot, Part("body", body)),
        "base64-decoded secret",
        signing.sign(secret, msg_id, timestamp, body),
    )
    stripe = SchemeRow(
        "Stripe",
        (ts, dot, Part("body", body)),
        "secret text",
        signing.stripe_sign(secret, body, timestamp),
    )
    github = SchemeRow(
        "GitHub", (Part("body", body),), "secret text", signing.github_sign(secret, body)
    )
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = {
        "Standard Webhooks": "v1,"
        + base64.b64encode(hmac.new(key, standard.content, hashlib.sha256).digest()).decode(),
        "Stripe": f"t={timestamp},v1="
        + hmac.new(secret.encode(), stripe.content, hashlib.sha256).hexdigest(),
        "GitHub": "sha256=" + hmac.new(secret.encode(), github.content, hashlib.sha256).hexdigest(),
    }
    for row in (standard, stripe, github):
        if row.header != expected[row.name]:
            raise RuntimeError(f"{row.name}: the drawn bytes are not what the lab signs")
    return [standard, stripe, github]


class SignedBytesFigure(LessonFigure):
    """The drawn figure: shows as a PNG in a notebook; ``.figure`` is the matplotlib figure."""

    def __init__(
        self, secret: str, msg_id: str, timestamp: int, body: bytes, *, width: float = 11.0
    ) -> None:
        self.rows = scheme_rows(secret, msg_id, timestamp, body)
        self.figure = Figure(figsize=(width, 1.0 + 1.05 * len(self.rows)), layout="constrained")
        axes = self.figure.add_subplot()
        longest = max(len(row.content) for row in self.rows)
        scale = 60.0 / longest  # the longest signed content spans 60 units
        for y, row in enumerate(reversed(self.rows)):
            x = 0.0
            for part in row.parts:
                w = max(len(part.data) * scale, 0.6)
                axes.add_patch(
                    Rectangle((x, y), w, 0.6, facecolor=COLOURS[part.kind], edgecolor="white")
                )
                if part.kind != "dot":
                    axes.text(
                        x + w / 2,
                        y + 0.3,
                        f"{part.kind}\n{len(part.data)} bytes",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white",
                    )
                x += w
            axes.text(-1, y + 0.3, row.name, ha="right", va="center", fontsize=10)
            axes.add_artist(
                FancyArrowPatch(
                    (x + 0.5, y + 0.3), (66, y + 0.3), arrowstyle="->", mutation_scale=12
                )
            )
            shown = row.header if len(row.header) <= 34 else row.header[:31] + "..."
            axes.text(
                67,
                y + 0.3,
                f"HMAC-SHA256, key: {row.key}\n{shown}",
                va="center",
                fontsize=8,
                family="monospace",
            )
        axes.set_xlim(-16, 100)
        axes.set_ylim(-0.3, len(self.rows) - 0.1)
        axes.axis("off")
        axes.set_title(
            "What each signature covers: change a coloured byte and it no longer matches"
        )

    def __repr__(self) -> str:
        lines = [_("Signed bytes: what each scheme's HMAC covers")]
        for row in self.rows:
            parts = " + ".join(f"{p.kind} ({len(p.data)} B)" for p in row.parts if p.kind != "dot")
            lines.append(
                f"  {row.name:<18} "
                + _("{parts}; {count} bytes in all", parts=parts, count=len(row.content))
            )
        return "\n".join(lines)


def signed_bytes_figure(
    secret: str, msg_id: str, timestamp: int, body: bytes, **size: float
) -> SignedBytesFigure:
    """Draw what Standard Webhooks, Stripe and GitHub sign for one message."""
    return SignedBytesFigure(secret, msg_id, timestamp, body, **size)
