"""The inbox view, driven by real deliveries over real HTTP to a real lab, without a browser."""

from __future__ import annotations

import time

import httpx
import pytest

from webhooks_lab import Event, signing
from webhooks_lab.receiver.replay import REPLAY_HEADER
from webhooks_lab.widgets import InboxView, open_views


def settle(view: InboxView, count: int, timeout: float = 5.0) -> None:
    """Wait for the view's own throttle to show ``count`` rows (no manual refresh)."""
    deadline = time.monotonic() + timeout
    while len(view.rows) < count or view.summary.value.count(f"<b>{count}</b>") == 0:
        assert time.monotonic() < deadline, f"the view shows {len(view.rows)} rows, not {count}"
        time.sleep(0.01)


def post(client: httpx.Client, endpoint: str, kind: str, msg_id: str, **extra) -> httpx.Response:
    body = Event(kind, {"n": msg_id}, id=msg_id).body()
    headers = {"webhook-id": msg_id, "content-type": "application/json", **extra}
    return client.post(f"/webhooks/{endpoint}", content=body, headers=headers)


def test_deliveries_in_become_rows_out_newest_first(lab, client):
    view = InboxView(lab)
    for n in range(3):
        post(client, "shop", "order.created", f"msg_{n}")
    settle(view, 3)

    labels = [label for label, _ in view.table.options]
    assert [seq for _, seq in view.table.options] == [3, 2, 1]
    assert "shop" in labels[0] and "order.created" in labels[0] and "200" in labels[0]
    assert "3</b> deliveries" in view.summary.value and "3 accepted" in view.summary.value
    view.close()


def test_a_view_for_one_endpoint_ignores_the_others(lab, client):
    view = InboxView(lab, "shop")
    post(client, "shop", "order.created", "msg_a")
    post(client, "crm", "user.created", "msg_b")
    post(client, "shop", "order.paid", "msg_c")
    settle(view, 2)
    time.sleep(0.2)
    assert [d.webhook_id for d in view.rows.values()] == ["msg_a", "msg_c"]
    view.close()


def test_a_view_made_late_shows_what_already_arrived(lab, client):
    post(client, "shop", "order.created", "msg_early")
    view = InboxView(lab, "shop")
    assert [d.webhook_id for d in view.rows.values()] == ["msg_early"]
    view.close()


def test_rows_say_why_a_delivery_was_rejected_and_mark_duplicates(lab, client):
    secret = signing.generate_secret()
    lab.receiver.endpoint("vault").require(secret)
    view = InboxView(lab, "vault")
    body = Event("payment.succeeded", {"amount": 5}, id="msg_pay").body()
    good = signing.sign_headers(secret, body, msg_id="msg_pay")
    client.post("/webhooks/vault", content=body, headers=good)
    client.post("/webhooks/vault", content=body, headers=good)
    client.post("/webhooks/vault", content=body, headers={**good, "webhook-signature": "v1,AAAA"})
    settle(view, 3)

    newest_first = [label for label, _ in view.table.options]
    assert "bad signature" in newest_first[0] and "401" in newest_first[0]
    assert "rejected" in newest_first[0] and "signature" in newest_first[0].split("rejected")[1]
    assert "duplicate" in newest_first[1]
    assert "verified" in newest_first[2] and "accepted" in newest_first[2]
    view.close()


def test_selecting_a_row_shows_its_headers_and_pretty_payload(lab, client):
    view = InboxView(lab)
    post(client, "shop", "order.created", "msg_sel", **{"x-trace": "abc<tag>"})
    settle(view, 1)
    assert view.replay_button.disabled

    view.table.value = 1  # what a click in the browser does
    assert view.selected.webhook_id == "msg_sel"
    assert "x-trace" in view.detail.value and "abc&lt;tag&gt;" in view.detail.value
    assert "&quot;type&quot;: &quot;order.created&quot;" in view.detail.value  # indented JSON
    assert "\n" in view.detail.value
    assert not view.replay_button.disabled
    view.close()


def test_selection_survives_new_deliveries_arriving(lab, client):
    view = InboxView(lab)
    post(client, "shop", "order.created", "msg_first")
    settle(view, 1)
    view.select(1)
    for n in range(5):
        post(client, "shop", "order.created", f"msg_more{n}")
    settle(view, 6)
    assert view.table.value == 1
    assert view.selected.webhook_id == "msg_first"
    view.close()


def test_replay_posts_the_same_bytes_again_and_the_receiver_sees_a_duplicate(lab, client):
    view = InboxView(lab, "shop")
    post(client, "shop", "order.created", "msg_once")
    settle(view, 1)
    view.select(1)

    replayed = view.replay().result(timeout=5)
    assert replayed.body == view.rows[1].body
    assert replayed.headers["webhook-id"] == "msg_once"
    assert replayed.headers[REPLAY_HEADER].startswith("#1 ")
    assert replayed.duplicate and replayed.status == 200
    settle(view, 2)
    deadline = time.monotonic() + 5
    while "replayed #1 as #2" not in view.note.value:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    view.close()


def test_replay_without_a_selection_says_what_to_do(lab):
    view = InboxView(lab)
    with pytest.raises(ValueError, match="select a delivery"):
        view.replay()
    view.close()


def test_only_the_newest_rows_are_listed_but_every_delivery_is_kept(lab, client):
    view = InboxView(lab, "bulk", max_rows=5)
    for n in range(12):
        post(client, "bulk", "tick.tocked", f"msg_bulk{n}")
    settle(view, 12)
    assert [seq for _, seq in view.table.options] == [12, 11, 10, 9, 8]
    assert list(view.rows) == list(range(1, 13))
    assert "newest 5 listed" in view.summary.value
    view.close()


def test_the_text_form_describes_the_view_and_does_not_change_with_traffic(lab, client):
    view = InboxView(lab, "shop")
    before = repr(view)
    plain = view._repr_mimebundle_()["text/plain"]
    post(client, "shop", "order.created", "msg_r")
    settle(view, 1)
    assert repr(view) == before == plain
    assert "InboxView" in before and "/webhooks/shop" in before
    assert len(before) <= 110  # ipywidgets cuts text/plain there
    view.close()


def test_closing_a_view_stops_it_listening(lab, client):
    view = InboxView(lab, "shop")
    view.close()
    post(client, "shop", "order.created", "msg_after")
    time.sleep(0.3)
    assert len(view.rows) == 0
    assert view not in open_views()
    assert "closed" in repr(view)


def test_re_running_the_cell_fifty_times_leaves_one_live_view_and_one_listener(lab, client):
    listeners_before = len(lab.receiver.inbox.listeners)
    views = [InboxView(lab, "shop") for _ in range(50)]
    assert len(lab.receiver.inbox.listeners) == listeners_before + 1
    assert all(v.closed for v in views[:-1]) and not views[-1].closed
    post(client, "shop", "order.created", "msg_once_more")
    settle(views[-1], 1)
    assert all(len(v.rows) == 0 for v in views[:-1])
    views[-1].close()
    assert len(lab.receiver.inbox.listeners) == listeners_before


def test_views_on_different_endpoints_live_side_by_side(lab):
    shop, crm = InboxView(lab, "shop"), InboxView(lab, "crm")
    assert not shop.closed and not crm.closed
    shop.close()
    crm.close()


def screen_column(label: str, text: str) -> int:
    """Where ``text`` starts in ``label`` on screen, in monospace columns (wcwidth measures)."""
    from wcwidth import wcswidth

    return wcswidth(label[: label.index(text)])


def test_long_and_wide_event_types_keep_every_column_in_place(lab, client):
    long_type = "invoice.payment_action_required.for.a.customer.in.another.region"
    kinds = ["order.created", long_type, "주문.생성됨.결제.완료.배송.준비.중"]
    view = InboxView(lab)
    for n, kind in enumerate(kinds):  # as any client may send them, not only the lab's Event
        endpoint = f"shop{'-with-a-long-endpoint-name' * (n == 1)}"
        body = {"type": kind, "data": {}}
        client.post(f"/webhooks/{endpoint}", json=body, headers={"webhook-id": f"msg_wide{n}"})
    settle(view, 3)

    labels = [label for label, _ in view.table.options]
    assert len({screen_column(label, "unsigned") for label in labels}) == 1
    assert len({screen_column(label, " 200 ") for label in labels}) == 1
    assert len({screen_column(label, " accepted") for label in labels}) == 1
    assert long_type not in labels[1] and "invoice.payment_action_…" in labels[1]
    assert "order.created" in labels[2]

    view.select(2)  # the long one: shown whole where there is room
    assert long_type in view.table.tooltip
    assert long_type in view.detail.value
    view.close()


def test_a_value_with_a_newline_cannot_break_a_row():
    from webhooks_lab.widgets.inbox import fit

    assert fit("order\ncreated", 14) == "order created "
    assert fit("a" * 30, 10) == "a" * 9 + "…"
    assert fit("한국어", 5) == "한국…"  # two columns each: 4 + the ellipsis
    assert fit("ok", 5, pad=False) == "ok"
