"""Every lesson runs top to bottom in JupyterLab in real Chromium: no cell errors, every widget
renders, and a screenshot of the whole notebook lands in ``build/screenshots/<lesson>.png``.

This is what nbval cannot see: the widgets' JavaScript really rendering in a browser, and the
lesson looking right to a learner. The browser opens a copy of each lesson, so the committed
notebook never changes. One JupyterLab tab serves every lesson in turn; each lesson gets a fresh
kernel, stopped when it is done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import NOTEBOOKS, JupyterLab, lessons
from .jupyterlab_ui import (
    EXPECTS_ERROR,
    FINISHED,
    PANEL,
    VIEWPORT,
    close_notebook,
    load_jupyterlab,
    open_notebook,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 180_000  # a lesson should take well under 20 s; this only catches a hang
MAX_SCREENSHOT_HEIGHT = 30_000

# What a learner would see go wrong, cell by cell.
PROBLEMS = f"""() => {{
  const problems = [];
  const expectsError = {EXPECTS_ERROR};
  const code = {PANEL}.content.widgets.filter((cell) => cell.model.type === "code");
  code.forEach((cell, index) => {{
    const where = `code cell ${{index + 1}} [${{cell.model.executionCount ?? " "}}]`;
    const outputs = cell.model.outputs.toJSON();
    if (cell.model.executionCount === null) problems.push(`${{where}} did not run`);
    if (expectsError(cell)) {{
      if (!outputs.some((output) => output.output_type === "error")) {{
        problems.push(`${{where}} is tagged raises-exception but raised nothing`);
      }}
      return;
    }}
    for (const output of outputs) {{
      if (output.output_type === "error") {{
        problems.push(`${{where}} raised ${{output.ename}}: ${{output.evalue}}`);
      }}
    }}
    for (const node of cell.node.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {{
      if (node.textContent.includes("Traceback")) {{
        problems.push(`${{where}} printed a traceback: ${{node.textContent.slice(0, 300)}}`);
      }}
    }}
    const widgets = outputs.filter((output) =>
      output.data && output.data["application/vnd.jupyter.widget-view+json"]).length;
    const rendered = cell.node.querySelectorAll(
      ".jp-OutputArea-output > .jupyter-widgets").length;
    if (rendered < widgets) {{
      problems.push(`${{where}}: ${{rendered}} of ${{widgets}} widgets rendered`);
    }}
    if (cell.node.textContent.includes("Error displaying widget")) {{
      problems.push(`${{where}} says "Error displaying widget"`);
    }}
  }});
  return problems;
}}"""

WIDGETS_RENDERED = f"""() => {{
  const code = {PANEL}.content.widgets.filter((cell) => cell.model.type === "code");
  return code.every((cell) => {{
    const wanted = cell.model.outputs.toJSON().filter((output) =>
      output.data && output.data["application/vnd.jupyter.widget-view+json"]).length;
    return cell.node.querySelectorAll(".jp-OutputArea-output > .jupyter-widgets").length >= wanted;
  }});
}}"""

STDERR = f"""() => {PANEL}.content.widgets
  .flatMap((cell) => cell.model.type === "code" ? cell.model.outputs.toJSON() : [])
  .filter((output) => output.output_type === "stream" && output.name === "stderr")
  .map((output) => Array.isArray(output.text) ? output.text.join("") : output.text)"""


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
def test_the_lesson_runs_in_jupyterlab_with_no_errors_and_every_widget_rendered(
    lesson: Path, jupyterlab_page: Page, jupyter_lab: JupyterLab, screenshots: Path
) -> None:
    page = jupyterlab_page
    committed = _digest(lesson)
    # The lesson as it is now (it may have changed since the course was copied).
    where = _where(lesson)
    (jupyter_lab.course / where).write_bytes(lesson.read_bytes())
    try:
        open_notebook(page, where)
        page.evaluate(
            "async () => { await jupyterapp.commands.execute('notebook:clear-all-cell-outputs'); }"
        )
        page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_function(FINISHED, polling=250, timeout=RUN_TIMEOUT_MS)
        # Widgets render a moment after their output arrives; give them a few seconds.
        rendered_in_time = True
        try:
            page.wait_for_function(WIDGETS_RENDERED, polling=250, timeout=10_000)
        except Exception:  # reported below, cell by cell
            rendered_in_time = False
        problems: list[str] = page.evaluate(PROBLEMS)
        # ko_00_start_the_lab.png for the Korean edition: with fonts-noto-cjk, Hangul, not boxes
        _screenshot(page, screenshots / f"{where.removesuffix('.ipynb').replace('/', '_')}.png")
        stderr = page.evaluate(STDERR)
    finally:
        close_notebook(page, jupyter_lab)
    assert problems == [], f"{where} in the browser:\n" + "\n".join(problems)
    assert rendered_in_time
    assert not any("Traceback" in text for text in stderr), stderr
    assert _digest(lesson) == committed, "running the lesson changed the committed notebook"


def _screenshot(page: Page, path: Path) -> None:
    """The whole notebook, top to bottom, in one picture: grow the window to fit it."""
    size: dict[str, Any] = page.evaluate(
        f"""() => {{
          const scroller = {PANEL}.content.node.querySelector(".jp-WindowedPanel-outer")
            || {PANEL}.content.node;
          return {{ content: scroller.scrollHeight, shown: scroller.clientHeight,
                   page: document.documentElement.clientHeight }};
        }}"""
    )
    height = size["page"] - size["shown"] + size["content"]
    page.set_viewport_size(
        {"width": VIEWPORT["width"], "height": min(height, MAX_SCREENSHOT_HEIGHT)}
    )
    page.evaluate(
        f"""() => {{
          const panel = {PANEL};
          panel.content.activeCellIndex = 0;
          panel.content.mode = "command";
          const scroller = panel.content.node.querySelector(".jp-WindowedPanel-outer")
            || panel.content.node;
          scroller.scrollTop = 0;
        }}"""
    )
    page.wait_for_timeout(300)  # let the layout settle at the new size
    page.screenshot(path=str(path))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
