"""The job board, driven by real jobs on the lab's real job runner."""

from __future__ import annotations

import threading
import time

from helpers import eventually

from webhooks_lab.widgets import JobBoard


def has_live_cancel(row) -> bool:
    """The row shows a Cancel button a learner can press."""
    return row.cancel in row.box.children and not row.cancel.disabled


def stepped_job(gate: threading.Semaphore, steps: int = 4):
    """A job that reports one step of progress each time the test releases the gate."""

    def encode(*, progress):
        for step in range(1, steps + 1):
            assert gate.acquire(timeout=10)
            progress(step, f"frame {step}", of=steps)
        return "done"

    return encode


def test_job_progress_moves_its_bar_and_the_end_colours_it(lab):
    board = JobBoard(lab)
    gate = threading.Semaphore(0)
    job = lab.jobs.submit(stepped_job(gate))

    assert eventually(lambda: job.id in board.rows)
    row = board.rows[job.id]
    gate.release()
    assert eventually(lambda: row.bar.value == 25)
    assert "frame 1" in row.bar.description and "running" in row.bar.description
    gate.release()
    gate.release()
    assert eventually(lambda: row.bar.value == 75)
    gate.release()
    job.wait(5)
    assert eventually(lambda: row.bar.bar_style == "success")
    assert row.bar.value == 100 and not has_live_cancel(row)
    assert "1 succeeded" in board.summary.value
    board.close()


def test_the_cancel_button_cancels_a_running_job(lab):
    board = JobBoard(lab)
    gate = threading.Semaphore(0)
    job = lab.jobs.submit(stepped_job(gate))
    gate.release()
    assert eventually(lambda: job.id in board.rows and board.rows[job.id].bar.value == 25)

    board.rows[job.id].cancel.click()  # what a click in the browser does
    gate.release()  # let the worker thread reach its next progress() call and stop there
    assert eventually(lambda: job.status == "cancelled")
    row = board.rows[job.id]
    assert eventually(lambda: row.bar.bar_style == "warning" and not has_live_cancel(row))
    assert "cancelled" in row.bar.description
    board.close()


def test_a_failed_job_shows_red_with_its_error(lab):
    def broken():
        raise ValueError("the image is corrupt")

    board = JobBoard(lab)
    job = lab.jobs.submit(broken)
    assert eventually(lambda: job.done)
    assert eventually(lambda: job.id in board.rows and board.rows[job.id].bar.bar_style == "danger")
    assert "the image is corrupt" in board.rows[job.id].bar.description
    board.close()


def test_only_the_newest_rows_are_drawn_but_every_job_is_counted(lab):
    board = JobBoard(lab, max_rows=3)
    jobs = [lab.jobs.submit(lambda n=n: n) for n in range(7)]
    lab.jobs.wait_all(jobs, timeout=10)
    assert eventually(lambda: "7</b> jobs" in board.summary.value)
    assert eventually(lambda: list(board.rows) == [j.id for j in jobs[-3:]])
    assert eventually(lambda: len(board.list.children) == 3)
    shown = [row.bar.description for row in board.rows.values()]
    assert all("succeeded 100%" in text for text in shown)
    board.close()


def test_jobs_submitted_before_the_board_are_on_it(lab):
    job = lab.jobs.submit(lambda: 42)
    job.wait(5)
    board = JobBoard(lab)
    assert job.id in board.rows and board.rows[job.id].bar.bar_style == "success"
    board.close()


def test_closing_unsubscribes_and_the_text_form_is_stable(lab):
    board = JobBoard(lab)
    assert repr(board).startswith("JobBoard (live): a progress bar per job")
    board.close()
    job = lab.jobs.submit(lambda: 1)
    job.wait(5)
    time.sleep(0.2)
    assert job.id not in board.jobs
    assert "closed" in repr(board)


def test_many_jobs_progressing_at_once_stay_within_the_message_budget(lab):
    import asyncio

    from webhooks_lab.widgets.stress import MessageCounter

    async def encode(*, progress):
        for frame in range(100):
            await asyncio.sleep(0.005)
            progress(frame + 1, of=100)

    with MessageCounter() as counter:
        board = JobBoard(lab)
        start = time.monotonic()
        jobs = [lab.jobs.submit(encode) for _ in range(16)]
        lab.jobs.wait_all(jobs, timeout=30)
        assert eventually(
            lambda: (
                all(r.bar.bar_style == "success" for r in board.rows.values())
                and len(board.list.children) == 12
            )
        )
        end = time.monotonic()
    assert counter.busiest_second(start, end) <= 10
    assert "16</b> jobs" in board.summary.value
    board.close()


def test_a_finished_job_of_any_ending_shows_no_cancel_button(lab):
    def broken():
        raise ValueError("no")

    gate = threading.Semaphore(0)
    board = JobBoard(lab)
    running = lab.jobs.submit(stepped_job(gate))
    ended = [lab.jobs.submit(lambda: 1), lab.jobs.submit(broken)]
    lab.jobs.wait_all(ended, timeout=10)
    doomed = lab.jobs.submit(stepped_job(threading.Semaphore(0)))
    doomed.cancel()
    ended.append(doomed)
    assert eventually(lambda: all(job.id in board.rows for job in [running, *ended]))
    assert eventually(lambda: all(not has_live_cancel(board.rows[job.id]) for job in ended))
    assert {job.status for job in ended} == {"succeeded", "failed", "cancelled"}
    assert has_live_cancel(board.rows[running.id])  # while it runs, it keeps its button
    for _ in range(4):
        gate.release()
    running.wait(5)
    assert eventually(lambda: not has_live_cancel(board.rows[running.id]))
    board.close()


def test_a_recycled_row_gives_the_next_running_job_its_button_back(lab):
    board = JobBoard(lab, max_rows=1)
    first = lab.jobs.submit(lambda: 1)
    first.wait(5)
    assert eventually(lambda: first.id in board.rows and not has_live_cancel(board.rows[first.id]))
    gate = threading.Semaphore(0)
    second = lab.jobs.submit(stepped_job(gate))
    assert eventually(lambda: list(board.rows) == [second.id])
    assert eventually(lambda: has_live_cancel(board.rows[second.id]))
    for _ in range(4):
        gate.release()
    second.wait(5)
    board.close()


def test_200_jobs_keep_the_board_to_its_rows_running_first(lab):
    """A long list stays bounded in the widget model, and the jobs that matter now are drawn:
    the running ones, then the next in line, not merely the newest submitted."""
    import ipywidgets

    gate = threading.Semaphore(0)
    board = JobBoard(lab, max_rows=12)
    models_before = len(ipywidgets.widgets.widget._instances)
    jobs = [lab.jobs.submit(stepped_job(gate, steps=1)) for _ in range(200)]
    concurrency = lab.jobs.concurrency
    assert eventually(lambda: "200</b> jobs" in board.summary.value)
    assert eventually(lambda: sum(job.status == "running" for job in jobs) == concurrency)
    running = [job.id for job in jobs if job.status == "running"]
    queued = [job.id for job in jobs if job.status == "queued"]
    expected = running + queued[: 12 - concurrency]
    assert eventually(lambda: [row for row in board._shown_order] == expected)
    assert len(board.list.children) == 12
    assert len(ipywidgets.widgets.widget._instances) == models_before  # no widget per job
    assert "12 drawn: running, then queued" in board.summary.value
    assert board.list.layout.overflow == "auto"  # and the list scrolls if it is tall

    for _ in range(200):
        gate.release()
    lab.jobs.wait_all(jobs, timeout=30)
    newest = [job.id for job in jobs[-12:]]
    assert eventually(lambda: list(board._shown_order) == newest)
    assert all(not has_live_cancel(board.rows[job_id]) for job_id in newest)
    assert len(ipywidgets.widgets.widget._instances) == models_before
    board.close()
