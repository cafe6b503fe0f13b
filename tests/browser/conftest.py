"""Real Chromium, real JupyterLab: fixtures for the browser tests.

The browser is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright for Python; nothing
is downloaded (never run ``playwright install``). Without Chromium or Playwright these tests skip
and say why, except in CI (``CI`` set), where a missing browser is a failure.

JupyterLab runs on 127.0.0.1 on a free port with no token, with its config, data, runtime and
IPython folders in a temporary directory, on a *copy* of the course: running a lesson in the
browser must never touch the committed notebooks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# As root the sandbox cannot start; the rest keep Chromium from calling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
JUPYTER_START_TIMEOUT = 90  # seconds; a healthy start takes about 5 s


def lessons() -> list[Path]:
    """Every lesson there is right now, in both editions (English, then notebooks/ko/)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(
        (NOTEBOOKS / "ko").glob("[0-9][0-9]_*.ipynb")
    )


def why_no_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: pip install -e '.[test]'"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    missing = why_no_browser()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    # Package scope, not session: while Playwright's sync API is open it keeps an event loop set
    # on this thread, and every later test calling asyncio.run() would fail.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab of its own (own cookies, own storage), closed after the test."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@dataclass
class JupyterLab:
    url: str
    course: Path  # the copy of notebooks/ it serves
    log: Path

    def shut_down_kernels(self) -> None:
        """Stop every kernel (and so every lab it started), leaving the server running."""
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            for session in client.get("/api/sessions").json():
                client.delete(f"/api/sessions/{session['id']}")


@pytest.fixture(scope="package")
def jupyter_lab(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab on 127.0.0.1, a free port, no token, on a copy of the course."""
    home = tmp_path_factory.mktemp("jupyter")
    course = home / "course"
    shutil.copytree(NOTEBOOKS, course, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    env.pop("JUPYTERHUB_SERVICE_PREFIX", None)
    _write_settings(home / "config" / "lab" / "user-settings")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={course}",
        "--LabApp.expose_app_in_browser=True",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_answering(url, process, log)
        yield JupyterLab(url=url, course=course, log=log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _write_settings(user_settings: Path) -> None:
    settings: dict[str, dict[str, Any]] = {
        # The "get notified about Jupyter news?" toast would cover part of every screenshot.
        "@jupyterlab/apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Render every cell (not only those in view) so every output can be checked, and show
        # the notebook without blank space after its end in the screenshots.
        "@jupyterlab/notebook-extension/tracker": {
            "windowingMode": "none",
            "scrollPastEnd": False,
        },
    }
    for plugin, values in settings.items():
        path = user_settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + JUPYTER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited at start:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/status", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer in time:\n{log.read_text()[-3000:]}")
