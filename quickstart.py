#!/usr/bin/env python3
"""Set up and run webhooks-lab with nothing but Python.

    python3 quickstart.py          # set up, then open the course in JupyterLab on lesson 0
    python3 quickstart.py test     # set up for testing too, then run every test

Set-up makes a virtual environment in .venv and installs this package into it: for the course,
the package and what it needs to run (JupyterLab, ipywidgets, matplotlib, the servers, and the
``production`` extra: SAQ and the Redis client that lesson 10 runs its workers on); for
``test``, the ``test`` extra as well (pytest, Playwright, the providers' own libraries ...), in
the same .venv. It installs again only when pyproject.toml has changed or something is missing.
Nothing is installed outside .venv.

Options for JupyterLab go after the command: ``python3 quickstart.py lab --no-browser``
(``lab`` may be left out: ``python3 quickstart.py --no-browser``); run as root, JupyterLab gets
``--allow-root``. Extra arguments of ``test`` go to pytest, which runs the tests on one worker per
CPU; ``python3 quickstart.py test -n 0`` runs them one at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".webhooks-lab-installed"


def setup(extras: tuple[str, ...] = ()) -> None:
    """Make .venv and install the package into it with ``extras`` (none: the course alone)."""
    if sys.version_info < (3, 10):  # noqa: UP036 - said plainly to whoever runs an old Python
        sys.exit(f"webhooks-lab needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed = _installed()
    if installed.get("project") == project and set(extras) <= set(installed.get("extras", [])):
        return
    # Keep what an earlier run installed (a test set-up stays one after opening the course).
    keep = installed.get("extras", []) if installed.get("project") == project else []
    wanted = sorted({*extras, *keep})
    what = f"webhooks-lab with its {' and '.join(wanted)} extra" if wanted else "webhooks-lab"
    print(f"Installing {what} and its dependencies (first time only) ...", flush=True)
    target = f".[{','.join(wanted)}]" if wanted else "."
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--editable", target], cwd=ROOT, check=True)
    STAMP.write_text(json.dumps({"project": project, "extras": wanted}))


def _installed() -> dict[str, object]:
    try:
        found = json.loads(STAMP.read_text())
    except (OSError, ValueError):  # none yet, or the plain hash an older quickstart wrote
        return {}
    return found if isinstance(found, dict) else {}


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("lab", argv)
    if command == "test":
        setup(("test",))
        # Most tests wait on real servers and real time, so they run side by side: one worker per
        # CPU (pytest-xdist), each test file on one worker (a lesson's cells share one kernel).
        parallel = ["--numprocesses", "auto", "--dist", "loadfile"]
        return subprocess.call([str(PYTHON), "-m", "pytest", *parallel, *rest], cwd=ROOT)
    if command == "lab":
        setup(("production",))  # lesson 10 runs jobs on SAQ and Redis
        # `webhooks-lab lab` adds --allow-root for root (Docker, many cloud machines).
        return subprocess.call([str(PYTHON), "-m", "webhooks_lab.cli", "lab", *rest], cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
