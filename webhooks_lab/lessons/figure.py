"""What every lesson figure shares: a matplotlib ``Figure`` shown as one PNG in a notebook.

A subclass builds ``self.figure`` (matplotlib's object API, no pyplot, so nothing global changes)
and writes a ``__repr__`` that describes the picture, not its measured values: the notebook shows
the PNG, and nbval compares only the text, which then reads the same on every run.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


class LessonFigure:
    """A drawn figure: a PNG in a notebook; ``.figure`` is the matplotlib figure."""

    figure: Figure

    def png(self, dpi: int = 96) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def save(self, path: str) -> None:
        self.figure.savefig(path)
