#!/usr/bin/env python3
"""Microseconds per delivery inside the server process, sockets left out.

    python benchmarks/receiver_inprocess.py [--batches 6] [--size 8000]

benchmarks/receiver.py measures the whole thing under wrk, where the kernel's share (a read and
a write system call per request, the same for both sides) and the other programs on the machine
blur what the server itself costs. This feeds the same distinct signed deliveries straight into
the real protocol objects (uvicorn's httptools protocol for bare Starlette, the lab's guarded
protocol and app, exactly as `webhooks-lab serve` builds them) through in-memory transports, 32
connections at a time, and reports the thread's CPU time per request: the best batch, and the
median. Run each kind in its own process, as here, so neither warms the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from receiver import SECRET, make_requests  # noqa: E402  (the same deliveries as under wrk)

CONNECTIONS = 32


class MemoryTransport(asyncio.Transport):
    """Hands each answer to its connection, which then sends that connection's next request."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection, self.closed = connection, False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peer = ("127.0.0.1", 40000 + self.connection.number)
        return {"sockname": ("127.0.0.1", 8000), "peername": peer}.get(name, default)

    def write(self, data: bytes) -> None:
        self.connection.answered(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Connection:
    def __init__(self, number: int, protocol: Any, run: Run) -> None:
        self.number, self.protocol, self.run = number, protocol, run
        protocol.connection_made(MemoryTransport(self))

    def answered(self, data: bytes) -> None:
        if not data.startswith(b"HTTP/1.1 "):
            return  # a body written after its head
        if not data.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 204 ")):
            raise SystemExit(f"refused: {data[:300]!r}")
        self.run.done()
        self.run.send_next(self)


class Run:
    def __init__(self, requests: list[bytes]) -> None:
        self.pending, self.left = iter(requests), len(requests)
        self.finished = asyncio.Event()

    def send_next(self, connection: Connection) -> None:
        request = next(self.pending, None)
        if request is not None:
            asyncio.get_running_loop().call_soon(connection.protocol.data_received, request)

    def done(self) -> None:
        self.left -= 1
        if not self.left:
            self.finished.set()


def raw_requests(count: int, tmp: Path) -> list[bytes]:
    make_requests(tmp, count)
    out = []
    for line in tmp.read_text().splitlines():
        msg_id, ts, sig, body = line.split("\t", 3)
        head = (
            "POST /webhooks/bench HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            f"Content-Type: application/json\r\nwebhook-id: {msg_id}\r\n"
            f"webhook-timestamp: {ts}\r\nwebhook-signature: {sig}\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n"
        )
        out.append(head.encode() + body.encode())
    return out


def protocol_factory(kind: str) -> Any:
    import uvicorn

    if kind == "bare":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        async def endpoint(request: Request) -> Response:
            await request.body()
            return Response(status_code=204)

        app = Starlette(routes=[Route("/webhooks/{name}", endpoint, methods=["POST"])])
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        config.load()
        return config, HttpToolsProtocol

    # As `webhooks-lab serve --secret ... --scheme standard [--quiet]` wires it (cli._serve).
    from webhooks_lab.jobs.kinds import register_lesson_kinds
    from webhooks_lab.jobs.runner import JobRunner
    from webhooks_lab.limits import DEFAULT
    from webhooks_lab.receiver.console import DeliveryLog
    from webhooks_lab.receiver.receiver import Receiver
    from webhooks_lab.runtime.protocol import protocol_with
    from webhooks_lab.runtime.trace import Trace, lab_server_party, use
    from webhooks_lab.service.app import create_app, job_routes

    receiver = Receiver(limits=DEFAULT)
    receiver.require_all(SECRET, "standard")
    if kind == "serve":
        terminal = open(os.devnull, "w")  # noqa: SIM115  (open for the whole run)
        log = DeliveryLog(lambda text: print(text, flush=True, file=terminal))
        receiver.inbox.subscribe(log)
        log.start()
    trace = use(Trace())
    jobs = JobRunner(secret=SECRET)
    register_lesson_kinds(jobs)
    app = create_app(receiver, extra_routes=[job_routes(jobs)], limits=DEFAULT, trace=trace)
    served = trace.serve(app, lab_server_party, inbox=receiver.inbox)
    served.watch(8000)
    http = protocol_with(DEFAULT, served.record_refusal, served.answer_now)
    config = uvicorn.Config(
        served, loop="none", http=http, lifespan="off", log_level="warning", access_log=False
    )
    config.load()
    return config, http


async def measure(kind: str, batches: int, size: int) -> tuple[float, float]:
    from uvicorn.server import ServerState

    config, protocol = protocol_factory(kind)
    state = ServerState()
    listed = Path(os.environ.get("TMPDIR", "/tmp")) / f"inprocess-{os.getpid()}.tsv"
    try:
        requests = raw_requests(batches * size, listed)
    finally:
        listed.unlink(missing_ok=True)
    per_request = []
    for batch in range(batches):
        run = Run(requests[batch * size : (batch + 1) * size])
        connections = [
            Connection(n, protocol(config=config, server_state=state, app_state={}), run)
            for n in range(CONNECTIONS)
        ]
        started = time.thread_time()
        for connection in connections:
            run.send_next(connection)
        await run.finished.wait()
        per_request.append((time.thread_time() - started) / size * 1e6)
    per_request.sort()
    return per_request[0], per_request[len(per_request) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kind:
        best, median = asyncio.run(measure(args.kind, args.batches, args.size))
        print(f"{best:.1f} {median:.1f}")
        return 0
    results = {}
    for kind in ("bare", "serve", "serve --quiet"):
        name = {"serve --quiet": "quiet"}.get(kind, kind)
        command = [sys.executable, __file__, "--kind", name]
        command += ["--batches", str(args.batches), "--size", str(args.size)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[kind] = [float(x) for x in output.split()]
    for kind, (best, median) in results.items():
        print(f"{kind:<14} {best:6.1f} µs/request CPU in process (median batch {median:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
