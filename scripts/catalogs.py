"""Extract the learner-facing words, merge them into each catalog, and compile the catalogs.

    python scripts/catalogs.py          # after marking or changing words: extract, update, compile
    python scripts/catalogs.py compile  # after translating: compile the .po files to .mo

The template is ``webhooks_lab/i18n/webhooks_lab.pot``; a translator edits
``webhooks_lab/i18n/<lang>/LC_MESSAGES/webhooks_lab.po``; the compiled ``.mo`` beside it is what
gettext reads and what the wheel ships (tests/test_i18n.py fails when it is stale).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "webhooks_lab" / "i18n"
TEMPLATE = CATALOGS / "webhooks_lab.pot"
#: How a module marks words (webhooks_lab/i18n/__init__.py): _(text), n_(one, many, n), N_(text).
KEYWORDS = ["--no-default-keywords", "-k", "_", "-k", "n_:1,2", "-k", "N_"]


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), *KEYWORDS, "--project", "webhooks-lab",
        "--omit-header", "--sort-by-file", "-w", "100", "-o", str(TEMPLATE), ".",
    )  # fmt: skip


def update() -> None:
    pybabel("update", "-i", str(TEMPLATE), "-d", str(CATALOGS), "-D", "webhooks_lab",
            "--no-fuzzy-matching", "--ignore-obsolete", "-w", "100")  # fmt: skip


def compile_all() -> None:
    pybabel("compile", "-d", str(CATALOGS), "-D", "webhooks_lab", "--statistics")


def main(argv: list[str]) -> int:
    os.chdir(ROOT)  # the template names files relative to the repository
    if argv[:1] == ["compile"]:
        compile_all()
        return 0
    extract()
    update()
    compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
