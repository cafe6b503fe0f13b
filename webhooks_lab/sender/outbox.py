"""The outbox: a durable log of every delivery and every attempt, in SQLite.

A sender that keeps its queue only in memory loses every event in it when the process dies. The
*transactional outbox* pattern fixes that: an event to deliver is first written to a database,
and only then tried. If the process is killed, the next one reads what is still pending and
carries on. The price is that a delivery may be tried twice (the process may die after the
receiver said 200 but before that answer was written down), so delivery is *at least once*, and
receivers make it *effectively once* by deduplicating on ``webhook-id``.

What is written when:

* a delivery row is **committed before its first attempt**, so an event that :meth:`Outbox.add`
  accepted is never lost;
* each attempt, and each change of a delivery's state, is written **behind**: gathered for a
  short interval (50 ms by default) and committed in one transaction. A SIGKILL loses at most the
  last interval's attempt records; their deliveries are still pending in the database, so they
  are simply tried again, and the receiver's dedupe absorbs the repeat. The sender notes an
  attempt still waiting for its answer after a flush interval as ``"trying"`` (found after a
  crash, it is marked ``"interrupted"``); a quicker one is written once, answered.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the
process being killed (it is in the write-ahead log); only a power cut could lose the newest ones.
What it stores (destinations, deliveries, attempts) is defined apart, in
:mod:`webhooks_lab.sender.records`, because views and lessons read those records without a database.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from webhooks_lab.sender.records import Attempt, Destination, OutgoingDelivery

__all__ = ["Batch", "Outbox"]

Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""Rows to commit: attempts to insert or replace, deliveries to update (:meth:`Outbox.take`)."""

# -- the database ----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT,
    scheme TEXT NOT NULL,
    types TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    endpoint_id TEXT,
    url TEXT NOT NULL,
    scheme TEXT NOT NULL,
    secret TEXT,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_attempt_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    round_base INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0
);
-- No index on state: every delivery changes state at least once, and keeping an index in step
-- cost a sixth of the SQL each delivery took. The sender keeps its queue in memory; reads by state
-- (dead letters, counts, what is unfinished at start) scan the table, ~20-40 ms at 100,000 rows.
DROP INDEX IF EXISTS deliveries_by_state;
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    url TEXT NOT NULL,
    started_at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    latency_ms REAL,
    next_attempt_at REAL,
    state TEXT NOT NULL,
    response TEXT NOT NULL DEFAULT '',
    backoff REAL,
    PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;
"""

_DELIVERY_COLUMNS = (
    "id, event_id, event_type, endpoint_id, url, scheme, secret, body, state, created_at, "
    "updated_at, next_attempt_at, attempts, round_base, replays"
)
_ATTEMPT_COLUMNS = (
    "delivery_id, number, event_id, url, started_at, status, error, latency_ms, "
    "next_attempt_at, state, response, backoff"
)

# Rows go 64 to a statement, new deliveries and each flush alike. SQLite lets go of Python's lock
# (the GIL) while it runs a statement and must take it back after; with one row per statement
# (``executemany``) the writer thread queued for the GIL behind the busy lab loop once per row, so
# a flush took many times its own work, and whoever waited for it (``idle()``, say) waited that
# long too: 14-17 ms for the last flush of a 2,000-delivery burst, 3-4 ms now. New deliveries
# take a tenth less too (3.2 us each). 64 rows of 15 columns keep each statement's parameters
# under SQLite's oldest limit (999). Updating many deliveries in one statement takes
# ``UPDATE ... FROM`` (SQLite 3.33, 2020); an older SQLite updates them row by row.
_ROWS_PER_STATEMENT = 64
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
# Python 3.11's sqlite3 binds str, int, float and bytearray as they are, but looks for an adapter
# for anything else, None and bytes included, and each failed lookup formats an AttributeError
# and throws it away: about a sixth of what writing a delivery and its attempt cost. So the
# columns that are NULL on the common path are bound as a value they never hold (NO_TEXT, NO_TIME)
# that NULLIF turns back into NULL, and a body as a bytearray; what is stored is the same.
_NO_TEXT, _NO_TIME = "", -1.0
_TEXT, _TIME = f"NULLIF(?, '{_NO_TEXT}')", f"NULLIF(?, {_NO_TIME})"  # each binds its sentinel
_DELIVERY_VALUES = f"(?, ?, ?, ?, ?, ?, {_TEXT}, ?, ?, ?, ?, ?, ?, ?, ?)"  # secret
_ATTEMPT_VALUES = f"(?, ?, ?, ?, ?, ?, {_TEXT}, ?, {_TIME}, ?, ?, {_TIME})"  # error, next, backoff
_STATE_VALUES = f"(?, ?, {_TIME}, ?, ?, ?, ?)"  # next_attempt_at
_UPDATE_DELIVERY = (
    f"UPDATE deliveries SET state = ?, updated_at = ?, next_attempt_at = {_TIME}, "
    "attempts = ?, round_base = ?, replays = ? WHERE id = ?"
)


class Outbox:
    """Deliveries and attempts in one SQLite database: a file path, or ``":memory:"``.

    Safe to use from several threads (one connection behind a lock). Writes of attempts and
    state changes are buffered until :meth:`flush`, which the sender calls every
    ``flush_interval`` seconds; ``flush_interval=0`` commits every write at once.
    """

    def __init__(self, path: str | Path = ":memory:", *, flush_interval: float = 0.05) -> None:
        self.path = str(path)
        self.flush_interval = float(flush_interval)
        self._lock = threading.RLock()  # the connection
        self._buffer_lock = threading.Lock()  # the changes noted and not yet written
        # Held from taking a batch of changes until it is written, so batches are committed in
        # the order they were taken even when one is written on another thread.
        self._writing = threading.Lock()
        self._in_flight = 0  # rows taken and not yet committed
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._dirty_attempts: dict[tuple[str, int], Attempt] = {}
        self._dirty_deliveries: dict[str, OutgoingDelivery] = {}
        self._closed = False

    @property
    def durable(self) -> bool:
        """True when the outbox is a file (it survives the process)."""
        return self.path != ":memory:"

    # -- endpoints ------------------------------------------------------------------------------

    def save_endpoint(self, endpoint: Destination) -> None:
        """Insert or update an endpoint (committed at once: endpoints change rarely)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO endpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    endpoint.id,
                    endpoint.url,
                    endpoint.secret,
                    endpoint.scheme,
                    json.dumps(list(endpoint.types)),
                    int(endpoint.enabled),
                    endpoint.disabled_reason,
                    endpoint.created_at,
                ),
            )

    def remove_endpoint(self, endpoint_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    def endpoints(self) -> list[Destination]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, secret, scheme, types, enabled, disabled_reason, created_at "
                "FROM endpoints ORDER BY created_at, id"
            ).fetchall()
        return [
            Destination(
                id=r[0],
                url=r[1],
                secret=r[2],
                scheme=r[3],
                types=tuple(json.loads(r[4])),
                enabled=bool(r[5]),
                disabled_reason=r[6],
                created_at=r[7],
            )
            for r in rows
        ]

    # -- deliveries and attempts ----------------------------------------------------------------

    def add(self, deliveries: Sequence[OutgoingDelivery]) -> None:
        """Write new deliveries and commit before returning: from here on they cannot be lost."""
        rows = [_delivery_row(d) for d in deliveries]
        with self._lock, self._transaction():
            self._execute_in_slices(_insert_deliveries, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One explicit transaction (the connection is in autocommit mode): all or nothing."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def note(self, delivery: OutgoingDelivery, attempt: Attempt | None = None) -> None:
        """Remember that ``delivery`` (and ``attempt``) changed; written at the next flush."""
        with self._buffer_lock:
            self._dirty_deliveries[delivery.id] = delivery
            if attempt is not None:
                self._dirty_attempts[(attempt.delivery_id, attempt.number)] = attempt
        if self.flush_interval <= 0:
            self.flush()

    def flush(self) -> int:
        """Commit every buffered change in one transaction; returns how many rows it wrote."""
        return self.write(self.take())

    def take(self) -> Batch | None:
        """The buffered changes as rows, as the records are now, for :meth:`write` to commit.

        The sender takes a batch on its loop and writes it on a worker thread, so the loop never
        waits for the disk. Until that batch is written, taking another one waits (batches are
        committed in order). ``None`` when there is nothing to write.
        """
        self._writing.acquire()
        try:
            batch = self._rows()
        except BaseException:
            self._writing.release()
            raise
        if batch is None:
            self._writing.release()
        return batch

    def write(self, batch: Batch | None) -> int:
        """Commit a batch from :meth:`take` in one transaction, from any thread; returns how
        many rows it wrote."""
        if batch is None:
            return 0
        try:
            with self._lock:
                return self._commit(batch)
        finally:
            self._in_flight = 0
            self._writing.release()

    def _rows(self) -> Batch | None:
        with self._buffer_lock:
            if self._closed or not (self._dirty_attempts or self._dirty_deliveries):
                return None
            attempts = [_attempt_row(a) for a in self._dirty_attempts.values()]
            deliveries = [
                (
                    d.state,
                    d.updated_at,
                    _NO_TIME if d.next_attempt_at is None else d.next_attempt_at,
                    len(d.attempts),
                    d.round_base,
                    d.replays,
                    d.id,
                )
                for d in self._dirty_deliveries.values()
            ]
            self._dirty_attempts.clear()
            self._dirty_deliveries.clear()
            self._in_flight = len(attempts) + len(deliveries)
        return attempts, deliveries

    def _commit(self, batch: Batch) -> int:
        attempts, deliveries = batch
        with self._transaction():
            self._execute_in_slices(_insert_attempts, attempts)
            if _UPDATE_FROM:
                self._execute_in_slices(_update_deliveries, deliveries)
            else:
                self._db.executemany(_UPDATE_DELIVERY, deliveries)
        return len(attempts) + len(deliveries)

    def _execute_in_slices(
        self, statement: Callable[[int], str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Run ``statement(n)``, a statement for ``n`` rows, over ``rows`` (see ``_slices``)."""
        for part in _slices(rows):
            self._db.execute(statement(len(part)), list(itertools.chain.from_iterable(part)))

    @property
    def unflushed(self) -> int:
        """How many changed records wait for the next flush."""
        return len(self._dirty_attempts) + len(self._dirty_deliveries) + self._in_flight

    def unfinished(self) -> list[OutgoingDelivery]:
        """Deliveries still to be tried (pending or retrying), with their attempts so far.

        An attempt found still ``"trying"`` was cut off by a crash: it is marked
        ``"interrupted"``, since nobody knows whether the receiver got it.
        """
        with self._lock:
            self._db.execute(
                "UPDATE attempts SET state = 'interrupted', "
                "error = 'the sender stopped before an answer came (it may have arrived)' "
                "WHERE state = 'trying'"
            )
        found = self.deliveries(states=("pending", "retrying"))
        return found

    def deliveries(
        self,
        *,
        states: Iterable[str] | None = None,
        endpoint_id: str | None = None,
        since: float | None = None,
        ids: Iterable[str] | None = None,
        with_attempts: bool = True,
    ) -> list[OutgoingDelivery]:
        """Deliveries matching every filter given, oldest first (flushes first)."""
        self.flush()
        where, params = [], []  # type: ignore[var-annotated]
        if states is not None:
            states = list(states)
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        if endpoint_id is not None:
            where.append("endpoint_id = ?")
            params.append(endpoint_id)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if ids is not None:
            ids = list(ids)
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, rowid"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
            found = [_delivery_from(r) for r in rows]
            if with_attempts and found:
                by_id = {d.id: d for d in found}
                for attempt in self._attempt_rows(by_id if len(by_id) < 500 else None):
                    owner = by_id.get(attempt.delivery_id)
                    if owner is not None:
                        owner.attempts.append(attempt)
        return found

    def attempts(self, delivery_id: str | None = None) -> list[Attempt]:
        """Every attempt (of one delivery, if given), in the order they were started."""
        self.flush()
        with self._lock:
            return self._attempt_rows([delivery_id] if delivery_id is not None else None)

    def _attempt_rows(self, ids: Iterable[str] | None) -> list[Attempt]:
        sql = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts"
        params: list[str] = []
        if ids is not None:
            params = list(ids)
            sql += f" WHERE delivery_id IN ({', '.join('?' * len(params))})"
        sql += " ORDER BY started_at, delivery_id, number"
        names = [name.strip() for name in _ATTEMPT_COLUMNS.split(",")]
        rows = self._db.execute(sql, params).fetchall()
        return [Attempt(**dict(zip(names, row, strict=True))) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        self.flush()
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
            return dict(rows.fetchall())

    def close(self) -> None:
        """Flush what is buffered and close the database. Safe to call twice."""
        with self._writing, self._lock:  # after a batch being written elsewhere
            batch = self._rows()
            if batch is not None:
                self._in_flight = 0
                self._commit(batch)
            if self._closed:
                return
            self._closed = True
            self._db.close()

    def __repr__(self) -> str:
        where = "in memory" if not self.durable else self.path
        return f"<Outbox {where}>"


def _slices(rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """``rows`` 64 at a time, the rest in powers of two (32, 16, ... 1): statements of only seven
    sizes, so each is compiled once and then found in the connection's statement cache."""
    start, size = 0, _ROWS_PER_STATEMENT
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        yield rows[start : start + size]
        start += size


@functools.cache
def _insert_deliveries(count: int) -> str:
    return f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) VALUES {_times(_DELIVERY_VALUES, count)}"


@functools.cache
def _insert_attempts(count: int) -> str:
    values = _times(_ATTEMPT_VALUES, count)
    return f"INSERT OR REPLACE INTO attempts ({_ATTEMPT_COLUMNS}) VALUES {values}"


@functools.cache
def _update_deliveries(count: int) -> str:
    """Many deliveries' new state in one statement: a table of values, joined on the id."""
    return (
        "UPDATE deliveries SET state = v.column1, updated_at = v.column2, "
        "next_attempt_at = v.column3, attempts = v.column4, round_base = v.column5, "
        f"replays = v.column6 FROM (VALUES {_times(_STATE_VALUES, count)}) AS v "
        "WHERE deliveries.id = v.column7"
    )


def _times(row: str, count: int) -> str:
    """``count`` copies of one row of a ``VALUES`` list."""
    return ", ".join([row] * count)


def _delivery_row(d: OutgoingDelivery) -> tuple[Any, ...]:
    return (
        d.id,
        d.event_id,
        d.event_type,
        d.endpoint_id,
        d.url,
        d.scheme,
        _NO_TEXT if d.secret is None else d.secret,
        bytearray(d.body),
        d.state,
        d.created_at,
        d.updated_at,
        d.next_attempt_at,
        len(d.attempts),
        d.round_base,
        d.replays,
    )


def _delivery_from(row: Sequence[Any]) -> OutgoingDelivery:
    return OutgoingDelivery(
        id=row[0],
        event_id=row[1],
        event_type=row[2],
        endpoint_id=row[3],
        url=row[4],
        scheme=row[5],
        secret=row[6],
        body=bytes(row[7]),
        state=row[8],
        created_at=row[9],
        updated_at=row[10],
        next_attempt_at=row[11],
        round_base=row[13],
        replays=row[14],
    )


def _attempt_row(a: Attempt) -> tuple[Any, ...]:
    return (
        a.delivery_id,
        a.number,
        a.event_id,
        a.url,
        a.started_at,
        a.status,
        _NO_TEXT if a.error is None else a.error,
        a.latency_ms,
        _NO_TIME if a.next_attempt_at is None else a.next_attempt_at,
        a.state,
        a.response,
        _NO_TIME if a.backoff is None else a.backoff,
    )


def now() -> float:
    """Wall-clock seconds; the sender passes lab time instead where it has a clock."""
    return time.time()
