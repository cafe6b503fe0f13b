"""Binder installs ``binder/requirements.txt`` and ignores ``pyproject.toml``: keep them in step.

(``scripts/check_binder.py`` proves the file works by building an environment from it; that needs
the package index and minutes. This catches the usual slip, a new dependency, in a moment.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")
ROOT = Path(__file__).resolve().parent.parent


def pinned() -> dict[str, str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    pins = [re.split(r"\s*#", line)[0].strip() for line in lines]
    return {
        canonicalize_name(name): version
        for name, _, version in (pin.partition("==") for pin in pins if "==" in pin)
    }


def test_binder_pins_every_runtime_dependency_of_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    missing = sorted(needed - pinned().keys())
    repin = ".venv/bin/python scripts/check_binder.py --pin"
    assert missing == [], f"binder/requirements.txt lacks {missing}: run {repin}"


def test_binder_installs_this_package_and_the_proxy_for_the_inbox_page():
    lines = [
        line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    ]
    assert "." in lines  # repo2docker runs pip from the repository root
    assert "jupyter-server-proxy" in pinned()
    assert all(version for version in pinned().values())
