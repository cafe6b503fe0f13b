#!/usr/bin/env python3
"""A flood of forged deliveries: the receiver's rate with and without the signature doctor.

    python benchmarks/doctor.py [--seconds 5] [--connections 32] [--rounds 2] [--without REV]

Every request is a distinct Standard Webhooks delivery with a fresh timestamp and a signature
made with the wrong secret, so each is verified (HMAC over the raw body), refused with 401 and
kept in the inbox. Ours is `webhooks-lab serve --quiet` from this checkout, which keeps on each
refused delivery what the doctor needs to diagnose it later (and diagnoses nothing on the way);
"without" is the same command from the package as it was at a commit without the doctor
(``--without``, by default where this branch left main: ``git merge-base HEAD main``), exported
with ``git archive`` so nothing but the doctor differs. wrk drives both with the same connections,
alternating, in one run; the best round of each is compared (target: ours within 10 %).

Then, in this process, the cost the doctor adds when a refused delivery *is* shown: the time
to diagnose one forged delivery (the slowest ordinary case: every usual mistake is tried).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FORGER = "whsec_" + "Zm9yZ2VkIGJ5IHNvbWVib2R5IGVsc2UsIDMyIGJ5dGVzIQ=="

sys.path.insert(0, str(HERE))
from receiver import WRK_SCRIPT  # noqa: E402  (the same wrk script: one request per line)


def start_serve(checkout: Path) -> tuple[subprocess.Popen[bytes], int]:
    command = [sys.executable, "-m", "webhooks_lab.cli", "serve", "--port", "0", "--quiet"]
    command += ["--secret", SECRET, "--scheme", "standard"]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=checkout, env=env)
    first = child.stdout.readline().decode()
    port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", first).group(1))
    threading.Thread(target=lambda: [None for _ in child.stdout], daemon=True).start()
    return child, port


def body_of(n: int) -> str:
    return json.dumps(
        {"type": "order.created", "data": {"order": n, "customer": "cus_123", "total": 4200}},
        separators=(",", ":"),
    )


def make_forgeries(path: Path, count: int) -> None:
    sys.path.insert(0, str(HERE.parent))
    from webhooks_lab import signing

    now = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            msg_id, body = f"msg_forged{n:08d}", body_of(n)
            out.write(f"{msg_id}\t{now}\t{signing.sign(FORGER, msg_id, now, body)}\t{body}\n")


def run_wrk(port: int, seconds: float, connections: int, requests_file: Path) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", script.name]
        + [f"http://127.0.0.1:{port}/webhooks/bench", "--", str(requests_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    total = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if not refused or int(refused.group(1)) != total:
        raise RuntimeError(f"every forgery should be refused:\n{result.stdout}")
    return rate


def diagnosis_cost(count: int = 2000) -> float:
    """Seconds to diagnose one forged delivery, on average."""
    from webhooks_lab import signing

    now = int(time.time())
    cases = []
    for n in range(count):
        body = body_of(n).encode()
        headers = signing.sign_headers(FORGER, body, msg_id=f"m{n}", timestamp=now)
        cases.append((headers, body))
    started = time.perf_counter()
    for headers, body in cases:
        found = signing.diagnose(SECRET, headers, body, now=now)
        assert found.reason == "no_match", found
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best of each")
    parser.add_argument("--without", help="a commit without the doctor (default: merge-base)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("this benchmark needs wrk (Debian's wrk package)")
        return 2
    git = ["git", "-C", str(HERE.parent)]
    rev = (
        args.without
        or subprocess.run(
            [*git, "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    print(
        f"wrk, {args.connections} connections, {args.seconds:g} s per round, {args.rounds} "
        f"rounds; every request a forgery (401); without the doctor: {rev[:12]}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "without"
        old.mkdir()
        archive = subprocess.run([*git, "archive", rev, "webhooks_lab"], capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        checkouts = {"without the doctor": old, "with the doctor": HERE.parent}
        results: dict[str, list[float]] = {kind: [] for kind in checkouts}
        for round_number in range(args.rounds):
            order = list(checkouts.items())
            if round_number % 2:  # who goes first alternates, so neither gets the quieter slot
                order.reverse()
            for kind, checkout in order:
                requests_file = Path(tmp) / "forgeries.tsv"
                make_forgeries(requests_file, int(args.seconds * 30_000))
                child, port = start_serve(checkout)
                try:
                    results[kind].append(
                        run_wrk(port, args.seconds, args.connections, requests_file)
                    )
                finally:
                    child.terminate()
                    child.wait(10)
    best = {kind: max(rates) for kind, rates in results.items()}
    for kind, rate in best.items():
        rounds = ", ".join(f"{r:,.0f}" for r in results[kind])
        print(f"{kind:<20} {rate:9,.0f} refused req/s  (rounds: {rounds})")
    ratio = best["with the doctor"] / best["without the doctor"]
    print(f"with / without: {ratio:.3f} (target >= 0.90)")
    print(f"diagnosing one forged delivery when shown: {diagnosis_cost() * 1e6:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
