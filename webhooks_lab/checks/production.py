"""Checks for lesson 10, "Take it to production".

* :func:`once_per_job` drives a learner's completion-webhook handler with what at-least-once
  delivery across machines really sends: the same job's webhook twice with *different* webhook
  ids (a worker died after sending, and another ran the job again), from different workers,
  for jobs that succeeded, failed and were cancelled.
* :func:`rerun_within` asks for the longest wait before a dead worker's job runs again, given the
  heartbeat, the sweep interval and the sweep's abort wait, on cases that separate the formula
  from its usual slips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.i18n import _


def _completion(webhook_id: str, job_id: str, status: str, worker: str) -> dict[str, Any]:
    return {
        "id": webhook_id,
        "type": f"job.{status}",
        "data": {"id": job_id, "kind": "video.encode", "status": status, "worker": worker},
    }


def _deliveries() -> list[dict[str, Any]]:
    return [
        _completion("msg_a1", "job_1", "succeeded", "worker-1"),
        _completion("msg_a1", "job_1", "succeeded", "worker-1"),  # the same delivery, retried
        _completion("msg_b7", "job_2", "failed", "worker-2"),
        # job_1 again: worker-1 died after sending, and worker-2 ran it once more.
        _completion("msg_c3", "job_1", "succeeded", "worker-2"),
        _completion("msg_d4", "job_3", "cancelled", "worker-1"),
        _completion("msg_e5", "job_2", "failed", "worker-1"),
        _completion("msg_f6", "job_4", "succeeded", "worker-2"),
    ]


_EXPECTED = ["job_1 succeeded", "job_2 failed", "job_3 cancelled", "job_4 succeeded"]


@check
def once_per_job(fn: Callable[[dict[str, Any], set[Any], list[str]], Any]) -> Result:
    """``fn(event, seen, emails)`` appends ``"<job id> <status>"`` to ``emails`` once per job."""
    if not callable(fn):
        return not_yet(_("notify should be a function."), "def notify(event, seen, emails): ...")
    seen: set[Any] = set()
    emails: list[str] = []
    for event in _deliveries():
        try:
            answer = fn(event, seen, emails)
        except NotImplementedError:
            raise
        except Exception as exc:
            return not_yet(
                _(
                    "your handler raised {error} on the delivery of {job} with webhook id "
                    "{webhook_id}: a duplicate is normal under at-least-once delivery, and an "
                    "error answer only makes the sender try again.",
                    error=type(exc).__name__,
                    job=event["data"]["id"],
                    webhook_id=event["id"],
                ),
                _("when you have seen the job already, just return"),
            )
        if answer is Ellipsis:
            raise NotImplementedError
    if emails == [] and not seen:
        raise NotImplementedError
    counts = {line: emails.count(line) for line in set(emails)}
    twice = sorted(line for line, n in counts.items() if n > 1)
    if twice:
        first = twice[0]
        return not_yet(
            _(
                "'{first}' was emailed {count} times. Its second webhook came with a new "
                "webhook id, from another worker: the first worker died after sending, so the "
                "job ran again. Only the job's own id is the same every time.",
                first=first,
                count=counts[first],
            ),
            _("remember event['data']['id'] in seen, and skip a job you have seen"),
        )
    strangers = [line for line in emails if line not in _EXPECTED]
    if strangers:
        return not_yet(
            _(
                "the emails should read '<job id> <status>', like 'job_1 succeeded'; "
                "yours include {stranger}.",
                stranger=repr(strangers[0]),
            ),
            "f\"{event['data']['id']} {event['data']['status']}\"",
        )
    missing = [line for line in _EXPECTED if line not in emails]
    if missing:
        return not_yet(
            _(
                "no email for {missing}: every job that ends deserves one, whether it "
                "succeeded, failed or was cancelled.",
                missing=", ".join(missing),
            ),
            _(
                "email {line} for every job you have not seen",
                line="f\"{data['id']} {data['status']}\"",
            ),
        )
    return right(
        _(
            "one email per job, however many times and from whichever worker its webhook came: "
            "you deduplicate by the job, the one thing a rerun keeps."
        )
    )


def _worst(heartbeat: float, sweep: float, abort_wait: float) -> float:
    return heartbeat + sweep + abort_wait


_CASES = [(2, 1, 1), (10, 60, 5), (0.5, 7, 0), (30, 1, 5), (5, 5, 5)]


@check
def rerun_within(fn: Callable[[float, float, float], float]) -> Result:
    """``fn(heartbeat, sweep, abort_wait)``: the most seconds before a dead worker's job reruns."""
    if not callable(fn):
        return not_yet(
            _("rerun_within should be a function."),
            "def rerun_within(heartbeat, sweep, abort_wait)",
        )
    for heartbeat, sweep, abort_wait in _CASES:
        answer = fn(heartbeat, sweep, abort_wait)
        if answer is None or answer is Ellipsis:
            raise NotImplementedError
        want = _worst(heartbeat, sweep, abort_wait)
        if not isinstance(answer, (int, float)) or abs(float(answer) - want) > 1e-6:
            said = (
                _("{seconds:g} s", seconds=answer)
                if isinstance(answer, (int, float))
                else repr(answer)
            )
            return not_yet(
                _(
                    "with a {heartbeat:g} s heartbeat, a sweep every {sweep:g} s and a "
                    "{abort_wait:g} s abort wait you said {said}; the worst case is {want:g} s. "
                    "The worker may die just after a beat, so its heartbeat lapses a whole "
                    "heartbeat later; the sweep that notices may come up to a whole interval "
                    "after that; and the sweep first waits for the dead worker to acknowledge an "
                    "abort it will never hear.",
                    heartbeat=heartbeat,
                    sweep=sweep,
                    abort_wait=abort_wait,
                    said=said,
                    want=want,
                ),
                _("three waits, one after another: add them"),
            )
    return right(
        _(
            "heartbeat, then up to a sweep interval, then the abort wait: one after another. "
            "With the lab's settings (2 s, 1 s, 1 s) that is at most 4 s before the job runs "
            "again."
        )
    )


__all__ = ["once_per_job", "rerun_within"]
