"""Options for running the lessons under nbval (``pytest notebooks``).

``--cell-pause SECONDS`` waits before every notebook cell, as a reader does between cells. A lesson
that only works when its cells run back to back (a job that has ended before the cell that polls
it, a queue that has drained before the cell that fills it up) fails under it:

    pytest notebooks --cell-pause 5
"""

from __future__ import annotations

import time

import pytest
from nbval.plugin import IPyNbCell


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cell-pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before each notebook cell, as a reader does (default: none)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    pause = item.config.getoption("--cell-pause")
    if pause > 0 and isinstance(item, IPyNbCell):
        time.sleep(pause)
