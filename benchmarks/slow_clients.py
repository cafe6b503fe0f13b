#!/usr/bin/env python3
"""Slow clients: do 100 connections trickling their headers a byte at a time delay real deliveries?

    python benchmarks/slow_clients.py [--deliveries 300] [--tricklers 100]

Starts the real `webhooks-lab serve --secret ... --scheme standard --quiet` on 127.0.0.1, then
sends signed deliveries one after another on fresh connections, twice in the same run: once on a
quiet server, once while ``--tricklers`` other connections each send a request head one byte every
50 ms (a slowloris). Prints the p50 and p99 latency of each and their ratio. Target: p99 under
load < 100 ms. The server drops a head that is not complete within 10 s (408), so the trickling
threads reconnect and keep at it for the whole measurement. Loopback only; bounded in count.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def start_serve() -> tuple[subprocess.Popen[bytes], int]:
    command = [sys.executable, "-m", "webhooks_lab.cli", "serve", "--port", "0", "--quiet"]
    child = subprocess.Popen(
        [*command, "--secret", SECRET, "--scheme", "standard"], stdout=subprocess.PIPE, cwd=ROOT
    )
    first = child.stdout.readline().decode()
    port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", first).group(1))
    threading.Thread(target=lambda: [None for _ in child.stdout], daemon=True).start()
    return child, port


def delivery(port: int, n: int) -> bytes:
    from webhooks_lab import signing

    body = b'{"type": "order.created", "data": {"order": %d}}' % n
    headers = signing.headers_for(
        "standard",
        SECRET,
        body,
        msg_id=f"msg_slow{n:06d}_{time.time_ns()}",
        timestamp=int(time.time()),
    )
    lines = [b"POST /webhooks/shop HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{k}: {v}".encode() for k, v in headers.items()]
    lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def timed_deliveries(port: int, count: int) -> list[float]:
    latencies = []
    for n in range(count):
        raw = delivery(port, n)
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            answer = sock.recv(4096)
        latencies.append((time.perf_counter() - started) * 1000)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"delivery {n} refused: {answer[:200]!r}")
    return latencies


def trickle(port: int, stop: threading.Event) -> None:
    head = b"POST /webhooks/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 10_000
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                for byte in head:
                    if stop.wait(0.05):
                        return
                    sock.sendall(bytes([byte]))
        except OSError:
            continue  # dropped by the server's head timeout: come back, as an attacker would


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--tricklers", type=int, default=100)
    args = parser.parse_args()
    child, port = start_serve()
    try:
        timed_deliveries(port, 20)  # warm up
        quiet = timed_deliveries(port, args.deliveries)
        stop = threading.Event()
        threads = [
            threading.Thread(target=trickle, args=(port, stop), daemon=True)
            for _ in range(args.tricklers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1)  # let every trickler connect and start
        loaded = timed_deliveries(port, args.deliveries)
        stop.set()
        for thread in threads:
            thread.join(5)
    finally:
        child.terminate()
        child.wait(10)
    for name, values in (("quiet server", quiet), (f"{args.tricklers} trickling", loaded)):
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"{name:>16}: p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({len(values)} deliveries)")
    p99 = percentile(loaded, 99)
    ratio = p99 / percentile(quiet, 99)
    print(f"p99 with slow clients: {p99:.1f} ms ({ratio:.2f}x quiet; target < 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
