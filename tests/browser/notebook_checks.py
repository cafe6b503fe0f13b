"""Run a notebook in JupyterLab and say, cell by cell, what a learner would see go wrong.

What counts as wrong (``PROBLEMS``), for any notebook, whatever it holds:

- a code cell that did not run, raised (unless tagged ``raises-exception``) or printed a traceback;
- a Mermaid diagram (every ```` ```mermaid ```` fence in a markdown cell) that JupyterLab did not
  draw as an SVG picture: it failed to parse (JupyterLab shows the source with a warning), or the
  picture is missing, empty or hidden;
- a figure (an output with ``image/png`` or ``image/svg+xml``) that is not visible on the page;
- a widget (an output with a widget view) that did not render, rendered empty or hidden, or says
  "Error displaying widget".

JupyterLab 4 draws a fence as ``div.jp-RenderedMermaid > figure > img`` whose ``src`` is the SVG
as a ``data:image/svg+xml`` URL; a diagram that fails gets ``jp-mod-warning`` and a ``details``
element holding mermaid's parse error instead (found by trying, in JupyterLab 4.6).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .conftest import JupyterLab
from .jupyterlab_ui import EXPECTS_ERROR, FINISHED, PANEL, VIEWPORT, open_notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

RUN_TIMEOUT_MS = 180_000  # a lesson should take well under 20 s; this only catches a hang
# Diagrams, figures and widgets draw a moment after their cell or output arrives.
SETTLE_TIMEOUT_MS = 15_000
MAX_SCREENSHOT_HEIGHT = 30_000

PROBLEMS = f"""() => {{
  const problems = [];
  const expectsError = {EXPECTS_ERROR};
  // Shown: has a size, and neither it nor a parent is hidden (display, visibility, opacity).
  const visible = (node) => {{
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0 &&
      node.checkVisibility({{ visibilityProperty: true, opacityProperty: true }});
  }};
  const drawnImage = (img) => img.complete && img.naturalWidth > 0 && visible(img);
  const cells = {PANEL}.content.widgets;
  cells.forEach((cell, index) => {{
    if (cell.model.type !== "markdown") return;
    const source = cell.model.sharedModel.getSource();
    const fences = (source.match(/^[ \\t]*(```|~~~)[ \\t]*mermaid\\b/gm) || []).length;
    if (!fences) return;
    const heading = source.trim().split("\\n")[0].slice(0, 60);
    const where = `markdown cell ${{index + 1}} ("${{heading}}")`;
    const blocks = [...cell.node.querySelectorAll(".jp-RenderedMermaid")];
    for (const block of blocks.filter((b) => b.classList.contains("jp-mod-warning"))) {{
      const why = (block.querySelector("details > pre")?.textContent || "").trim();
      problems.push(`${{where}}: a Mermaid diagram failed to render: ${{why.slice(0, 300)}}`);
    }}
    const drawn = blocks.filter((block) => !block.classList.contains("jp-mod-warning") &&
      [...block.querySelectorAll("img")].some((img) =>
        img.src.startsWith("data:image/svg+xml") &&
        decodeURIComponent(img.src).includes("<svg") && drawnImage(img)));
    if (drawn.length < fences) {{
      problems.push(`${{where}}: ${{drawn.length}} of ${{fences}} Mermaid diagrams drawn as SVG`);
    }}
  }});
  cells.forEach((cell, index) => {{
    if (cell.model.type !== "code") return;
    const where = `code cell ${{index + 1}} [${{cell.model.executionCount ?? " "}}]`;
    const outputs = cell.model.outputs.toJSON();
    if (cell.model.executionCount === null) problems.push(`${{where}} did not run`);
    if (expectsError(cell)) {{
      if (!outputs.some((output) => output.output_type === "error")) {{
        problems.push(`${{where}} is tagged raises-exception but raised nothing`);
      }}
    }} else {{
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
    }}
    // Output i of the model is child i of the output area.
    const children = [...cell.outputArea.node.querySelectorAll(":scope > .jp-OutputArea-child")];
    outputs.forEach((output, i) => {{
      const data = output.data || {{}};
      const node = children[i];
      if (data["application/vnd.jupyter.widget-view+json"]) {{
        const views = node ? [...node.querySelectorAll(".jp-OutputArea-output > .jupyter-widgets")]
          : [];
        if (node && node.textContent.includes("Error displaying widget")) {{
          problems.push(`${{where}}, output ${{i + 1}}: says "Error displaying widget"`);
        }} else if (!views.length) {{
          problems.push(`${{where}}, output ${{i + 1}}: the widget did not render`);
        }} else if (!views.some(visible)) {{
          problems.push(`${{where}}, output ${{i + 1}}: the widget rendered, but empty or hidden`);
        }}
      }} else if (data["image/png"] || data["image/svg+xml"]) {{
        const pictures = node ? [...node.querySelectorAll(
          ".jp-RenderedImage img, .jp-RenderedSVG img, .jp-RenderedSVG svg")] : [];
        const shown = pictures.some((picture) =>
          picture.tagName.toLowerCase() === "img" ? drawnImage(picture) : visible(picture));
        if (!shown) problems.push(`${{where}}, output ${{i + 1}}: the figure is not visible`);
      }}
    }});
  }});
  return problems;
}}"""

STDERR = f"""() => {PANEL}.content.widgets
  .flatMap((cell) => cell.model.type === "code" ? cell.model.outputs.toJSON() : [])
  .filter((output) => output.output_type === "stream" && output.name === "stderr")
  .map((output) => Array.isArray(output.text) ? output.text.join("") : output.text)"""

COUNTS = f"""() => {{
  const cells = {PANEL}.content.widgets;
  const outputs = cells.flatMap((c) => c.model.type === "code" ? c.model.outputs.toJSON() : []);
  const data = outputs.map((output) => output.data || {{}});
  return {{
    diagrams: cells.reduce((n, c) => n + (c.model.type === "markdown" ?
      (c.model.sharedModel.getSource().match(/^[ \\t]*(```|~~~)[ \\t]*mermaid\\b/gm) || []).length
      : 0), 0),
    figures: data.filter((d) => !d["application/vnd.jupyter.widget-view+json"] &&
      (d["image/png"] || d["image/svg+xml"])).length,
    widgets: data.filter((d) => d["application/vnd.jupyter.widget-view+json"]).length,
  }};
}}"""


@dataclass
class Report:
    problems: list[str]
    stderr: list[str]
    diagrams: int  # Mermaid fences in the markdown
    figures: int  # image outputs
    widgets: int  # widget outputs


def run_and_check(page: Page, jupyter_lab: JupyterLab, name: str, screenshot: Path) -> Report:
    """Open ``name`` (a path in the served course), clear it, run every cell, wait until it has
    finished and its pictures have had time to draw, screenshot it, and report its problems."""
    open_notebook(page, name)
    page.evaluate(
        "async () => { await jupyterapp.commands.execute('notebook:clear-all-cell-outputs'); }"
    )
    page.evaluate("() => { jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(FINISHED, polling=250, timeout=RUN_TIMEOUT_MS)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # only once a browser is

    # No problem left: on at once. Otherwise give drawing its time, then report what is left.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => ({PROBLEMS})().length === 0", polling=250, timeout=SETTLE_TIMEOUT_MS
        )
    problems: list[str] = page.evaluate(PROBLEMS)
    counts: dict[str, int] = page.evaluate(COUNTS)
    take_screenshot(page, screenshot)
    return Report(problems=problems, stderr=page.evaluate(STDERR), **counts)


def take_screenshot(page: Page, path: Path) -> None:
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
