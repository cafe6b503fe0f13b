"""Where the course's notebooks live, and how to open them in JupyterLab.

From a clone, the notebooks are the repository's ``notebooks/`` folder. From an installed wheel
they ship inside the package and are copied to a working folder on first launch; a notebook the
learner already has there is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
FIRST_LESSON = "00_start_the_lab.ipynb"
#: Where each edition's lessons are, inside the course folder.
EDITIONS = {"en": ".", "ko": "ko"}


def clone_notebooks() -> Path | None:
    """The repository's ``notebooks/`` folder, when running from a clone."""
    root = PACKAGE_DIR.parent
    candidate = root / "notebooks"
    if (root / "pyproject.toml").is_file() and candidate.is_dir():
        return candidate
    return None


def packaged_notebooks() -> Path:
    return PACKAGE_DIR / "course" / "notebooks"


def prepare_course(workdir: Path | None = None) -> Path:
    """Return the folder to open: the clone's notebooks, or a working copy of the packaged ones."""
    if workdir is None:
        found = clone_notebooks()
        if found is not None:
            return found
        workdir = Path.home() / "webhooks-lab-course"
    source = clone_notebooks() or packaged_notebooks()
    if not source.is_dir():
        raise FileNotFoundError(f"the course notebooks were not found at {source}")
    copy_missing(source, workdir)
    return workdir


def copy_missing(source: Path, target: Path) -> list[Path]:
    """Copy every file under ``source`` that ``target`` lacks; returns what was copied."""
    copied = []
    for path in sorted(source.rglob("*")):
        if ".ipynb_checkpoints" in path.parts or "__pycache__" in path.parts or path.is_dir():
            continue
        destination = target / path.relative_to(source)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied.append(destination)
    return copied


def first_lesson(lang: str = "en") -> str:
    """An edition's first lesson, relative to the course folder: ``ko/00_start_the_lab.ipynb``."""
    return str(Path(EDITIONS[lang]) / FIRST_LESSON)


def jupyter_command(
    folder: Path, extra: list[str] | None = None, lesson: str = FIRST_LESSON
) -> list[str]:
    """The command that opens JupyterLab on ``lesson`` (the first one) in ``folder``.

    As root (Docker, many cloud machines) JupyterLab refuses to start without ``--allow-root``;
    a learner there has no other user to switch to, so the command says it for them.
    """
    extra = list(extra or [])
    as_root = ["--allow-root"] if running_as_root() and "--allow-root" not in extra else []
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        *as_root,
        str(folder / lesson),
        *extra,
    ]


def running_as_root() -> bool:
    geteuid = getattr(os, "geteuid", None)  # Windows has no such thing
    return geteuid is not None and geteuid() == 0
