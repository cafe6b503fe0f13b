"""Checks for lesson 3, "Handle payloads".

The first tries the learner's schema on good and bad refunds, with the lesson's own ``parse``; the
second sends real events to the lesson's router and looks in its SQLite database.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.receiver.endpoint import InvalidPayload


def parse(schema: type, data: dict[str, Any]) -> Any:
    """The lesson's ``parse``, kept here so a changed copy in the notebook cannot fool a check."""
    problems = []
    for field in dataclasses.fields(schema):
        if field.name not in data:
            if field.default is dataclasses.MISSING:
                problems.append(f"'{field.name}' is missing")
            continue
        value = data[field.name]
        wrong_type = not isinstance(value, field.type)  # type: ignore[arg-type]
        if wrong_type or (isinstance(value, bool) and field.type is not bool):
            kind = getattr(field.type, "__name__", field.type)
            problems.append(f"'{field.name}' should be {kind}, got {type(value).__name__}")
    if problems:
        raise InvalidPayload("; ".join(problems))
    known = {field.name for field in dataclasses.fields(schema)}
    return schema(**{key: value for key, value in data.items() if key in known})


_GOOD = {"refund": "re_1", "invoice": "in_1", "amount": 1200, "reason": "damaged"}


@check
def refund_schema(schema: Any) -> Result:
    """Exercise 1: a dataclass for ``refund.created``: refund, invoice, amount, optional reason."""
    if schema is Ellipsis or not dataclasses.is_dataclass(schema) or not isinstance(schema, type):
        return not_yet(
            "RefundCreated should be a class decorated with @dataclass.",
            "@dataclass\nclass RefundCreated:\n    refund: str\n    ...",
        )
    names = [field.name for field in dataclasses.fields(schema)]
    missing = [name for name in ("refund", "invoice", "amount", "reason") if name not in names]
    if missing:
        return not_yet(
            f"RefundCreated has no field {', '.join(repr(n) for n in missing)}.",
            "one field per key of the payload's data: refund, invoice, amount and reason",
        )
    for field in dataclasses.fields(schema):
        if isinstance(field.type, str):
            return not_yet(
                f"the type of {field.name!r} is the string {field.type!r}, not a class.",
                "remove 'from __future__ import annotations' from this cell",
            )
    try:
        refund = parse(schema, dict(_GOOD))
    except InvalidPayload as refused:
        hint = "write each field's type as str or int"
        if "amount" in str(refused):
            hint = "amounts are whole cents, an int, as in InvoicePaid (never a float)"
        return not_yet(f"a good refund was refused: {refused}.", hint)
    if refund.amount != 1200 or refund.reason != "damaged":
        return not_yet(
            "a good refund came out with other values than it went in with.",
            "a plain @dataclass with the four fields is enough",
        )
    without_reason = {key: value for key, value in _GOOD.items() if key != "reason"}
    try:
        parse(schema, without_reason)
    except InvalidPayload:
        return not_yet(
            "a refund without a reason was refused, but the reason is optional.",
            'give it a default: reason: str = "requested_by_customer"',
        )
    bad_cases = [
        ({"refund": "re_1", "invoice": "in_1", "reason": "damaged"}, "without an amount"),
        ({**_GOOD, "amount": "12.00"}, 'with the amount "12.00" (a string)'),
        ({**_GOOD, "amount": 12.0}, "with the amount 12.0 (a float)"),
        ({**_GOOD, "invoice": 1}, "with the invoice 1 (a number)"),
    ]
    for data, what in bad_cases:
        try:
            parse(schema, data)
        except InvalidPayload:
            continue
        return not_yet(
            f"a refund {what} was accepted.",
            "only required fields go without a default; amount: int, the others str",
        )
    return right(
        "good refunds parse (with or without a reason); a missing amount, a string, a float or "
        "a numeric invoice are refused with a message saying which field."
    )


@check
def route_user_deleted(lab: Any, database: str | Path, endpoint: str = "store") -> Result:
    """Exercise 2: ``user.deleted`` deletes the user's row; a bad one gets 422."""
    import httpx

    url = lab.receiver.url_for(endpoint)
    user = {"id": 901, "email": "check@example.com", "name": "Check", "plan": "free"}

    def send(event_type: str, data: Any) -> httpx.Response:
        return httpx.post(url, json={"type": event_type, "data": data}, timeout=10)

    created = send("user.created", user)
    if not created.is_success:
        return not_yet(
            f"creating user 901 failed first ({created.status_code}), so nothing could be deleted.",
            "run the lesson's cells from the top, then this one",
        )
    deleted = send("user.deleted", {"id": 901})
    if not deleted.is_success:
        detail = _detail(deleted)
        return not_yet(
            f"a good user.deleted event got {deleted.status_code}: {detail}.",
            "parse it with a schema that has id: int, then delete that id",
        )
    with sqlite3.connect(database) as db:
        left = db.execute("SELECT COUNT(*) FROM users WHERE id = 901").fetchone()[0]
    if left:
        return not_yet(
            "after user.deleted for user 901, the user is still in the users table.",
            'route the type with @handles("user.deleted", UserDeleted) and run '
            '"DELETE FROM users WHERE id = ?" with the user\'s id',
        )
    for data, what in (({"id": "901"}, 'an id "901" (a string)'), ({}, "no id")):
        answer = send("user.deleted", data)
        if answer.status_code != 422:
            return not_yet(
                f"a user.deleted event with {what} got {answer.status_code}, not 422: "
                f"{_detail(answer)}.",
                "give UserDeleted the field id: int, so parse() refuses the rest",
            )
    return right(
        "user.deleted removes the user's row, and one with a missing or wrong id gets a 422 "
        "that says why."
    )


def _detail(answer: Any) -> str:
    if answer.headers.get("content-type", "").startswith("application/json"):
        return str(answer.json().get("detail", "no detail"))
    return answer.text[:200]


__all__ = ["parse", "refund_schema", "route_user_deleted"]
