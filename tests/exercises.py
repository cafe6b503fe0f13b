"""What the exercise-check tests share: the lessons' starter cells, the solutions, and the rule that
a hint for untouched starter code says what to do without giving a line of the answer away."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"


def starter_cell(lesson: str, marker: str) -> str:
    """The source of the lesson's code cell that contains ``marker`` (its exercise's start)."""
    (path,) = NOTEBOOKS.glob(f"{lesson}_*.ipynb")
    notebook = nbformat.read(path, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    assert cells, f"{path.name} has no code cell with {marker!r}"
    return cells[0]


def run_cell(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a cell's source (a starter, or a solution after ``%load``) in the given namespace."""
    exec(compile(source, "<cell>", "exec", dont_inherit=True), namespace)
    return namespace


def run_solution(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    return run_cell((SOLUTIONS / name).read_text(), namespace)


def solution_lines(name: str) -> list[str]:
    """The solution's lines of code worth giving away (comments and short lines left out)."""
    lines = []
    for line in (SOLUTIONS / name).read_text().splitlines():
        code = re.sub(r"\s+#.*$", "", line).strip()
        if len(code) >= 12 and not code.startswith("#"):
            lines.append(code)
    return lines


def assert_teaches_without_telling(result: Any, solution: str) -> None:
    """The answer to untouched starter code: "not yet", a hint, and no line of the answer."""
    assert not result, repr(result)
    assert len(result.message) > 20, repr(result)
    assert len(result.hint) > 20, repr(result)
    shown = repr(result)
    for line in solution_lines(solution):
        assert line not in shown, f"the hint gives away {line!r}:\n{shown}"
