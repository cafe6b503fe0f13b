"""The receiver over real HTTP on 127.0.0.1: what it answers, and what the inbox shows."""

from __future__ import annotations

import json
import socket
import threading

import httpx

from webhooks_lab import Event
from webhooks_lab.lab import Lab


def test_a_delivery_is_acknowledged_and_recorded_with_everything_a_learner_needs(lab, client):
    body = Event("user.created", {"email": "ada@example.com"}, id="msg_1").body()
    answer = client.post(
        "/webhooks/demo",
        content=body,
        headers={"webhook-id": "msg_1", "content-type": "application/json"},
    )

    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "id": "msg_1", "endpoint": "demo"}
    delivery = lab.receiver.inbox.last
    assert delivery.body == body
    assert delivery.headers["webhook-id"] == "msg_1"
    assert delivery.status == 200
    assert delivery.event_type == "user.created"
    assert delivery.event.data == {"email": "ada@example.com"}
    assert abs(delivery.received_at - lab.clock.time()) < 5


def test_a_blocking_call_from_the_kernel_thread_does_not_deadlock(lab):
    # The notebook's own thread makes a synchronous call to the lab's own server.
    assert threading.current_thread() is threading.main_thread()
    answer = httpx.post(
        f"{lab.receiver.url}/webhooks/demo", json={"type": "ping", "data": {}}, timeout=5
    )
    assert answer.status_code == 200


def test_a_repeated_webhook_id_is_acknowledged_but_not_processed_twice(lab, client):
    calls = []
    lab.receiver.on("shop", "order.paid")(lambda event: calls.append(event.id))
    body = Event("order.paid", {"order": 7}).body()
    first = client.post("/webhooks/shop", content=body, headers={"webhook-id": "msg_dup"})
    second = client.post("/webhooks/shop", content=body, headers={"webhook-id": "msg_dup"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicate"] is True
    assert calls == ["msg_dup"]
    assert [d.outcome for d in lab.receiver.inbox] == ["accepted", "duplicate"]


def test_handlers_are_chosen_by_event_type(lab, client):
    seen: dict[str, list[str]] = {"created": [], "all": []}
    lab.receiver.on("users", "user.created")(lambda e: seen["created"].append(e.type))
    lab.receiver.on("users")(lambda e: seen["all"].append(e.type))
    for kind in ("user.created", "user.deleted"):
        client.post("/webhooks/users", content=Event(kind, {}).body())
    assert seen == {"created": ["user.created"], "all": ["user.created", "user.deleted"]}


def test_async_handlers_run_on_the_lab_loop(lab, client):
    ran = []

    @lab.receiver.on("async")
    async def handle(event):
        ran.append(threading.current_thread().name)

    client.post("/webhooks/async", content=Event("x.y", {}).body())
    assert ran == ["webhooks-lab-loop"]


def test_a_handler_that_raises_answers_500_is_recorded_and_the_server_keeps_serving(lab, client):
    @lab.receiver.on("broken")
    def explode(event):
        raise ZeroDivisionError("division by zero")

    failed = client.post(
        "/webhooks/broken", content=Event("x.y", {}).body(), headers={"webhook-id": "m1"}
    )
    assert failed.status_code == 500
    assert failed.json() == {
        "error": "handler_failed",
        "detail": "ZeroDivisionError: division by zero",
    }
    assert lab.receiver.inbox.last.error == "ZeroDivisionError: division by zero"
    assert client.post("/webhooks/demo", json={"type": "ok", "data": {}}).status_code == 200


def test_a_bug_on_the_delivery_path_answers_json_500_and_closes_the_connection(lab, client):
    async def broken(*args, **kwargs):
        raise KeyError("a bug of ours")

    lab.receiver.deliver = broken  # the instance's, for this lab only
    failed = client.post("/webhooks/demo", json={"type": "x.y", "data": {}})
    assert failed.status_code == 500
    assert failed.json()["error"] == "internal_error"
    assert failed.headers["connection"] == "close"
    assert lab.receiver.inbox.last.status == 500
    del lab.receiver.deliver
    assert client.post("/webhooks/demo", json={"type": "x.y", "data": {}}).status_code == 200


def test_a_bug_after_the_answer_began_sends_no_second_answer(lab, client):
    async def answers_then_fails(name, scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        raise KeyError("a bug of ours, after answering")

    lab.app._handle_webhook = answers_then_fails
    assert client.post("/webhooks/demo", json={}).status_code == 204
    (kept,) = lab.receiver.inbox.wait_for(1)  # recorded once the answer is out
    assert (kept.status, kept.response["error"]) == (500, "internal_error")
    assert "after answering" in kept.reason


def test_a_failed_delivery_is_processed_when_retried(lab, client):
    attempts = []

    @lab.receiver.on("flaky")
    def fail_once(event):
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    body = Event("x.y", {}).body()
    assert (
        client.post("/webhooks/flaky", content=body, headers={"webhook-id": "m"}).status_code == 500
    )
    assert (
        client.post("/webhooks/flaky", content=body, headers={"webhook-id": "m"}).status_code == 200
    )
    assert attempts == ["m", "m"]


def test_malformed_json_is_refused_with_400_saying_why(lab, client):
    answer = client.post(
        "/webhooks/demo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_json"
    assert "not valid JSON" in answer.json()["detail"]
    assert lab.receiver.inbox.last.outcome == "rejected"
    assert lab.receiver.inbox.last.body == b"{not json"


def test_an_oversized_body_is_refused_with_413_before_it_is_read(lab):
    lab.receiver.max_body = 1024
    # Declare a huge body but send only the headers: the answer must come without the body.
    with socket.create_connection(("127.0.0.1", lab.server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /webhooks/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        reply = b""
        while chunk := raw.recv(65536):  # the server closes after answering
            reply += chunk
    head, _, body = reply.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413")
    assert json.loads(body)["error"] == "payload_too_large"
    assert lab.receiver.inbox.last.status == 413


def test_a_chunked_body_over_the_limit_is_refused_with_413(lab, client):
    lab.receiver.max_body = 1024

    def chunks():
        for _ in range(10):
            yield b"x" * 512

    answer = client.post("/webhooks/big", content=chunks())
    assert answer.status_code == 413
    assert "limit is 1024 bytes" in answer.json()["detail"]


def test_a_chunked_body_under_the_limit_is_delivered_whole(lab, client):
    lab.receiver.max_body = 1024
    body = json.dumps({"type": "note.added", "data": {"text": "x" * 900}}).encode()

    def chunks():
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    answer = client.post("/webhooks/chunked", content=chunks())
    assert answer.status_code == 200
    assert lab.receiver.inbox.last.body == body


def test_a_client_that_leaves_mid_body_is_recorded_as_incomplete_not_processed(lab):
    handled = []
    lab.receiver.on("half")(handled.append)
    with socket.create_connection(("127.0.0.1", lab.server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /webhooks/half HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"type": "a.b"'
        )
    (delivery,) = lab.receiver.inbox.wait_for(1, timeout=5, endpoint="half")
    assert delivery.status == 400
    assert delivery.response["error"] == "incomplete_body"
    assert handled == []


def test_a_broken_inbox_listener_is_dropped_and_never_breaks_the_receiver(lab, client):
    heard = []
    before = len(lab.receiver.inbox.listeners)  # the lab's own (the wire trace reads the inbox)
    lab.receiver.inbox.subscribe(lambda delivery: 1 / 0)
    lab.receiver.inbox.subscribe(heard.append)
    for n in range(2):
        body = Event("note.added", {"n": n}).body()
        assert client.post("/webhooks/notes", content=body).status_code == 200
    assert [d.status for d in heard] == [200, 200]
    assert len(lab.receiver.inbox.listeners) == before + 1
    assert "ZeroDivisionError" in lab.receiver.inbox.listeners.errors[0]


def test_a_wrong_method_gets_405_with_json_and_is_recorded(lab, client):
    answer = client.put("/webhooks/demo", json={})
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert "POST" in answer.headers["allow"]
    assert lab.receiver.inbox.last.status == 405


def test_an_unknown_route_gets_404_with_json_and_a_post_there_is_recorded(lab, client):
    assert client.get("/nowhere").json()["error"] == "not_found"
    answer = client.post("/hooks/typo", json={"type": "a.b", "data": {}})
    assert answer.status_code == 404
    assert "POST /webhooks/{name}" in answer.json()["detail"]
    assert lab.receiver.inbox.last.path == "/hooks/typo"
    assert lab.receiver.inbox.last.body == b'{"type":"a.b","data":{}}'


def test_get_lists_an_endpoints_deliveries_as_json_in_pages(lab, client):
    for n in range(5):
        client.post("/webhooks/list", json={"type": "n.sent", "data": {"n": n}})
    client.post("/webhooks/other", json={"type": "n.sent", "data": {}})
    first = client.get("/webhooks/list", params={"limit": 3}).json()
    assert first["count"] == 5
    assert [json.loads(d["body"])["data"]["n"] for d in first["deliveries"]] == [0, 1, 2]
    rest = client.get("/webhooks/list", params={"after": first["next_after"]}).json()
    assert [json.loads(d["body"])["data"]["n"] for d in rest["deliveries"]] == [3, 4]
    assert rest["next_after"] is None


def test_the_inbox_page_lists_deliveries(lab, client):
    client.post("/webhooks/page", json={"type": "page.viewed", "data": {}})
    page = client.get("/")
    assert page.status_code == 200
    assert "page.viewed" in page.text


def test_chaos_fails_the_next_deliveries_then_recovers(lab, client):
    lab.receiver.chaos("demo").fail_next(2, status=503, retry_after=7)
    statuses = [client.post("/webhooks/demo", json={"type": "a.b", "data": {}}) for _ in range(3)]
    assert [a.status_code for a in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "7"
    assert statuses[0].json()["error"] == "chaos"


def test_chaos_random_failures_are_reproducible_with_a_seed():
    def run() -> list[int]:
        with Lab() as lab, httpx.Client(base_url=lab.receiver.url) as client:
            lab.receiver.chaos("demo").fail_rate(0.5, seed=42)
            return [
                client.post("/webhooks/demo", json={"type": "a.b", "data": {}}).status_code
                for _ in range(20)
            ]

    first, second = run(), run()
    assert first == second
    assert 3 <= first.count(500) <= 17


def test_chaos_slow_answers_take_their_time(lab, client):
    lab.receiver.chaos("slow").slow(0.3)
    answer = client.post("/webhooks/slow", json={"type": "a.b", "data": {}})
    assert answer.status_code == 200
    assert answer.elapsed.total_seconds() >= 0.3


def test_a_thousand_deliveries_from_fifty_concurrent_clients_are_all_recorded_once(lab):
    import asyncio

    processed: list[str] = []
    lab.receiver.on("load")(lambda e: processed.append(e.id))

    async def blast() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=lab.receiver.url, limits=limits, timeout=30) as http:
            sem = asyncio.Semaphore(50)

            async def one(n: int) -> int:
                async with sem:
                    answer = await http.post(
                        "/webhooks/load",
                        content=Event("load.test", {"n": n}).body(),
                        headers={"webhook-id": f"msg_{n}"},
                    )
                    return answer.status_code

            return await asyncio.gather(*(one(n) for n in range(1000)))

    statuses = asyncio.run(blast())
    assert statuses == [200] * 1000
    recorded = lab.receiver.inbox.for_endpoint("load")
    assert len(recorded) == 1000
    assert sorted(d.webhook_id for d in recorded) == sorted(f"msg_{n}" for n in range(1000))
    assert sorted(processed) == sorted(f"msg_{n}" for n in range(1000))


def test_a_handler_raising_invalid_payload_answers_422_with_its_message(lab, client):
    from webhooks_lab import InvalidPayload

    @lab.receiver.on("strict", "user.created")
    def need_email(event):
        if "email" not in event.data:
            raise InvalidPayload("'email' is missing")

    refused = client.post(
        "/webhooks/strict", content=Event("user.created", {}).body(), headers={"webhook-id": "m"}
    )
    assert refused.status_code == 422
    assert refused.json() == {"error": "invalid_payload", "detail": "'email' is missing"}
    assert lab.receiver.inbox.last.outcome == "rejected"
    assert lab.receiver.inbox.last.reason == "'email' is missing"
    fixed = Event("user.created", {"email": "ada@example.com"}).body()
    answer = client.post("/webhooks/strict", content=fixed, headers={"webhook-id": "m"})
    assert answer.status_code == 200  # a corrected delivery with the same id is processed


def test_redefining_a_handler_in_a_rerun_cell_replaces_it_instead_of_running_both(lab, client):
    counted: list[str] = []

    for _ in range(3):  # the same cell, run three times

        @lab.receiver.on("rerun", "order.created")
        def count_order(event):
            counted.append(event.id)

    client.post(
        "/webhooks/rerun", content=Event("order.created", {}).body(), headers={"webhook-id": "m"}
    )
    assert counted == ["m"]
    assert len(lab.receiver.endpoint("rerun").handlers_for("order.created")) == 1


def test_an_endpoint_remembers_at_most_so_many_webhook_ids_forgetting_the_oldest():
    from webhooks_lab.receiver.endpoint import SeenIds

    seen = SeenIds(remember=3)
    seen.processed("a")
    seen.begin("b")
    seen.finish("b")
    seen.processed("c")
    seen.processed("d")
    assert len(seen) == 3
    assert (seen.get("a"), seen.get("b"), seen.get("d")) == (None, True, True)
