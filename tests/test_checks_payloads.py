"""Lesson 3's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell, run_solution

from webhooks_lab.checks import payloads as check

# Schemas are made with make_dataclass: this module's `from __future__ import annotations` would
# turn class-body annotations into strings, and a notebook cell has real classes there.


def refund(*fields: tuple[str, type] | tuple[str, type, Any]) -> type:
    return make_dataclass("RefundCreated", fields)


# -- exercise 1: a schema for refund.created -------------------------------------------------------


def test_the_refund_schema_check_accepts_the_reference_solution():
    namespace = run_solution("03_refund_schema.py", {"dataclass": dataclass})
    result = check.refund_schema(namespace["RefundCreated"])
    assert result, result


def test_the_refund_schema_check_answers_the_notebooks_starter_with_what_to_do():
    cells = exercise("03", "refund_schema")
    namespace = {"dataclass": dataclass}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, "03_refund_schema.py", cells)


REASON = ("reason", str, field(default="requested_by_customer"))
REQUIRED = (("refund", str), ("invoice", str), ("amount", int))

WRONG_SCHEMAS = [
    (
        "amount as float",
        [("refund", str), ("invoice", str), ("amount", float), REASON],
        "a good refund was refused: 'amount' should be float",
        "never a float",
    ),
    (
        "amount as str",
        [("refund", str), ("invoice", str), ("amount", str), REASON],
        "'amount' should be str, got int",
        "whole number of cents",
    ),
    (
        "amount int or float",
        [("refund", str), ("invoice", str), ("amount", int | float), REASON],
        "amount 12.0 (a float) was accepted",
        "whole number of cents",
    ),
    (
        "amount typed Any",
        [("refund", str), ("invoice", str), ("amount", Any), REASON],
        "cannot be checked with isinstance",
        "whole number of cents",
    ),
    (
        "refund id as int",
        [("refund", int), ("invoice", str), ("amount", int), REASON],
        "'refund' should be int, got str",
        "a string like re_1",
    ),
    (
        "invoice as object",
        [("refund", str), ("invoice", object), ("amount", int), REASON],
        "invoice 1 (a number) was accepted",
        "a string like in_1",
    ),
    (
        "reason required",
        [*REQUIRED, ("reason", str)],
        "reason is optional",
        "default",
    ),
    (
        "reason defaults to None",
        [*REQUIRED, ("reason", str, field(default=None))],
        "came out with reason None",
        "never have to test for None",
    ),
    (
        "reason str or None, None",
        [*REQUIRED, ("reason", str | None, field(default=None))],
        "came out with reason None",
        "never have to test for None",
    ),
    (
        "reason defaults to empty",
        [*REQUIRED, ("reason", str, field(default=""))],
        "came out with reason ''",
        "an empty reason",
    ),
    (
        "reason of any type",
        [*REQUIRED, ("reason", object, field(default="requested_by_customer"))],
        "reason 5 (a number) was accepted",
        "a string",
    ),
    (
        "amount with a default",
        [("refund", str), ("invoice", str), ("amount", int, field(default=0)), REASON],
        "without an amount was accepted",
        "give it none",
    ),
    (
        "a field the payload does not have",
        [*REQUIRED, ("currency", str), REASON],
        "'currency' is missing",
        "currency cannot be required",
    ),
    (
        "fields named differently",
        [("refund_id", str), ("invoice_id", str), ("amount", int), REASON],
        "no field 'refund', 'invoice'",
        "exactly as the key",
    ),
]


@pytest.mark.parametrize(
    ("slip", "fields", "words", "hint"), WRONG_SCHEMAS, ids=[w[0] for w in WRONG_SCHEMAS]
)
def test_the_refund_schema_check_refuses_a_wrong_schema_naming_the_slip(slip, fields, words, hint):
    result = check.refund_schema(refund(*fields))
    assert not result
    assert words in result.message, result.message
    assert hint in result.hint, result.hint


def test_the_refund_schema_check_refuses_a_class_that_is_not_a_dataclass():
    class RefundCreated:
        refund: str

    result = check.refund_schema(RefundCreated)
    assert not result and "@dataclass" in result.message


def test_the_refund_schema_check_accepts_other_right_schemas():
    reordered = refund(("amount", int), ("invoice", str), ("refund", str), REASON)
    frozen = make_dataclass(
        "RefundCreated", [*REQUIRED, ("reason", str, "requested_by_customer")], frozen=True
    )
    with_more = refund(*REQUIRED, REASON, ("note", str, field(default="")))
    for schema in (reordered, frozen, with_more):
        assert check.refund_schema(schema), schema


# -- exercise 2: route user.deleted ----------------------------------------------------------------


@pytest.fixture
def lesson(lab, tmp_path):  # type: ignore[no-untyped-def]
    """Lesson 3's router on /webhooks/store, with its users table, as the notebook builds it."""
    db_path = tmp_path / "app.sqlite3"
    with sqlite3.connect(db_path) as db:
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL,"
            " plan TEXT NOT NULL)"
        )

    @contextmanager
    def database():  # type: ignore[no-untyped-def]
        db = sqlite3.connect(db_path)
        try:
            with db:
                yield db
        finally:
            db.close()

    routes: dict[str, Any] = {}

    def handles(event_type, schema):  # type: ignore[no-untyped-def]
        def register(handler):  # type: ignore[no-untyped-def]
            routes[event_type] = (schema, handler)
            return handler

        return register

    user_created = make_dataclass(
        "UserCreated", [("id", int), ("email", str), ("name", str), ("plan", str, "free")]
    )

    @handles("user.created", user_created)
    def create_user(user):  # type: ignore[no-untyped-def]
        with database() as db:
            db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?)",
                (user.id, user.email, user.name, user.plan),
            )

    @lab.receiver.on("store")
    def route(event):  # type: ignore[no-untyped-def]
        if event.type in routes:
            schema, handler = routes[event.type]
            handler(check.parse(schema, event.data))

    return {"lab": lab, "DB": db_path, "database": database, "handles": handles}


def test_routing_user_deleted_accepts_the_reference_solution(lab, lesson):
    run_solution("03_user_deleted.py", {**lesson, "dataclass": dataclass})
    result = check.route_user_deleted(lab, lesson["DB"])
    assert result, result


@pytest.fixture
def the_lesson(lab):  # type: ignore[no-untyped-def]
    """Lesson 3's cells above the exercise, run as a learner ran them (the lab is the test's)."""
    cells = exercise("03", "route_user_deleted")
    namespace: dict[str, Any] = {"lab": lab, "check": check}
    cells.run_lesson(namespace, skip=("webhooks_lab.start(",))
    yield cells, namespace
    shutil.rmtree(namespace["DB"].parent, ignore_errors=True)


def test_routing_user_deleted_answers_the_notebooks_starter_with_what_to_do(the_lesson):
    cells, namespace = the_lesson
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert "still in the users table" in answer.message
    assert_teaches_without_telling(answer, "03_user_deleted.py", cells)


def test_routing_user_deleted_in_the_lesson_itself_keeps_ada_and_grace(the_lesson):
    cells, namespace = the_lesson
    run_solution("03_user_deleted.py", namespace)
    assert run_cell(cells.call, namespace)
    with namespace["database"]() as db:
        assert [row[0] for row in db.execute("SELECT id FROM users ORDER BY id")] == [1, 2]


def test_routing_user_deleted_in_the_lesson_itself_refuses_a_delete_without_where(the_lesson):
    cells, namespace = the_lesson
    run_cell(
        "@dataclass\n"
        "class UserDeleted:\n"
        "    id: int\n"
        "\n"
        "\n"
        '@handles("user.deleted", UserDeleted)\n'
        "def delete_user(user):\n"
        "    with database() as db:\n"
        '        db.execute("DELETE FROM users")\n',
        namespace,
    )
    answer = run_cell(cells.call, namespace)
    assert not answer
    assert "every user was gone" in answer.message


USER_DELETED = make_dataclass("UserDeleted", [("id", int)])


def deleting(sql: str, params: Callable[[Any], Any], schema: type = USER_DELETED, commit=True):  # type: ignore[no-untyped-def]
    """A learner's answer: ``schema`` for user.deleted, and a handler running ``sql``."""

    def answer(lesson):  # type: ignore[no-untyped-def]
        @lesson["handles"]("user.deleted", schema)
        def delete_user(user):  # type: ignore[no-untyped-def]
            if commit:
                with lesson["database"]() as db:
                    db.execute(sql, params(user))
            else:  # no `with`: the change is never committed
                db = sqlite3.connect(lesson["DB"])
                db.execute(sql, params(user))
                db.close()

    return answer


BY_ID = "DELETE FROM users WHERE id = ?"

WRONG_ROUTES = [
    (
        "DELETE without WHERE",
        deleting("DELETE FROM users", lambda user: ()),
        "every user was gone, 902 too",
        "only the row",
    ),
    (
        "a fixed id",
        deleting("DELETE FROM users WHERE id = 901", lambda user: ()),
        "user.deleted for user 902 left it in the table",
        "not a fixed one",
    ),
    (
        "never committed",
        deleting(BY_ID, lambda user: (user.id,), commit=False),
        "ran without an error, but after user.deleted for user 901 the user is still",
        "commits when the block ends",
    ),
    (
        "the wrong column",
        deleting("DELETE FROM users WHERE email = ?", lambda user: (user.id,)),
        "the user is still in the users table",
        "by its id column",
    ),
    (
        "parameters not in a tuple",
        deleting(BY_ID, lambda user: user.id),
        "a good user.deleted event, {'id': 901}, got 500",
        "your handler raised an error",
    ),
    (
        "the id as a string",
        deleting(BY_ID, lambda user: (user.id,), make_dataclass("UserDeleted", [("id", str)])),
        "got 422: 'id' should be str, got int",
        "whole number",
    ),
    (
        "an id of any type",
        deleting(BY_ID, lambda user: (user.id,), make_dataclass("UserDeleted", [("id", object)])),
        'an id "902" (a string) got 200, not 422: it was accepted',
        "a whole number",
    ),
    (
        "an id with a default",
        deleting(BY_ID, lambda user: (user.id,), make_dataclass("UserDeleted", [("id", int, 0)])),
        "with no id got 200, not 422",
        "the id is required",
    ),
    (
        "a schema without fields",
        deleting(BY_ID, lambda user: (user.id,), make_dataclass("UserDeleted", [])),
        "got 500",
        "your handler raised an error",
    ),
]


@pytest.mark.parametrize(
    ("slip", "answer", "words", "hint"), WRONG_ROUTES, ids=[w[0] for w in WRONG_ROUTES]
)
def test_routing_user_deleted_refuses_a_wrong_answer_naming_the_slip(
    lab, lesson, slip, answer, words, hint
):
    with lesson["database"]() as db:  # a user of the lesson's own, who must survive the check
        db.execute("INSERT INTO users VALUES (1, 'ada@example.com', 'Ada', 'team')")
    answer(lesson)
    result = check.route_user_deleted(lab, lesson["DB"])
    assert not result
    assert words in result.message, result.message
    assert hint in result.hint, result.hint


def test_routing_user_deleted_refuses_deleting_other_users_too(lab, lesson):
    with lesson["database"]() as db:
        db.execute("INSERT INTO users VALUES (1, 'ada@example.com', 'Ada', 'team')")
    deleting("DELETE FROM users WHERE id <= ?", lambda user: (user.id,))(lesson)
    result = check.route_user_deleted(lab, lesson["DB"])
    assert not result
    assert "other users were gone too: [1]" in result.message


def test_routing_user_deleted_accepts_other_right_answers(lab, lesson):
    with lesson["database"]() as db:
        db.execute("INSERT INTO users VALUES (1, 'ada@example.com', 'Ada', 'team')")
    deleting("DELETE FROM users WHERE id = :id", lambda user: {"id": user.id})(lesson)
    assert check.route_user_deleted(lab, lesson["DB"])
    with lesson["database"]() as db:
        assert [row[0] for row in db.execute("SELECT id FROM users")] == [1]


def test_routing_user_deleted_accepts_a_handler_with_its_own_connection(lab, lesson):
    schema = make_dataclass("UserDeleted", [("id", int), ("reason", str, "")])

    @lesson["handles"]("user.deleted", schema)
    def delete_user(user):  # type: ignore[no-untyped-def]
        with contextlib.closing(sqlite3.connect(lesson["DB"])) as db, db:
            db.execute(f"DELETE FROM users WHERE id = {int(user.id)}")

    assert check.route_user_deleted(lab, lesson["DB"])
