"""Helpers the tests share: what several test files would otherwise each write again."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h11
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


def exchange(port: int, raw: bytes, timeout: float = 10) -> list[tuple[int, dict, bytes]]:
    """Send ``raw`` bytes to 127.0.0.1:``port``; every response, until the server closes.

    For requests no HTTP client would send. Each answer is ``(status, headers, body)`` with
    header names in lower case.
    """
    client = h11.Connection(h11.CLIENT)
    # h11 reads a response only after "sending" its request, and must know which answers a HEAD
    # (no body): tell it each request's method; the raw bytes are what really go out.
    methods = [line.split(b" ", 1)[0] for line in raw.split(b"\r\n") if b" HTTP/1.1" in line]

    def expect_next() -> None:
        method = methods.pop(0) if methods else b"GET"
        method = method if method in (b"HEAD", b"GET", b"POST") else b"GET"
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())

    expect_next()
    answers: list[tuple[int, dict, bytes]] = []
    status, headers, body = 0, {}, b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused mid-send: the answer is still there to read
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                data = b""
            client.receive_data(data)
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
                    body = b""
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    answers.append((status, headers, body))
                    if client.our_state is h11.MUST_CLOSE or client.their_state is h11.MUST_CLOSE:
                        return answers
                    client.start_next_cycle()
                    expect_next()
                elif isinstance(event, h11.ConnectionClosed):
                    return answers
            if not data:
                return answers
            if client.their_state is h11.ERROR:
                return answers


def eventually(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` real seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@contextmanager
def lab_sender(lab: Any, **options: Any) -> Iterator[Any]:
    """A started :class:`Sender` on ``lab``'s loop (outbox in memory, loopback allowed unless
    ``options`` say otherwise), closed when the block ends."""
    from webhooks_lab.sender.sender import Sender

    sender = Sender(**{"outbox": ":memory:", "allow_loopback": True, **options})
    lab.loop.run(sender.start())
    try:
        yield sender
    finally:
        lab.loop.run(sender.close())
