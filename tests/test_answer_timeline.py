"""The answer timeline draws a slow handler's attempts against a quick one's background work."""

from __future__ import annotations

import threading

import httpx
import pytest

from webhooks_lab.lab import Lab
from webhooks_lab.lessons.answer_timeline import answer_timeline


def test_it_draws_what_the_inbox_and_the_jobs_recorded(lab: Lab):
    release = threading.Event()

    @lab.receiver.on("slow", "x")
    def slowly(event):
        release.wait(5)

    jobs = []

    @lab.receiver.on("quick", "x")
    def quickly(event):
        jobs.append(lab.jobs.submit(release.wait, 5))

    with pytest.raises(httpx.TimeoutException):
        httpx.post(lab.receiver.url_for("slow"), json={"type": "x", "data": {}}, timeout=0.2)
    assert httpx.post(lab.receiver.url_for("quick"), json={"type": "x", "data": {}}).is_success
    release.set()
    slow = lab.receiver.inbox.wait_for(1, endpoint="slow")
    lab.jobs.wait_all(jobs)

    figure = answer_timeline(slow, lab.receiver.inbox.for_endpoint("quick"), jobs, timeout=0.2)

    assert figure.png().startswith(b"\x89PNG")
    assert slow[0].duration_ms > 200  # the slow request outlived the sender's patience
    assert repr(figure) == (
        "Answer timeline: 1 requests that worked before answering, against 1 answered at once "
        "and 1 background job(s); the sender waits 0.2 s"
    )


def test_it_needs_both_handlers_deliveries():
    with pytest.raises(ValueError, match="both"):
        answer_timeline([], [], [], timeout=0.5)
