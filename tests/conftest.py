from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from webhooks_lab.lab import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A lab of its own for one test: a real uvicorn server on 127.0.0.1, stopped afterwards."""
    with Lab() as running:
        yield running


@pytest.fixture
def client(lab: Lab) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lab.receiver.url, timeout=10) as http:
        yield http
