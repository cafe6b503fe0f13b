"""The sender chaos panel in real Chromium against real JupyterLab: moving its controls in the
page changes what the lab's sender really does, measured at the receiver by a cell run after.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import JupyterLab
from .jupyterlab_ui import PANEL, running_notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

CELLS = [
    "import webhooks_lab\nfrom webhooks_lab.widgets import SenderChaosPanel\n"
    "lab = webhooks_lab.start(speed=600, outbox=':memory:')  # chaos waits in lab time\n"
    "lab.sender.add_endpoint(lab.receiver.url_for('shop'))\n"
    "SenderChaosPanel(lab)",
    # What the sender does with one event now, as the receiver saw it.
    "sent = lab.send('order.paid', {'n': 1})\n"
    "lab.sender.wait_deliveries(sent, timeout=20)\n"
    "arrived = [d for d in lab.receiver.inbox.for_endpoint('shop')"
    " if d.webhook_id == sent[0].event_id]\n"
    "print(f'sent {len(sent)}, arrived {len(arrived)};', repr(lab.sender.chaos))",
]
PANEL_VIEW = ".jp-OutputArea .webhooks-lab-view"


def set_slider(page: Page, label: str, text: str) -> None:
    """Type into a slider's readout, as a learner can instead of dragging, and press Enter."""
    readout = page.locator(f"{PANEL_VIEW} .widget-slider", has_text=label).locator(
        ".widget-readout"
    )
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def run_report(page: Page) -> str:
    """Run the second cell again and return what it printed."""
    before = page.evaluate(f"() => {PANEL}.content.widgets[1].model.executionCount")
    page.evaluate(
        f"""async () => {{
          const panel = {PANEL};
          panel.content.activeCellIndex = 1;
          await jupyterapp.commands.execute('notebook:run-cell');
        }}"""
    )
    page.wait_for_function(
        f"""() => {{
          const cell = {PANEL}.content.widgets[1].model;
          return cell.executionCount !== null && cell.executionCount !== {json.dumps(before)}
            && {PANEL}.sessionContext.session.kernel.status === 'idle';
        }}""",
        timeout=60_000,
        polling=200,
    )
    outputs = page.evaluate(f"() => {PANEL}.content.widgets[1].model.outputs.toJSON()")
    return "".join(
        "".join(o.get("text", "")) if isinstance(o.get("text"), list) else o.get("text", "")
        for o in outputs
    ) + "".join(o.get("ename", "") + o.get("evalue", "") for o in outputs)


def test_moving_the_panels_controls_changes_what_the_sender_does(
    page: Page, jupyter_lab: JupyterLab, screenshots: Path
):
    with running_notebook(page, jupyter_lab, "sender_chaos_panel.ipynb", CELLS):
        page.wait_for_selector(f"{PANEL_VIEW} .widget-slider", timeout=30_000)
        assert "Error displaying widget" not in page.inner_text("body")
        assert page.locator(f"{PANEL_VIEW} .widget-slider").count() == 4
        baseline = run_report(page)
        assert "sent 1, arrived 1; SenderChaos(off)" in baseline, baseline

        set_slider(page, "send twice", "100")  # 100%: every delivery goes out twice
        page.wait_for_function(  # the panel's status line shows the sender's new setting
            f"() => document.querySelector('{PANEL_VIEW}').innerText.includes('duplicate')",
            timeout=15_000,
        )
        twice = run_report(page)
        assert re.search(r"sent 2, arrived 2;", twice), twice  # the receiver saw it twice

        set_slider(page, "shuffle within", "120")
        shuffled = run_report(page)
        assert "120" in shuffled and "duplicate" in shuffled, shuffled
        page.screenshot(path=str(screenshots / "sender-chaos-panel.png"), full_page=True)

        page.locator(f"{PANEL_VIEW} button", has_text="Reset").click()
        page.wait_for_function(
            f"() => document.querySelector('{PANEL_VIEW}').innerText.includes('SenderChaos(off)')",
            timeout=15_000,
        )
        after_reset = run_report(page)
        assert "sent 1, arrived 1; SenderChaos(off)" in after_reset, after_reset
