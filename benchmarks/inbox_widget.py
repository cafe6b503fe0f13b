"""Does the inbox widget keep up with 1,000 deliveries a second, and keep the kernel responsive?

A real lab on 127.0.0.1 takes ``--rate`` deliveries a second for ``--seconds`` seconds over real
HTTP (a raw HTTP/1.1 firehose on the lab loop, as the lab's own sender would be). This thread
stands in for the notebook kernel and runs a 20 ms timer throughout. Two runs, same process:

- **baseline**: no view attached, the firehose and the timer only;
- **ours**: an ``InboxView`` attached, every widget message counted on its way to the browser.

It prints, for ours: widget messages per second (mean over the load and the busiest second),
whether every delivery is in the view's model at the end, and how late the kernel's timer ran
(worst and 99th percentile), next to the baseline's lateness and the ratio between them. Each
run first freezes what the interpreter already holds (``gc.freeze``), so a full garbage
collection of the startup heap, which neither run made, is not timed against either.

    python benchmarks/inbox_widget.py [--rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webhooks_lab.lab import Lab  # noqa: E402
from webhooks_lab.lessons.polling import percentile  # noqa: E402
from webhooks_lab.widgets import InboxView  # noqa: E402
from webhooks_lab.widgets.stress import (  # noqa: E402
    FirehoseResult,
    MessageCounter,
    firehose,
    kernel_lateness,
)


def flood(lab: Lab, endpoint: str, rate: float, seconds: float) -> tuple[FirehoseResult, list]:
    done = threading.Event()
    future = lab.loop.submit(firehose(lab.receiver.url_for(endpoint), rate=rate, seconds=seconds))
    future.add_done_callback(lambda _f: done.set())
    late = kernel_lateness(done)
    return future.result(), late


def run(rate: float, seconds: float, with_view: bool) -> dict[str, float]:
    gc.collect()
    gc.freeze()  # what was here before the run is not the run's garbage to collect
    lab = Lab()
    counter = MessageCounter()
    try:
        with counter:
            view = InboxView(lab, "load") if with_view else None
            start = time.monotonic()
            result, late = flood(lab, "load", rate, seconds)
            end = time.monotonic()
            if view is not None:
                time.sleep(0.5)  # the last flush, on the throttle's own schedule
        figures = {
            "sent": result.sent,
            "answered": result.answered,
            "achieved rate": result.answered / result.seconds,
            "late max ms": 1000 * max(late),
            "late p99 ms": 1000 * percentile(late, 0.99),
        }
        if view is not None:
            arrived = {d.seq for d in lab.receiver.inbox.for_endpoint("load")}
            figures.update(
                {
                    "updates/s mean": counter.updates_between(start, end) / (end - start),
                    "updates busiest second": counter.busiest_second(start, end + 0.5),
                    "deliveries in the view": len(view.rows),
                    "all present": float(set(view.rows) == arrived),
                    "count shown": float(f"<b>{len(arrived)}</b> deliveries" in view.summary.value),
                }
            )
            view.close()
        return figures
    finally:
        lab.stop()
        gc.unfreeze()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()

    base = run(args.rate, args.seconds, with_view=False)
    ours = run(args.rate, args.seconds, with_view=True)
    print(f"{args.rate:g} deliveries/s for {args.seconds:g} s over real HTTP on 127.0.0.1")
    print(
        f"  achieved: baseline {base['achieved rate']:.0f}/s, "
        f"with view {ours['achieved rate']:.0f}/s"
    )
    print(
        f"  widget messages: {ours['updates/s mean']:.1f}/s on average, "
        f"{ours['updates busiest second']:.0f} in the busiest second (budget 10/s)"
    )
    print(
        f"  in the view's model: {ours['deliveries in the view']:.0f} of {ours['answered']:.0f} "
        f"deliveries (all present: {bool(ours['all present'])}, "
        f"count shown: {bool(ours['count shown'])})"
    )
    print(
        f"  kernel timer lateness: worst {ours['late max ms']:.1f} ms, "
        f"p99 {ours['late p99 ms']:.1f} ms with the view; "
        f"worst {base['late max ms']:.1f} ms, p99 {base['late p99 ms']:.1f} ms without "
        f"(bound 100 ms)"
    )
    ratio = ours["late p99 ms"] / max(base["late p99 ms"], 0.1)
    print(f"  p99 lateness ratio, view / no view: {ratio:.2f}x")
    ok = ours["updates busiest second"] <= 11 and ours["all present"] and ours["late max ms"] <= 100
    print("  within bounds" if ok else "  OUT OF BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
