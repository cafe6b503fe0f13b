"""Run an ASGI app on uvicorn, on the current event loop, on a socket we bind ourselves.

Binding first (port 0 by default) means a busy port fails *here*, at once, with a clear message,
instead of uvicorn logging and exiting in a background thread while a notebook cell hangs.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

import uvicorn
from starlette.types import ASGIApp

from webhooks_lab.errors import Error
from webhooks_lab.limits import DEFAULT, Limits
from webhooks_lab.runtime.protocol import RefusalHook, protocol_with


class PortInUseError(Error, OSError):
    """The chosen port is already taken by another program."""


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets that say they
    # are TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                exc.errno,
                f"port {port} on {host} is already in use by another program; "
                "choose another port, or pass port=0 to let the system pick a free one",
            ) from None
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling us the moment it is ready instead of being polled."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.exiting = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    def handle_exit(self, sig: int, frame: object) -> None:
        # Ctrl+C or SIGTERM: uvicorn begins its shutdown; tell whoever waits for it. Signal
        # handlers run between bytecodes, so hand the news to the loop the safe way.
        super().handle_exit(sig, frame)  # type: ignore[arg-type]
        self._loop.call_soon_threadsafe(self.exiting.set)


class Server:
    """One uvicorn server for ``app``; :meth:`start` and :meth:`stop` run on the caller's loop."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits = DEFAULT,
        on_refusal: RefusalHook | None = None,
    ) -> None:
        """``limits`` bound each request's head (see :mod:`webhooks_lab.runtime.protocol`);
        ``on_refusal(status, code, method, target, detail)`` hears of each request refused there."""
        self.app, self.host, self.port = app, host, port
        self.limits, self.on_refusal = limits, on_refusal
        self._sock: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._sock = bind_socket(self.host, self.port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="none",  # we are already on the loop we want
            # An app with ``answer_now`` (the lab's) answers plain deliveries without ASGI.
            http=protocol_with(self.limits, self.on_refusal, getattr(self.app, "answer_now", None)),
            proxy_headers=False,  # loopback, no proxy to trust: one middleware less per request
            lifespan="off",
            log_level=logging.WARNING,
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
            server_header=False,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        ready = asyncio.create_task(self._server.ready.wait())
        done, _ = await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._close_socket()
            self._task.result()  # re-raise what stopped uvicorn
            raise RuntimeError("the server stopped while starting")

    async def stopping_begun(self) -> None:
        """Return once a shutdown has begun (``stop()``, Ctrl+C, SIGTERM) or the server ended."""
        if self._server is None or self._task is None:
            return
        exiting = asyncio.ensure_future(self._server.exiting.wait())
        try:
            await asyncio.wait({self._task, exiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exiting.cancel()

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.exiting.set()
            try:
                await asyncio.wait_for(self._task, timeout=3)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        self._close_socket()
        self._server = self._task = None

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def stopping(self) -> bool:
        """True once a shutdown has begun (``stop()``, or Ctrl+C caught by uvicorn)."""
        return self._server is not None and self._server.should_exit

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()
