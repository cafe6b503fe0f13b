"""The Korean edition (notebooks/ko/) runs the very code of the English one, in Korean words.

Each Korean lesson has the English lesson's code cells, cell for cell and character for
character; only its first code cell starts with the line that chooses the language. Its prose is
Korean. (nbval runs both editions; tests/test_i18n.py checks the words the lab itself says.)
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KOREAN = sorted((NOTEBOOKS / "ko").glob("[0-9][0-9]_*.ipynb"))
#: The one line a Korean lesson adds, at the top of its first code cell.
LANGUAGE_LINE = "%env WEBHOOKS_LAB_LANG=ko\n"
HANGUL = re.compile("[\uac00-\ud7a3]")


def code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_the_korean_edition_starts_at_lesson_0_and_skips_none():
    numbers = [int(p.name[:2]) for p in KOREAN]
    assert numbers == list(range(len(numbers))) and numbers, numbers


@pytest.mark.parametrize("korean", KOREAN, ids=lambda p: p.name)
def test_a_korean_lesson_runs_the_english_lessons_code_cell_for_cell(korean):
    english = NOTEBOOKS / korean.name
    assert english.is_file(), f"{korean.name} has no English lesson of the same name"
    theirs, ours = code_cells(english), code_cells(korean)
    assert ours and ours[0].startswith(LANGUAGE_LINE), (
        f"the first code cell of ko/{korean.name} must start with {LANGUAGE_LINE!r}"
    )
    ours[0] = ours[0].removeprefix(LANGUAGE_LINE)
    assert len(ours) == len(theirs), (
        f"ko/{korean.name} has {len(ours)} code cells, the English lesson {len(theirs)}"
    )
    for number, (mine, original) in enumerate(zip(ours, theirs, strict=True), start=1):
        assert mine == original, f"code cell {number} of ko/{korean.name} differs from English"


@pytest.mark.parametrize("korean", KOREAN, ids=lambda p: p.name)
def test_a_korean_lesson_says_in_korean_what_the_english_one_says(korean):
    def prose(path: Path) -> list[str]:
        notebook = nbformat.read(path, as_version=4)
        return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]

    ours, theirs = prose(korean), prose(NOTEBOOKS / korean.name)
    assert len(ours) == len(theirs), "one Korean markdown cell for each English one"
    left_in_english = [text.splitlines()[0] for text in ours if not HANGUL.search(text)]
    assert not left_in_english
