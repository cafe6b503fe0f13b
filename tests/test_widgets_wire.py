"""The wire view: lanes, arrows and gaps that say what happened; filters and a pause; a budget
of ~10 widget messages a second at 1,000 exchanges a second; and a stored picture that a real
kernel leaves in the notebook and that compares equal run to run once sanitised.
"""

from __future__ import annotations

import functools
import gc
import re
import threading
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbval.plugin import get_sanitize_patterns

from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.trace import Trace
from webhooks_lab.runtime.wire_diagram import COLOURS, render_svg
from webhooks_lab.widgets.base import open_views
from webhooks_lab.widgets.stress import MessageCounter, firehose
from webhooks_lab.widgets.wire import WireView

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000.0


def lanes(svg: str) -> list[str]:
    return re.findall(r'<g class="lane" data-party="([^"]*)"', svg)


def arrows(svg: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<g class="exchange" data-client="([^"]*)" data-server="([^"]*)" data-outcome="(\w+)"',
        svg,
    )


def row_ys(svg: str) -> list[float]:
    """Where each exchange is drawn, top to bottom (its time label's baseline)."""
    return [float(y) for y in re.findall(r'<text x="6" y="([\d.]+)" class="time">', svg)]


def traced(rows: list[tuple[str, str, str, str, int | None, float]]) -> Trace:
    trace = Trace()
    for client, server, method, path, status, offset in rows:
        error = None if status else "timeout: no answer within 15 s"
        trace.record(client, server, method, path, status, at=T0 + offset, error=error)
    return trace


# -- the picture -----------------------------------------------------------------------------------


def test_one_lane_per_party_and_a_coloured_request_and_answer_per_exchange():
    trace = traced(
        [
            ("Shop", "Your receiver", "POST", "/webhooks/shop", 503, 0),
            ("Shop", "Your receiver", "POST", "/webhooks/shop", 401, 0.1),
            ("Shop", "Your receiver", "POST", "/webhooks/shop", None, 0.2),
            ("Shop", "Your receiver", "POST", "/webhooks/shop", 200, 0.3),
            ("Your code", "Jobs API", "POST", "/jobs", 202, 0.4),
        ]
    )
    svg = render_svg(trace.exchanges())
    assert lanes(svg) == ["Shop", "Your receiver", "Your code", "Jobs API"]
    assert [a[2] for a in arrows(svg)] == ["5xx", "4xx", "timeout", "2xx", "2xx"]
    groups = svg.split('<g class="exchange"')[1:]
    assert f'stroke="{COLOURS["5xx"]}"' in groups[0] and f'stroke="{COLOURS["4xx"]}"' in groups[1]
    assert "✕" in groups[2] and "timeout" in groups[2]  # no answer arrow: a cross
    assert "503 · " in groups[0] and "POST /webhooks/shop" in groups[0]
    assert svg.count('class="ans"') == 5  # four answers and the timeout's broken line


def test_gaps_are_drawn_to_scale_on_the_lab_clock_and_the_waits_say_how_long():
    trace = traced(
        [
            ("Sender", "Your receiver", "POST", "/webhooks/a", 500, 0),
            ("Sender", "Your receiver", "POST", "/webhooks/a", 500, 60),  # a minute of lab time
            ("Sender", "Your receiver", "POST", "/webhooks/a", 200, 180),  # two more minutes
        ]
    )
    svg = render_svg(trace.exchanges())
    assert re.findall(r"waited ([^<]+)<", svg) == ["1 min", "2 min"]
    first, second, third = row_ys(svg)
    row = 40  # a row's own height, drawn with no gap at all
    assert (third - second - row) == pytest.approx(2 * (second - first - row), abs=1)
    assert "+1 min" in svg and "+3 min" in svg  # times from the first exchange, never absolute


def test_nbval_compares_a_stored_picture_the_same_whether_or_not_the_machine_paused_between_cells():
    def picture_of(pause: float, last_status: int = 200) -> str:
        rows = [
            ("Client", "Jobs API", "POST", "/jobs", 202, 0),
            ("Client", "Jobs API", "GET", "/jobs/job_1", 200, 0.01 + pause),  # the next cell
            ("Client", "Jobs API", "GET", "/jobs/job_1", 200, 1.01 + pause),  # Retry-After: 1
            ("Client", "Jobs API", "GET", "/jobs/job_1", last_status, 2.01 + pause),
        ]
        return render_svg(traced(rows).exchanges())

    idle, busy = picture_of(0), picture_of(0.6)
    assert idle.count('class="wait"') == 2 and busy.count('class="wait"') == 3
    assert sanitised(idle) == sanitised(busy)
    assert sanitised(idle) != sanitised(picture_of(0, last_status=303))  # what it drew still counts
    assert (
        'class="waited"' not in sanitised(busy)
        and sanitised(busy).count('<g class="exchange"') == 4
    )


def test_a_burst_collapses_into_one_row_that_says_how_many_it_hides():
    rows = [("Shop", "Your receiver", "POST", "/webhooks/x", 200, i / 1000) for i in range(500)]
    rows.append(("Shop", "Your receiver", "POST", "/webhooks/x", 503, 1))
    svg = render_svg(traced(rows).exchanges())
    assert "… 497 more deliveries" in svg
    assert len(arrows(svg)) == 4  # the first two, the last of the burst, and the 503
    assert svg.count("<g ") < 20


def test_past_its_rows_the_diagram_counts_what_it_left_out_at_the_top():
    rows = [
        ("Poller", "Shop", "GET", f"/events/{i}", 200, i) for i in range(100)
    ]  # all different: no burst
    svg = render_svg(traced(rows).exchanges(), max_rows=20)
    assert "… 81 earlier exchanges" in svg
    assert len(arrows(svg)) == 19


def test_names_rename_parties_and_paths_name_their_server():
    trace = traced(
        [
            ("Sender", "Your receiver", "POST", "/webhooks/mail", 200, 0),
            ("Sender", "Your receiver", "POST", "/webhooks/shop", 200, 1),
        ]
    )
    svg = render_svg(trace.exchanges(), names={"Sender": "Newsletter", "/webhooks/mail": "Mailer"})
    assert lanes(svg) == ["Newsletter", "Mailer", "Your receiver"]
    both = {"/webhooks/shop": ("Shop", "Warehouse"), "Sender": "Newsletter"}
    assert lanes(render_svg(trace.exchanges(), names=both)) == [
        "Newsletter",
        "Your receiver",
        "Shop",
        "Warehouse",
    ]


def test_text_from_the_wire_is_escaped_in_the_picture():
    trace = traced([("<b>x</b>", "Your receiver", "POST", '/webhooks/"><script>', 200, 0)])
    svg = render_svg(trace.exchanges())
    assert "<script>" not in svg and "<b>" not in svg


# -- the view ------------------------------------------------------------------------------


def test_the_view_shows_the_exchanges_from_when_it_was_made(lab):
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/before", json={})
        view = lab.wire(names={"Your code": "Learner"})
        http.post("/webhooks/after", json={})
    view.wait_quiet(quiet=0.05)
    assert arrows(view.picture.value) == [("Learner", "Your receiver", "2xx")]
    assert [x.path for x in view.exchanges()] == ["/webhooks/after"]
    assert "Learner->>" not in view.to_mermaid() and "as Learner" in view.to_mermaid()
    view.close()


def test_a_retry_after_a_503_shows_as_two_attempts_with_the_wait_between(lab):
    lab.sender.policy = RetryPolicy([0, 0.3], jitter=0)
    lab.receiver.chaos("shop").fail_next(1, status=503)
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    view = lab.wire(names={"Sender": "Shop"})
    lab.sender.wait_deliveries(lab.send("order.created", {}), timeout=20)
    view.wait_quiet(quiet=0.05)
    svg = view.picture.value
    assert arrows(svg) == [("Shop", "Your receiver", "5xx"), ("Shop", "Your receiver", "2xx")]
    assert re.search(r"waited 3\d\d ms", svg)
    view.close()


def test_filters_by_party_endpoint_event_and_job(lab):
    view = lab.wire()
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/a", json={}, headers={"webhook-id": "msg_a"})
        http.post("/webhooks/b", json={}, headers={"webhook-id": "msg_b"})
        http.get("/jobs/job_42", headers={"user-agent": "curl/8"})
    view.wait_quiet(quiet=0.05)
    assert len(arrows(view.picture.value)) == 3
    assert [x.path for x in view.show(endpoint="a").exchanges()] == ["/webhooks/a"]
    assert "/webhooks/b" not in view.picture.value
    assert [x.path for x in view.show(event="msg_b").exchanges()] == ["/webhooks/b"]
    assert [x.path for x in view.show(job="job_42").exchanges()] == ["/jobs/job_42"]
    assert [x.client for x in view.show(party="curl").exchanges()] == ["curl"]
    # The controls do the same: the endpoint list offers what it has seen.
    view.show()
    assert "/webhooks/a" in view.endpoint_list.options
    view.endpoint_list.value = "/webhooks/b"
    view.refresh()
    assert arrows(view.picture.value) == [("Your code", "Your receiver", "2xx")]
    assert "/webhooks/a" not in view.picture.value
    view.find.value = "job_42"
    view.endpoint_list.value = "(all)"
    view.refresh()
    assert "/jobs/job_42" in view.picture.value and "/webhooks/b" not in view.picture.value
    view.close()


def test_a_paused_view_keeps_its_picture_until_it_is_resumed(lab):
    view = lab.wire()
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/a", json={})
        view.wait_quiet(quiet=0.05)
        view.pause()
        held = view.picture.value
        http.post("/webhooks/b", json={})
        view.wait_quiet(quiet=0.05)
        assert view.picture.value == held and "paused" in held
        assert "/webhooks/b" not in held
        view.pause_button.value = False  # the button does what pause(False) does
        view.refresh()
    assert "/webhooks/b" in view.picture.value and "paused" not in view.picture.value
    view.close()


def test_a_frozen_view_keeps_what_it_showed_and_never_draws_later_traffic(lab):
    view = lab.wire()
    with httpx.Client(base_url=lab.url, trust_env=False) as http:
        http.post("/webhooks/a", json={})
        view.wait_quiet(quiet=0.05).freeze()
        held = view.stored_svg()
        assert "/webhooks/a" in held and "paused" not in held
        http.post("/webhooks/b", json={})
        view.wait_quiet(quiet=0.05)
    assert "/webhooks/b" not in view.picture.value and view.stored_svg() == held
    assert [x.path for x in view.exchanges()] == ["/webhooks/a"]
    assert not view.closed  # still on the page, unlike a closed view
    view.close()


def test_making_the_same_view_again_replaces_it(lab):
    first = lab.wire(endpoint="x")
    second = lab.wire(endpoint="x")
    assert first.closed and not second.closed
    mine = [v for v in open_views() if isinstance(v, WireView) and v.trace is lab.trace]
    assert mine == [second]  # other tests may leave views of their own labs open
    assert len(lab.trace.listeners) == 1
    second.close()
    assert len(lab.trace.listeners) == 0


def test_at_a_thousand_exchanges_a_second_the_view_keeps_its_message_budget(lab):
    gc.collect()
    gc.freeze()
    try:
        with MessageCounter() as counter:
            view = lab.wire(endpoint="flood")
            start = time.monotonic()
            done = threading.Event()
            future = lab.loop.submit(firehose(lab.receiver.url_for("flood"), rate=1000, seconds=2))
            future.add_done_callback(lambda _f: done.set())
            result = future.result(timeout=60)
            end = time.monotonic()
            view.wait_quiet(quiet=0.3)
            time.sleep(0.2)  # room for a late flush to break the budget, if it would
    finally:
        gc.unfreeze()
    assert result.answered == 2000
    flood = [x for x in lab.trace.exchanges() if x.path == "/webhooks/flood"]
    assert len(flood) == 2000
    assert counter.updates_between(start, end) <= 10 * (end - start) + 3
    assert counter.busiest_second(start, time.monotonic()) <= 12
    assert counter.updates_between(start, end) >= 2  # it did draw during the flood
    assert "… 1,997 more deliveries" in view.picture.value
    view.close()


# -- the stored picture, in a real kernel ----------------------------------------------------

NOTEBOOK_CELLS = [
    "import webhooks_lab\nfrom webhooks_lab.retry import RetryPolicy\n"
    "lab = webhooks_lab.start(speed=60)\n"
    "lab.sender.policy = RetryPolicy([0, 30], jitter=0)\n"
    "lab.sender.add_endpoint(lab.receiver.url_for('shop'))",
    # One cell: make the view, cause the traffic, wait, show it last.
    "view = lab.wire(endpoint='shop', names={'Sender': 'Shop'})\n"
    "lab.receiver.chaos('shop').fail_next(1, status=503)\n"
    "lab.sender.wait_deliveries(lab.send('order.created', {'n': 1}))\n"
    "view",
    # Show first; the traffic comes in the next cell.
    "later = lab.wire(endpoint='mail')\ndisplay(later)",
    "import httpx\nhttpx.post(lab.receiver.url_for('mail'), json={})\nlater.wait_quiet()\n"
    "print('sent')",
    "lab.stop()",
]


@functools.cache
def _sanitize_patterns() -> list[tuple[str, str]]:
    """The course's sanitize file, read once, by nbval's own parser."""
    return get_sanitize_patterns((ROOT / "notebooks" / "sanitize.cfg").read_text())


def sanitised(text: str) -> str:
    """The text as nbval compares it."""
    for regex, replace in _sanitize_patterns():
        text = re.sub(regex, replace, text)
    return text


def run_notebook(folder: Path) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return notebook


def picture(cell: nbformat.NotebookNode) -> str:
    (svg,) = [
        o["data"]["image/svg+xml"] for o in cell.outputs if "image/svg+xml" in o.get("data", {})
    ]
    return svg


@pytest.mark.slow
def test_a_kernel_stores_a_picture_of_what_each_view_showed_and_it_is_stable(tmp_path):
    first = run_notebook(tmp_path)
    shown_last, shown_first = picture(first.cells[1]), picture(first.cells[2])
    assert arrows(shown_last) == [
        ("Shop", "Your receiver", "5xx"),
        ("Shop", "Your receiver", "2xx"),
    ]
    assert re.search(r"waited 3\d(\.\d)? s<", shown_last)  # the 30 s backoff, and a little
    # Displayed before its traffic, its stored picture was brought up to date after it.
    assert arrows(shown_first) == [("Your code", "Your receiver", "2xx")]
    for cell in (first.cells[1], first.cells[2]):
        (output,) = cell.outputs
        assert output["data"]["text/plain"].startswith("WireView: a live sequence diagram")
        assert "application/vnd.jupyter.widget-view+json" in output["data"]
    # nbval's view of the outputs: every text, sanitised; widget model ids are random, skipped.
    again = run_notebook(tmp_path)
    assert compared(first) == compared(again)


def compared(notebook: nbformat.NotebookNode) -> list[list[dict[str, str]]]:
    skip = "application/vnd.jupyter.widget-view+json"
    return [
        [
            {
                k: sanitised(str(v))
                for k, v in {**o.get("data", {}), "text": o.get("text", "")}.items()
                if k != skip
            }
            for o in cell.outputs
        ]
        for cell in notebook.cells
    ]
