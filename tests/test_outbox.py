"""The outbox: what is written when, what survives, and what a new process finds."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from webhooks_lab.sender.outbox import Outbox
from webhooks_lab.sender.records import Attempt, Destination, OutgoingDelivery


def delivery(n: int, **fields) -> OutgoingDelivery:
    fields.setdefault("body", b'{"type":"order.paid","data":{}}')
    return OutgoingDelivery(
        id=f"dlv_{n:04d}",
        event_id=f"msg_{n:04d}",
        event_type="order.paid",
        url="http://127.0.0.1:9/webhooks/shop",
        created_at=1000.0 + n,
        updated_at=1000.0 + n,
        **fields,
    )


def fields(record: object, names: str) -> dict[str, object]:
    return {name: getattr(record, name) for name in names.split()}


def rows(path, sql: str) -> list[tuple]:
    """Read with a separate connection, as another process would."""
    with sqlite3.connect(path) as other:
        return other.execute(sql).fetchall()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "outbox.sqlite3"


def test_a_new_delivery_is_committed_before_add_returns(path):
    outbox = Outbox(path)
    outbox.add([delivery(1), delivery(2)])
    assert rows(path, "SELECT id, state FROM deliveries ORDER BY id") == [
        ("dlv_0001", "pending"),
        ("dlv_0002", "pending"),
    ]


def test_the_file_is_in_wal_mode(path):
    Outbox(path)
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]


def test_attempts_are_written_behind_and_all_land_at_the_next_flush(path):
    outbox = Outbox(path)
    d = delivery(1)
    outbox.add([d])
    attempt = Attempt(d.id, d.event_id, d.url, 1, started_at=1001.0)
    d.attempts.append(attempt)
    outbox.note(d, attempt)
    assert rows(path, "SELECT COUNT(*) FROM attempts") == [(0,)]  # buffered
    assert outbox.unflushed == 2

    attempt.status, attempt.latency_ms, attempt.state = 200, 3.5, "delivered"
    d.state = "delivered"
    outbox.note(d, attempt)  # the same records again: still one row each
    assert outbox.flush() == 2
    assert rows(path, "SELECT number, status, state FROM attempts") == [(1, 200, "delivered")]
    assert rows(path, "SELECT state, attempts FROM deliveries") == [("delivered", 1)]


def test_a_batch_taken_to_write_elsewhere_is_committed_before_any_later_one(path):
    # The sender takes a batch on its loop and writes it on a worker thread; a flush meanwhile
    # (a cell asking for counts) must not commit newer rows that the older batch then undoes.
    outbox = Outbox(path)
    d = delivery(1)
    outbox.add([d])
    d.state = "retrying"
    outbox.note(d)
    older = outbox.take()
    assert older is not None and outbox.unflushed == 1  # taken, not yet written
    d.state = "delivered"
    outbox.note(d)
    later = threading.Thread(target=outbox.flush)
    later.start()
    later.join(timeout=0.2)
    assert later.is_alive()  # waits for the older batch
    assert outbox.write(older) == 1
    later.join(timeout=10)
    assert not later.is_alive() and outbox.unflushed == 0
    assert rows(path, "SELECT state FROM deliveries") == [("delivered",)]


@pytest.mark.parametrize("update_from", [True, False], ids=["rows per statement", "row by row"])
@pytest.mark.parametrize("count", [1, 63, 64, 130, 201])
def test_every_row_of_a_flush_lands_exactly_as_it_was(path, monkeypatch, update_from, count):
    # A flush writes 64 rows to a statement, the rest in smaller ones; SQLite older than 3.33
    # updates deliveries row by row. Either way every delivery, attempt and state lands as it
    # was, each column that may be empty (NULL) both empty and not.
    monkeypatch.setattr("webhooks_lab.sender.outbox._UPDATE_FROM", update_from)
    outbox = Outbox(path)
    made = [
        delivery(
            n,
            body=bytes([n % 256]) * n,
            secret=None if n % 2 else f"whsec_{n}",
            endpoint_id=None if n % 5 == 1 else "ep_1",
            next_attempt_at=1000.0 + n,
        )
        for n in range(count)
    ]
    outbox.add(made)
    found = Outbox(path).deliveries()
    assert [d.id for d in found] == [d.id for d in made]
    for was, now in zip(made, found, strict=True):
        assert fields(now, "body secret endpoint_id next_attempt_at") == fields(
            was, "body secret endpoint_id next_attempt_at"
        )
    for n, d in enumerate(made):
        for number in range(1, 1 + n % 3):
            attempt = Attempt(d.id, d.event_id, d.url, number, started_at=1000.1 + n / 7)
            failed = number < n % 3
            attempt.status, attempt.latency_ms = (500, 12.345 + n) if failed else (200, n / 3)
            attempt.state = "retrying" if failed else "delivered"
            attempt.error = "HTTP 500" if failed else None
            attempt.response = f"é{n}" * (n % 4)
            attempt.backoff = 0.5 * number if failed else None
            attempt.next_attempt_at = 1001.0 + n if failed else None
            d.attempts.append(attempt)
            outbox.note(d, attempt)
        d.state = d.attempts[-1].state if d.attempts else "retrying"
        d.next_attempt_at = 3000.0 + n if d.state == "retrying" else None
        d.updated_at, d.replays = 2000.0 + n / 3, n % 2
        outbox.note(d)
    assert outbox.flush() == count + sum(n % 3 for n in range(count))
    found = Outbox(path).deliveries()
    assert [d.id for d in found] == [d.id for d in made]
    for was, now in zip(made, found, strict=True):
        assert fields(now, "state updated_at next_attempt_at replays") == fields(
            was, "state updated_at next_attempt_at replays"
        )
        assert [a.to_dict() for a in now.attempts] == [a.to_dict() for a in was.attempts]


def test_nothing_to_write_is_no_batch(path):
    outbox = Outbox(path)
    assert outbox.take() is None
    assert outbox.flush() == 0  # and taking again does not wait


def test_flush_interval_zero_writes_every_change_at_once(path):
    outbox = Outbox(path, flush_interval=0)
    d = delivery(1)
    outbox.add([d])
    d.state = "retrying"
    outbox.note(d)
    assert rows(path, "SELECT state FROM deliveries") == [("retrying",)]


def test_a_new_outbox_on_the_same_file_finds_what_is_unfinished_with_its_attempts(path):
    first = Outbox(path)
    waiting, done, fresh = delivery(1), delivery(2), delivery(3)
    first.add([waiting, done, fresh])
    for d, state in ((waiting, "retrying"), (done, "delivered")):
        attempt = Attempt(d.id, d.event_id, d.url, 1, 1010.0, status=500, state=state)
        d.attempts.append(attempt)
        d.state = state
        first.note(d, attempt)
    first.flush()
    del first  # no close: as if the process were killed

    second = Outbox(path)
    found = {d.id: d for d in second.unfinished()}
    assert set(found) == {"dlv_0001", "dlv_0003"}
    assert [a.status for a in found["dlv_0001"].attempts] == [500]
    assert found["dlv_0001"].body == waiting.body


def test_an_outbox_from_an_older_version_opens_and_sheds_its_state_index(path):
    # Older versions kept an index on state; every state change paid for it. An old file still
    # opens with everything in it, its unfinished deliveries are found, and the index is gone.
    first = Outbox(path)
    first.add([delivery(1), delivery(2)])
    first.close()
    with sqlite3.connect(path) as old:
        old.execute("CREATE INDEX deliveries_by_state ON deliveries (state, endpoint_id)")
        old.execute("UPDATE deliveries SET state = 'delivered' WHERE id = 'dlv_0002'")

    second = Outbox(path)
    assert [d.id for d in second.unfinished()] == ["dlv_0001"]
    assert second.counts() == {"pending": 1, "delivered": 1}
    assert (
        rows(
            path,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'deliveries_by%'",
        )
        == []
    )


def test_an_attempt_cut_off_by_a_crash_is_marked_interrupted(path):
    first = Outbox(path)
    d = delivery(1)
    first.add([d])
    attempt = Attempt(d.id, d.event_id, d.url, 1, 1001.0)  # "trying": sent, no answer yet
    d.attempts.append(attempt)
    first.note(d, attempt)
    first.flush()

    resumed = Outbox(path).unfinished()
    assert [a.state for a in resumed[0].attempts] == ["interrupted"]
    assert "may have arrived" in resumed[0].attempts[0].error


def test_endpoints_are_kept_with_their_settings(path):
    Outbox(path).save_endpoint(
        Destination(
            "ep_1", "http://127.0.0.1:9/x", "whsec_abc", "standard", ("user.*",), False, "410"
        )
    )
    (endpoint,) = Outbox(path).endpoints()
    assert (endpoint.url, endpoint.types, endpoint.enabled) == (
        "http://127.0.0.1:9/x",
        ("user.*",),
        False,
    )
    assert endpoint.wants("user.created") and not endpoint.wants("order.paid")


def test_queries_filter_by_state_endpoint_and_time():
    outbox = Outbox(":memory:")
    outbox.add(
        [
            delivery(1, state="dead", endpoint_id="ep_a"),
            delivery(2, state="dead", endpoint_id="ep_b"),
            delivery(3, state="delivered", endpoint_id="ep_a"),
            delivery(4, state="dead", endpoint_id="ep_a"),
        ]
    )
    dead_to_a = outbox.deliveries(states=["dead"], endpoint_id="ep_a")
    assert [d.id for d in dead_to_a] == ["dlv_0001", "dlv_0004"]
    assert [d.id for d in outbox.deliveries(since=1003.0)] == ["dlv_0003", "dlv_0004"]
    assert outbox.counts() == {"dead": 3, "delivered": 1}


def test_close_flushes_and_is_safe_twice(path):
    outbox = Outbox(path)
    d = delivery(1)
    outbox.add([d])
    d.state = "delivered"
    outbox.note(d)
    outbox.close()
    outbox.close()
    assert rows(path, "SELECT state FROM deliveries") == [("delivered",)]


def test_records_read_well():
    d = delivery(7, state="dead")
    d.attempts = [
        Attempt(d.id, d.event_id, d.url, 1, 0.0, status=503, latency_ms=2.4, state="retrying",
                next_attempt_at=5.0, backoff=5.0),
        Attempt(d.id, d.event_id, d.url, 2, 5.0, error="timeout: no answer within 1 s",
                latency_ms=1000.2, state="dead"),
    ]  # fmt: skip
    assert repr(d) == (
        "<OutgoingDelivery dlv_0007 order.paid -> http://127.0.0.1:9/webhooks/shop: "
        "dead letter after 2 attempts (last: timeout: no answer within 1 s)>"
    )
    assert repr(d.attempts[0]) == "<Attempt 1 of dlv_0007: 503 in 2 ms -> retrying, next in 5 s>"
    assert d.timeline().splitlines()[1:] == [
        "  #1  503                              retrying, next in 5 s  (2 ms)",
        "  #2  timeout: no answer within 1 s    dead  (1000 ms)",
    ]
