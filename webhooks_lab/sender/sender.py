"""The sender: deliver events to endpoints at least once, with retries, and keep a record of it.

How a delivery goes, step by step:

1. :meth:`Sender.send` turns an event into one *delivery* per endpoint that wants its type, and
   writes them to the :class:`~webhooks_lab.sender.outbox.Outbox` before anything is tried.
2. A pool of workers (``concurrency`` of them) on the lab loop takes deliveries in turn and POSTs
   each, signed, with a per-attempt ``timeout``. The ``webhook-id`` is the event's id on every
   attempt, so the receiver can recognise a retry.
3. The answer decides what happens next (:func:`~webhooks_lab.sender.decision.decide`, a pure
   function with the whole table): delivered, retried after a wait (the schedule, or the
   receiver's ``Retry-After``), disabled on ``410 Gone``, or, when the schedule runs out, a *dead
   letter*, kept with every attempt's status, latency and error, until someone replays it
   (:meth:`Sender.replay`).

Waits are measured on the lab's :class:`~webhooks_lab.runtime.clock.Clock`, so at ``speed=3600`` an
hour of backoff passes in a second. The per-attempt ``timeout`` is in real seconds: the network
does not speed up.

Everything here runs on one asyncio loop (the lab loop). The methods a notebook cell calls
(``add_endpoint``, ``send``, ``wait_idle``, ``dead_letters``, ``replay``...) are plain functions
that are safe to call from the kernel's thread. Underneath is ``aiohttp``, because it sustains
several times the deliveries per second of ``httpx.AsyncClient`` under concurrency (see
``benchmarks/sender.py``); in your own code, use whichever client you like.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners
from webhooks_lab.runtime.loop import off_the_loop
from webhooks_lab.runtime.trace import Trace, current
from webhooks_lab.sender.attempt import open_session, post, signed_headers
from webhooks_lab.sender.chaos import SenderChaos
from webhooks_lab.sender.decision import decide
from webhooks_lab.sender.health import EndpointHealth
from webhooks_lab.sender.outbox import Outbox
from webhooks_lab.sender.records import (
    FINAL_STATES,
    Attempt,
    Destination,
    OutgoingDelivery,
    new_delivery_id,
)
from webhooks_lab.sender.ssrf import UnsafeURL, URLGuard

__all__ = ["AttemptListener", "Sender", "new_delivery_id"]

AttemptListener = Callable[[Attempt], Any]
T = TypeVar("T")


class Sender:
    """Delivers events to registered endpoints, durably, with retries.

    ``outbox``: an :class:`Outbox`, a file path, ``":memory:"``, or ``None`` for a fresh SQLite
    file in a temporary folder (removed by :meth:`close`). Pass a path to resume after a crash.
    ``clock`` drives the retry schedule; ``policy`` is the schedule; ``timeout`` is each
    attempt's limit in real seconds; ``concurrency`` caps attempts in flight. By default only
    public addresses may be reached (the SSRF guard); ``allow_loopback=True`` allows 127.0.0.1
    and ::1, ``allow_private=True`` private networks. ``resolve`` replaces DNS (tests stub it).
    ``keep``: how many of the newest ended deliveries stay in memory as live objects (about 1 KB
    each); older ones are read back from the outbox, which keeps them all. Deliveries under way
    always stay, however many.
    """

    def __init__(
        self,
        *,
        outbox: Outbox | str | Path | None = None,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 15.0,
        concurrency: int = 32,
        allow_loopback: bool = False,
        allow_private: bool = False,
        resolve: Any = None,
        keep: int = 10_000,
        trace: Trace | None = None,
        party: str = "Sender",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        self.clock = clock or Clock()
        self.policy = policy or RetryPolicy()
        self.timeout = float(timeout)
        self.concurrency = int(concurrency)
        self.guard = URLGuard(
            allow_loopback=allow_loopback, allow_private=allow_private, resolve=resolve
        )
        self._tmpdir: str | None = None
        if outbox is None:
            self._tmpdir = tempfile.mkdtemp(prefix="webhooks-lab-outbox-")
            outbox = Path(self._tmpdir) / "outbox.sqlite3"
        self.outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox)
        self._endpoints: dict[str, Destination] = {e.id: e for e in self.outbox.endpoints()}
        self._known: dict[str, OutgoingDelivery] = {}  # this run's, oldest first, bounded
        self._known_lock = threading.Lock()  # cells and the loop both look deliveries up
        self._keep = keep
        self._forget_at = _next_look(keep)  # how many known before ended ones are forgotten
        self._live: dict[str, OutgoingDelivery] = {}  # not yet final: queued, in flight, waiting
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.listeners: Listeners[[Attempt]] = Listeners("sender")
        # Notified whenever an attempt is answered or a delivery ends, for threads that block
        # on it (wait_attempts, wait_deliveries) while the lab loop does the work.
        self._progress = threading.Condition()
        self._watching = 0  # threads blocked on it: with none, an answer notifies nobody
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queue: asyncio.Queue[OutgoingDelivery] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[Any]] = set()
        self._waiting = 0  # timers asleep on the clock
        self._idle: asyncio.Event | None = None
        self._unflushed: asyncio.Event | None = None  # set when the outbox has writes to flush
        # Deliveries whose last attempt is sent and not yet noted, by id, with when it went out
        # (monotonic seconds). Noted once in flight for a flush interval (see _note_in_flight).
        self._in_flight: dict[str, tuple[OutgoingDelivery, float]] = {}
        self._session: Any = None
        self._client_timeout: Any = None
        self._closed = False
        self._trace = trace
        self.party = party  # who the sender is on the wire trace ("Shop" in a lesson)
        self._parties: dict[str, str] = {}  # delivery id -> party, for deliver_to(party=...)
        self.chaos = SenderChaos()  # out of order, twice, late: off until asked (sender/chaos.py)
        self.health = EndpointHealth(self)  # disable after days of failures: off until watch()

    @property
    def trace(self) -> Trace | None:
        """Where each attempt is written down: the one given, or the running lab's (``None``
        outside a lab: then nothing is)."""
        return self._trace if self._trace is not None else current()

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> Sender:
        """Start the workers on the running loop and resume what the outbox still holds."""
        if self._loop is not None:
            return self
        self._loop = asyncio.get_running_loop()
        self._thread = threading.current_thread()
        self._queue = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._unflushed = asyncio.Event()
        self._session = open_session(self.guard, self.concurrency)
        for n in range(self.concurrency):
            self._spawn(self._worker(), f"webhooks-lab-sender-{n}")
        if self.outbox.flush_interval > 0:
            self._spawn(self._flusher(), "webhooks-lab-outbox-flush")
        self._accept([self._remember(row) for row in self.outbox.unfinished()], resumed=True)
        return self

    async def close(self) -> None:
        """Stop the workers, write everything down, and close connections and the outbox.

        Attempts cut off here are marked ``"interrupted"``; their deliveries stay pending in
        the outbox, so a new sender on the same file carries on with them.
        """
        if self._closed:
            return
        self._closed = True
        tasks = [*self._tasks, *self._timers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        await off_the_loop(self.outbox.close)  # its last commit and checkpoint wait for disk
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._closed

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- endpoints ------------------------------------------------------------------------------

    def add_endpoint(
        self,
        url: str,
        *,
        secret: str | Sequence[str] | None = None,
        scheme: str | None = None,
        types: str | Iterable[str] | None = None,
        enabled: bool = True,
    ) -> Destination:
        """Register ``url`` to receive events (of ``types``, default all), signed with ``secret``.

        ``scheme`` is one of ``signing.SCHEMES``; it defaults to ``"standard"`` when a secret is
        given, ``"none"`` otherwise. One endpoint per URL: adding the same URL again updates it
        (so re-running a notebook cell is harmless). Raises
        :class:`~webhooks_lab.sender.ssrf.UnsafeURL`
        for a URL the guard refuses.
        """
        self.guard.check_url(url)
        scheme = signing.check_scheme(scheme or ("standard" if secret else "none"))
        if scheme != "none" and not secret:
            raise ValueError(f"scheme {scheme!r} signs deliveries, so it needs a secret")
        if scheme != "none":
            secret = _signing_secrets(scheme, secret)  # a whpk_ key cannot sign, ...
        kinds = (types,) if isinstance(types, str) else tuple(types or ())
        existing = next((e for e in self._endpoints.values() if e.url == url), None)
        endpoint = existing or Destination(
            id=new_delivery_id("ep"), url=url, created_at=self.clock.time()
        )
        endpoint.secret, endpoint.scheme, endpoint.types = secret, scheme, kinds
        endpoint.enabled, endpoint.disabled_reason = enabled, None if enabled else "by hand"
        self.outbox.save_endpoint(endpoint)
        self._endpoints[endpoint.id] = endpoint
        return endpoint

    @property
    def endpoints(self) -> list[Destination]:
        return list(self._endpoints.values())

    def endpoint(self, key: str | Destination) -> Destination:
        """An endpoint by id, URL, or itself."""
        if isinstance(key, Destination):
            key = key.id
        found = self._endpoints.get(key) or next(
            (e for e in self._endpoints.values() if e.url == key), None
        )
        if found is None:
            raise KeyError(f"no endpoint {key!r}; add it with add_endpoint(url, ...)")
        return found

    def disable(self, endpoint: str | Destination, reason: str = "by hand") -> Destination:
        """Stop delivering to an endpoint; its waiting deliveries end as ``"disabled"``."""
        found = self.endpoint(endpoint)
        found.enabled, found.disabled_reason = False, reason
        self.outbox.save_endpoint(found)
        return found

    def enable(self, endpoint: str | Destination) -> Destination:
        """Deliver to an endpoint again (replay what it missed with :meth:`replay`)."""
        found = self.endpoint(endpoint)
        found.enabled, found.disabled_reason = True, None
        self.outbox.save_endpoint(found)
        return found

    def remove_endpoint(self, endpoint: str | Destination) -> None:
        found = self.endpoint(endpoint)
        del self._endpoints[found.id]
        self.outbox.remove_endpoint(found.id)

    # -- sending --------------------------------------------------------------------------------

    def send(
        self, event: Event | str, data: dict[str, Any] | None = None, *, id: str | None = None
    ) -> list[OutgoingDelivery]:
        """Send an event to every enabled endpoint that wants its type; returns the deliveries.

        ``send(Event("user.created", {...}))`` or ``send("user.created", {...})``. The
        deliveries are in the outbox when this returns, and go out in the background; their
        ``state`` and ``attempts`` update as they do. Safe to call from any thread.
        """
        if isinstance(event, str):
            event = Event(event, data or {}, **({"id": id} if id else {}))
        elif data is not None or id is not None:
            raise TypeError("pass either an Event, or a type with data and id, not both")
        return self.send_many([event])

    def send_many(self, events: Iterable[Event]) -> list[OutgoingDelivery]:
        """:meth:`send` for many events at once, written to the outbox in one transaction."""
        self._check_open()
        now = self.clock.time()
        targets = [e for e in self._endpoints.values() if e.enabled]
        deliveries = []
        for event in events:
            body = event.body()
            for endpoint in targets:
                if endpoint.wants(event.type):
                    deliveries.append(
                        OutgoingDelivery.of(
                            event,
                            endpoint.url,
                            at=now,
                            scheme=endpoint.scheme,
                            endpoint_id=endpoint.id,
                            body=body,
                        )
                    )
        if deliveries and self.chaos.active:
            deliveries = self.chaos.plan(deliveries, now)
        if deliveries:
            # Known before the loop takes them: a read of the outbox from any thread meanwhile
            # (deliveries(), wait_deliveries()) finds these live objects, not copies of rows.
            deliveries = [self._remember(delivery) for delivery in deliveries]
            self.outbox.add(deliveries)
            self._hand_over(deliveries)
        return deliveries

    async def deliver_to(
        self,
        url: str,
        event: Event,
        *,
        secret: str | None = None,
        scheme: str = "standard",
        wait: bool = True,
        party: str | None = None,
    ) -> OutgoingDelivery:
        """Deliver one event to one URL that is not a registered endpoint (a callback URL).

        Signed with ``scheme`` when a ``secret`` is given, unsigned otherwise. Returns the
        delivery once it has ended (delivered, dead or disabled), or at once with
        ``wait=False``. A URL the guard refuses gives a dead delivery saying why (no request is
        made). Awaitable from any loop; the work runs on the sender's. ``party`` names the sender
        on the wire trace for this delivery (the lab's completion webhooks are the "Jobs API").
        """
        loop = self._loop
        if loop is not None and asyncio.get_running_loop() is not loop:
            future = asyncio.run_coroutine_threadsafe(
                self.deliver_to(url, event, secret=secret, scheme=scheme, wait=wait, party=party),
                loop,
            )
            return await asyncio.wrap_future(future)
        self._check_open()
        used = signing.check_scheme(scheme) if secret else "none"
        now = self.clock.time()
        delivery = OutgoingDelivery.of(event, url, at=now, scheme=used, secret=secret)
        try:
            self.guard.check_url(url)
        except UnsafeURL as refused:
            attempt = delivery.refuse(str(refused))
            self.outbox.add([delivery])
            self._remember(delivery)
            self.listeners.notify(attempt)
            self._changed()
            return delivery
        if party is not None:
            self._parties[delivery.id] = party
        self._remember(delivery)
        self.outbox.add([delivery])
        self._hand_over([delivery])
        if wait:
            await self._finished(delivery)
        return delivery

    def _hand_over(self, deliveries: list[OutgoingDelivery]) -> None:
        """Give new deliveries, remembered and in the outbox, to the loop (from whichever thread
        we are on). Before :meth:`start`, it picks them up from the outbox."""
        if self._loop is None:
            return
        if threading.current_thread() is self._thread:
            self._accept(deliveries)
        else:
            self._loop.call_soon_threadsafe(self._accept, deliveries)

    def _accept(self, deliveries: Iterable[OutgoingDelivery], *, resumed: bool = False) -> None:
        """On the loop: track deliveries and queue (or schedule) their next attempt.

        ``deliveries`` are the live objects (:meth:`_remember` gave them); ``resumed``: the
        ones the outbox still held at start."""
        assert self._queue is not None and self._idle is not None
        for delivery in deliveries:
            if delivery.done or delivery.id in self._live:
                continue
            if resumed and delivery.endpoint_id is None:
                try:
                    self.guard.check_url(delivery.url)
                except UnsafeURL:
                    continue
            self._live[delivery.id] = delivery
            self._idle.clear()
            self._schedule(delivery)

    def _schedule(self, delivery: OutgoingDelivery) -> None:
        """Queue ``delivery`` for its next attempt now, or at its ``next_attempt_at``."""
        assert self._queue is not None
        due = delivery.next_attempt_at
        if due is None or due <= self.clock.time():
            self._queue.put_nowait(delivery)
            return
        timer = asyncio.get_running_loop().create_task(self._after(due, delivery))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _after(self, due: float, delivery: OutgoingDelivery) -> None:
        # Waits until a lab time, not for a length of it: the clock may move on before this
        # task first runs (a cell's clock.advance(), on another thread), and the wait must not
        # start over from there.
        wait = due - self.clock.time()
        if wait > 0:
            self._waiting += 1  # asleep on the clock: see settled()
            try:
                await self.clock.sleep(wait)
            finally:
                self._waiting -= 1
        assert self._queue is not None
        self._queue.put_nowait(delivery)

    def settled(self) -> bool:
        """True when nothing is queued or being attempted: every delivery under way is asleep
        on the clock until a later moment of its schedule (or none is under way).

        What :meth:`Lab.fast_forward <webhooks_lab.lab.Lab.fast_forward>` waits for before the
        clock jumps to the next moment something is due. Read it on the lab loop.
        """
        return self._waiting >= len(self._live)

    def _remember(self, delivery: OutgoingDelivery) -> OutgoingDelivery:
        """The one live object for a delivery id (a row read back maps to it)."""
        with self._known_lock:
            known = self._known.get(delivery.id)
            if known is not None:
                return known
            self._known[delivery.id] = delivery
            if len(self._known) > self._forget_at:
                self._forget()
            return delivery

    def _forget(self) -> None:
        """Forget ended deliveries, oldest first, down to ``keep`` (the outbox still has them).

        Live ones stay, however many: a burst bigger than ``keep`` is still under way. The next
        look comes a tenth more deliveries later, so a burst of a million costs a few looks, not
        one per delivery.
        """
        known = self._known
        for old_id in list(itertools.islice(known, len(known) - self._keep)):
            if known[old_id].done:
                del known[old_id]
        self._forget_at = _next_look(max(len(known), self._keep))

    # -- the workers ----------------------------------------------------------------------------

    async def _worker(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            delivery = await queue.get()
            try:
                await self._attempt(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not kill the worker and stall every delivery
                error = f"sender error: {type(exc).__name__}: {exc}"
                if delivery.last is not None and delivery.last.state == "trying":
                    self._settle(delivery, None, error)
                else:  # it broke before an attempt began: end it, so nobody waits for ever
                    delivery.state, delivery.next_attempt_at = "dead", None
                    self._note(delivery)
                    self._retire(delivery)
                    self._changed()

    async def _attempt(self, delivery: OutgoingDelivery) -> None:
        if delivery.done:
            self._retire(delivery)
            self._changed()
            return
        endpoint = self._endpoints.get(delivery.endpoint_id) if delivery.endpoint_id else None
        if delivery.endpoint_id is not None and (endpoint is None or not endpoint.enabled):
            delivery.state, delivery.next_attempt_at = "disabled", None
            delivery.updated_at = self.clock.time()
            self._note(delivery)
            self._retire(delivery)
            self._changed()
            return
        if endpoint is not None:
            url, scheme, secret = endpoint.url, endpoint.scheme, endpoint.secret
        else:
            url, scheme, secret = delivery.url, delivery.scheme, delivery.secret
        started = self.clock.time()
        attempt = Attempt(delivery.id, delivery.event_id, url, len(delivery.attempts) + 1, started)
        delivery.attempts.append(attempt)
        delivery.updated_at = started
        self._went_out(delivery, attempt)

        # Signed with real time, even on a sped-up lab clock: the receiver is someone else.
        headers = signed_headers(
            scheme,
            secret,
            delivery.body,
            msg_id=delivery.event_id,
            timestamp=int(self.clock.wall()),
        )
        trace = self.trace
        pending = None
        if trace is not None:
            pending = trace.begin(
                self._parties.get(delivery.id, self.party),
                "POST",
                url,
                webhook_id=delivery.event_id,
                event=delivery.event_type,
            )
        try:
            answer = await post(self._session, url, delivery.body, headers, self._timeout())
        except asyncio.CancelledError:
            attempt.state = "interrupted"
            attempt.error = "the sender stopped before an answer came (it may have arrived)"
            if pending is not None:
                trace.end(pending, error="interrupted")
            self._note(delivery, attempt)
            raise
        attempt.response, attempt.latency_ms = answer.response, answer.latency_ms
        if pending is not None:
            trace.end(pending, answer.status, error=answer.error)
        self._settle(
            delivery,
            answer.status,
            answer.error,
            retry_after=answer.retry_after,
            permanent=answer.permanent,
        )

    def _settle(
        self,
        delivery: OutgoingDelivery,
        status: int | None,
        error: str | None,
        *,
        retry_after: str | None = None,
        permanent: bool = False,
    ) -> None:
        """Decide what an attempt's answer means, write it down, tell the listeners."""
        attempt = delivery.last
        if attempt is None or attempt.state != "trying":
            return
        attempt.status, attempt.error = status, error
        now = self.clock.time()
        decision = decide(
            status,
            attempts_made=len(delivery.attempts) - delivery.round_base,
            policy=self.policy,
            retry_after=retry_after,
            now=time.time(),  # a date in Retry-After is a fact on the wire: wall-clock time
            permanent=permanent,
        )
        state = decision.state
        if state == "disabled" and delivery.endpoint_id in self._endpoints:
            self.disable(delivery.endpoint_id, "the receiver answered 410 Gone")
        elif decision.wait is not None:
            attempt.backoff, attempt.next_attempt_at = decision.wait, now + decision.wait
        attempt.state = delivery.state = state
        delivery.next_attempt_at = attempt.next_attempt_at
        delivery.updated_at = now
        self._note(delivery, attempt)
        if decision.wait is not None:
            self._schedule(delivery)  # at now + wait, its next_attempt_at
        else:
            self._retire(delivery)
        self.listeners.notify(attempt)
        self._changed()

    def _retire(self, delivery: OutgoingDelivery) -> None:
        """A delivery reached a final state: wake whoever waits for it, or for the sender."""
        self._live.pop(delivery.id, None)
        self._parties.pop(delivery.id, None)
        for waiter in self._waiters.pop(delivery.id, ()):
            if not waiter.done():
                waiter.set_result(None)
        if not self._live and self._idle is not None:
            self._idle.set()

    def _changed(self) -> None:
        """Wake the threads blocked in :meth:`_wait_until`, to look again.

        Nobody to wake costs no lock: a thread counts itself in before it first looks, and
        every change is made before this reads the count, so a waiter either sees the change
        or is counted here."""
        if self._watching:
            with self._progress:
                self._progress.notify_all()

    def _timeout(self) -> Any:
        made = self._client_timeout
        if made is None or made.total != self.timeout:  # made again when sender.timeout changes
            import aiohttp

            made = self._client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        return made

    def _went_out(self, delivery: OutgoingDelivery, attempt: Attempt) -> None:
        """An attempt is about to go out: on record once it has been in flight for a flush
        interval, at the next flush after that.

        Most answers come within milliseconds, so their attempt is written once, answered, with
        nothing to overwrite; writing each one down as ``"trying"`` first cost about 2% of
        what the sender does per delivery. A slow one is on record as ``"trying"`` while it
        waits (and ``"interrupted"`` after a crash). A crash loses at most the last interval's
        attempt records, as the outbox promises; their deliveries are still pending in it, and
        are tried again."""
        if self.outbox.flush_interval <= 0:  # every write committed at once: this one too
            self._note(delivery, attempt)
            return
        self._in_flight[delivery.id] = (delivery, time.monotonic())
        if self._unflushed is not None:
            self._unflushed.set()

    def _note_in_flight(self, older_than: float) -> bool:
        """On the loop: note the attempts in flight for ``older_than`` seconds or more; True if
        younger ones are left."""
        since = time.monotonic() - older_than
        younger = False
        for delivery, sent in list(self._in_flight.values()):
            if sent > since:
                younger = True
            else:  # written with this batch: the flusher is already awake
                self.outbox.note(delivery, delivery.last)
                del self._in_flight[delivery.id]
        return younger

    def _note(self, delivery: OutgoingDelivery, attempt: Attempt | None = None) -> None:
        """Tell the outbox what changed; the flusher writes it down shortly after."""
        if attempt is not None:
            self._in_flight.pop(delivery.id, None)  # noted: no longer waits to be
        self.outbox.note(delivery, attempt)
        if self._unflushed is not None:
            self._unflushed.set()

    async def _flusher(self) -> None:
        """Write behind: once something changed, wait ``flush_interval`` for more, then commit
        it all in one transaction, on a worker thread: deliveries keep going out while SQLite
        writes (and now and then checkpoints, which waits for the disk). An idle sender sleeps
        until there is something to write."""
        assert self._unflushed is not None
        while True:
            await self._unflushed.wait()
            await asyncio.sleep(self.outbox.flush_interval)
            self._unflushed.clear()
            if self._note_in_flight(older_than=self.outbox.flush_interval):
                self._unflushed.set()  # look again next time: they may still be waiting then
            batch = self.outbox.take()  # the rows as they are now, taken on the loop
            if batch is not None:
                # A batch taken must be written: take() holds the outbox's write lock until
                # write() runs. So the write goes to the thread pool at once, before this loop
                # runs anything else: a flush on the loop meanwhile (idle(), counts()) then
                # waits for that thread, instead of waiting for ever for a write that only the
                # loop it blocks could have handed over. Shielded: cancelled, it still runs.
                await asyncio.shield(off_the_loop(self.outbox.write, batch))

    async def _finished(self, delivery: OutgoingDelivery) -> None:
        if delivery.done:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(delivery.id, []).append(waiter)
        await waiter

    # -- watching and waiting -------------------------------------------------------------------

    def subscribe(self, listener: AttemptListener) -> Callable[[], None]:
        """Call ``listener(attempt)`` on the lab loop after every attempt; returns unsubscribe.

        A listener that raises is unsubscribed, and what it raised kept in
        ``sender.listeners.errors``: a broken view never breaks delivery.
        """
        return self.listeners.subscribe(listener)

    async def idle(self) -> None:
        """Wait until no delivery is queued, in flight, or waiting to be retried."""
        if self._idle is None:
            return
        if self._loop is not asyncio.get_running_loop():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.idle(), self._loop))
            return
        await self._idle.wait()
        self.outbox.flush()

    def wait_idle(self, timeout: float = 10.0) -> dict[str, int]:
        """Block (this thread, never the lab's) until every delivery has ended; then the counts.

        Raises ``TimeoutError`` after ``timeout`` real seconds, saying what is still under way.
        """
        if self._loop is None:
            raise RuntimeError("the sender is not started; await sender.start() first")
        if threading.current_thread() is self._thread:
            raise RuntimeError("wait_idle() would block the lab loop; use 'await sender.idle()'")
        future = asyncio.run_coroutine_threadsafe(self.idle(), self._loop)
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            live = list(self._live.values())
            due = [d.next_attempt_at for d in live if d.next_attempt_at is not None]
            soonest = ""
            if due:
                wait = max(0.0, min(due) - self.clock.time())
                soonest = f"; the next attempt is due in {wait:.3g} lab seconds"
            raise TimeoutError(
                f"waited {timeout:g} s and {len(live)} deliveries are still under way{soonest}"
            ) from None
        return self.counts()

    def wait_attempts(
        self, delivery: OutgoingDelivery, count: int = 1, timeout: float = 10.0
    ) -> OutgoingDelivery:
        """Block (this thread) until ``delivery`` has ``count`` answered attempts, or has ended.

        Raises ``TimeoutError`` after ``timeout`` real seconds, saying how many were answered.
        """
        delivery = self._known.get(delivery.id, delivery)

        def answered() -> int:
            return sum(1 for a in delivery.attempts if a.state != "trying")

        if not self._wait_until(lambda: delivery.done or answered() >= count, timeout):
            raise TimeoutError(
                f"waited {timeout:g} s for attempt {count} of {delivery.id}; "
                f"{answered()} answered so far"
            )
        return delivery

    def wait_deliveries(
        self, deliveries: Iterable[OutgoingDelivery], timeout: float = 10.0
    ) -> list[OutgoingDelivery]:
        """Block (this thread) until every one of ``deliveries`` has ended; returns them.

        Raises ``TimeoutError`` after ``timeout`` real seconds, saying how many are under way.
        """
        waiting = [self._known.get(d.id, d) for d in deliveries]
        if not self._wait_until(lambda: all(d.done for d in waiting), timeout):
            left = sum(not d.done for d in waiting)
            raise TimeoutError(
                f"waited {timeout:g} s and {left} of {len(waiting)} deliveries are still under way"
            )
        return waiting

    def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Block until ``done()`` (checked whenever an attempt is answered); False on timeout."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("waiting here would block the lab loop; await the work instead")
        with self._progress:
            self._watching += 1
            try:
                return self._progress.wait_for(done, timeout)
            finally:
                self._watching -= 1

    # -- reading the record ---------------------------------------------------------------------

    def deliveries(
        self,
        state: str | Iterable[str] | None = None,
        *,
        endpoint: str | Destination | None = None,
        since: float | None = None,
    ) -> list[OutgoingDelivery]:
        """Deliveries from the outbox, oldest first: in a ``state``, to an ``endpoint``, or
        created at or after ``since`` (lab time)."""
        states = (state,) if isinstance(state, str) else state
        endpoint_id = self.endpoint(endpoint).id if endpoint is not None else None
        rows = self.outbox.deliveries(states=states, endpoint_id=endpoint_id, since=since)
        return [self._known.get(row.id, row) for row in rows]

    def dead_letters(self, endpoint: str | Destination | None = None) -> list[OutgoingDelivery]:
        """Deliveries every attempt of which failed, each with its full attempt log."""
        return self.deliveries("dead", endpoint=endpoint)

    def delivery(self, delivery_id: str) -> OutgoingDelivery:
        known = self._known.get(delivery_id)
        if known is not None:
            return known
        rows = self.outbox.deliveries(ids=[delivery_id])
        if not rows:
            raise KeyError(f"no delivery {delivery_id!r} in the outbox")
        return rows[0]

    def attempts(self, delivery: str | OutgoingDelivery | None = None) -> list[Attempt]:
        """The attempt log: every attempt (of one delivery, if given), oldest first."""
        key = delivery.id if isinstance(delivery, OutgoingDelivery) else delivery
        for in_flight, _ in list(self._in_flight.values()):  # the log has them all
            self.outbox.note(in_flight, in_flight.last)
        return self.outbox.attempts(key)

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state, e.g. ``{"delivered": 9, "dead": 1}``."""
        return self.outbox.counts()

    # -- replay ---------------------------------------------------------------------------------

    def replay(
        self,
        delivery: str | OutgoingDelivery | None = None,
        *,
        endpoint: str | Destination | None = None,
        since: float | None = None,
    ) -> OutgoingDelivery | list[OutgoingDelivery]:
        """Try a finished delivery again, with a fresh set of attempts; same ``webhook-id``.

        ``replay(delivery)`` replays one (a dead letter, usually) and returns it.
        ``replay(endpoint=..., since=t)`` replays every dead or disabled delivery to that
        endpoint created at or after lab time ``t`` (default: all of them) and returns them.
        A disabled endpoint must be enabled first.
        """
        if delivery is not None:
            if endpoint is not None or since is not None:
                raise TypeError("replay one delivery, or an endpoint's failures, not both")
            found = (
                self.delivery(delivery) if isinstance(delivery, str) else self._remember(delivery)
            )
            return self._on_loop(self._replay, [found])[0]
        if endpoint is None:
            raise TypeError("say what to replay: replay(delivery) or replay(endpoint=...)")
        failed = self.deliveries(("dead", "disabled"), endpoint=endpoint, since=since)
        return self._on_loop(self._replay, failed)

    def _replay(self, deliveries: Sequence[OutgoingDelivery]) -> list[OutgoingDelivery]:
        self._check_open()
        for delivery in deliveries:
            endpoint = self._endpoints.get(delivery.endpoint_id or "")
            if endpoint is not None and not endpoint.enabled:
                raise ValueError(
                    f"endpoint {endpoint.url} is disabled ({endpoint.disabled_reason}); "
                    "enable it first with sender.enable(...)"
                )
        replayed = []
        now = self.clock.time()
        for found in deliveries:
            delivery = self._remember(found)
            if not delivery.done:
                replayed.append(delivery)  # already on its way
                continue
            delivery.state, delivery.next_attempt_at, delivery.updated_at = "pending", now, now
            delivery.round_base, delivery.replays = len(delivery.attempts), delivery.replays + 1
            self._note(delivery)
            replayed.append(delivery)
        self.outbox.flush()
        if self._loop is not None:
            self._accept(replayed)
        return replayed

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the sender's loop and return its result, from any thread."""
        if self._loop is None or threading.current_thread() is self._thread:
            return fn(*args)

        async def call() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(30)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this sender is closed; start the lab again for a new one")

    def __repr__(self) -> str:
        if self._closed:
            return "<Sender closed>"
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.counts().items()))
        return (
            f"<Sender {len(self._endpoints)} endpoint{'s' if len(self._endpoints) != 1 else ''};"
            f" deliveries: {counts or 'none yet'}; {len(self._live)} under way>"
        )


__all__ += ["FINAL_STATES"]


def _next_look(kept: int) -> int:
    """How many known deliveries the sender looks for ended ones to forget at: a tenth more."""
    return kept + kept // 10 + 1


def _signing_secrets(scheme: str, secret: str | Sequence[str] | None) -> str:
    """The secret(s) an endpoint signs with, checked, as one text (several are space-separated).

    Standard Webhooks takes several during a rotation (``[old, new]``, or an HMAC secret and a
    ``whsk_`` key while moving to v1a): each signs, and the header carries every signature.
    Secrets never hold spaces, so the outbox keeps them in its one text column.
    """
    many = [secret] if isinstance(secret, str) else list(secret or ())
    if scheme != "standard" and len(many) != 1:
        raise ValueError(f"scheme {scheme!r} signs with one secret; only 'standard' takes several")
    if not many:
        raise ValueError(f"scheme {scheme!r} signs deliveries, so it needs a secret")
    for each in many:
        signing.check_secret(scheme, each, role="sign")
        if any(c.isspace() for c in each):
            raise ValueError("a secret has no spaces; is this two secrets in one string?")
    return " ".join(many)
