"""Lesson 3's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

import pytest

from webhooks_lab.checks import payloads as check

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def run_solution(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a solution file the way ``%load`` + run would: in the notebook's namespace."""
    exec(compile((SOLUTIONS / name).read_text(), name, "exec", dont_inherit=True), namespace)
    return namespace


# Schemas are made with make_dataclass: this module's `from __future__ import annotations` would
# turn class-body annotations into strings, and a notebook cell has real classes there.


def refund(*fields: tuple[str, type] | tuple[str, type, Any]) -> type:
    return make_dataclass("RefundCreated", fields)


# -- exercise 1: a schema for refund.created -------------------------------------------------------


def test_the_refund_schema_check_accepts_the_reference_solution():
    namespace = run_solution("03_refund_schema.py", {"dataclass": dataclass})
    result = check.refund_schema(namespace["RefundCreated"])
    assert result, result


def test_the_refund_schema_check_rejects_an_amount_as_float():
    wrong = refund(
        ("refund", str),
        ("invoice", str),
        ("amount", float),
        ("reason", str, field(default="requested_by_customer")),
    )
    result = check.refund_schema(wrong)
    assert not result
    assert "a good refund was refused" in result.message
    assert "cents" in result.hint


def test_the_refund_schema_check_rejects_a_required_reason():
    wrong = refund(("refund", str), ("invoice", str), ("amount", int), ("reason", str))
    result = check.refund_schema(wrong)
    assert not result
    assert "reason is optional" in result.message


def test_the_refund_schema_check_rejects_a_default_amount():
    wrong = refund(
        ("refund", str),
        ("invoice", str),
        ("amount", int, field(default=0)),
        ("reason", str, field(default="requested_by_customer")),
    )
    result = check.refund_schema(wrong)
    assert not result
    assert "without an amount was accepted" in result.message


def test_the_refund_schema_check_says_what_the_empty_starting_point_lacks():
    result = check.refund_schema(make_dataclass("RefundCreated", []))
    assert not result
    assert "no field 'refund'" in result.message


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


def test_routing_user_deleted_rejects_the_starting_point(lab, lesson):
    handles = lesson["handles"]

    @handles("user.deleted", make_dataclass("UserDeleted", []))
    def delete_user(user):  # type: ignore[no-untyped-def]
        ...

    result = check.route_user_deleted(lab, lesson["DB"])
    assert not result
    assert "still in the users table" in result.message


def test_routing_user_deleted_rejects_a_schema_that_lets_a_string_id_through(lab, lesson):
    handles, database = lesson["handles"], lesson["database"]

    @handles("user.deleted", make_dataclass("UserDeleted", [("id", object)]))
    def delete_user(user):  # type: ignore[no-untyped-def]
        with database() as db:
            db.execute("DELETE FROM users WHERE id = ?", (user.id,))

    result = check.route_user_deleted(lab, lesson["DB"])
    assert not result
    assert 'an id "901" (a string) got 200, not 422' in result.message
