#!/usr/bin/env python3
"""Set up and run webhooks-lab with nothing but Python.

    python3 quickstart.py          # set up, then open the course in JupyterLab on lesson 0
    python3 quickstart.py test     # set up, then run every test (extra arguments go to pytest)

Set-up makes a virtual environment in .venv and installs this package into it (again only when
pyproject.toml has changed). Nothing is installed outside .venv.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def setup(extras: str) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - said plainly to whoever runs an old Python
        sys.exit(f"webhooks-lab needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / ".webhooks-lab-installed"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("Installing webhooks-lab and its dependencies (first time only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--editable", f".[{extras}]" if extras else "."], cwd=ROOT, check=True)
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("lab", [])
    if command == "test":
        setup("test")
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    if command == "lab":
        setup("test")
        return subprocess.call([str(PYTHON), "-m", "webhooks_lab.cli", "lab", *rest], cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
