"""A local ``redis-server`` for learners and tests: a free loopback port, a temporary folder.

``RedisServer.start()`` runs Debian's (or Homebrew's) ``redis-server`` on ``127.0.0.1`` in a folder
of its own, waits until it answers ``PING``, and hands back its ``url``. ``stop()`` ends it and
removes the folder.

It keeps an append-only file (``--appendonly yes``, fsynced every second, no RDB snapshots): the
broker holds the durable record of jobs and webhook deliveries
(:mod:`webhooks_lab.jobs.broker_sender`), so a ``redis-server`` restarted on the same folder
(``RedisServer.start(folder=...)``) finds them again, at most the last second lost. Where
``redis-server`` is not on ``PATH``, :class:`RedisMissing` says in plain words how to get it.

Nothing here speaks the Redis protocol beyond ``PING``: it is the running part, not a client.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from webhooks_lab.errors import Error

HOW_TO_GET_IT = (
    "redis-server is not installed here. Get it with:\n"
    "  Debian/Ubuntu:  sudo apt-get install redis-server\n"
    "  macOS:          brew install redis\n"
    "  Windows:        inside WSL, as on Ubuntu\n"
    "  Docker:         docker run -p 127.0.0.1:6379:6379 redis:7 "
    "(then use broker='redis://127.0.0.1:6379')\n"
    "On Binder it comes with the course (binder/apt.txt)."
)


class RedisMissing(Error, FileNotFoundError):
    """``redis-server`` is not on ``PATH``; the message says how to install it."""

    def __init__(self) -> None:
        super().__init__(HOW_TO_GET_IT)


class RedisServer:
    """One ``redis-server`` process on a free loopback port; ``with RedisServer.start() as r:``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
        self.process, self.port, self.folder = process, port, folder
        self.url = f"redis://127.0.0.1:{port}"

    @classmethod
    def start(
        cls,
        *,
        timeout: float = 10.0,
        executable: str | None = None,
        port: int | None = None,
        folder: Path | None = None,
    ) -> RedisServer:
        """Start one (on ``port``, or a free one; in ``folder``, or a new temporary one); raise
        :class:`RedisMissing` if there is none to start."""
        found = executable or shutil.which("redis-server")
        if found is None:
            raise RedisMissing()
        last: Exception | None = None
        for _ in range(3):  # another program may take the free port between our look and its bind
            where = folder or Path(tempfile.mkdtemp(prefix="webhooks-lab-redis-"))
            chosen = port or _free_port()
            command = [found, "--port", str(chosen), "--bind", "127.0.0.1", "--save", ""]
            command += ["--appendonly", "yes", "--appendfsync", "everysec"]
            command += ["--dir", str(where), "--protected-mode", "yes"]
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=where
            )
            server = cls(process, chosen, where)
            try:
                server._wait_ready(timeout)
                return server
            except OSError as exc:
                last = exc
                server.stop(keep=folder is not None)
        raise Error(f"redis-server did not start: {last}")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise OSError(f"redis-server exited with code {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            if time.monotonic() > deadline:
                raise OSError(f"redis-server did not answer PING within {timeout:g} s")
            time.sleep(0.01)  # polling a process we started for its first PING; ~20 ms in all

    def stop(self, *, keep: bool = False) -> None:
        """End the server and remove its folder (unless ``keep``). Safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} {'running' if self.running else 'stopped'}>"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


__all__ = ["HOW_TO_GET_IT", "RedisMissing", "RedisServer"]
