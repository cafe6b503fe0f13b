"""Checks for lesson 3, "Handle payloads".

The first tries the learner's schema on good and bad refunds, with the lesson's own ``parse``; the
second sends real events to the lesson's router and looks in its SQLite database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

from webhooks_lab.checks import Result, answer_detail, check, not_yet, right
from webhooks_lab.i18n import N_, _
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
_DEFAULT_REASON = "requested_by_customer"
_WHAT = {  # what each field holds, in words; translated where shown
    "refund": N_("the refund's id, a string like re_1"),
    "invoice": N_("the invoice's id, a string like in_1"),
    "amount": N_("a whole number of cents"),
    "reason": N_("a string"),
}


@check
def refund_schema(schema: Any) -> Result:
    """Exercise 1: a dataclass for ``refund.created``: refund, invoice, amount, optional reason.

    A missing reason must come out as ``"requested_by_customer"``, the default the prompt names:
    ``reason: str = None`` would hand every handler a ``None`` it must test for, under a type
    (``str``) that says it cannot happen.
    """
    if schema is Ellipsis or not dataclasses.is_dataclass(schema) or not isinstance(schema, type):
        return not_yet(
            _("RefundCreated should be a class decorated with @dataclass."),
            _(
                "write it like UserCreated in this lesson: the decorator, then one annotated "
                "field per key"
            ),
        )
    names = [field.name for field in dataclasses.fields(schema)]
    missing = [name for name in ("refund", "invoice", "amount", "reason") if name not in names]
    if len(missing) == 4 and not names:
        return not_yet(
            _("RefundCreated has no fields yet."),
            _(
                "one field per key of the event's data, each with the type the text gives it; the "
                "optional one also gets the value to use when the key is missing"
            ),
        )
    if missing:
        return not_yet(
            _(
                "RefundCreated has no field {names}.",
                names=", ".join(repr(n) for n in missing),
            ),
            _(
                "name each field exactly as the key in the payload's data: refund, invoice, amount "
                "and reason"
            ),
        )
    for field in dataclasses.fields(schema):
        if isinstance(field.type, str):
            return not_yet(
                _(
                    "the type of {name} is the string {type}, not a class.",
                    name=repr(field.name),
                    type=repr(field.type),
                ),
                _("remove 'from __future__ import annotations' from this cell"),
            )
        try:
            isinstance(0, field.type)
        except TypeError:
            what = _WHAT.get(field.name, N_("a plain class such as str or int"))
            return not_yet(
                _(
                    "the type of {name}, {type}, cannot be checked with isinstance, so parse "
                    "cannot hold a payload up against it.",
                    name=repr(field.name),
                    type=repr(field.type),
                ),
                _("{name} is {what}", name=field.name, what=_(what)),
            )
    try:
        refund = parse(schema, dict(_GOOD))
    except InvalidPayload as refused:
        return not_yet(
            _("a good refund was refused: {refused}.", refused=refused),
            _refusal_hint(str(refused)),
        )
    if refund.amount != 1200 or refund.reason != "damaged":
        return not_yet(
            _("a good refund came out with other values than it went in with."),
            _("a plain @dataclass with the four fields is enough"),
        )
    without_reason = {key: value for key, value in _GOOD.items() if key != "reason"}
    try:
        defaulted = parse(schema, without_reason)
    except InvalidPayload:
        return not_yet(
            _("a refund without a reason was refused, but the reason is optional."),
            _(
                "a field with a default may be missing from the payload: give reason the default "
                "the text names"
            ),
        )
    if defaulted.reason != _DEFAULT_REASON:
        return not_yet(
            _(
                "a refund without a reason came out with reason {reason}, but the provider says "
                "a missing reason means {default}.",
                reason=repr(defaulted.reason),
                default=repr(_DEFAULT_REASON),
            ),
            _(
                "the default is what your handlers get when the key is missing: make it the value "
                "the provider documents, so they never have to test for None"
            )
            if defaulted.reason is None
            else _(
                "the default is what your handlers get when the key is missing: make it the value "
                "the provider documents, so they never have to test for an empty reason"
            ),
        )
    bad_cases = [
        (
            {"refund": "re_1", "invoice": "in_1", "reason": "damaged"},
            _("without an amount"),
            "amount",
        ),
        ({**_GOOD, "amount": "12.00"}, _('with the amount "12.00" (a string)'), "amount"),
        ({**_GOOD, "amount": 12.0}, _("with the amount 12.0 (a float)"), "amount"),
        ({**_GOOD, "invoice": 1}, _("with the invoice 1 (a number)"), "invoice"),
        ({**_GOOD, "refund": 7}, _("with the refund 7 (a number)"), "refund"),
        ({**_GOOD, "reason": 5}, _("with the reason 5 (a number)"), "reason"),
    ]
    for data, what, name in bad_cases:
        try:
            parse(schema, data)
        except InvalidPayload:
            continue
        default = next(f.default for f in dataclasses.fields(schema) if f.name == name)
        hint = _(
            "{name} is {what}: its type should say exactly that", name=name, what=_(_WHAT[name])
        )
        if name not in data and default is not dataclasses.MISSING:
            hint = _(
                "{name} is required: a field with a default may be left out, so give it none",
                name=name,
            )
        return not_yet(_("a refund {what} was accepted.", what=what), hint)
    return right(
        _(
            "good refunds parse (a missing reason becomes requested_by_customer); a missing "
            "amount, a string or float amount, and numbers where ids or the reason belong are "
            "refused, each with a message saying which field."
        )
    )


def _refusal_hint(refused: str) -> str:
    """A hint from the refusal's words, which are parse's own (English, as on the wire)."""
    for name, what in _WHAT.items():
        if f"'{name}' should be" in refused:
            if name == "amount":
                return _("{name} is {what}, never a float", name=name, what=_(what))
            return _("{name} is {what}", name=name, what=_(what))
        if f"'{name}' is missing" in refused:
            return _("the data has no {name}, so the field needs a default", name=name)
    extra = refused.split("'")[1] if "'" in refused else _("a field")
    return _(
        "the payload's data has only refund, invoice, amount and reason: {extra} cannot be "
        "required",
        extra=extra,
    )


@check
def route_user_deleted(lab: Any, database: str | Path, endpoint: str = "store") -> Result:
    """Exercise 2: ``user.deleted`` deletes that user's row, and only it; a bad one gets 422.

    Two users are made through the learner's router; deleting the first must leave the second
    (and every other row) in place, and deleting the second must remove it too, so neither a
    ``DELETE`` without ``WHERE`` nor a fixed id passes.
    """
    import httpx

    url = lab.receiver.url_for(endpoint)
    first, second = 901, 902

    def send(event_type: str, data: Any) -> httpx.Response:
        return httpx.post(url, json={"type": event_type, "data": data}, timeout=10)

    def ids() -> set[int]:
        with contextlib.closing(sqlite3.connect(database)) as db:
            return {row[0] for row in db.execute("SELECT id FROM users")}

    for user_id in (first, second):
        user = {"id": user_id, "email": f"check{user_id}@example.com", "name": "Check"}
        created = send("user.created", {**user, "plan": "free"})
        if not created.is_success:
            return not_yet(
                _(
                    "creating user {user} failed first ({status}), so nothing could be deleted.",
                    user=user_id,
                    status=created.status_code,
                ),
                _("run the lesson's cells from the top, then this one"),
            )
    others = ids() - {first, second}
    deleted = send("user.deleted", {"id": first})
    if not deleted.is_success:
        return not_yet(
            _(
                "a good user.deleted event, {data}, got {status}: {detail}.",
                data=repr({"id": first}),
                status=deleted.status_code,
                detail=answer_detail(deleted),
            ),
            _failure_hint(deleted),
        )
    left = ids()
    only_that_row = _("delete only the row whose id is the event's id")
    restore = _(
        "delete only the row whose id is the event's id (then run the lesson's cells again "
        "from the top to bring its users back)"
    )
    if not left & ({second} | others):
        return not_yet(
            _(
                "after user.deleted for user {first}, every user was gone, {second} too: a "
                "DELETE without a WHERE removes every row of the table.",
                first=first,
                second=second,
            ),
            restore if others else only_that_row,
        )
    if lost := others - left:
        return not_yet(
            _(
                "after user.deleted for user {first}, other users were gone too: {lost}.",
                first=first,
                lost=sorted(lost),
            ),
            restore,
        )
    if second not in left:
        return not_yet(
            _(
                "after user.deleted for user {first}, user {second} was deleted too.",
                first=first,
                second=second,
            ),
            only_that_row,
        )
    if first in left:
        refuses_no_id = send("user.deleted", {}).status_code == 422
        if not refuses_no_id:
            return not_yet(
                _(
                    "after user.deleted for user {first}, the user is still in the users table.",
                    first=first,
                ),
                _(
                    "give UserDeleted the field a user.deleted event carries, and make "
                    "delete_user remove that user's row from the users table, opening the "
                    "lesson's database the way the other handlers do"
                ),
            )
        return not_yet(
            _(
                "your handler ran without an error, but after user.deleted for user {first} the "
                "user is still in the users table.",
                first=first,
            ),
            _(
                "check three things: the change is made inside `with database() as db:`, which "
                "commits when the block ends; it is on the users table; and it picks the row by "
                "its id column"
            ),
        )
    deleted = send("user.deleted", {"id": second})
    if not deleted.is_success or second in ids():
        return not_yet(
            _(
                "user.deleted for user {first} worked, but user.deleted for user {second} left it "
                "in the table.",
                first=first,
                second=second,
            ),
            _("delete the id the event carries, not a fixed one"),
        )
    for data, what in (
        ({"id": str(second)}, _('an id "{id}" (a string)', id=second)),
        ({}, _("no id")),
        ({"id": 9.5}, _("the id 9.5")),
    ):
        answer = send("user.deleted", data)
        if answer.status_code != 422:
            hint = _("give UserDeleted the field id: a whole number, so parse() refuses the rest")
            if not data:
                hint = _(
                    "the id is required: a field with a default may be left out, so parse() "
                    "refuses the rest"
                )
            said = _("it was accepted") if answer.is_success else answer_detail(answer)
            return not_yet(
                _(
                    "a user.deleted event with {what} got {status}, not 422: {said}.",
                    what=what,
                    status=answer.status_code,
                    said=said,
                ),
                hint,
            )
    return right(
        _(
            "user.deleted removes that user's row and no other, and one with a missing or wrong "
            "id gets a 422 that says why."
        )
    )


def _failure_hint(answer: Any) -> str:
    if answer.status_code == 422:
        return _("the id of a user.deleted event is a whole number, as in UserCreated")
    if answer.status_code >= 500:
        return _("your handler raised an error: the detail above names it and its line")
    return _("run the lesson's cells from the top, then this one")


__all__ = ["parse", "refund_schema", "route_user_deleted"]
