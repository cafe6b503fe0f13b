"""A request's head (request line and headers) is bounded in size, count and time, over raw sockets.

Each refusal is a JSON answer with ``Connection: close``, is recorded in the inbox, and leaves the
server answering the next valid delivery at once.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import exchange as raw_exchange

from webhooks_lab.lab import Lab
from webhooks_lab.limits import Limits


@pytest.fixture
def tight() -> Iterator[Lab]:
    with Lab(limits=Limits(head_timeout=0.5)) as running:
        yield running


def exchange(lab: Lab, raw: bytes, *, timeout: float = 10.0) -> tuple[int, dict, dict]:
    """Send ``raw`` on a new connection: the one answer's status, JSON body and headers."""
    ((status, headers, body),) = raw_exchange(lab.server.port, raw, timeout)
    return status, json.loads(body), headers


def delivery_still_works(lab: Lab) -> None:
    answer = httpx.post(
        f"{lab.receiver.url}/webhooks/after", json={"type": "ok", "data": {}}, timeout=10
    )
    assert answer.status_code == 200


def last_recorded(lab: Lab):
    return lab.receiver.inbox.snapshot()[-1]


def test_a_huge_header_is_refused_with_431_and_recorded(lab):
    raw = b"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 * 1024 * 1024)
    status, body, head = exchange(lab, raw + b"\r\n\r\n")
    assert status == 431 and body["error"] == "headers-too-large"
    assert head["connection"] == "close"
    assert str(lab.limits.max_head_bytes) in body["detail"]
    assert last_recorded(lab).status == 431
    delivery_still_works(lab)


def test_too_many_header_lines_are_refused(lab):
    lines = b"".join(b"X-%d: 1\r\n" % n for n in range(lab.limits.max_headers + 1))
    status, body, _ = exchange(lab, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
    assert status == 431 and body["error"] == "too-many-headers"
    delivery_still_works(lab)


def test_a_request_line_too_long_is_refused_with_414(lab):
    target = b"/webhooks/shop?" + b"q" * (lab.limits.max_head_bytes + 10)
    status, body, _ = exchange(lab, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and body["error"] == "uri-too-long"
    recorded = last_recorded(lab)
    assert recorded.status == 414 and len(recorded.path) <= 200  # kept short, not whole
    delivery_still_works(lab)


def test_a_head_just_under_the_limit_is_served(lab):
    filler = b"X-Pad: " + b"p" * (lab.limits.max_head_bytes - 200) + b"\r\n"
    raw = b"GET /webhooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + filler + b"\r\n"
    with socket.create_connection(("127.0.0.1", lab.server.port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


def test_garbage_instead_of_http_gets_a_json_400(lab):
    status, body, head = exchange(lab, b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n")
    assert status == 400 and body["error"] == "bad-request"
    assert head["connection"] == "close"
    delivery_still_works(lab)


def test_a_client_trickling_its_head_is_answered_408_and_dropped(tight):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", tight.server.port), timeout=10) as sock:
        sock.sendall(b"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for byte in b"X-Slow: " + b"s" * 400:  # a byte at a time, until the server gives up
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.02)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
        sock.settimeout(10)
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "head-timeout"
    assert time.monotonic() - started < 8  # dropped after its 0.5 s, not at the end of the loop
    delivery_still_works(tight)


def test_an_idle_connection_is_closed_quietly(tight):
    with socket.create_connection(("127.0.0.1", tight.server.port), timeout=10) as sock:
        assert sock.recv(100) == b""  # closed with nothing said: it asked nothing


@pytest.mark.parametrize(
    "name",
    ["%00bad", "%2E%2E", ".hidden", "a%20b", "caf%C3%A9", "x" * 65, "semi;colon", "%3Cscript%3E"],
)
def test_an_endpoint_name_outside_the_rule_is_refused_with_its_reason(lab, name):
    answer = httpx.post(f"{lab.receiver.url}/webhooks/{name}", content=b"{}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "invalid_endpoint_name"
    assert last_recorded(lab).status == 404
    assert name not in lab.receiver.endpoints  # nothing was created for it


def test_names_a_lesson_uses_are_fine(lab):
    for name in ["shop", "orders.v2", "payment_gateway", "a-b", "X1"]:
        answer = httpx.post(
            f"{lab.receiver.url}/webhooks/{name}", json={"type": "t", "data": {}}, timeout=10
        )
        assert answer.status_code == 200, name


def test_a_hundred_trickling_clients_do_not_keep_deliveries_waiting(lab):
    import threading

    stop = threading.Event()
    connected = threading.Barrier(101, timeout=30)

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", lab.server.port), timeout=30) as sock:
            sock.sendall(b"POST /webhooks/slow HTTP/1.1\r\nHost: x\r\n")
            connected.wait()
            while not stop.wait(0.05):
                try:
                    sock.sendall(b"s")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(100)]
    for thread in threads:
        thread.start()
    try:
        connected.wait()  # every slow client holds a connection now
        with httpx.Client(base_url=lab.receiver.url, timeout=5) as client:
            for n in range(20):
                answer = client.post(f"/webhooks/fast{n}", json={"type": "t", "data": {}})
                assert answer.status_code == 200
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
