"""uvicorn's fast HTTP/1.1 protocol (httptools) with limits on the request head.

httptools itself buffers a header of any size, and uvicorn sets no bound: one 4 MiB header costs
4 MiB, and a client that sends its head a byte a minute holds a connection for ever. This
subclass counts the request line and header bytes as they arrive and refuses, before keeping
more than about one read past the limit:

- more than ``max_head_bytes`` of head: ``431 Request Header Fields Too Large`` (``414 URI Too
  Long`` if the request line alone is too long);
- more than ``max_headers`` header lines: ``431``;
- a head not complete within ``head_timeout`` real seconds: ``408 Request Timeout``.

The same one timer per connection also closes a connection idle between requests for uvicorn's
``timeout_keep_alive``, in place of the timer uvicorn arms and cancels around every request.

Each answer is a small JSON body with ``Connection: close``, and is reported to ``on_refusal``
so the lab can record it in the inbox.

One more difference, for speed: uvicorn writes a response's head and its body to the socket
separately, two ``send`` system calls where one would do, and on loopback the second costs about
as much as the whole app. Here a head that declares its length goes out with its body
(:class:`_CoalescingWriter`). The rest is uvicorn's own protocol, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from webhooks_lab.limits import DEFAULT, Limits

# (status, code, method, target, detail) -> None; the target is cut to a readable length.
RefusalHook = Callable[[int, str, str, str, str], None]
# (method, path, headers, body) -> (status, headers, body) of the answer, or None: serve it as
# usual. The headers are as uvicorn keeps them: (name, value) bytes, names in lower case. See
# GuardedHttpToolsProtocol.quick.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
QuickHook = Callable[[str, str, list[tuple[bytes, bytes]], bytes], Answer | None]

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
}
_SHOWN_TARGET = 200


class _HeadRefused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class _CoalescingWriter:
    """The transport as a response sees it: a head that declares its length waits for its body.

    uvicorn writes a response's head as soon as the app starts it, then its body, in two
    system calls. A head with a ``content-length`` is of no use to the client without the body
    that must follow, so it is held and written with that body, or when the response is
    complete (a ``HEAD`` or a ``204`` has no body), or before the connection closes. Anything
    else (a streamed head, ``100 Continue``, body chunks) is written at once, as uvicorn would.

    A quick answer (:meth:`write_soon`) goes out at the end of the loop's turn instead, once
    every request ready in that turn has been read and answered; anything written after it
    still follows it. Each ``send`` that finds the client asleep wakes it on the other CPU,
    and a server that writes each answer the moment it is made, between reads, wakes its
    client once per answer: on a two-core machine that cost ``webhooks-lab serve`` a third of
    its deliveries per second (``benchmarks/receiver.py``). Written together, the answers of
    one turn wake the client once. A lone request waits for nothing: its turn ends with it.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.expect_head = True  # the next write is a response's head
        self._held = b""
        self._soon: list[bytes] = []  # quick answers waiting for the end of the loop's turn

    def write_soon(self, data: bytes) -> None:
        """Write a whole answer at the end of this turn of the loop (see above)."""
        if not self._soon:
            asyncio.get_running_loop().call_soon(self.write_waiting)
        self._soon.append(data)

    def write_waiting(self) -> None:
        """Write the quick answers waiting for the end of the turn, now."""
        if not self._soon:
            return
        data = self._soon[0] if len(self._soon) == 1 else b"".join(self._soon)
        self._soon.clear()
        if not self.transport.is_closing():  # the client may have gone meanwhile
            self.transport.write(data)

    def write(self, data: bytes) -> None:
        if self._soon:
            self.write_waiting()
        if self._held:
            data, self._held = self._held + data, b""
        elif self.expect_head and _DECLARED_LENGTH in data:
            self._held, self.expect_head = data, False
            return
        self.expect_head = False
        if data:
            self.transport.write(data)

    def response_complete(self) -> None:
        """Write what is held; the next write is the next response's head."""
        self.write_waiting()
        if self._held:
            self.transport.write(self._held)
            self._held = b""
        self.expect_head = True

    def close(self) -> None:
        self.response_complete()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # anything else a response asks of its transport
        return getattr(self.transport, name)


class _Heads:
    """One server's heads of quick answers, ``{(status, *headers): (head, closes)}``, made with
    ``defaults``, the list of uvicorn's own headers (it makes a new one each second, with the
    new date). At most ``_MAX_HEADS`` shapes."""

    def __init__(self) -> None:
        self.defaults: list[tuple[bytes, bytes]] | None = None
        self.made: dict[tuple[Any, ...], tuple[bytes, bool]] = {}


_MAX_HEADS = 64

# uvicorn writes header names in lower case, one per line; a value never holds a line break.
_DECLARED_LENGTH = b"\r\ncontent-length: "


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head bounded in size, count and time.

    With a ``quick`` hook, a plain POST (HTTP/1.1 keep-alive, a ``Content-Length`` within
    ``max_body``, nothing else in flight on the connection) whose body arrives with its head is
    first offered to ``quick(method, path, headers, body)``. An answer it gives is written at
    the end of the loop's turn (:class:`_CoalescingWriter`), with the headers uvicorn adds
    (``date``): no ASGI task, no messages, for the request every lesson and load test sends
    most. ``None`` and the request is served the usual way, as is any request whose body is
    still on its way when a read ends.
    """

    limits: Limits = DEFAULT
    on_refusal: RefusalHook | None = None
    quick: QuickHook | None = None
    _heads = _Heads()  # protocol_with gives each server its own

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = b""  # uvicorn sets it per request; a refusal may come before the first
        self._in_head = False
        self._head_bytes = 0  # raw bytes received while in the head: an upper bound
        self._read = 0  # bytes of the read being parsed
        self._head_started = 0.0
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_since = 0.0  # when the last answer was complete
        self._held: list[bytes] | None = None  # the body of a request offered to ``quick``

    # -- counting ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._loop = asyncio.get_running_loop()
        self._writer = _CoalescingWriter(transport)
        self._in_head = True
        self._head_started = self._loop.time()
        self._arm(self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received, except that a refusal answers with its own status and
        # JSON, and a malformed request is answered in JSON too, without a log line.
        self._unset_keepalive_if_required()
        self._read = len(data)
        if self._in_head:
            self._head_bytes += self._read
        try:
            self.parser.feed_data(data)
            if self._held is not None:  # its body did not all come in this read: as usual
                self._serve_as_usual()
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__ if isinstance(exc.__context__, _HeadRefused) else None
            self._refuse(refused or _HeadRefused(400, "bad-request", f"not valid HTTP/1.1: {exc}"))
            return
        # Still in the head after all of it was fed: what has arrived so far is all head.
        if self._in_head and self._head_bytes > self._max:
            self._refuse(self._too_large())

    def on_response_complete(self) -> None:
        # uvicorn's own, except for the keep-alive timer it arms after every response (and
        # cancels when the next request arrives): the connection's one timer closes an idle
        # connection instead, so a request costs no timer at all.
        self._writer.response_complete()  # before a pipelined request's answer begins
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        self._idle_since = self._loop.time()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)

    def on_message_begin(self) -> None:
        # uvicorn's, less the ASGI scope, which only a request served the usual way needs
        # (_start_cycle makes it). No timer per request: the connection's one timer looks at
        # _head_started when it fires.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._in_head, self._head_started = True, self._loop.time()

    def on_headers_complete(self) -> None:
        # Checked once the head is whole (cheaper than per header on the hot path). What could
        # arrive before this is bounded by one read: data_received refuses a head still
        # incomplete past the limit.
        # A head begun in an earlier read was counted as it came; one begun in this read is
        # no larger than the read. Either way this bounds its size.
        received = self._head_bytes or self._read
        self._in_head, self._head_bytes = False, 0
        headers = self.headers
        if len(headers) > self.limits.max_headers:
            raise _HeadRefused(
                431,
                "too-many-headers",
                f"the request has more than {self.limits.max_headers} header lines",
            )
        # Only a head that may be too large is measured exactly.
        if (
            received > self._max
            and len(self.url) + sum(len(n) + len(v) + 4 for n, v in headers) > self._max
        ):
            raise self._too_large()
        if self.quick is not None and self._may_answer_quickly():
            self._held = []  # decided when the body is complete (on_message_complete)
            return
        self._start_cycle()

    def _start_cycle(self) -> None:
        url, headers, expect_100_continue = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()  # the scope, made by uvicorn; it resets what came before
        self.url, self.headers, self.expect_100_continue = url, headers, expect_100_continue
        self.scope["headers"] = headers
        super().on_headers_complete()
        if self.cycle is not None:  # None only if the request is an upgrade (not served here)
            self.cycle.transport = self._writer  # type: ignore[assignment]

    # -- answering at once ---------------------------------------------------------------------

    def _may_answer_quickly(self) -> bool:
        parser = self.parser
        if (
            parser.get_method() != b"POST"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or self.expect_100_continue
            or self.pipeline
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.flow.write_paused  # a client not reading its answers gets them as usual
            or self.transport.is_closing()
        ):
            return False
        length = None
        for name, value in self.headers:
            if name == b"content-length":
                if length is not None:
                    return False
                length = value
            elif name == b"transfer-encoding":
                return False
        # bytes.isdigit() is ASCII digits only; a length too long to read is not offered
        return (
            length is not None
            and length.isdigit()
            and len(length) <= 12
            and int(length) <= self.limits.max_body
        )

    def on_body(self, body: bytes) -> None:
        if self._held is not None:
            self._held.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        held = self._held
        if held is None:
            super().on_message_complete()
            return
        self._held = None
        body = held[0] if len(held) == 1 else b"".join(held)
        answer = self._quick_answer(body)
        if answer is None:
            self._start_cycle()
            if body:
                super().on_body(body)
            super().on_message_complete()
            return
        self._write_answer(*answer)

    def _serve_as_usual(self) -> None:
        """The request offered to ``quick`` still has body to come: start it as uvicorn would,
        with what has arrived."""
        held, self._held = self._held or [], None
        self._start_cycle()
        if held:
            super().on_body(b"".join(held))

    def _quick_answer(self, body: bytes) -> Answer | None:
        parsed = httptools.parse_url(self.url)
        if b"%" in parsed.path:  # escaped: let uvicorn decode it as it does
            return None
        assert self.quick is not None
        return self.quick("POST", parsed.path.decode("ascii"), self.headers, body)

    def _write_answer(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        head, closing = self._head_of(status, headers)
        self.server_state.total_requests += 1
        if closing:
            self._writer.write(head + body)  # after the answers still waiting, if any
            self._writer.close()
            return
        self._writer.write_soon(head + body)
        self._idle_since = self._loop.time()

    def _head_of(self, status: int, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bool]:
        """The head of an answer, and whether it closes the connection.

        Answers to deliveries have a few shapes (a status, a type, a length), and uvicorn's own
        headers (``date``, ``server``) change once a second, when it makes a new list of them:
        so a head is made once per shape and second, and kept in a small table until then.
        The headers are the app's own, never a client's, so uvicorn's checks are not repeated.
        """
        defaults, heads = self.server_state.default_headers, self._heads
        if heads.defaults is not defaults:  # a new second: the heads made before are stale
            heads.defaults, heads.made = defaults, {}
        made = heads.made
        key = (status, *headers)
        known = made.get(key)
        if known is not None:
            return known
        content = [STATUS_LINE[status]]
        closing = False
        for name, value in (*defaults, *headers):
            content += (name, b": ", value, b"\r\n")
            closing = closing or (name == b"connection" and value == b"close")
        content.append(b"\r\n")
        answer_head = b"".join(content), closing
        if len(made) < _MAX_HEADS:
            made[key] = answer_head
        return answer_head

    # -- refusing ------------------------------------------------------------------------------

    @property
    def _max(self) -> int:
        return self.limits.max_head_bytes

    def _arm(self, delay: float) -> None:
        self._head_timer = self._loop.call_later(delay, self._head_timed_out)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_large(self) -> _HeadRefused:
        if len(self.url) > self._max:  # the request line alone is too long
            return _HeadRefused(
                414, "uri-too-long", f"the request target is longer than {self._max} bytes"
            )
        return _HeadRefused(
            431,
            "headers-too-large",
            f"the request line and headers are larger than {self._max} bytes",
        )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        timeout = self.limits.head_timeout
        now = self._loop.time()
        if not self._in_head:
            if (self.cycle is None or self.cycle.response_complete) and not self.pipeline:
                # Between requests: idle this long, it is closed as uvicorn's keep-alive would.
                idle = now - self._idle_since
                if idle >= self.timeout_keep_alive:
                    self.transport.close()
                    return
                self._arm(min(timeout, self.timeout_keep_alive - idle))
            else:
                self._arm(timeout)  # a request is being answered: look again later
            return
        waited = now - self._head_started
        if waited < timeout:  # a head begun since the timer was set: look again
            self._arm(timeout - waited)
            return
        if self._head_bytes == 0 and self.cycle is None and not self.url:
            # An idle connection that never started a request: close it quietly, as
            # uvicorn's keep-alive timeout would.
            self.transport.close()
            return
        self._refuse(
            _HeadRefused(
                408,
                "head-timeout",
                f"the request line and headers did not arrive within "
                f"{self.limits.head_timeout:g} seconds",
            )
        )

    def _refuse(self, refused: _HeadRefused) -> None:
        self._stop_timer()
        self._in_head = False
        if self.transport.is_closing():
            return
        body = json.dumps({"error": refused.code, "detail": refused.detail}).encode()
        head = (
            f"HTTP/1.1 {refused.status} {_REASONS[refused.status]}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode("ascii")
        # Recorded before it is answered: whoever reads the answer finds it in the inbox too.
        hook = type(self).on_refusal
        if hook is not None:
            method = ""
            with contextlib.suppress(Exception):  # the request line itself was not complete
                method = self.parser.get_method().decode("ascii", "replace")
            target = self.url[:_SHOWN_TARGET].decode("ascii", "replace")
            with contextlib.suppress(Exception):  # recording must never break the server
                hook(refused.status, refused.code, method, target, refused.detail)
        self._writer.write(head + body)  # after whatever an earlier answer still holds
        self._writer.close()
        self.parser = None  # type: ignore[assignment]  # nothing more is read from this client


def protocol_with(
    limits: Limits, on_refusal: RefusalHook | None, quick: QuickHook | None = None
) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` bound to these limits and hooks."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "limits": limits,
            "on_refusal": staticmethod(on_refusal) if on_refusal else None,
            "quick": staticmethod(quick) if quick else None,
            "_heads": _Heads(),
        },
    )


__all__ = ["Answer", "GuardedHttpToolsProtocol", "QuickHook", "RefusalHook", "protocol_with"]
