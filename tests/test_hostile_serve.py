"""Everything a stranger can send ``webhooks-lab serve``, over raw sockets: nothing gets a 5xx.

A real ``webhooks-lab serve --secret ... --scheme standard`` process on 127.0.0.1. Hypothesis builds
requests from hostile parts (methods, paths with odd names and huge numbers, headers of any
Latin-1 bytes, bodies framed by Content-Length or chunked, correctly signed JSON nested deep or
with giant numbers) and sends each on its own connection. Every answer must be under 500 and, when
it refuses, JSON that says why; afterwards a valid delivery still gets its 2xx at once and the
process has not grown without bound. Bounded in count (a few hundred requests) and time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from helpers import exchange, serving
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks_lab import signing

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOSTILE = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))


class Target:
    def __init__(self, served) -> None:  # type: ignore[no-untyped-def]
        self.served = served
        self.port = int(served.url.rsplit(":", 1)[1])
        self.pid = served.process.pid

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with serving("--secret", SECRET, "--scheme", "standard", "--quiet") as served:
        yield Target(served)


def assert_well_answered(answers: list[tuple[int, dict, bytes]], method: str) -> None:
    assert answers, "the server closed without answering"
    for status, headers, body in answers:
        assert status < 500, (status, body[:300])
        if status >= 400 and method != "HEAD":
            assert "json" in headers.get("content-type", ""), (status, headers, body[:200])
            reason = json.loads(body)
            assert isinstance(reason, dict) and reason.get("detail"), reason


def request(
    method: str, target: str, headers: list[tuple[str, bytes]], body: bytes, chunked: bool
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + value for name, value in headers]
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
        framed = (
            b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in _parts(body)) + b"0\r\n\r\n"
        )
    else:
        lines.append(b"Content-Length: %d" % len(body))
        framed = body
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + framed


def _parts(body: bytes) -> list[bytes]:
    return [body[i : i + 700] for i in range(0, len(body), 700)] if body else []


# -- what a stranger sends -----------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["..", ".", "²", "٣", "%00", "a?b", "a#b", "a/b", " ", "\x7f", "é"]),
    st.integers(min_value=0, max_value=10**60).map(str),
    st.just("9" * 5000),
)
segment = odd_text.map(lambda s: quote(s, safe=""))
paths = st.one_of(
    st.builds("/webhooks/{}".format, segment),
    st.builds("/webhooks/{}/{}".format, segment, segment),
    st.builds("/inbox/{}".format, segment),
    st.builds("/inbox/{}/replay".format, segment),
    st.just("/jobs"),
    st.builds("/jobs/{}".format, segment),
    st.builds("/jobs/{}/result".format, segment),
    st.builds("/{}".format, segment),
    st.sampled_from(["/", "/openapi.json", "/webhooks", "/jobs/kinds", "/webhooks/shop"]),
)
queries = st.one_of(
    st.just(""),
    st.builds(lambda k, v: f"?{quote(k, safe='')}={quote(v, safe='')}", odd_text, odd_text),
    st.sampled_from(["?limit=²", "?after=-1", "?limit=" + "9" * 400, "?page=1e9"]),
)
header_names = st.sampled_from(
    [
        "X-Anything",
        "Content-Type",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Idempotency-Key",
        "Accept",
        "Last-Event-ID",
        "ce-id",
        "ce-type",
    ]
)
header_values = st.binary(max_size=200).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F) or b"x"
)
bodies = st.one_of(
    st.binary(max_size=2000),
    st.sampled_from(
        [
            b'{"type": "order.created", "data": {}}',
            b"[" * 3000 + b"]" * 3000,
            b'{"type": "x", "data": {"n": ' + b"1" * 5000 + b"}}",
            b'{"kind": "sleep", "params": {"seconds": 1e999}}',
            b'{"kind": "sleep", "params": {"seconds": NaN}}',
            b'{"kind": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        ]
    ),
)


@HOSTILE
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=paths,
    query=queries,
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
    body=bodies,
    chunked=st.booleans(),
)
def test_no_request_gets_a_server_error_or_an_answer_without_a_reason(
    target, method, path, query, headers, body, chunked
):
    if path.startswith("/inbox/events"):
        return  # the live feed streams for ever; tests/test_hostile_inbox.py covers its inputs
    raw = request(method, path + query, headers, body if method != "GET" else b"", chunked)
    assert_well_answered(exchange(target.port, raw), method)


nested = st.integers(min_value=1, max_value=5000).map(
    lambda n: b'{"type": "deep", "data": ' + b"[" * n + b"]" * n + b"}"
)
big_numbers = st.integers(min_value=1, max_value=6000).map(
    lambda n: b'{"type": "big", "data": {"n": ' + b"7" * n + b"}}"
)
floats = st.sampled_from([b"1e999", b"-1e999", b"NaN", b"Infinity", b"1.5e308", b"-0.0"]).map(
    lambda f: b'{"type": "float", "data": {"x": ' + f + b"}}"
)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(nested, big_numbers, floats), chunked=st.booleans())
def test_correctly_signed_hostile_json_is_refused_with_a_reason_or_accepted(target, body, chunked):
    msg_id = f"msg_{os.urandom(8).hex()}"
    signed = signing.headers_for(
        "standard", SECRET, body, msg_id=msg_id, timestamp=int(time.time())
    )
    headers = [(k, v.encode()) for k, v in signed.items()] + [("Content-Type", b"application/json")]
    answers = exchange(target.port, request("POST", "/webhooks/shop", headers, body, chunked))
    assert_well_answered(answers, "POST")
    status = answers[0][0]
    assert status in (200, 202, 400, 413), answers[0]


def test_two_requests_on_one_connection_after_a_refusal_are_both_answered_or_closed_cleanly(target):
    bad = request("POST", "/webhooks/shop", [("Content-Type", b"application/json")], b"{", False)
    good = request("GET", "/webhooks", [], b"", False)
    answers = exchange(target.port, bad.replace(b"Connection: close\r\n", b"") + good)
    assert answers[0][0] == 401  # unsigned, refused with its reason
    if answers[0][1].get("connection") == "close":
        assert len(answers) == 1  # said so, and closed: the client knows to reconnect
    else:
        assert [status for status, _, _ in answers] == [401, 200]  # kept, and still good


def test_after_it_all_a_valid_delivery_is_answered_at_once_and_memory_is_bounded(target):
    before = target.rss_mb()
    # What cost memory before: 4 MiB headers and 16 MiB chunked bodies to unknown routes.
    for _ in range(16):
        big = request("POST", "/webhooks/shop", [("X-Big", b"a" * (4 * 1024 * 1024))], b"{}", False)
        assert exchange(target.port, big)[0][0] == 431
    for _ in range(4):
        huge = request("POST", "/nowhere", [], os.urandom(16 * 1024 * 1024), True)
        assert_well_answered(exchange(target.port, huge, timeout=30), "POST")
    grown = target.rss_mb() - before
    assert grown < 40, f"refused requests grew the server by {grown:.0f} MB"

    body = b'{"type": "order.created", "data": {"order": 1}}'
    signed = signing.headers_for(
        "standard", SECRET, body, msg_id="msg_after", timestamp=int(time.time())
    )
    headers = [(k, v.encode()) for k, v in signed.items()] + [("Content-Type", b"application/json")]
    started = time.monotonic()
    answers = exchange(target.port, request("POST", "/webhooks/after", headers, body, False))
    assert answers[0][0] == 200
    assert time.monotonic() - started < 1.0
