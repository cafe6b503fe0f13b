"""The wire diagram in real Chromium: on the inbox page's Wire tab, live over its event stream,
and in JupyterLab, where ``lab.wire()`` renders its SVG with the expected lanes and arrows and
keeps a static picture in the cell's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.retry import RetryPolicy

from .conftest import JupyterLab
from .jupyterlab_ui import PANEL, running_notebook, wait_until_drawn

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

LANES = "svg.webhooks-lab-wire g.lane"
ARROWS = "svg.webhooks-lab-wire g.exchange"


def parties(page: Page, root: str) -> list[str]:
    return page.eval_on_selector_all(
        f"{root} {LANES}", "(lanes) => lanes.map((g) => g.dataset.party)"
    )


def outcomes(page: Page, root: str) -> list[str]:
    return page.eval_on_selector_all(
        f"{root} {ARROWS}", "(arrows) => arrows.map((g) => g.dataset.outcome)"
    )


def test_the_wire_tab_draws_a_retry_live_as_it_happens(lab: Lab, page: Page, screenshots: Path):
    lab.sender.policy = RetryPolicy([0, 0.3], jitter=0)
    lab.receiver.chaos("shop").fail_next(1, status=503)
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    page.goto(lab.url + "/#wire")
    page.wait_for_selector("#status.live")
    assert page.locator("#wire-pane").is_visible() and not page.locator("#inbox-pane").is_visible()
    page.evaluate("() => { window.loadedOnce = true; }")

    lab.sender.wait_deliveries(lab.send("order.created", {"n": 1}), timeout=20)
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.get("/jobs/kinds")
    page.wait_for_function(
        f"() => document.querySelectorAll('#wire {ARROWS}').length === 3", timeout=15_000
    )
    assert parties(page, "#wire") == ["Sender", "Your receiver", "Your code", "Jobs API"]
    assert outcomes(page, "#wire") == ["5xx", "2xx", "2xx"]
    assert "waited" in page.locator("#wire").inner_text()
    wait_until_drawn(page, "#wire svg", width=300, height=100)
    assert page.evaluate("() => window.loadedOnce === true")  # live: the page never reloaded
    page.screenshot(path=str(screenshots / "inbox-page-wire.png"), full_page=True)

    page.click("#tab-inbox")  # the other tab still has the deliveries
    assert page.locator("#inbox tbody.delivery").count() == 2


def test_the_page_asks_for_nothing_but_its_own_server(lab: Lab, page: Page):
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(lab.url + "/#wire")
    page.wait_for_selector("#status.live")
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/a", json={})
    page.wait_for_selector(f"#wire {ARROWS}")
    assert asked and all(url.startswith(lab.url + "/") for url in asked), asked


CELLS = [
    "import webhooks_lab\nfrom webhooks_lab.retry import RetryPolicy\n"
    "lab = webhooks_lab.start(speed=60)\n"
    "lab.sender.policy = RetryPolicy([0, 30], jitter=0)\n"
    "lab.sender.add_endpoint(lab.receiver.url_for('shop'))\n"
    "lab.receiver.chaos('shop').fail_next(1, status=503)",
    "view = lab.wire(names={'Sender': 'Shop'})\n"
    "lab.sender.wait_deliveries(lab.send('order.created', {'n': 1}))\n"
    "view",
]


def test_lab_wire_renders_its_diagram_in_jupyterlab_and_stores_its_picture(
    page: Page, jupyter_lab: JupyterLab, screenshots: Path
):
    with running_notebook(page, jupyter_lab, "wire_view.ipynb", CELLS):
        live = ".jp-OutputArea .webhooks-lab-wire-view"
        page.wait_for_selector(f"{live} {ARROWS}", timeout=30_000)
        assert parties(page, live) == ["Shop", "Your receiver"]
        assert outcomes(page, live) == ["5xx", "2xx"]
        assert page.locator(f"{live} .widget-toggle-button").count() == 1  # the Pause button
        assert "Error displaying widget" not in page.inner_text("body")
        page.screenshot(path=str(screenshots / "wire-view-jupyterlab.png"), full_page=True)
        stored = json.dumps(
            page.evaluate(f"() => {PANEL}.content.widgets[1].model.outputs.toJSON()")
        )
        assert "image/svg+xml" in stored  # the picture the saved notebook keeps
