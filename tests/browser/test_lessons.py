"""Every lesson runs top to bottom in JupyterLab in real Chromium, and shows what it promises:
no cell errors, every Mermaid diagram is drawn as an SVG, every figure is visible, every widget
renders; a screenshot of the whole notebook lands in ``build/screenshots/<lesson>.png``.

This is what nbval cannot see: the diagrams and widgets really drawing in a browser, and the
lesson looking right to a learner. What counts as a problem is in ``notebook_checks.py``, and
``test_notebook_checks.py`` proves it catches a broken diagram, a hidden figure and a widget
that cannot render. The browser opens a copy of each lesson, so the committed notebook never
changes. One JupyterLab tab serves every lesson in turn; each lesson gets a fresh kernel,
stopped when it is done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import NOTEBOOKS, JupyterLab, lessons
from .jupyterlab_ui import VIEWPORT, close_notebook, load_jupyterlab
from .notebook_checks import run_and_check

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def jupyterlab_page(browser: Browser, jupyter_lab: JupyterLab) -> Iterator[Page]:
    """One JupyterLab tab for all the lessons: loading the app once saves seconds per lesson."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    load_jupyterlab(page, jupyter_lab.url)
    try:
        yield page
    finally:
        context.close()


def _where(lesson: Path) -> str:
    """The lesson's path in the course folder: ``00_start_the_lab.ipynb``, ``ko/00_...``."""
    return lesson.relative_to(NOTEBOOKS).as_posix()


@pytest.mark.parametrize("lesson", lessons(), ids=_where)
def test_the_lesson_runs_with_no_errors_and_draws_every_diagram_figure_and_widget(
    lesson: Path, jupyterlab_page: Page, jupyter_lab: JupyterLab, screenshots: Path
) -> None:
    committed = _digest(lesson)
    where = _where(lesson)
    # The lesson as it is now (it may have changed since the course was copied).
    copy = jupyter_lab.course / where
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(lesson.read_bytes())
    # ko_00_start_the_lab.png for the Korean edition: with fonts-noto-cjk, Hangul, not boxes
    picture = screenshots / f"{where.removesuffix('.ipynb').replace('/', '_')}.png"
    try:
        report = run_and_check(jupyterlab_page, jupyter_lab, where, picture)
    finally:
        close_notebook(jupyterlab_page, jupyter_lab)
    assert report.problems == [], f"{where} in the browser:\n" + "\n".join(report.problems)
    assert not any("Traceback" in text for text in report.stderr), report.stderr
    assert _digest(lesson) == committed, "running the lesson changed the committed notebook"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
