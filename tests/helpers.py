"""Helpers the tests share: what several test files would otherwise each write again."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30  # generous: the machine is shared; a healthy start takes well under 1 s


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "webhooks_lab.cli", "serve", *args]


class Served:
    """A running ``webhooks-lab serve`` process, its URL and everything it printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.printed: list[str] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(process.stdout, self.stdout), daemon=True).start()
        errors: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process.stderr, errors), daemon=True).start()
        self._errors = errors
        self.url = self._read_url()
        self.client = httpx.Client(base_url=self.url, timeout=10)

    @staticmethod
    def _pump(stream, into: queue.Queue[str | None]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            into.put(line)
        into.put(None)

    def _read_url(self) -> str:
        try:
            first = self.stdout.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            raise AssertionError("webhooks-lab serve printed nothing") from None
        assert first is not None, f"webhooks-lab serve exited: {self.drain_stderr()}"
        self.printed.append(first)
        found = re.search(r"listening on (http://127\.0\.0\.1:(\d+))\s*$", first)
        assert found, f"the first line should say where it listens, got {first!r}"
        assert int(found.group(2)) > 0
        return found.group(1)

    def wait_for_line(self, pattern: str, timeout: float = 10) -> str:
        """The first printed line matching ``pattern``, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.printed:
                if re.search(pattern, line):
                    return line
            try:
                line = self.stdout.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {self.printed}") from None
            if line is None:
                raise AssertionError(f"the process ended; no line matching {pattern!r}")
            self.printed.append(line)

    def drain_stderr(self) -> str:
        while True:
            try:
                line = self._errors.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.stderr.append(line)
        return "".join(self.stderr)

    def stop(self) -> int:
        """Ctrl+C, wait; kill if it does not stop. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=10)


@contextmanager
def serving(*args: str) -> Iterator[Served]:
    process = subprocess.Popen(
        command("--port", "0", *args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served: Served | None = None
    try:
        served = Served(process)
        yield served
    finally:
        if served is not None:
            served.client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
