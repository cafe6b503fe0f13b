"""Lesson 10's moving parts: a local broker and worker processes, started and stopped from a cell.

``Fleet.start(workers=2)`` starts a ``redis-server`` on a free loopback port
(:class:`~webhooks_lab.runtime.redis_server.RedisServer`) and that many
``webhooks-lab worker`` processes on it, each with its own name. ``fleet.kill("worker-1")``
ends one the hard way (SIGKILL: no goodbye, its running job left behind), ``fleet.add()`` starts
another, ``fleet.stop()`` ends them all. A worker's output is kept in ``worker.lines``, never
printed into a cell.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence

from webhooks_lab.errors import Error
from webhooks_lab.i18n import _, language
from webhooks_lab.runtime.redis_server import RedisServer


def ready_line() -> str:
    """How the line starts that a worker prints once it takes jobs, in the lab's language (the
    worker is started speaking it): the words before the worker's id in the CLI's banner."""
    return _("webhooks-lab worker {id} on {broker}", id="\0", broker="").partition("\0")[0]


class WorkerProcess:
    """One ``webhooks-lab worker`` process: ``name``, ``pid``, ``lines``, ``wait_for(text)``,
    ``stop()``, ``kill()``."""

    def __init__(
        self,
        broker: str,
        name: str,
        *,
        concurrency: int = 2,
        secret: str | None = None,
        kinds: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        self.broker, self.name, self.concurrency = broker, name, concurrency
        command = [sys.executable, "-m", "webhooks_lab.cli", "worker", "--broker", broker]
        command += ["--name", name, "--concurrency", str(concurrency), "--lang", language()]
        self._ready_line = ready_line()
        if secret:
            command += ["--secret", secret]
        for module in kinds:  # a learner's own kinds: a module with register_kinds(runner)
            command += ["--kinds", module]
        self.lines: deque[str] = deque(maxlen=1000)
        self._ready = threading.Event()
        self._said = threading.Condition()  # notified on each line the worker prints
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.pid = self.process.pid
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self.process.poll() is not None:
            self.kill()
            said = " / ".join(list(self.lines)[-5:]) or "nothing"
            raise Error(f"worker {name} did not start within {timeout:g} s; it said: {said}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._said:
                self.lines.append(line.rstrip("\n"))
                self._said.notify_all()
            if line.startswith(self._ready_line):
                self._ready.set()
        self._ready.set()  # the process ended: nobody should wait any longer
        with self._said:
            self._said.notify_all()

    def wait_for(self, text: str, timeout: float = 10.0) -> bool:
        """Whether the worker prints a line containing ``text`` within ``timeout`` seconds (its
        output reaches this process a moment after the broker's news does)."""
        with self._said:
            return self._said.wait_for(
                lambda: any(text in line for line in self.lines) or not self._reader.is_alive(),
                timeout,
            ) and any(text in line for line in self.lines)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM: the worker finishes (or hands back) its jobs and exits. Its exit code."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the worker dies at once, mid-job, as a crashed machine would."""
        if self.running:
            self.process.kill()
            self.process.wait(5)
        self._reader.join(5)

    def __repr__(self) -> str:
        if self.running:
            return _("<WorkerProcess {name} pid {pid} running>", name=self.name, pid=self.pid)
        return _(
            "<WorkerProcess {name} pid {pid} ended ({code})>",
            name=self.name,
            pid=self.pid,
            code=self.process.returncode,
        )


class Fleet:
    """A broker and its workers, for one lesson: ``fleet.broker``, ``fleet.workers``."""

    def __init__(
        self,
        redis: RedisServer,
        *,
        concurrency: int = 2,
        secret: str | None = None,
        kinds: Sequence[str] = (),
    ):
        self.redis, self.concurrency, self.secret = redis, concurrency, secret
        self.kinds = tuple(kinds)
        self.broker = redis.url
        self.workers: dict[str, WorkerProcess] = {}
        self._count = 0

    @classmethod
    def start(
        cls,
        workers: int = 2,
        *,
        concurrency: int = 2,
        secret: str | None = None,
        kinds: Sequence[str] = (),
    ) -> Fleet:
        """A new ``redis-server`` and ``workers`` worker processes on it (raises
        :class:`~webhooks_lab.runtime.redis_server.RedisMissing` if there is no redis-server).
        ``kinds`` names modules whose ``register_kinds(runner)`` the workers run too."""
        global _current
        if _current is not None:  # a re-run cell replaces the fleet, it never adds a second
            _current.stop()
            _current = None
        fleet = cls(RedisServer.start(), concurrency=concurrency, secret=secret, kinds=kinds)
        try:
            for _ in range(workers):
                fleet.add()
        except BaseException:
            fleet.stop()
            raise
        _current = fleet
        return fleet

    def add(self, name: str | None = None) -> WorkerProcess:
        """Start one more worker (named ``worker-N`` unless given a name)."""
        self._count += 1
        name = name or f"worker-{self._count}"
        worker = WorkerProcess(
            self.broker, name, concurrency=self.concurrency, secret=self.secret, kinds=self.kinds
        )
        self.workers[name] = worker
        return worker

    def kill(self, name: str) -> WorkerProcess:
        """SIGKILL the worker called ``name``: whatever it was running is left half done."""
        worker = self.workers[name]
        worker.kill()
        return worker

    def stop(self) -> None:
        """Stop every worker (SIGTERM, all at once) and the broker. Safe to call twice."""
        for worker in self.workers.values():
            if worker.running:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for worker in self.workers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            worker.kill()
        self.redis.stop()
        global _current
        if _current is self:
            _current = None

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        alive = sum(worker.running for worker in self.workers.values())
        return _(
            "<Fleet {broker}: {alive} of {total} workers running>",
            broker=self.broker,
            alive=alive,
            total=len(self.workers),
        )


_current: Fleet | None = None


def _stop_current() -> None:
    if _current is not None:
        _current.stop()


atexit.register(_stop_current)  # a kernel that ends takes its broker and workers with it

__all__ = ["Fleet", "WorkerProcess"]
