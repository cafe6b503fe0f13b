"""A real ``redis-server`` for the broker tests: skipped where there is none, a failure in CI.

Import the fixtures into a test module: ``from broker_fixtures import redis, fleet, broker_lab``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.lessons.production import Fleet
from webhooks_lab.runtime.redis_server import RedisServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def need_redis_server() -> None:
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the broker tests: {reason}")
        pytest.skip(reason)


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A redis-server of its own on a free loopback port and temporary folder, then stopped."""
    need_redis_server()
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    """A redis-server and two worker processes (worker-1, worker-2), two jobs at a time each."""
    need_redis_server()
    running = Fleet.start(workers=2, concurrency=2, secret=SECRET)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def broker_lab(fleet: Fleet) -> Iterator[Lab]:
    """A lab whose jobs and deliveries are on ``fleet``'s broker."""
    lab = Lab(broker=fleet.broker)
    try:
        yield lab
    finally:
        lab.stop()
