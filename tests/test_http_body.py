"""Reading a body under a limit, straight from an ASGI receive callable (no server needed)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterable
from typing import Any

import pytest

import webhooks_lab
from webhooks_lab.http.body import (
    DELIVERY_BODY_LIMIT,
    DRAIN_LIMIT,
    JOB_REQUEST_BODY_LIMIT,
    BodyTooLarge,
    ClientDisconnected,
    read_body,
)


class Client:
    """An ASGI ``receive`` that hands over the given chunks, then (optionally) a disconnect."""

    def __init__(self, chunks: Iterable[bytes], *, disconnect: bool = False) -> None:
        self.messages: list[dict[str, Any]] = []
        chunks = list(chunks)
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1 or disconnect
            self.messages.append({"type": "http.request", "body": chunk, "more_body": more})
        if disconnect:
            self.messages.append({"type": "http.disconnect"})
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        if self.taken == len(self.messages):
            raise AssertionError("read past the end of the request")
        self.taken += 1
        return self.messages[self.taken - 1]

    @property
    def left(self) -> int:
        return len(self.messages) - self.taken


def read(client: Client, limit: int, content_length: str | None = None) -> bytes:
    return asyncio.run(read_body(client, limit, content_length=content_length))


def test_a_body_in_one_message_is_returned_as_it_came():
    assert read(Client([b'{"ok": true}']), 100, "12") == b'{"ok": true}'


def test_a_chunked_body_is_joined():
    assert read(Client([b"ab", b"", b"cd", b"e"]), 5) == b"abcde"


def test_an_empty_body_is_empty():
    assert read(Client([b""]), 10, "0") == b""


def test_a_body_exactly_at_the_limit_is_accepted():
    assert read(Client([b"x" * 6, b"x" * 4]), 10) == b"x" * 10


def test_a_declared_length_over_the_limit_is_refused_before_anything_is_kept():
    client = Client([b"x" * 64] * 4)
    with pytest.raises(BodyTooLarge) as refused:
        read(client, 100, "256")
    assert (refused.value.size, refused.value.limit) == (256, 100)
    assert str(refused.value) == "body is 256 bytes; the limit is 100 bytes"
    assert client.left == 0  # drained, so the client can read the 413


def test_a_declared_length_beyond_the_drain_limit_is_refused_without_reading():
    client = Client([b"x" * 64] * 4)
    with pytest.raises(BodyTooLarge):
        read(client, 100, str(DRAIN_LIMIT + 1))
    assert client.taken == 0  # answered at once; the server closes the connection


def test_a_chunked_body_over_the_limit_is_refused_as_soon_as_it_passes_it():
    client = Client([b"x" * 60, b"x" * 60, b"x" * 60, b"x" * 60])
    with pytest.raises(BodyTooLarge) as refused:
        read(client, 100)
    assert refused.value.size is None
    assert str(refused.value) == "body is larger; the limit is 100 bytes"
    assert client.left == 0


def test_a_body_longer_than_its_declared_length_is_still_held_to_the_limit():
    client = Client([b"x" * 60, b"x" * 60])
    with pytest.raises(BodyTooLarge):
        read(client, 100, "10")


def test_an_unreadable_content_length_is_ignored_and_the_bytes_counted():
    assert read(Client([b"abc"]), 10, "three") == b"abc"
    with pytest.raises(BodyTooLarge):
        read(Client([b"x" * 11]), 10, "-1")


def test_an_oversized_chunked_body_is_never_held_whole():
    limit, chunk, count = 256 * 1024, 16 * 1024, 200  # 3.2 MiB offered, chunk by chunk

    async def receive() -> dict[str, Any]:
        receive.sent += 1  # type: ignore[attr-defined]
        more = receive.sent < count  # type: ignore[attr-defined]
        return {"type": "http.request", "body": b"x" * chunk, "more_body": more}

    receive.sent = 0  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            asyncio.run(read_body(receive, limit))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert receive.sent == count  # all of it was drained (it is under the drain limit) ...
    assert peak < limit + 8 * chunk  # ... but no more than the limit was ever held


def test_a_client_that_leaves_mid_body_is_not_a_body():
    with pytest.raises(ClientDisconnected, match="after 5 bytes"):
        read(Client([b"hello"], disconnect=True), 100)


def test_the_named_limits_are_the_documented_sizes():
    assert DELIVERY_BODY_LIMIT == 256 * 1024
    assert JOB_REQUEST_BODY_LIMIT == 64 * 1024
    assert DELIVERY_BODY_LIMIT < DRAIN_LIMIT and JOB_REQUEST_BODY_LIMIT < DRAIN_LIMIT


def test_body_errors_are_lab_errors():
    for error in (BodyTooLarge(1, 0), ClientDisconnected(0)):
        with pytest.raises(webhooks_lab.Error):
            raise error
