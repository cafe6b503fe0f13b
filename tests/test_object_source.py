"""The object source on a real server on 127.0.0.1: snapshot and thin events, the current state,
and the events list with its cursor, including the requests it must refuse."""

from __future__ import annotations

import httpx
import pytest
from helpers import eventually

from webhooks_lab.lessons.object_source import MAX_PAGE, ObjectSource


@pytest.fixture
def source(lab):
    lab.sender.add_endpoint(lab.receiver.url_for("shop"))
    made = ObjectSource(lab)
    yield made
    made.close()


@pytest.fixture
def api(source):
    with httpx.Client(base_url=source.url, timeout=10) as client:
        yield client


def test_a_snapshot_event_carries_the_object_as_it_was(lab, source):
    source.change("order", "A-1", status="pending", total=42)
    source.change("order", "A-1", status="paid")
    assert eventually(lambda: len(lab.receiver.inbox) == 2)
    first, second = (d.json() for d in lab.receiver.inbox)
    assert first["type"] == "order.created" and second["type"] == "order.updated"
    assert first["data"]["object"] == {
        **first["data"]["object"],
        "status": "pending",
        "total": 42,
        "version": 1,
    }
    assert second["data"]["object"]["version"] == 2
    assert second["data"]["object"]["total"] == 42  # a change keeps the other fields


def test_a_thin_event_carries_only_the_objects_type_and_id_and_the_api_has_its_state(
    lab, source, api
):
    source.mode = "thin"
    source.change("order", "A-1", status="pending")
    source.change("order", "A-1", status="shipped")
    assert eventually(lambda: len(lab.receiver.inbox) == 2)
    thin = lab.receiver.inbox[0].json()["data"]
    assert thin == {"related_object": {"type": "order", "id": "A-1", "url": "/objects/order/A-1"}}
    latest = api.get(thin["related_object"]["url"]).json()
    assert (latest["status"], latest["version"]) == ("shipped", 2)  # now, not then


def test_an_unknown_object_is_a_404_problem(api):
    answer = api.get("/objects/order/nope")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "no order 'nope'" in answer.json()["detail"]


def test_the_events_list_pages_through_everything_with_a_cursor(source, api):
    made = [source.change("order", f"A-{n}", n=n).id for n in range(25)]
    seen, after, pages = [], "", 0
    while True:
        pages += 1
        assert pages <= 10, "the pages never end"
        page = api.get("/events", params={"after": after, "limit": 10}).json()
        seen += [event["id"] for event in page["data"]]
        after = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == made and pages == 3
    empty = api.get("/events", params={"after": made[-1]}).json()
    assert empty == {"data": [], "has_more": False, "next_cursor": made[-1]}


@pytest.mark.parametrize(
    ("params", "slug"),
    [
        ({"after": "evt_nosuchevent"}, "unknown-cursor"),
        ({"after": "'; drop table events"}, "malformed-cursor"),
        ({"after": "x" * 5000}, "malformed-cursor"),
        ({"limit": str(MAX_PAGE + 1)}, "limit-out-of-range"),
        ({"limit": "0"}, "limit-out-of-range"),
        ({"limit": "9" * 40}, "limit-out-of-range"),
        ({"limit": "ten"}, "bad-limit"),
    ],
)
def test_bad_cursors_and_limits_are_refused_with_a_reason(source, api, params, slug):
    source.change("order", "A-1", status="pending")
    answer = api.get("/events", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(slug)


def test_object_names_are_checked_on_both_sides(source, api):
    with pytest.raises(ValueError):
        source.change("order", "../etc", status="x")
    assert api.get("/objects/order/" + "x" * 200).status_code == 400


def test_a_new_source_for_the_same_lab_replaces_the_old_one(lab, source):
    old_url = source.url
    newer = ObjectSource(lab)
    try:
        with pytest.raises(RuntimeError):
            source.url  # noqa: B018
        with pytest.raises(httpx.ConnectError):
            httpx.get(old_url + "/events", timeout=5)
    finally:
        newer.close()
