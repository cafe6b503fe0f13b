"""PictureView: a live view that also leaves a picture of itself in the cell's stored output.

A widget's stored output is only a model id: GitHub, nbval and a notebook opened without a kernel
show nothing of it. A picture view displays itself with an SVG beside the widget. If it
``follows_cells`` (the wire view does), it displays with a display id and brings that SVG up to
date at the end of every cell run while it is open, so the committed notebook holds what the view
showed when the traffic was over; nbval compares what the cell itself displayed, so such a view
belongs at the end of the cell that causes its traffic. A view that does not follow cells keeps
the picture of the moment it was shown: show it again, in a later cell, for a later picture.
Subclasses say what the picture is (:meth:`PictureView.stored_svg`);
:class:`~webhooks_lab.widgets.wire.WireView` and :class:`~webhooks_lab.widgets.health.HealthView`
are two.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.widgets.base import LiveView, open_views

__all__ = ["PictureView"]


class PictureView(LiveView):
    """A :class:`LiveView` whose stored output carries an SVG of what it shows."""

    follows_cells = True  # bring the picture stored by the last display up to date after cells

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stored = ""
        self._handle: Any = None
        _watch_cells()

    def stored_svg(self) -> str:
        """The SVG the stored output should hold now."""
        return ""

    def _bundle(self) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_() or {})
        bundle["text/plain"] = self.describe()
        bundle["image/svg+xml"] = self.stored_svg()
        return bundle

    def _ipython_display_(self) -> None:
        """Shown with its picture; with a display id if it follows cells, so that the picture
        stored in this output can be updated when the cell (or a later one) finishes."""
        from IPython.display import display

        self.refresh()
        bundle = self._bundle()
        self._stored = bundle["image/svg+xml"]
        self._handle = display(bundle, raw=True, display_id=self.follows_cells) or None

    def _store(self) -> None:
        handle = self._handle
        if handle is None or self.closed:
            return
        bundle = self._bundle()
        if bundle["image/svg+xml"] != self._stored:
            self._stored = bundle["image/svg+xml"]
            handle.update(bundle, raw=True)


_watching = False


def _store_pictures(*_: object) -> None:
    """After every cell: each open picture view brings its stored picture up to date."""
    for view in open_views():
        if isinstance(view, PictureView) and view._handle is not None:
            try:
                view.refresh()
                view._store()
            except Exception:  # noqa: S112 - a broken view must never fail a learner's cell
                continue


def _watch_cells() -> None:
    global _watching
    if _watching:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("post_run_cell", _store_pictures)
    _watching = True
