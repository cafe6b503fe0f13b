"""Read an exercise out of its lesson notebook, run its cells as Jupyter would, and tell whether a
check's answer gives a line of the solution away.

The check tests use it to run each lesson's real starter cell (not a copy) through its check,
called exactly as the notebook calls it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"


@dataclass(frozen=True)
class Exercise:
    prompt: str  # the markdown that asks
    starter: str  # the code cell the learner changes
    call: str  # the code cell that runs the check
    before: tuple[str, ...] = ()  # the lesson's code cells above the prompt, from the top

    def run_lesson(self, namespace: dict[str, Any], *, skip: tuple[str, ...] = ()) -> None:
        """Run the lesson's cells above the exercise, as a learner would have, except those
        containing any of ``skip`` (the cell that starts the lab: the test brings its own)."""
        for source in self.before:
            if not any(text in source for text in skip):
                run_cell(source, namespace)


def exercise(lesson: str, check_name: str) -> Exercise:
    """The exercise of notebook ``lesson`` (``"00"``...) whose cell calls ``check.<name>(``."""
    (path,) = NOTEBOOKS.glob(f"{lesson}_*.ipynb")
    cells = nbformat.read(path, as_version=4).cells
    calls = [i for i, c in enumerate(cells) if f"check.{check_name}(" in c.source]
    assert len(calls) == 1, f"{path.name}: {len(calls)} cells call check.{check_name}"
    at = calls[0]
    starter = next(i for i in range(at - 1, -1, -1) if cells[i].cell_type == "code")
    prompt_at = next(i for i in range(starter - 1, -1, -1) if cells[i].cell_type == "markdown")
    prompt = [cells[prompt_at].source]
    if prompt_at + 1 < starter:  # text between the prompt and the starter belongs to it too
        prompt += [c.source for c in cells[prompt_at + 1 : starter]]
    before = tuple(c.source for c in cells[:prompt_at] if c.cell_type == "code")
    return Exercise("\n".join(prompt), cells[starter].source, cells[at].source, before)


def run_cell(source: str, namespace: dict[str, Any]) -> Any:
    """Run a code cell's source in ``namespace`` and return its last expression's value."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec", dont_inherit=True), namespace)
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), "<cell>", "eval", dont_inherit=True), namespace)


def run_solution(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a solution file the way ``%load`` + run would: in the notebook's namespace."""
    path = SOLUTIONS / name
    exec(compile(path.read_text(), str(path), "exec", dont_inherit=True), namespace)
    return namespace


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("'", '"').strip()


def solution_pieces(name: str) -> set[str]:
    """What of solution ``name`` could be typed from a hint: each statement's line, each value
    assigned or returned, each call and its arguments, each string with a space in it."""
    source = (SOLUTIONS / name).read_text()
    tree = ast.parse(source)
    pieces: set[str] = set()

    def add(node: ast.AST | None) -> None:
        if node is not None and (text := ast.get_source_segment(source, node)):
            pieces.add(_normal(text))

    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            line = source.splitlines()[node.lineno - 1].split("#")[0]
            pieces.add(_normal(line))
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Expr)):
            add(node.value)
        if isinstance(node, ast.Call):
            add(node)
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                add(arg)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value:
            pieces.add(_normal(node.value))
    return {piece for piece in pieces if len(piece) >= 6}


def given_away(answer: Any, solution: str, exercise: Exercise) -> list[str]:
    """The pieces of the solution that ``answer`` shows and the exercise did not already."""
    shown = _normal(repr(answer))
    known = _normal(exercise.prompt + "\n" + exercise.starter)
    return sorted(p for p in solution_pieces(solution) if p in shown and p not in known)


def assert_teaches_without_telling(answer: Any, solution: str, exercise: Exercise) -> None:
    """A starter's answer: not yet, a hint of some substance, and no line of the solution."""
    assert not answer, f"the unattempted starter passed: {answer!r}"
    assert answer.message and len(answer.hint.split()) >= 8, f"too little help: {answer!r}"
    assert not given_away(answer, solution, exercise), (
        f"the answer gives away {given_away(answer, solution, exercise)}: {answer!r}"
    )
