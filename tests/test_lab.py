"""The lab's life cycle: one server per kernel, however often a cell runs; stop frees it all."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time

import httpx
import pytest

import webhooks_lab
from webhooks_lab import PortInUseError
from webhooks_lab.lab import Lab


def open_sockets() -> int:
    fds = os.listdir("/proc/self/fd")
    count = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # an fd may close while we look
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def sockets_settle_at(expected: int, within: float = 2.0) -> int:
    """Open sockets once the server has closed connections its clients already closed."""
    deadline = time.monotonic() + within
    while (count := open_sockets()) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


def lab_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("webhooks-lab")]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def fresh():
    webhooks_lab.stop()
    yield
    webhooks_lab.stop()


def test_start_returns_a_running_lab_with_a_loopback_url(fresh):
    lab = webhooks_lab.start()
    assert lab.receiver.url.startswith("http://127.0.0.1:")
    assert (
        httpx.post(
            f"{lab.receiver.url}/webhooks/demo", json={"type": "a.b", "data": {}}
        ).status_code
        == 200
    )


def test_rerunning_start_fifty_times_leaves_one_server_one_thread_and_no_stray_sockets(fresh):
    before = open_sockets()
    first = webhooks_lab.start()
    with_one = open_sockets()
    for _ in range(50):
        again = webhooks_lab.start()
        assert again is first
        httpx.get(f"{again.receiver.url}/webhooks").raise_for_status()
    assert len(lab_threads()) == 1
    assert sockets_settle_at(with_one) == with_one
    first.stop()
    assert lab_threads() == []
    assert sockets_settle_at(before) == before


def test_start_with_other_options_replaces_the_running_lab(fresh):
    first = webhooks_lab.start()
    second = webhooks_lab.start(speed=60)
    assert second is not first
    assert not first.running and second.running
    assert len(lab_threads()) == 1
    assert second.clock.speed == 60


def test_stop_frees_the_port(fresh):
    lab = webhooks_lab.start()
    port = lab.server.port
    assert listening(port)
    lab.stop()
    assert not listening(port)
    assert webhooks_lab.current() is None
    lab.stop()  # twice is fine


def test_a_chosen_port_that_is_taken_fails_at_once_with_a_clear_message(fresh):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            webhooks_lab.start(port=port)
        assert time.monotonic() - started < 2
    assert lab_threads() == []


def test_a_chosen_free_port_is_used(fresh):
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        port = finder.getsockname()[1]
    lab = webhooks_lab.start(port=port)
    assert lab.receiver.url == f"http://127.0.0.1:{port}"


def test_an_async_client_can_await_the_lab(lab):
    import asyncio

    async def call() -> int:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{lab.receiver.url}/webhooks/a", json={"type": "a.b", "data": {}}
            )
            return answer.status_code

    assert asyncio.run(call()) == 200


def test_labs_used_as_context_managers_stop_themselves():
    with Lab() as lab:
        port = lab.server.port
        assert listening(port)
    assert not listening(port)


def test_the_inbox_can_be_waited_on_from_a_cell(lab):
    def later():
        time.sleep(0.2)
        httpx.post(f"{lab.receiver.url}/webhooks/w", json={"type": "a.b", "data": {}})

    threading.Thread(target=later).start()
    arrived = lab.receiver.inbox.wait_for(1, timeout=5, endpoint="w")
    assert arrived[0].endpoint == "w"
    with pytest.raises(TimeoutError, match="waited 0.1 s for 5 deliveries, 1 arrived"):
        lab.receiver.inbox.wait_for(5, timeout=0.1)


def test_the_core_and_the_command_line_never_import_jupyter():
    import subprocess
    import sys

    code = (
        "import sys, webhooks_lab, webhooks_lab.cli, webhooks_lab.lessons.scenarios\n"
        "webhooks_lab.start().stop()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('ipywidgets', 'IPython', 'ipykernel', 'matplotlib'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


LEFT_RUNNING = """
import os, sys, webhooks_lab
lab = webhooks_lab.start(outbox=sys.argv[1] if len(sys.argv) > 1 else None)
lab.sender.outbox.flush_interval = 3600  # nothing answered is committed before the exit
lab.sender.add_endpoint(lab.url + "/webhooks/exit")
lab.sender.wait_deliveries([d for n in range(20) for d in lab.send("order.paid", {"n": n})])
print(os.path.dirname(lab.outbox.path))
"""  # and the script ends with the lab still running, as a kernel that shuts down does


def test_a_lab_left_running_at_exit_closes_its_outbox_and_removes_its_folder(tmp_path):
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "outbox.sqlite3"
    kept = subprocess.run(
        [sys.executable, "-c", LEFT_RUNNING, str(path)], capture_output=True, text=True, timeout=60
    )
    assert kept.returncode == 0 and "Traceback" not in kept.stderr, kept.stderr
    with contextlib.closing(sqlite3.connect(path)) as db:  # as the next process reads it
        states = db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
    assert states == [("delivered", 20)]

    temporary = subprocess.run(
        [sys.executable, "-c", LEFT_RUNNING], capture_output=True, text=True, timeout=60
    )
    assert temporary.returncode == 0 and "Traceback" not in temporary.stderr, temporary.stderr
    folder = temporary.stdout.strip()
    assert folder.startswith(tempfile.gettempdir()) and not os.path.exists(folder)
