"""The job runner: accept now, finish later, on the lab loop; bounded, cancellable, observable."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import eventually

from webhooks_lab import signing
from webhooks_lab.jobs.kinds import register_lesson_kinds
from webhooks_lab.jobs.model import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    IdempotencyConflict,
    InvalidParams,
    Job,
    JobCancelled,
    JobError,
    JobTimeout,
    Progress,
    QueueFull,
    UnknownKind,
)
from webhooks_lab.jobs.params import validate
from webhooks_lab.jobs.runner import JobRunner
from webhooks_lab.runtime.clock import Clock, FakeClock
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.sender.ssrf import THIS_MACHINE, UnsafeURL

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def loop() -> Iterator[LabLoop]:
    running = LabLoop(name="webhooks-lab-test-loop")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def make_runner(loop: LabLoop) -> Iterator[Callable[..., JobRunner]]:
    made: list[JobRunner] = []

    def make(**options: object) -> JobRunner:
        runner = JobRunner(loop, **options)  # type: ignore[arg-type]
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


@pytest.fixture
def runner(make_runner: Callable[..., JobRunner]) -> JobRunner:
    return make_runner()


# -- submitting and waiting ------------------------------------------------------------------------


def test_submit_hands_back_a_job_at_once_and_the_job_finishes_later(runner):
    gate = threading.Event()

    def work(x: int) -> int:
        gate.wait(5)
        return x * 2

    job = runner.submit(work, 21)

    assert job.id.startswith("job_")
    assert job.status in (QUEUED, RUNNING)
    assert not job.done
    gate.set()
    assert job.wait(5) == 42
    assert (job.status, job.result, job.progress, job.error) == (SUCCEEDED, 42, 100.0, None)
    assert job.created_at <= job.started_at <= job.finished_at


def test_async_jobs_run_on_the_lab_loop_and_plain_ones_in_a_worker_thread(runner, loop):
    async def on_loop() -> str:
        return threading.current_thread().name

    def in_thread() -> str:
        return threading.current_thread().name

    assert runner.submit(on_loop).wait(5) == loop.thread.name
    assert runner.submit(in_thread).wait(5).startswith("job-thread")


def test_a_blocking_plain_job_does_not_hold_up_async_jobs(runner):
    gate = threading.Event()
    blocked = runner.submit(gate.wait, 5)

    async def quick() -> str:
        return "done"

    assert runner.submit(quick).wait(5) == "done"
    assert blocked.status == RUNNING
    gate.set()
    assert blocked.wait(5) is True


def test_await_job_works_from_another_event_loop(runner):
    async def square(n: int) -> int:
        await asyncio.sleep(0.001)
        return n * n

    async def kernel_cell() -> list[int]:  # a notebook's own loop, not the lab's
        jobs = [runner.submit(square, n) for n in range(5)]
        return await asyncio.gather(*jobs)

    assert asyncio.run(kernel_cell()) == [0, 1, 4, 9, 16]


def test_a_job_can_await_another_job_on_the_lab_loop(runner):
    async def inner() -> int:
        return 7

    async def outer() -> int:
        return await runner.submit(inner) + 1

    assert runner.submit(outer).wait(5) == 8


def test_wait_on_the_lab_loop_is_refused_rather_than_deadlocking(runner):
    async def inner() -> int:
        return 1

    async def outer() -> int:
        return runner.submit(inner).wait(1)

    job = runner.submit(outer)
    with pytest.raises(RuntimeError, match="await job"):
        job.wait(5)
    assert job.status == FAILED


def test_wait_with_a_short_timeout_says_the_job_goes_on(runner):
    gate = threading.Event()
    job = runner.submit(gate.wait, 5)
    with pytest.raises(TimeoutError, match="goes on"):
        job.wait(0.05)
    assert not job.done
    gate.set()
    assert job.wait(5) is True


# -- progress --------------------------------------------------------------------------------------


def test_subscribers_see_every_status_and_progress_change_on_the_lab_loop(runner, loop):
    seen: list[tuple[str, float, str | None]] = []
    threads: set[str] = set()

    def listener(job: Job) -> None:
        seen.append((job.status, job.progress, job.message))
        threads.add(threading.current_thread().name)

    unsubscribe = runner.subscribe(listener)

    async def resize(*, progress) -> str:
        for tile in range(1, 5):
            await asyncio.sleep(0)
            progress(tile, f"tile {tile}/4", of=4)
        return "ok"

    runner.submit(resize).wait(5)
    assert eventually(lambda: seen and seen[-1][0] == SUCCEEDED)
    unsubscribe()
    runner.submit(resize).wait(5)

    assert seen[0] == (QUEUED, 0.0, None)
    assert seen[1] == (RUNNING, 0.0, None)
    assert seen[2:6] == [
        (RUNNING, pct, f"tile {n}/4") for n, pct in ((1, 25), (2, 50), (3, 75), (4, 100))
    ]
    assert seen[6] == (SUCCEEDED, 100.0, "tile 4/4")
    assert len(seen) == 7, "an unsubscribed listener hears nothing more"
    assert threads == {loop.thread.name}


def test_progress_reported_from_a_thread_reaches_the_job(runner):
    gate = threading.Event()

    def crunch(*, progress) -> None:
        progress(50, "half way")
        gate.wait(5)

    job = runner.submit(crunch)
    assert eventually(lambda: job.progress == 50 and job.message == "half way")
    gate.set()
    job.wait(5)


def test_a_job_gets_the_lab_clock_if_it_asks_for_one(make_runner):
    clock = Clock(speed=20_000)
    runner = make_runner(clock=clock)

    async def wait_an_hour(*, clock) -> float:
        started = clock.monotonic()
        await clock.sleep(3600)  # 0.18 real seconds at speed 20,000
        return clock.monotonic() - started

    assert runner.submit(wait_an_hour).wait(10) >= 3600


# -- failure, timeout, cancellation ----------------------------------------------------------------


def test_a_job_that_raises_fails_and_wait_raises_the_same_error(runner):
    def divide() -> float:
        return 1 / 0

    job = runner.submit(divide)
    with pytest.raises(ZeroDivisionError):
        job.wait(5)
    assert job.status == FAILED
    assert job.error == "ZeroDivisionError: division by zero"
    assert isinstance(job.exception, ZeroDivisionError)


def test_a_job_past_its_timeout_fails_and_frees_its_slot(make_runner):
    runner = make_runner(concurrency=1)
    slow = runner.options(timeout=0.05).submit(asyncio.sleep, 30)
    after = runner.submit(asyncio.sleep, 0, "next")

    with pytest.raises(JobTimeout):
        slow.wait(5)
    assert slow.status == FAILED
    assert "timeout" in slow.error
    assert after.wait(5) == "next"


def test_timeouts_are_in_lab_seconds(make_runner):
    runner = make_runner(clock=Clock(speed=100), timeout=1)

    async def ten_lab_seconds(*, clock) -> str:
        await clock.sleep(10)
        return "finished"

    async def half_a_lab_second(*, clock) -> str:
        await clock.sleep(0.5)
        return "finished"

    assert runner.submit(half_a_lab_second).wait(5) == "finished"
    with pytest.raises(JobTimeout):
        runner.submit(ten_lab_seconds).wait(5)


def test_a_timeout_runs_on_the_lab_clock_so_a_fake_clock_drives_it(make_runner, loop):
    clock = FakeClock()
    runner = make_runner(clock=clock, concurrency=1)

    async def a_lab_minute(*, clock) -> str:
        await clock.sleep(60)
        return "finished"

    stuck = runner.options(timeout=5).submit(a_lab_minute)
    after = runner.submit(asyncio.sleep, 0, "next")
    assert eventually(lambda: stuck.status == RUNNING)
    start = clock.time()
    # The job's own minute and its 5 s deadline are both waiting before the clock moves.
    assert eventually(lambda: clock.deadlines() == [start + 5, start + 60]), clock.deadlines()

    clock.advance(4.9)
    loop.run(asyncio.sleep(0.01), timeout=5)
    assert stuck.status == RUNNING, "4.9 lab seconds are not 5, however long it really took"
    clock.advance(0.2)
    with pytest.raises(JobTimeout, match="5 s timeout"):
        stuck.wait(5)
    assert stuck.finished_at == clock.time()
    assert after.wait(5) == "next", "the timed-out job gave its slot back"


def test_a_finished_job_leaves_no_deadline_behind(make_runner, loop):
    clock = FakeClock()
    runner = make_runner(clock=clock)
    assert runner.options(timeout=5).submit(asyncio.sleep, 0, "done").wait(5) == "done"
    clock.advance(10)  # the deadline was cancelled with the job's end: nothing fires
    loop.run(asyncio.sleep(0.01), timeout=5)
    assert runner.errors == []
    assert runner.counts()[FAILED] == 0


def test_cancelling_a_queued_job_means_it_never_runs(make_runner):
    runner = make_runner(concurrency=1)
    gate = threading.Event()
    ran: list[str] = []
    first = runner.submit(gate.wait, 5)
    second = runner.submit(ran.append, "second")
    assert eventually(lambda: first.status == RUNNING)

    assert second.status == QUEUED
    assert second.cancel() is True
    gate.set()
    first.wait(5)

    assert second.status == CANCELLED
    with pytest.raises(JobCancelled):
        second.wait(5)
    assert runner.submit(ran.append, "third").wait(5) is None
    assert ran == ["third"]


def test_cancelling_a_running_async_job_stops_it(runner):
    reached_the_end = []

    async def long(*, progress) -> None:
        progress(10)
        await asyncio.sleep(30)
        reached_the_end.append(True)

    job = runner.submit(long)
    assert eventually(lambda: job.progress == 10)
    assert job.cancel() is True

    with pytest.raises(JobCancelled):
        job.wait(5)
    assert job.status == CANCELLED
    assert job.cancel() is False, "a finished job cannot be cancelled again"
    assert reached_the_end == []


def test_a_cancelled_thread_stops_at_its_next_progress_call_and_keeps_its_slot_until_then(
    make_runner,
):
    runner = make_runner(concurrency=1)
    checkpoint = threading.Event()
    stopped_because: list[str] = []

    def crunch(*, progress) -> None:
        try:
            for step in range(1_000_000):
                checkpoint.wait(5)  # the test lets it reach the next progress() call
                checkpoint.clear()
                progress(step, of=1_000_000)
        except JobCancelled as exc:
            stopped_because.append(str(exc))

    job = runner.submit(crunch)
    queued = runner.submit(str, "next")
    assert eventually(lambda: job.status == RUNNING)
    job.cancel()

    assert job.status == CANCELLED
    time.sleep(0.05)
    assert queued.status == QUEUED, "the thread still runs, so its slot is still taken"
    checkpoint.set()
    assert queued.wait(5) == "next"
    assert stopped_because and "cancelled" in stopped_because[0]


# -- callbacks and listeners -----------------------------------------------------------------------


def test_done_callbacks_run_on_the_lab_loop_even_when_added_after_the_end(runner, loop):
    calls: list[tuple[str, str]] = []

    def note(job: Job) -> None:
        calls.append((job.status, threading.current_thread().name))

    gate = threading.Event()
    job = runner.submit(gate.wait, 5)
    job.add_done_callback(note)
    gate.set()
    job.wait(5)
    job.add_done_callback(note)

    assert eventually(lambda: len(calls) == 2)
    assert calls == [(SUCCEEDED, loop.thread.name)] * 2


def test_a_listener_that_raises_is_dropped_after_its_first_error(runner):
    heard: list[str] = []

    def broken(job: Job) -> None:
        heard.append(job.status)
        raise ValueError("the view is gone")

    runner.subscribe(broken)
    assert runner.submit(int, "5").wait(5) == 5
    assert runner.submit(int, "6").wait(5) == 6
    assert eventually(lambda: len(runner.listeners.errors) == 1)
    assert heard == [QUEUED], "heard once, then unsubscribed"
    assert len(runner.listeners) == 0
    [error] = runner.errors
    assert "broken raised ValueError: the view is gone; unsubscribed" in error


def test_a_job_knows_its_runner_only_through_its_host(loop):
    class Host:
        """Just the JobHost protocol, on a loop of our own: no runner at all."""

        lock = threading.Lock()

        def __init__(self) -> None:
            self.cancelled: list[Job] = []
            self.reports: list[tuple[float, str | None]] = []

        def on_loop(self) -> bool:
            return threading.current_thread() is loop.thread

        def call_soon(self, callback, *args) -> None:
            loop.loop.call_soon_threadsafe(callback, *args)

        def create_future(self):
            return loop.loop.create_future()

        def report_progress(self, job, percent, message) -> None:
            self.reports.append((percent, message))

        def run_done_callback(self, fn, job) -> None:
            fn(job)

        def cancel(self, job) -> bool:
            self.cancelled.append(job)
            return True

    host = Host()
    job = Job(host, "by hand", now=1_700_000_000.0)
    assert (job.status, job.created_at, job.to_dict()["created_at"]) == (
        QUEUED,
        1_700_000_000.0,
        "2023-11-14T22:13:20.000Z",
    )
    assert job.cancel() is True and host.cancelled == [job]
    job.status = RUNNING
    Progress(host, job)(3, "three", of=4)
    assert eventually(lambda: host.reports == [(75.0, "three")])
    ended: list[str] = []
    job.add_done_callback(lambda done: ended.append(done.status))
    job.result = "made by hand"

    def finish() -> None:  # what a runner does when the job ends
        _, callbacks = job._end(SUCCEEDED)
        for callback in callbacks:
            host.run_done_callback(callback, job)

    loop.loop.call_soon_threadsafe(finish)
    assert job.wait(5) == "made by hand"
    assert ended == [SUCCEEDED]
    with pytest.raises(JobCancelled):
        Progress(host, job)(4, of=4)


def test_the_jobs_errors_are_webhooks_lab_errors_and_keep_their_other_kinds():
    import webhooks_lab

    for error in (QueueFull, JobCancelled, JobTimeout, UnknownKind, InvalidParams):
        assert issubclass(error, JobError) and issubclass(error, webhooks_lab.Error)
    assert issubclass(IdempotencyConflict, webhooks_lab.Error)
    assert issubclass(JobTimeout, TimeoutError)
    assert issubclass(UnknownKind, LookupError)
    assert issubclass(InvalidParams, ValueError)
    assert (webhooks_lab.Job, webhooks_lab.Progress, webhooks_lab.QueueFull) == (
        Job,
        Progress,
        QueueFull,
    )
    assert webhooks_lab.JobRunner is JobRunner


def test_the_job_model_loads_without_the_runner_or_the_http_api():
    code = (
        "import sys, webhooks_lab.jobs.model, webhooks_lab.jobs.completion;"
        "print(sorted(m for m in sys.modules if m.startswith('webhooks_lab.jobs')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "webhooks_lab.jobs.runner" not in loaded and "webhooks_lab.jobs.api" not in loaded
    assert (
        "starlette"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, webhooks_lab.jobs.model; print(list(sys.modules))"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    )


def test_a_broken_listener_or_callback_is_noted_and_the_runner_carries_on(runner):
    def broken(job: Job) -> None:
        raise ValueError("oops")

    runner.subscribe(broken)
    job = runner.submit(int, "5")
    job.add_done_callback(broken)
    assert job.wait(5) == 5
    assert runner.submit(int, "6").wait(5) == 6
    assert eventually(lambda: any("done callback" in e for e in runner.errors))
    assert any("listener" in e and "ValueError: oops" in e for e in runner.errors)


# -- limits ----------------------------------------------------------------------------------------


def test_a_full_queue_refuses_more_work_instead_of_growing(make_runner):
    runner = make_runner(concurrency=1, queue_size=2)
    gate = threading.Event()
    running = runner.submit(gate.wait, 5)
    assert eventually(lambda: running.status == RUNNING)
    waiting = [runner.submit(str, n) for n in range(2)]

    with pytest.raises(QueueFull) as refused:
        runner.submit(str, "one too many")
    assert refused.value.retry_after >= 1
    assert "full" in str(refused.value)
    gate.set()
    assert [job.wait(5) for job in waiting] == ["0", "1"]


def test_a_burst_of_10000_tiny_jobs_never_runs_more_than_8_at_once_and_loses_none(make_runner):
    runner = make_runner(concurrency=8, queue_size=10_000)
    active = 0
    peak = 0

    async def tiny(n: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0)
        active -= 1
        return n

    jobs = [runner.submit(tiny, n) for n in range(10_000)]
    runner.wait_all(jobs, timeout=60)

    assert peak == 8
    assert runner.peak_running == 8
    assert [job.status for job in jobs] == [SUCCEEDED] * 10_000
    assert [job.result for job in jobs] == list(range(10_000))
    assert runner.counts() == {
        QUEUED: 0,
        RUNNING: 0,
        SUCCEEDED: 10_000,
        FAILED: 0,
        CANCELLED: 0,
    }


def test_raising_the_concurrency_starts_queued_jobs(make_runner):
    runner = make_runner(concurrency=1)
    gate = threading.Event()
    first = runner.submit(gate.wait, 5)
    second = runner.submit(gate.wait, 5)
    assert eventually(lambda: first.status == RUNNING)
    assert second.status == QUEUED

    runner.concurrency = 2
    assert eventually(lambda: second.status == RUNNING)
    gate.set()
    runner.wait_all([first, second], timeout=5)


def test_only_the_newest_finished_jobs_are_remembered(make_runner):
    runner = make_runner(keep=3)
    jobs = [runner.submit(str, n) for n in range(5)]
    runner.wait_all(jobs, timeout=5)
    assert [runner.get(job.id) for job in jobs] == [None, None, *jobs[2:]]


def test_a_stopped_runner_cancels_its_work_and_refuses_more(make_runner):
    runner = make_runner(concurrency=1)
    gate = threading.Event()
    running = runner.submit(gate.wait, 0.5)
    queued = runner.submit(str, "never")
    assert eventually(lambda: running.status == RUNNING)

    runner.close()
    assert (running.status, queued.status) == (CANCELLED, CANCELLED)
    with pytest.raises(Exception, match="stopped"):
        runner.submit(str, "more")


@pytest.mark.parametrize("stop", ["the job is cancelled", "the runner stops"])
def test_a_cancelled_job_thread_ends_without_a_logged_traceback(make_runner, loop, caplog, stop):
    # Nobody awaits a job thread once its job is cancelled (or its runner stopped). Its end
    # (JobCancelled, at its next progress call) must not reach asyncio's "exception was never
    # retrieved" log, which prints a traceback into whatever notebook cell runs at the time.
    runner = make_runner(concurrency=1)
    step = threading.Event()
    threads: list[threading.Thread] = []

    def crunch(*, progress) -> None:
        threads.append(threading.current_thread())
        while True:
            step.wait(5)
            progress(1, of=2)

    job = runner.submit(crunch)
    assert eventually(lambda: job.status == RUNNING and threads)
    if stop == "the runner stops":
        runner.close()
    else:
        job.cancel()
    step.set()  # its next progress() call raises JobCancelled
    if stop == "the runner stops":
        threads[0].join(5)  # the stopped runner's pool lets its thread end once the job has
        assert not threads[0].is_alive()
    else:
        assert runner.submit(str, "next").wait(5) == "next"  # runs once the thread has ended
    loop.run(asyncio.sleep(0))  # the loop takes the thread's outcome
    gc.collect()
    assert job.status == CANCELLED
    assert not [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


# -- kinds -----------------------------------------------------------------------------------------


def test_a_kind_reads_its_parameters_from_the_signature(runner):
    async def thumbnail(path: str, size: int = 128, *, progress) -> str:
        """Make a square thumbnail."""
        return f"{path}@{size}"

    kind = runner.register("image.thumbnail", thumbnail)

    assert kind.description == "Make a square thumbnail."
    assert kind.params == {
        "type": "object",
        "properties": {"path": {"type": "string"}, "size": {"type": "integer", "default": 128}},
        "additionalProperties": False,
        "required": ["path"],
    }
    assert runner.start("image.thumbnail", {"path": "cat.png"}).wait(5) == "cat.png@128"
    assert [k.name for k in runner.kinds()] == ["image.thumbnail"]


def test_start_checks_everything_before_queueing(runner):
    runner.register(
        "video.encode",
        lambda seconds, fps=24: seconds * fps,
        params={
            "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
            "fps": {"type": "integer", "minimum": 1, "default": 24},
        },
    )
    with pytest.raises(UnknownKind, match="registered kinds: video.encode"):
        runner.start("video.encdoe", {})
    with pytest.raises(InvalidParams) as invalid:
        runner.start("video.encode", {"fps": "fast", "colour": True})
    assert invalid.value.problems == [
        "params.seconds is required",
        'params has unknown "colour" (this kind takes: seconds, fps)',
        'params.fps must be a whole number, got "fast"',
    ]
    with pytest.raises(UnsafeURL):
        runner.start("video.encode", {"seconds": 1}, callback_url="http://10.1.2.3/hook")
    assert len(runner) == 0, "nothing was queued"
    assert runner.start("video.encode", {"seconds": 2.0, "fps": 30.0}).wait(5) == 60


def test_the_same_idempotency_key_gives_back_the_same_job(runner):
    register_lesson_kinds(runner)
    first = runner.start("sleep", {"seconds": 0}, idempotency_key="order-7")
    again = runner.start("sleep", {"seconds": 0}, idempotency_key="order-7")
    assert again is first
    with pytest.raises(IdempotencyConflict, match="different request"):
        runner.start("sleep", {"seconds": 1}, idempotency_key="order-7")
    assert runner.start("sleep", {"seconds": 0}, idempotency_key="order-8") is not first


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://example.com/hook",
        "http://user:pw@127.0.0.1/hook",
        "ftp://127.0.0.1/hook",
        "http://[fe80::1]/hook",
        "http://127.0.0.1:notaport/hook",
        "not a url",
    ],
)
def test_callback_urls_off_this_machine_are_refused(url):
    with pytest.raises(UnsafeURL):
        THIS_MACHINE.check_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://127.9.9.9/x", "https://[::1]:9/x", "http://localhost/x"],
)
def test_loopback_callback_urls_are_allowed(url):
    assert THIS_MACHINE.check_url(url).url == url


def test_params_validation_fills_defaults_and_accepts_whole_floats():
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "mode": {"enum": ["a", "b"], "default": "a"}},
        "required": ["n"],
    }
    assert validate(schema, {"n": 3.0}) == {"n": 3, "mode": "a"}
    with pytest.raises(InvalidParams, match="must be one of"):
        validate(schema, {"n": 1, "mode": "c"})
    with pytest.raises(InvalidParams, match="whole number"):
        validate(schema, {"n": True})


# -- the lessons' kinds ----------------------------------------------------------------------------


def test_the_lesson_kinds_do_realistic_work_and_report_progress(make_runner):
    runner = register_lesson_kinds(make_runner(clock=Clock(speed=100)))
    seen: dict[str, list[float]] = {}
    runner.subscribe(lambda job: seen.setdefault(job.kind, []).append(job.progress))

    video = runner.start("video.encode", {"seconds": 10, "fps": 24, "speed": 10})
    image = runner.start("image.resize", {"width": 640, "height": 480})
    primes = runner.start("primes.count", {"below": 200_000})

    assert video.wait(10)["frames"] == 240
    assert video.message == "frame 240/240"
    assert image.wait(10)["url"] == "/images/photo_640x480.jpg"
    assert primes.wait(20) == 17_984
    assert eventually(lambda: len(seen.get("video.encode", [])) >= 22)
    assert seen["video.encode"] == sorted(seen["video.encode"])
    primes_seen = seen["primes.count"]
    assert primes_seen == sorted(primes_seen)
    assert any(0 < pct < 100 for pct in primes_seen), "the CPU-bound kind reports as it goes"


def test_a_corrupt_video_fails_part_way_and_says_which_frame(make_runner):
    runner = register_lesson_kinds(make_runner(clock=Clock(speed=100)))
    job = runner.start("video.encode", {"source": "corrupt.mov", "seconds": 10, "speed": 10})
    with pytest.raises(ValueError, match="frame 144 is corrupt"):
        job.wait(10)
    assert job.status == FAILED
    assert 50 <= job.progress < 60


# -- completion webhooks, delivered to the lab's own receiver --------------------------------------


@pytest.mark.parametrize(
    ("params", "cancel", "event_type"),
    [
        ({"seconds": 0}, False, "job.succeeded"),
        ({"seconds": 0, "fail": True}, False, "job.failed"),
        ({"seconds": 60}, True, "job.cancelled"),
    ],
)
def test_a_job_with_a_callback_url_sends_a_signed_completion_webhook(
    lab, params, cancel, event_type
):
    lab.receiver.endpoint("jobs-done").require(lab.jobs.secret)
    job = lab.jobs.start("sleep", params, callback_url=lab.receiver.url_for("jobs-done"))
    if cancel:
        assert eventually(lambda: job.status == RUNNING)
        job.cancel()

    [delivery] = lab.receiver.inbox.wait_for(1, endpoint="jobs-done", timeout=10)

    assert delivery.status == 200
    assert delivery.verified is True
    signing.verify(lab.jobs.secret, delivery.headers, delivery.body)
    event = delivery.event
    assert event.type == event_type
    assert event.data["id"] == job.id
    assert event.data["status"] == job.status
    assert event.data["links"]["result"] == f"/jobs/{job.id}/result"
    if event_type == "job.succeeded":
        assert event.data["result"] == {"slept": 0}
    else:
        assert event.data["error"]


def test_a_runner_without_a_sender_posts_its_completion_webhook_once_itself(lab, make_runner):
    runner = make_runner(secret=lab.jobs.secret)  # no notify: the built-in post_once
    lab.receiver.endpoint("plain").require(lab.jobs.secret)
    job = runner.options(callback_url=lab.receiver.url_for("plain")).submit(str, "done")
    [delivery] = lab.receiver.inbox.wait_for(1, endpoint="plain", timeout=10)
    assert (delivery.status, delivery.verified) == (200, True)
    assert delivery.event.type == "job.succeeded"
    assert delivery.event.data == {**delivery.event.data, "id": job.id, "result": "done"}
    assert eventually(lambda: job.notification == {"status": 200, "id": delivery.webhook_id})
