"""What does the jobs API cost per request, next to bare Starlette answering the same JSON?

Requests go straight into the ASGI app, in the process, on one event loop: no sockets, no HTTP
parser, so what is measured is the API's own work (routing, checking, building and serializing
the answer), which is what its code decides. All sides run in alternating rounds; each reports
its best round, so a burst of noise from another process hurts no side more than another.

* ``bare GET``: a Starlette route answering ``JSONResponse`` with a job-shaped dict.
* ``GET /jobs/{id}``: a running job's status (200, with Retry-After).
* ``GET /jobs/{id}`` (done): the 303 to its result.
* ``POST /jobs``: a request for a kind with two checked parameters, accepted with 202.

    python benchmarks/jobs_api.py [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from webhooks_lab.jobs import api as jobs_api  # noqa: E402
from webhooks_lab.jobs.runner import JobRunner  # noqa: E402

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
JOB_SHAPED = {
    "id": "job_VcHkG7Z0a7f0b10c13611b0",
    "kind": "bench",
    "name": "bench",
    "status": "running",
    "progress": 0.0,
    "message": None,
    "error": None,
    "created_at": "2026-12-01T10:00:00.000Z",
    "updated_at": "2026-12-01T10:00:00.000Z",
    "started_at": "2026-12-01T10:00:00.000Z",
    "finished_at": None,
    "links": {"self": "/jobs/job_VcHkG7Z0a7f0b10c13611b0", "result": "/jobs/x/result"},
}


async def call(app: App, method: str, path: str, body: bytes = b"") -> int:
    """One request straight into the ASGI app; returns the status code."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def timed(n: int, request: Callable[[int], Awaitable[int]], expected: int) -> float:
    started = time.perf_counter()
    for index in range(n):
        status = await request(index)
        if status != expected:
            raise SystemExit(f"expected {expected}, got {status}")
    return time.perf_counter() - started


async def measure(n: int, rounds: int) -> dict[str, float]:
    gate = asyncio.Event()

    async def bench(width: int = 1, height: int = 1) -> int:
        await gate.wait()
        return width * height

    runner = JobRunner(concurrency=4, queue_size=10 * n * rounds, keep=10 * n * rounds)
    runner.register(
        "bench",
        bench,
        params={
            "width": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1},
            "height": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1},
        },
    )
    app = Starlette(routes=jobs_api.routes(runner))

    async def bare_endpoint(request: Request) -> JSONResponse:
        return JSONResponse(JOB_SHAPED, headers={"Retry-After": "1"})

    bare = Starlette(routes=[Route("/bare/{job_id}", bare_endpoint)])
    running = runner.start("bench", {})
    done = runner.submit(lambda: None)
    await done
    await asyncio.sleep(0)
    post_body = json.dumps({"kind": "bench", "params": {"width": 640, "height": 480}}).encode()

    sides: dict[str, Callable[[], Awaitable[float]]] = {
        "bare Starlette GET (JSONResponse)": lambda: timed(
            n, lambda i: call(bare, "GET", f"/bare/{running.id}"), 200
        ),
        "GET /jobs/{id} (running: 200)": lambda: timed(
            n, lambda i: call(app, "GET", f"/jobs/{running.id}"), 200
        ),
        "GET /jobs/{id} (done: 303)": lambda: timed(
            n, lambda i: call(app, "GET", f"/jobs/{done.id}"), 303
        ),
        "POST /jobs (202)": lambda: timed(n, lambda i: call(app, "POST", "/jobs", post_body), 202),
    }
    best = dict.fromkeys(sides, float("inf"))
    try:
        for _ in range(rounds):
            for name, side in sides.items():
                best[name] = min(best[name], await side())
    finally:
        gate.set()
        await runner.aclose()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000, help="requests per round (5,000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side (5)")
    args = parser.parse_args(argv)
    n = args.requests
    best = asyncio.run(measure(n, args.rounds))
    baseline = best["bare Starlette GET (JSONResponse)"]
    print(f"{n:,} requests per side into the ASGI app, best of {args.rounds} rounds\n")
    print(f"{'':36} {'µs/request':>11} {'requests/s':>11} {'× bare':>7}")
    for name, seconds in best.items():
        per = seconds / n * 1e6
        print(f"{name:36} {per:11.1f} {n / seconds:11,.0f} {seconds / baseline:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
