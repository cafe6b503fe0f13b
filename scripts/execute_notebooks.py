#!/usr/bin/env python3
"""Re-run lessons top to bottom in a fresh kernel and save them with their outputs.

    python scripts/execute_notebooks.py                  # every lesson, both editions
    python scripts/execute_notebooks.py notebooks/04_*.ipynb
    python scripts/execute_notebooks.py notebooks/ko/00_*.ipynb   # the Korean edition's lesson 0

Prints each lesson's run time. Clears noisy metadata so diffs show only what changed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - started
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)  # widget state is re-made on every run
    nbformat.write(notebook, path)
    return elapsed


def main(args: list[str]) -> int:
    editions = (ROOT / "notebooks", ROOT / "notebooks" / "ko")
    paths = [Path(a).resolve() for a in args] or [
        path for folder in editions for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    ]
    total = 0.0
    for path in paths:
        elapsed = execute(path)
        total += elapsed
        shown = path.relative_to(ROOT / "notebooks") if path.is_relative_to(ROOT) else path
        print(f"{shown!s:<45} {elapsed:6.1f} s", flush=True)
    print(f"{'total':<45} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
