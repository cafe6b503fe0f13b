"""The lab: one loop thread, one server, and the parts that live on them, started once per kernel.

``start()`` is what a lesson's first cell calls. Calling it again (re-running the cell, or another
lesson in the same kernel) returns the lab that is already running, so there is only ever one
server, one loop thread and one listening socket.
"""

from __future__ import annotations

import atexit
import importlib
import threading
from typing import TYPE_CHECKING, Any

from webhooks_lab.events import Event
from webhooks_lab.i18n import _, set_language
from webhooks_lab.jobs.kinds import register_lesson_kinds
from webhooks_lab.jobs.runner import JobRunner
from webhooks_lab.limits import DEFAULT as DEFAULT_LIMITS
from webhooks_lab.limits import Limits
from webhooks_lab.receiver.inbox_page import InboxPageLink, page_url
from webhooks_lab.receiver.receiver import Receiver
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.runtime.server import Server
from webhooks_lab.runtime.trace import Trace, lab_server_party, use
from webhooks_lab.sender.fast_forward import fast_forward
from webhooks_lab.sender.sender import Sender
from webhooks_lab.service.app import create_app, job_routes

if TYPE_CHECKING:
    from webhooks_lab.jobs.broker import BrokerRunner
    from webhooks_lab.jobs.broker_sender import BrokerSender
    from webhooks_lab.widgets.wire import WireView


class Lab:
    """A running lab: ``lab.receiver``, ``lab.sender``, ``lab.clock``, and ``lab.stop()``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        max_body: int | None = None,
        outbox: str | None = None,
        limits: Limits | None = None,
        broker: str | None = None,
    ) -> None:
        if broker is not None and outbox is not None:  # checked before anything starts
            raise ValueError("with a broker, deliveries are kept on it: pass broker or outbox")
        self.options: dict[str, Any] = {
            "host": host,
            "port": port,
            "speed": speed,
            "max_body": max_body,
            "outbox": outbox,
            "limits": limits,
            "broker": broker,
        }
        self.limits = (limits or DEFAULT_LIMITS).with_options(max_body=max_body)
        self.clock = Clock(speed)
        self.receiver = Receiver(clock=self.clock, limits=self.limits)
        # Every exchange on the wire, both ends: the lab's clients write to it when given none.
        self.trace = use(Trace(self.clock))
        self.loop = LabLoop()
        # Jobs run on the lab loop; their completion webhooks go out through the lab's sender.
        # With a broker they run in worker processes instead (SAQ on Redis); the face stays.
        self.jobs: JobRunner | BrokerRunner = register_lesson_kinds(self._runner(broker))
        self.app = create_app(
            self.receiver,
            extra_routes=[job_routes(self.jobs)],
            limits=self.limits,
            trace=self.trace,
        )
        served = self.trace.serve(self.app, lab_server_party, inbox=self.receiver.inbox)
        self.server = Server(
            served, host, port, limits=self.limits, on_refusal=served.record_refusal
        )
        try:
            self.loop.run(self.server.start(), timeout=10)
        except BaseException:
            self.loop.stop()
            raise
        self.receiver.url = self.server.url
        served.watch(self.server.port)  # deliveries: the trace reads what the inbox records
        # The sender may reach loopback (that is where the lab's receiver lives), nothing private.
        # With a broker, deliveries are broker jobs too: kept in Redis, attempted by the workers.
        self.sender: Sender | BrokerSender = self._sender(broker, outbox)
        self.outbox = getattr(self.sender, "outbox", None)
        try:
            self.loop.run(self.sender.start(), timeout=10)
        except BaseException:
            self.loop.run(self.server.stop(), timeout=10)
            self.loop.stop()
            raise
        self._stopped = False

    def _runner(self, broker: str | None) -> Any:  # JobRunner | BrokerRunner
        if broker is None:
            return JobRunner(self.loop, clock=self.clock, notify=self._notify)
        from webhooks_lab.jobs.broker import BrokerRunner  # SAQ and redis load only here

        runner = BrokerRunner(broker, self.loop, clock=self.clock, notify=self._notify)
        try:
            self.loop.run(runner.connect(), timeout=10)
        except BaseException:
            self.loop.stop()
            raise
        return runner

    def _sender(self, broker: str | None, outbox: str | None) -> Any:  # Sender | BrokerSender
        if broker is None:
            return Sender(outbox=outbox, clock=self.clock, allow_loopback=True, trace=self.trace)
        from webhooks_lab.jobs.broker_sender import BrokerSender

        return BrokerSender(url=broker, loop=self.loop, allow_loopback=True)

    @property
    def url(self) -> str:
        return self.server.url

    def inbox_page_url(self) -> str:
        """The live inbox page's URL: direct, or through the notebook server's proxy on Binder."""
        return page_url(self.url, self.server.port)

    def inbox_page(self, height: int | None = None) -> InboxPageLink:
        """A link to the live inbox page for a notebook cell; with ``height``, the page too."""
        return InboxPageLink(self.inbox_page_url(), height)

    def send(
        self, event: Event | str, data: dict[str, Any] | None = None, *, id: str | None = None
    ) -> list[Any]:
        """Send an event to every endpoint added with ``lab.sender.add_endpoint(...)``."""
        return self.sender.send(event, data, id=id)

    async def _notify(self, url: str, event: Event, *, secret: str | None = None) -> Any:
        """Send a job's completion webhook: signed, retried and logged by the sender."""
        return await self.sender.deliver_to(url, event, secret=secret, wait=False, party="Jobs API")

    def fast_forward(self, seconds: float, timeout: float = 30.0) -> None:
        """Play the next ``seconds`` of lab time event by event: the clock stands still while
        the sender works and jumps to the next moment something is due, so every retry goes out
        at its exact lab time however busy the machine (:mod:`webhooks_lab.sender.fast_forward`).
        Blocks this thread (never the lab's) for at most ``timeout`` real seconds."""
        if not isinstance(self.sender, Sender):
            raise RuntimeError(
                "fast_forward plays the lab's own sender; a broker's workers keep real time"
            )
        self.loop.run(fast_forward(self.sender, seconds, timeout=timeout), timeout=timeout + 5)

    def wire(self, **options: Any) -> WireView:
        """A live sequence diagram of every exchange from now on (Jupyter): a
        :class:`~webhooks_lab.widgets.wire.WireView`; see that module for how a lesson uses it."""
        # Loaded by name when asked for: the core never imports ipywidgets (``serve`` has none).
        view = importlib.import_module("webhooks_lab.widgets.wire")
        made: WireView = view.WireView(self, **options)
        return made

    @property
    def running(self) -> bool:
        return not self._stopped and self.loop.running and self.server.running

    def stop(self) -> None:
        """Stop the server and the loop thread, and free the port. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.loop.running:
                try:
                    self.loop.run(self.jobs.aclose(), timeout=10)
                    self.loop.run(self.sender.close(), timeout=10)
                finally:
                    self.loop.run(self.app.close_streams(), timeout=10)  # open inbox pages
                    self.loop.run(self.server.stop(), timeout=10)
        finally:
            self.loop.stop()
            _forget(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = _("running") if self.running else _("stopped")
        speed = _(", clock x{speed:g}", speed=self.clock.speed) if self.clock.speed != 1 else ""
        inbox = self.receiver.inbox.size_text()
        return _(
            "<Lab {state} at {url}{speed}; inbox: {inbox}>",
            state=state,
            url=self.url,
            speed=speed,
            inbox=inbox,
        )


_lock = threading.Lock()
_current: Lab | None = None


def start(**options: Any) -> Lab:
    """Start the lab, or return the one already running.

    Options: ``host`` (default ``"127.0.0.1"``), ``port`` (default 0: a free one), ``speed`` (the
    lab clock's speed-up, default 1), ``max_body`` (bytes a delivery may have, default 256 KiB),
    ``outbox`` (the sender's SQLite file, or ``":memory:"``; default a temporary file),
    ``limits`` (a :class:`~webhooks_lab.limits.Limits`: every limit on what clients may send),
    ``broker`` (``"redis://127.0.0.1:PORT"``: ``lab.jobs`` runs jobs by kind in
    ``webhooks-lab worker`` processes on that Redis, through SAQ, and ``lab.sender``'s deliveries
    and the completion webhooks are broker jobs too, kept in Redis; default: in this kernel).
    ``lang`` (the language checks, widgets and reprs speak: ``"en"``, the default, or ``"ko"``;
    it is not an option of the lab, so changing it keeps the running lab).
    If the running lab was started with different options, it is stopped and replaced.
    """
    global _current
    lang = options.pop("lang", None)
    if lang is not None:
        set_language(lang)
    with _lock:
        lab = _current
        if lab is not None and lab.running:
            wanted = {**lab.options, **options}
            if wanted == lab.options:
                return lab
            lab.stop()
        elif lab is not None:
            lab.stop()
        _current = Lab(**options)
        return _current


def current() -> Lab | None:
    """The running lab, if any."""
    return _current if _current is not None and _current.running else None


def stop() -> None:
    """Stop the running lab, if any."""
    lab = _current
    if lab is not None:
        lab.stop()


def _forget(lab: Lab) -> None:
    global _current
    if _current is lab:
        _current = None


atexit.register(stop)
