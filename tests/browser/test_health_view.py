"""The health view in real Chromium against real JupyterLab: an endpoint fails for five lab-days
and is disabled; the live widget draws its lane (failed attempts, the failing and disabled bands,
the disable line) and the cell's output keeps the same picture as SVG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import JupyterLab
from .jupyterlab_ui import PANEL, running_notebook, wait_until_drawn

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

CELLS = [
    "import webhooks_lab\nfrom webhooks_lab import RetryPolicy\n"
    "from webhooks_lab.sender.health import DAY\nfrom webhooks_lab.widgets import HealthView\n"
    "lab = webhooks_lab.start(speed=60, outbox=':memory:')\n"
    "lab.sender.policy = RetryPolicy((0,), jitter=0)\n"
    "partner = lab.sender.add_endpoint(lab.receiver.url_for('partner'))\n"
    "lab.receiver.chaos('partner').fail_next(1000, status=503)\n"
    "lab.sender.health.watch(5 * DAY)\n"
    "view = HealthView(lab)\nview",
    "for day in range(6):\n"
    "    lab.send('order.placed', {'day': day})\n"
    "    lab.fast_forward(DAY)\n"
    "print('enabled:', partner.enabled)",
    "view",
]
LIVE = ".jp-OutputArea .webhooks-lab-health svg"


def outputs(page: Page, cell: int) -> str:
    found = page.evaluate(f"() => {PANEL}.content.widgets[{cell}].model.outputs.toJSON()")
    return json.dumps(found)


def test_the_health_view_draws_the_failing_week_live_and_stores_its_picture(
    page: Page, jupyter_lab: JupyterLab, screenshots: Path
):
    with running_notebook(page, jupyter_lab, "health_view.ipynb", CELLS):
        assert "enabled: False" in outputs(page, 1)
        page.wait_for_function(
            f"() => document.querySelectorAll('{LIVE} rect.attempt.failed').length >= 6"
            f" && document.querySelectorAll('{LIVE} line.disabled-at').length >= 1",
            timeout=15_000,
        )
        assert page.locator(f"{LIVE} rect.failing").count() >= 1
        assert page.locator(f"{LIVE} rect.disabled").count() >= 1
        wait_until_drawn(page, LIVE, width=500, height=80)
        assert "Error displaying widget" not in page.inner_text("body")
        page.screenshot(path=str(screenshots / "health-view-jupyterlab.png"), full_page=True)
        stored = outputs(page, 2)
        assert "image/svg+xml" in stored and "attempt failed" in stored and "disabled-at" in stored
