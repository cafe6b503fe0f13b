"""Lesson 12's checks accept the solutions and refuse the wrong answers people write."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhooks_lab.checks import world
from webhooks_lab.checks.hints import forget_attempts

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def solution(name: str, function: str):
    space: dict = {}
    exec((SOLUTIONS / name).read_text(), space)
    return space[function]


@pytest.fixture(autouse=True)
def fresh_hints():
    forget_attempts()
    yield
    forget_attempts()


def test_the_thin_handler_solution_passes():
    assert world.thin_handler(solution("12_handle_thin.py", "handle_thin"))


def reads_the_event(table, event, fetch):  # a thin event has no object in it
    obj = event.data["object"]
    table[(obj["type"], obj["id"])] = obj


def stores_every_answer(table, event, fetch):
    ref = event.data["related_object"]
    state = fetch(ref["type"], ref["id"])
    table[(state["type"], state["id"])] = state


def keeps_the_first_answer(table, event, fetch):
    ref = event.data["related_object"]
    key = (ref["type"], ref["id"])
    if key not in table:
        table[key] = fetch(*key)


def keyed_by_id_only(table, event, fetch):
    ref = event.data["related_object"]
    state = fetch(ref["type"], ref["id"])
    held = table.get(state["id"])
    if held is None or state["version"] > held["version"]:
        table[state["id"]] = state


def never_fetches(table, event, fetch):
    ref = event.data["related_object"]
    table[(ref["type"], ref["id"])] = {"status": "updated"}


def placeholder(table, event, fetch):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (reads_the_event, "KeyError"),
        (stores_every_answer, "lagging replica"),
        (keeps_the_first_answer, "lagging replica"),
        (keyed_by_id_only, "held"),
        (never_fetches, "never called fetch"),
        (placeholder, "not done yet"),
        ("handle_thin", "should be a function"),
    ],
)
def test_wrong_thin_handlers_are_refused_with_a_reason(wrong, words):
    result = world.thin_handler(wrong)
    assert not result
    assert words in result.message


def test_the_reconcile_solution_passes():
    assert world.reconcile(solution("12_reconcile.py", "reconcile"))


def from_the_start(list_page, process, cursor):
    page = list_page(None)
    while True:
        for event in page["data"]:
            process(event)
        if not page["has_more"]:
            return page["next_cursor"]
        page = list_page(page["next_cursor"])


def first_page_only(list_page, process, cursor):
    page = list_page(cursor)
    for event in page["data"]:
        process(event)
    return page["next_cursor"]


def returns_the_old_cursor(list_page, process, cursor):
    start, after = cursor, cursor
    while True:
        page = list_page(after)
        for event in page["data"]:
            process(event)
        after = page["next_cursor"]
        if not page["has_more"]:
            return start


def newest_first(list_page, process, cursor):
    seen = []
    while True:
        page = list_page(cursor)
        seen += page["data"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    for event in reversed(seen):
        process(event)
    return cursor


def loops_while_data(list_page, process, cursor):  # has_more ignored: never ends on an empty list?
    while True:
        page = list_page(cursor)
        for event in page["data"]:
            process(event)
        cursor = page["next_cursor"]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (from_the_start, "handled already"),
        (first_page_only, "stopped"),
        (returns_the_old_cursor, "returned the cursor 'evt_007'"),
        (newest_first, "oldest first"),
        (loops_while_data, "does not end"),
        ("reconcile", "should be a function"),
    ],
)
def test_wrong_reconcilers_are_refused_with_a_reason(wrong, words):
    result = world.reconcile(wrong)
    assert not result
    assert words in result.message


def test_the_first_hint_gives_the_idea_and_the_second_the_detail():
    first = world.reconcile(first_page_only)
    second = world.reconcile(first_page_only)
    assert first.hint != second.hint and "has_more" in second.hint
