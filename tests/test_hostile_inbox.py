"""The inbox page's routes and its live feed read what clients send without ever failing."""

from __future__ import annotations

import socket

import httpx
import pytest

from webhooks_lab.http.params import plain_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("9007199254740992", 2**53),
        ("9007199254740993", None),  # one past the maximum
        ("", None),
        (None, None),
        ("-1", None),
        ("+1", None),
        (" 7", None),
        ("1.5", None),
        ("²", None),  # a digit to str.isdigit, not a number to us
        ("٣", None),  # Arabic-Indic three: int() accepts it, we do not
        ("1" * 5000, None),  # int() would raise past 4,300 digits; we never try
        (b"12", 12),
    ],
)
def test_plain_int_takes_plain_ascii_digits_only(text, expected):
    assert plain_int(text) == expected


@pytest.mark.parametrize("seq", ["²", "٣", "1" * 5000, "-1", "0x10", "%20"])
def test_a_delivery_number_that_is_no_number_is_a_404_with_a_reason(client, seq):
    for answer in (client.get(f"/inbox/{seq}"), client.post(f"/inbox/{seq}/replay")):
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
        assert len(answer.json()["detail"]) < 200  # a 5,000-digit number is not echoed back


@pytest.mark.parametrize(
    "query",
    ["after=²", "after=" + "9" * 5000, "limit=٣", "limit=" + "9" * 5000, "after=-5&limit=-1"],
)
def test_the_live_feed_reads_odd_positions_as_not_given(lab, query):
    url = f"{lab.receiver.url}/inbox/events?{query}"
    with httpx.stream("GET", url, timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")


def test_the_live_feed_ignores_a_last_event_id_that_is_no_number(lab):
    headers = [(b"Last-Event-ID", "²".encode() * 10)]
    with httpx.stream("GET", f"{lab.receiver.url}/inbox/events", headers=headers, timeout=10) as a:
        assert a.status_code == 200


def test_a_delivery_with_non_ascii_header_bytes_replays_with_the_same_bytes(lab, client):
    raw = (
        b"POST /webhooks/latin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Name: caf\xe9\r\nContent-Length: 29\r\nConnection: close\r\n\r\n"
        b'{"type": "t.x", "data": {}}  '
    )
    with socket.create_connection(("127.0.0.1", lab.server.port), timeout=10) as sock:
        sock.sendall(raw)
        while sock.recv(65536):
            pass
    original = lab.receiver.inbox.snapshot()[-1]
    assert original.headers["x-name"] == "café"  # Latin-1, as HTTP has it
    answer = client.post(f"/inbox/{original.seq}/replay")
    assert answer.status_code == 200, answer.text
    again = lab.receiver.inbox.snapshot()[-1]
    assert again.headers["x-name"] == "café" and again.endpoint == "latin"
    assert again.body == original.body


def test_a_refused_request_to_a_bad_name_cannot_be_replayed_and_says_why(lab, client):
    client.post("/webhooks/%2E%2E", content=b"{}")
    refused = lab.receiver.inbox.snapshot()[-1]
    answer = client.post(f"/inbox/{refused.seq}/replay")
    assert answer.status_code == 409
    assert answer.json()["error"] == "not_replayable"
