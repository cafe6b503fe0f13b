#!/usr/bin/env python3
"""What the wire trace costs the receiver when no view is open: with and without it, in one run.

    python benchmarks/trace.py [--seconds 5] [--connections 32] [--rounds 3]

Two figures, each a ratio of the receiver *with* recording to the same receiver *without* it
(target: at least 0.95, recording costs at most 5 %):

- **over HTTP**: the receiver as ``webhooks-lab serve --secret ... --quiet`` runs it (signed
  deliveries verified, deduplicated, kept in the inbox; the jobs routes present), on uvicorn in
  its own process, driven by wrk (or aiohttp without wrk) with distinct signed deliveries. One
  process serves the traced app (``trace.serve(app, lab_server_party)``, as ``start()`` and
  ``serve`` do), the other the bare app; rounds alternate and the best of each counts.
- **in process**: the same two apps called directly through ASGI, no sockets, a thousand
  deliveries a batch, alternating batches. With the HTTP server's work gone the trace's share is
  larger, so this is the stricter figure.

The request files and the load generators are those of ``benchmarks/receiver.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import receiver as base  # noqa: E402  (benchmarks/receiver.py: requests, wrk, SECRET)

KINDS = ("traced", "plain")


def make_app(kind: str, port: int):  # type: ignore[no-untyped-def]
    """On a running loop: what ``serve --secret S --scheme standard`` serves, traced or not."""
    from webhooks_lab.jobs.runner import JobRunner
    from webhooks_lab.receiver.receiver import Receiver
    from webhooks_lab.runtime.trace import Trace, lab_server_party
    from webhooks_lab.service.app import create_app, job_routes

    receiver = Receiver()
    receiver.require_all(base.SECRET, "standard")
    trace = Trace()
    app = create_app(receiver, extra_routes=[job_routes(JobRunner())], trace=trace)
    if kind != "traced":
        return app, receiver, trace
    served = trace.serve(app, lab_server_party, inbox=receiver.inbox)
    served.watch(port)  # as start() and serve do, with the port they listen on
    return served, receiver, trace


def serve(kind: str, port_file: str) -> None:
    """Child process: one receiver until killed, its port written to ``port_file``."""
    from webhooks_lab.runtime.server import Server

    async def run() -> None:
        with socket.socket() as probe:  # a free port, so the app can be told it before
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app, _, _ = make_app(kind, port)
        server = Server(app, "127.0.0.1", port)
        await server.start()
        Path(port_file).write_text(str(server.port))
        await asyncio.Event().wait()

    asyncio.run(run())


def start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tempfile.mktemp()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, port_file],
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(port_file) and Path(port_file).read_text():
            port = int(Path(port_file).read_text())
            os.unlink(port_file)
            return child, port
        time.sleep(0.05)
    child.kill()
    raise RuntimeError(f"the {kind} receiver did not start")


def over_http(seconds: float, connections: int, rounds: int) -> dict[str, float]:
    load = base.run_wrk if shutil.which("wrk") else base.run_python_load
    print(
        f"over HTTP: {'wrk' if load is base.run_wrk else 'aiohttp (wrk not found)'}, "
        f"{connections} connections, {seconds:g} s a round, {rounds} rounds each"
    )
    results: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for kind in KINDS if n % 2 == 0 else KINDS[::-1]:
                requests_file = Path(tmp) / f"{kind}.tsv"
                base.make_requests(requests_file, int(seconds * 40_000))
                child, port = start(kind)
                try:
                    results[kind].append(load(port, seconds, connections, requests_file))
                finally:
                    child.terminate()
                    child.wait(10)
    return {kind: max(rates) for kind, rates in results.items()}


def in_process(batches: int, size: int = 1000) -> dict[str, float]:
    """Deliveries a second through each app's ASGI call, alternating batches; best of each."""
    from webhooks_lab import signing

    now = int(time.time())
    body = b'{"type":"order.created","data":{"order":1,"total":4200}}'
    best = dict.fromkeys(KINDS, 0.0)

    async def run() -> None:
        apps = {kind: make_app(kind, 8000) for kind in KINDS}  # the runner wants a loop
        counter = 0

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200, message

        for n in range(batches):
            for kind in KINDS if n % 2 == 0 else KINDS[::-1]:
                app, receiver, trace = apps[kind]
                scopes = []
                for _ in range(size):
                    counter += 1
                    msg_id = f"msg_inproc{counter:09d}"
                    headers = signing.headers_for(
                        "standard", base.SECRET, body, msg_id=msg_id, timestamp=now
                    )
                    headers["content-type"] = "application/json"
                    headers["content-length"] = str(len(body))
                    scopes.append(_scope(headers))
                started = time.perf_counter()
                for scope in scopes:
                    await app(scope, receive, send)
                rate = size / (time.perf_counter() - started)
                best[kind] = max(best[kind], rate)
                if kind == "traced":
                    assert trace.total >= size  # it really recorded
                else:
                    assert trace.total == 0

    asyncio.run(run())
    return best


def _scope(headers: dict[str, str]) -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/bench",
        "raw_path": b"/webhooks/bench",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, alternating")
    parser.add_argument("--batches", type=int, default=30, help="in-process batches of each")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0

    local = in_process(args.batches)
    ratio = local["traced"] / local["plain"]
    print(
        f"in process: {local['plain']:9,.0f} deliveries/s without the trace, "
        f"{local['traced']:9,.0f} with it: {ratio:.3f}x"
    )
    http = over_http(args.seconds, args.connections, args.rounds)
    ratio_http = http["traced"] / http["plain"]
    print(
        f"over HTTP:  {http['plain']:9,.0f} req/s without the trace, "
        f"{http['traced']:9,.0f} with it: {ratio_http:.3f}x"
    )
    print(f"recording, no view open: {ratio_http:.3f}x over HTTP (target >= 0.95x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
