"""The lesson check can fail: on throwaway notebooks, it passes a good one and names every broken
picture in a bad one (a Mermaid diagram that does not parse, a figure that cannot be drawn, a
widget that cannot render, a widget hidden by its layout). Without this, a check that saw
nothing would pass too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .conftest import JupyterLab
from .jupyterlab_ui import VIEWPORT, close_notebook, load_jupyterlab
from .notebook_checks import Report, run_and_check

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SEQUENCE = """```mermaid
sequenceDiagram
    participant S as Shop
    participant R as Your receiver
    S->>R: POST /webhooks/orders (order.created)
    R-->>S: 200 (at once)
```"""
FLOW = "```mermaid\nflowchart LR\n    poll[Poll] --> wait[Wait] --> poll\n```"
BROKEN = "```mermaid\nsequenceDiagram\n    S->>: ((no one to send to\n```"
FIGURE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1, 2], [0, 1, 4])
plt.show()"""
SVG = """from IPython.display import SVG
SVG('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40">'
    '<rect width="80" height="40" fill="teal"/></svg>')"""
WIDGET = """import ipywidgets as widgets
widgets.VBox([widgets.IntProgress(value=3, max=10), widgets.HTML("<b>live</b>")])"""
NO_SUCH_WIDGET = """from IPython.display import display
view = {"model_id": "no-such-model", "version_major": 2, "version_minor": 0}
display({"application/vnd.jupyter.widget-view+json": view, "text/plain": "a view"}, raw=True)"""
BROKEN_FIGURE = """from IPython.display import display
display({"image/png": "bm90IGEgcGljdHVyZQ==", "text/plain": "a figure"}, raw=True)"""
HIDDEN_WIDGET = """import ipywidgets as widgets
widgets.IntSlider(layout=widgets.Layout(display="none"))"""


@pytest.fixture(scope="module")
def jupyterlab_page(browser: Browser, jupyter_lab: JupyterLab) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    load_jupyterlab(page, jupyter_lab.url)
    try:
        yield page
    finally:
        context.close()


def run(page: Page, jupyter_lab: JupyterLab, screenshots: Path, name: str, cells: list) -> Report:
    # With no kernelspec JupyterLab would ask which kernel to start, and wait for an answer.
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = new_notebook(cells=cells, metadata={"kernelspec": kernel})
    nbformat.write(notebook, jupyter_lab.course / f"{name}.ipynb")
    try:
        return run_and_check(page, jupyter_lab, f"{name}.ipynb", screenshots / f"{name}.png")
    finally:
        close_notebook(page, jupyter_lab)


def test_a_notebook_whose_pictures_all_draw_passes(
    jupyterlab_page: Page, jupyter_lab: JupyterLab, screenshots: Path
) -> None:
    cells = [
        new_markdown_cell(f"# Every kind of picture\n\n{SEQUENCE}"),
        new_markdown_cell(f"Two in one cell:\n\n{FLOW}\n\nand\n\n{SEQUENCE}"),
        new_code_cell(FIGURE),
        new_code_cell(SVG),
        new_code_cell(WIDGET),
    ]
    report = run(jupyterlab_page, jupyter_lab, screenshots, "check-pictures-good", cells)
    assert report.problems == []
    assert (report.diagrams, report.figures, report.widgets) == (3, 2, 1)


def test_a_broken_diagram_a_broken_figure_and_broken_widgets_are_each_named(
    jupyterlab_page: Page, jupyter_lab: JupyterLab, screenshots: Path
) -> None:
    cells = [
        new_markdown_cell(f"# Broken pictures\n\n{SEQUENCE}\n\n{BROKEN}"),
        new_code_cell(BROKEN_FIGURE),
        new_code_cell(NO_SUCH_WIDGET),
        new_code_cell(HIDDEN_WIDGET),
    ]
    report = run(jupyterlab_page, jupyter_lab, screenshots, "check-pictures-broken", cells)
    problems = "\n".join(report.problems)
    assert 'markdown cell 1 ("# Broken pictures"): a Mermaid diagram failed to render' in problems
    assert "1 of 2 Mermaid diagrams drawn as SVG" in problems
    assert "code cell 2 [1], output 1: the figure is not visible" in problems
    assert 'code cell 3 [2], output 1: says "Error displaying widget"' in problems
    assert "code cell 4 [3], output 1: the widget rendered, but empty or hidden" in problems
    assert len(report.problems) == 5, problems
