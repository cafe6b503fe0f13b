"""Driving JupyterLab from a test: load it, open a notebook, know when "run all" is done, close.

Everything goes through ``window.jupyterapp`` (JupyterLab started with
``--LabApp.expose_app_in_browser=True``): the same commands a learner's menu clicks run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import nbformat

from .conftest import JupyterLab

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWPORT = {"width": 1280, "height": 900}

PANEL = "window.jupyterapp.shell.currentWidget"

# A cell tagged "raises-exception" shows an error on purpose (nbval and JupyterLab both honour
# the tag: "run all" carries on past it).
EXPECTS_ERROR = """(cell) => (cell.model.getMetadata("tags") || []).includes("raises-exception")"""

# Done: every code cell has its prompt number and the kernel is idle. (Idle alone is not enough:
# the kernel idles between cells.) A cell that errors stops "run all", so an unexpected error
# with the kernel idle also ends the wait, and the test reports it.
FINISHED = f"""() => {{
  const panel = {PANEL};
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || kernel.status !== "idle") return false;
  const expectsError = {EXPECTS_ERROR};
  const code = panel.content.widgets.filter((cell) => cell.model.type === "code");
  const errored = code.some((cell) => !expectsError(cell) &&
    cell.model.outputs.toJSON().some((output) => output.output_type === "error"));
  return errored || code.every((cell) => cell.model.executionCount !== null);
}}"""


def wait_until_drawn(page: Page, selector: str, *, width: int, height: int) -> None:
    """Wait until an element matching ``selector`` (on any page) is drawn wider than ``width``
    and taller than ``height``: drawn, not just in the DOM.

    Measured inside the page, in one go: a live view redraws, and JupyterLab may hide a cell it
    has scrolled past, so a box read from outside (``bounding_box()``) can be gone when asked for.
    """
    page.wait_for_function(
        "([selector, width, height]) => [...document.querySelectorAll(selector)].some((node) => {"
        " const box = node.getBoundingClientRect(); return box.width > width && box.height > height"
        " })",
        arg=[selector, width, height],
        timeout=15_000,
    )


def load_jupyterlab(page: Page, url: str) -> None:
    # ?reset: start from an empty workspace, whatever an earlier run left open.
    page.goto(f"{url}/lab?reset")
    page.wait_for_function("() => window.jupyterapp !== undefined")
    page.evaluate(
        "async () => { await jupyterapp.started; await jupyterapp.restored;"
        " jupyterapp.shell.collapseLeft(); }"
    )


def open_notebook(page: Page, name: str) -> None:
    page.set_viewport_size(VIEWPORT)
    page.evaluate(
        f"""async () => {{
          const panel = await jupyterapp.commands.execute(
            "docmanager:open", {{ path: {json.dumps(name)}, factory: "Notebook" }});
          await panel.context.ready;
          await panel.sessionContext.ready;
        }}"""
    )
    page.wait_for_function(
        f"() => {PANEL}?.context?.path === {json.dumps(name)}"
        f" && {PANEL}.sessionContext.session?.kernel?.status === 'idle'",
        polling=100,
    )


def close_notebook(page: Page, jupyter_lab: JupyterLab) -> None:
    """Close the notebook without saving and stop its kernel; if the tab is stuck, reload it."""
    try:
        page.evaluate(
            f"""() => {{
              const panel = {PANEL};
              if (panel && panel.context) {{ panel.context.model.dirty = false; panel.dispose(); }}
            }}"""
        )
    except Exception:
        load_jupyterlab(page, jupyter_lab.url)
    finally:
        jupyter_lab.shut_down_kernels()


def write_notebook(jupyter_lab: JupyterLab, name: str, cells: list[str]) -> None:
    """A notebook of ``cells`` in the course JupyterLab serves, with a kernelspec (without one
    JupyterLab asks which kernel, and waits)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, jupyter_lab.course / name)


def run_all(page: Page) -> None:
    """Run every cell and wait until all are done; fail on a cell that raised."""
    page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(FINISHED, timeout=90_000, polling=250)
    errors = page.evaluate(
        f"""() => {PANEL}.content.widgets.flatMap((cell) =>
              cell.model.type === 'code' ? cell.model.outputs.toJSON() : [])
            .filter((o) => o.output_type === 'error').map((o) => o.ename + ': ' + o.evalue)"""
    )
    assert errors == []


@contextmanager
def running_notebook(
    page: Page, jupyter_lab: JupyterLab, name: str, cells: list[str]
) -> Iterator[None]:
    """Write a notebook of ``cells``, open it, run it all; close it (and its kernel) after."""
    write_notebook(jupyter_lab, name, cells)
    load_jupyterlab(page, jupyter_lab.url)
    try:
        open_notebook(page, name)
        run_all(page)
        yield
    finally:
        close_notebook(page, jupyter_lab)
