"""The guarded protocol's own ways: an answer with a length is one write, its one timer per
connection closes a connection left idle between requests, and a quick hook answers a plain POST
at once with the very bytes the app would have written.

Driven through the asyncio protocol interface (``connection_made``, ``data_received``) with a
transport that records each write, so what reaches the socket, and in how many system calls, is
what is checked. Real-socket behaviour of the same protocol is in test_hostile_head.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from webhooks_lab.limits import DEFAULT, Limits
from webhooks_lab.runtime.protocol import protocol_with


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def json_answer(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def stream(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    stream.started.set()
    await stream.go_on.wait()
    await send({"type": "http.response.body", "body": b"data", "more_body": False})


async def connect(
    app: Any, limits: Limits = DEFAULT, quick: Any = None, **options: Any
) -> tuple[Any, RecordingTransport]:
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", server_header=False, **options
    )
    config.load()
    made = protocol_with(limits, None, quick)
    protocol = made(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def answered(transport: RecordingTransport, count: int) -> None:
    async with asyncio.timeout(10):
        while sum(w.count(b"HTTP/1.1 ") for w in transport.writes) < count:
            await asyncio.sleep(0)


def request(path: str = "/", method: str = "POST", body: bytes = b"{}") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_an_answer_with_a_length_is_one_write_head_and_body():
    async def main() -> None:
        protocol, transport = await connect(json_answer)
        protocol.data_received(request())
        await answered(transport, 1)
        ((written,),) = [transport.writes]
        assert written.startswith(b"HTTP/1.1 200 OK\r\n") and written.endswith(
            b'\r\n\r\n{"ok":true}'
        )
        protocol.data_received(request())  # keep-alive: the next answer is one write too
        await answered(transport, 2)
        assert len(transport.writes) == 2 and transport.writes[1].endswith(b'{"ok":true}')
        protocol.connection_lost(None)

    asyncio.run(main())


def test_the_answer_to_head_has_no_body_and_is_still_written():
    async def main() -> None:
        protocol, transport = await connect(json_answer)
        protocol.data_received(request(method="HEAD", body=b""))
        await answered(transport, 1)
        assert transport.writes[0].endswith(b"content-length: 11\r\n\r\n")
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_streamed_head_goes_out_before_its_body_is_ready():
    async def main() -> None:
        stream.started, stream.go_on = asyncio.Event(), asyncio.Event()
        protocol, transport = await connect(stream)
        protocol.data_received(request(method="GET", body=b""))
        await stream.started.wait()
        await answered(transport, 1)  # the head, while the body is still to come
        assert transport.writes == [transport.writes[0]]
        assert b"transfer-encoding: chunked" in transport.writes[0]
        stream.go_on.set()
        async with asyncio.timeout(10):
            while not any(b"data" in w for w in transport.writes):
                await asyncio.sleep(0)
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_refusal_is_one_write_and_closes():
    async def main() -> None:
        protocol, transport = await connect(json_answer)
        protocol.data_received(b"POST / HTTP/1.1\r\n" + b"x-big: " + b"a" * 20_000 + b"\r\n\r\n")
        assert transport.closed
        ((written,),) = [transport.writes]
        assert written.startswith(b"HTTP/1.1 431 ") and written.endswith(b"}")

    asyncio.run(main())


def test_a_connection_idle_between_requests_is_closed_after_the_keep_alive_time_quietly():
    async def main() -> None:
        protocol, transport = await connect(
            json_answer, Limits(head_timeout=0.05), timeout_keep_alive=0.3
        )
        protocol.data_received(request())
        await answered(transport, 1)
        assert not transport.closed  # kept alive for the next request
        async with asyncio.timeout(10):
            while not transport.closed:
                await asyncio.sleep(0.01)
        assert len(transport.writes) == 1  # closed without a word (no 408: no request began)
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_slow_answer_is_not_cut_off_by_the_keep_alive_time():
    async def main() -> None:
        stream.started, stream.go_on = asyncio.Event(), asyncio.Event()
        protocol, transport = await connect(
            stream, Limits(head_timeout=0.05), timeout_keep_alive=0.05
        )
        protocol.data_received(request(method="GET", body=b""))
        await stream.started.wait()
        await asyncio.sleep(0.3)  # several timer periods pass while the answer is under way
        assert not transport.closed
        stream.go_on.set()
        async with asyncio.timeout(10):
            while not any(b"data" in w for w in transport.writes):
                await asyncio.sleep(0.01)
        protocol.connection_lost(None)

    asyncio.run(main())


class Quick:
    """A quick hook that answers as json_answer does, and keeps what it was offered."""

    def __init__(self, answers: bool = True) -> None:
        self.answers, self.offered = answers, []

    def __call__(self, method: str, path: str, headers: Any, body: bytes) -> Any:
        self.offered.append((method, path, dict(headers), body))
        if not self.answers:
            return None
        return (
            200,
            [(b"content-type", b"application/json"), (b"content-length", b"11")],
            b'{"ok":true}',
        )


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = str(len(body)).encode()
    headers = [(b"content-length", str(len(text)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def test_a_quick_answer_is_the_same_bytes_as_the_app_would_write_in_one_write():
    async def main() -> None:
        usual, usual_transport = await connect(json_answer)
        usual.data_received(request("/webhooks/a?x=1", body=b'{"n": 1}'))
        await answered(usual_transport, 1)
        quick = Quick()
        protocol, transport = await connect(json_answer, quick=quick)
        protocol.data_received(request("/webhooks/a?x=1", body=b'{"n": 1}'))
        assert transport.writes == []  # answered, and written at the end of the loop's turn
        await asyncio.sleep(0)  # one turn: no task was needed
        assert transport.writes == usual_transport.writes
        ((method, path, headers, body),) = quick.offered
        assert (method, path, headers[b"host"], body) == ("POST", "/webhooks/a", b"x", b'{"n": 1}')
        protocol.data_received(request("/webhooks/a"))  # keep-alive: the next one too
        await asyncio.sleep(0)
        assert len(transport.writes) == 2 and not transport.closed
        usual.connection_lost(None)
        protocol.connection_lost(None)

    asyncio.run(main())


def test_what_is_not_answered_quickly_is_served_as_usual_with_its_whole_body():
    async def main() -> None:
        declined = Quick(answers=False)
        protocol, transport = await connect(echo_length, quick=declined)
        protocol.data_received(request(body=b"x" * 500))
        await answered(transport, 1)
        assert transport.writes[0].endswith(b"\r\n\r\n500") and len(declined.offered) == 1

        quick = Quick()
        protocol, transport = await connect(echo_length, quick=quick)
        whole = request(body=b"y" * 500)
        protocol.data_received(whole[:-200])  # the body is still on its way when a read ends
        protocol.data_received(whole[-200:])
        await answered(transport, 1)
        assert transport.writes[0].endswith(b"\r\n\r\n500") and quick.offered == []
        for not_offered in (
            request(method="GET", body=b""),
            request(body=b"z" * (DEFAULT.max_body + 1)),
            b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}",
        ):
            protocol, transport = await connect(echo_length, quick=quick)
            protocol.data_received(not_offered)
            await answered(transport, 1)
            protocol.connection_lost(None)
        assert quick.offered == []

    asyncio.run(main())


def test_pipelined_requests_are_answered_in_order_whichever_way_each_goes():
    async def main() -> None:
        quick = Quick()
        protocol, transport = await connect(echo_length, quick=quick)
        # quick, usual (a GET), then a POST that must wait for the GET's answer
        protocol.data_received(request() + request(method="GET", body=b"") + request(body=b"abc"))
        await answered(transport, 3)
        bodies = [w.rsplit(b"\r\n\r\n", 1)[1] for w in transport.writes]
        assert bodies == [b'{"ok":true}', b"0", b"3"]
        assert len(quick.offered) == 1
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_connection_answered_only_quickly_is_still_closed_when_idle():
    async def main() -> None:
        protocol, transport = await connect(
            json_answer, Limits(head_timeout=0.05), quick=Quick(), timeout_keep_alive=0.3
        )
        protocol.data_received(request())
        await answered(transport, 1)
        assert len(transport.writes) == 1 and not transport.closed
        async with asyncio.timeout(10):
            while not transport.closed:
                await asyncio.sleep(0.01)
        assert len(transport.writes) == 1
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_quick_answer_that_says_close_closes_the_connection():
    def closing(method: str, path: str, headers: Any, body: bytes) -> Any:
        return 500, [(b"content-length", b"2"), (b"connection", b"close")], b"{}"

    async def main() -> None:
        protocol, transport = await connect(json_answer, quick=closing)
        protocol.data_received(request())
        assert transport.closed and transport.writes[0].startswith(b"HTTP/1.1 500 ")

    asyncio.run(main())


def test_quick_answers_carry_the_servers_headers_of_the_moment_and_their_own_length():
    def sized(method: str, path: str, headers: Any, body: bytes) -> Any:
        return 200, [(b"content-length", str(len(body)).encode())], body

    async def main() -> None:
        protocol, transport = await connect(json_answer, quick=sized)
        state = protocol.server_state
        state.default_headers = [(b"date", b"Tue, 01 Dec 2026 10:00:00 GMT")]
        for body in (b"{}", b"[1]", b"{}"):
            protocol.data_received(request(body=body))
            await asyncio.sleep(0)  # a turn each: one write each
        # uvicorn makes a new list of its headers each second, with the new date
        state.default_headers = [(b"date", b"Tue, 01 Dec 2026 10:00:01 GMT")]
        protocol.data_received(request(body=b"{}"))
        await asyncio.sleep(0)
        heads = [w.split(b"\r\n\r\n")[0].split(b"\r\n") for w in transport.writes]
        assert [h[1] for h in heads] == [b"date: Tue, 01 Dec 2026 10:00:00 GMT"] * 3 + [
            b"date: Tue, 01 Dec 2026 10:00:01 GMT"
        ]
        assert [h[2] for h in heads] == [b"content-length: 2", b"content-length: 3"] + [
            b"content-length: 2"
        ] * 2
        assert [w.split(b"\r\n\r\n")[1] for w in transport.writes] == [b"{}", b"[1]", b"{}", b"{}"]
        protocol.connection_lost(None)

    asyncio.run(main())


def test_a_request_served_as_usual_after_quick_ones_sees_its_own_scope():
    seen: list[Any] = []

    async def keeps_scope(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await json_answer(scope, receive, send)

    async def main() -> None:
        protocol, transport = await connect(keeps_scope, quick=Quick())
        protocol.data_received(request("/webhooks/a", body=b"{}"))
        get = b"GET /inbox/events?after=3 HTTP/1.1\r\nHost: x\r\nX-Mine: 1\r\n\r\n"
        protocol.data_received(get)
        await answered(transport, 2)
        (scope,) = seen
        assert (scope["method"], scope["path"], scope["query_string"]) == (
            "GET",
            "/inbox/events",
            b"after=3",
        )
        assert scope["headers"] == [(b"host", b"x"), (b"x-mine", b"1")]
        protocol.connection_lost(None)

    asyncio.run(main())


def test_quick_answers_of_one_turn_go_out_together_in_order_and_before_what_follows():
    # Written at the end of the turn, after every ready request was read: two connections'
    # answers go out one after the other, and a connection's own answers keep their order,
    # whatever is written on it next (here a refusal of its third request, which closes it).
    async def main() -> None:
        quick = Quick()
        first, first_transport = await connect(json_answer, quick=quick)
        second, second_transport = await connect(json_answer, quick=quick)
        first.data_received(request("/webhooks/a") + request("/webhooks/b"))  # pipelined
        second.data_received(request("/webhooks/c"))
        assert first_transport.writes == second_transport.writes == []
        await asyncio.sleep(0)
        ((both,),) = [first_transport.writes]  # one write for the two answers of the turn
        assert both.count(b"HTTP/1.1 200 OK") == 2
        assert len(second_transport.writes) == 1
        first.data_received(request("/webhooks/d"))
        first.data_received(b"NOT HTTP\r\n\r\n")  # refused at once: after the waiting answer
        _, waiting, refusal = first_transport.writes  # d's answer, then the refusal
        assert waiting.startswith(b"HTTP/1.1 200 OK") and refusal.startswith(b"HTTP/1.1 400")
        assert first_transport.closed
        await asyncio.sleep(0)  # the turn ends: nothing more is written to a closed connection
        assert first_transport.writes[-1] is refusal
        first.connection_lost(None)
        second.connection_lost(None)

    asyncio.run(main())
