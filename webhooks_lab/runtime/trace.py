"""The wire trace: every HTTP exchange the lab takes part in, who to whom, as it happened.

One :class:`Exchange` per request and its answer: the client party and the server party (named
for what they are in the lesson: "Sender", "Your receiver", "Poller", "Jobs API"...), method,
path, status (or ``timeout`` / ``error`` when no answer came), latency, the webhook id or job id
it belongs to, and the lab-clock time it started. A :class:`Trace` keeps the newest ``keep`` of
them (bounded, like the inbox) and tells its listeners of each one.

Both ends of most conversations are the lab's, so each exchange is written down once:

- a lab **client** (the sender, the poller, a replay, the jobs client) calls :meth:`Trace.begin`
  before the request goes out and :meth:`Trace.end` when the answer (or the timeout) comes. It
  knows who it is and what it saw, timeouts included. ``begin`` leaves a *claim*;
- a lab **server** (an app wrapped by :meth:`Trace.serve`) takes the claim when the request
  arrives and records nothing; a request nobody claimed (``curl``, a learner's ``httpx.post``,
  another process) it records itself, naming the client by its ``User-Agent``.

Recording costs one small object and a ``deque.append`` per exchange; listeners (the wire view,
the inbox page's Wire tab) are called only while one is open. ``to_json`` and ``to_mermaid``
export what is kept.

    trace = lab.trace
    trace.exchanges()[-1]   # Exchange(Sender -> Your receiver POST /webhooks/shop 503 ...)
    print(trace.to_mermaid(names={"Sender": "Shop"}))
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from webhooks_lab.retry import describe_seconds
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners

__all__ = [
    "DEFAULT_KEEP",
    "Exchange",
    "Names",
    "Pending",
    "Trace",
    "TracedApp",
    "client_party",
    "current",
    "display_parties",
    "job_id_in",
    "lab_server_party",
    "mermaid",
    "outcome_of",
    "to_json",
    "use",
]

DEFAULT_KEEP = 5_000

# A server's party for a request path, or None to leave the request out of the trace.
PartyFor = Callable[[str], "str | None"]
# A record kept as it came: (seq, _WHOLE or _SERVED, what was recorded...). One flat tuple of plain
# values, so the garbage collector stops tracking it: a trace keeps thousands, and the sender adds
# one per attempt. _WHOLE: an exchange seen whole (a lab client's, Trace.record); _SERVED: what a
# traced server or watched inbox saw.
_Raw = tuple[Any, ...]
_WHOLE, _SERVED = "whole", "served"
# What a lesson calls the parties: {"Sender": "Shop", "/webhooks/mail": ("Shop", "Mailer")}.
Names = Mapping[str, "str | tuple[str, str]"]


def outcome_of(status: int | None, error: str | None = None) -> str:
    """``"2xx"`` ... ``"5xx"``, or ``"timeout"`` / ``"error"`` when no answer came."""
    if status:
        return f"{min(max(status // 100, 1), 5)}xx"
    return "timeout" if error and "timeout" in error.lower() else "error"


@dataclass(slots=True)
class Exchange:
    """One request and its answer (or its lack of one)."""

    seq: int
    at: float  # lab-clock Unix seconds when the request went out (or came in)
    client: str
    server: str
    method: str
    path: str
    status: int | None
    outcome: str  # 2xx 3xx 4xx 5xx timeout error
    latency_ms: float
    webhook_id: str | None = None
    job_id: str | None = None
    event: str | None = None  # the event type, when the client knew it
    error: str | None = None
    recorded_by: str = "client"  # or "server"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        answer = str(self.status) if self.status else self.outcome
        return (
            f"Exchange({self.client} -> {self.server} {self.method} {self.path} {answer} "
            f"{self.latency_ms:.1f} ms)"
        )


@dataclass(slots=True, eq=False)
class Pending:
    """An exchange a lab client has begun: the claim a lab server takes when it arrives.

    Each is itself and no other (compared by identity): two requests alike in every field are
    still two claims, and dropping one from a queue of many need not compare their fields."""

    client: str
    server: str | None
    method: str
    path: str
    port: int
    at: float
    started: float  # perf_counter
    webhook_id: str | None
    job_id: str | None
    event: str | None
    claimed: bool = field(default=False)


class Trace:
    """The newest ``keep`` exchanges, in the order they ended; see the module docstring."""

    def __init__(self, clock: Clock | None = None, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep!r}")
        self.clock = clock or Clock()
        self.keep = keep
        self.listeners: Listeners[[Exchange]] = Listeners("trace")
        # Exchanges, and records kept as they came (see _add_raw).
        self._items: deque[Exchange | _Raw] = deque(maxlen=keep)
        self._seq = itertools.count(1)
        self._claims: dict[tuple[int, str, str], deque[Pending]] = {}
        self._claims_lock = threading.Lock()
        self._servers: dict[int, PartyFor] = {}  # port -> how that lab server names itself
        # What a lesson calls the parties ({"Sender": "Shop", "/webhooks/mail": "Mailer"}): every
        # view and export of this trace uses it (see display_parties).
        self.names: dict[str, str | tuple[str, str]] = {}
        self.total = 0  # every exchange ever recorded, kept or not
        self.serving = 0  # requests a traced server is answering right now, unclaimed ones

    # -- recording --------------------------------------------------------------------------------

    def begin(
        self,
        client: str,
        method: str,
        url: str,
        *,
        server: str | None = None,
        webhook_id: str | None = None,
        job_id: str | None = None,
        event: str | None = None,
    ) -> Pending:
        """A lab client is about to send ``method url``; call :meth:`end` with what came back."""
        path, port = _path_and_port(url)
        pending = Pending(
            client,
            server,
            method.upper(),
            path,
            port,
            self.clock.time(),
            time.perf_counter(),
            webhook_id,
            job_id,
            event,
        )
        key = (port, pending.method, path)
        with self._claims_lock:
            waiting = self._claims.get(key)
            if waiting is None:
                waiting = self._claims[key] = deque()
            waiting.append(pending)
        return pending

    def end(
        self,
        pending: Pending,
        status: int | None = None,
        *,
        error: str | None = None,
        job_id: str | None = None,
    ) -> None:
        """What came back for ``pending``: a status, or an ``error`` ("timeout: ...", ...).

        Kept as it came and made an :class:`Exchange` when first read (or at once, while a view
        listens): the sender calls this after every attempt."""
        latency = (time.perf_counter() - pending.started) * 1000
        if not pending.claimed:
            self._drop_claim(pending)
        self._add_raw(
            (
                next(self._seq),
                _WHOLE,
                pending.at,
                pending.client,
                pending.server or self._server_name(pending.port, pending.path),
                pending.method,
                pending.path,
                status,
                error,
                latency,
                pending.webhook_id,
                job_id or pending.job_id,
                pending.event,
                "client",
            )
        )

    def record(
        self,
        client: str,
        server: str,
        method: str,
        path: str,
        status: int | None,
        *,
        latency_ms: float = 0.0,
        at: float | None = None,
        webhook_id: str | None = None,
        job_id: str | None = None,
        error: str | None = None,
        recorded_by: str = "server",
    ) -> Exchange:
        """Write down an exchange seen whole (a refusal answered before any app ran, say)."""
        at = self.clock.time() if at is None else at
        raw = (_WHOLE, at, client, server, method, path, status, error, latency_ms, webhook_id)
        return self._add(_exchange_of((next(self._seq), *raw, job_id, None, recorded_by)))

    def serve(self, app: Any, party: str | PartyFor = "Server", *, inbox: Any = None) -> TracedApp:
        """``app`` (ASGI), recording every request no lab client claimed; ``party`` names the
        server: a name, or a function of the path (``None`` leaves a path out of the trace).
        With the receiver's ``inbox``, deliveries are read from what it records (call
        :meth:`TracedApp.watch` with the port once the server listens)."""
        traced = TracedApp(app, self, party)
        traced.inbox = inbox
        return traced

    def _add(self, exchange: Exchange) -> Exchange:
        self._items.append(exchange)
        self.total += 1
        if self.listeners:
            self.listeners.notify(exchange)
        return exchange

    def _add_raw(self, record: tuple[Any, ...]) -> None:
        """A record kept as it came (see ``_Raw``; its caller numbers it with ``next(self._seq)``,
        so it is built once), made an :class:`Exchange` when first read."""
        if self.listeners._listeners:  # the tuple itself: its __bool__ is a call too many here
            self._add(_exchange_of(record))
            return
        self._items.append(record)
        self.total += 1

    def watch_inbox(self, inbox: Any, port: int, party: PartyFor) -> Any:
        """Write down each POST to ``/webhooks/...`` from what ``inbox`` records of it (the
        receiver on ``port`` keeps it anyway: status, webhook id, how long it took), so the
        delivery path pays one listener call and no more. Returns the way to stop."""

        def recorded(delivery: Any) -> None:
            method, path = delivery.method, delivery.path
            if not _FROM_INBOX(method, path):
                return  # the traced app itself writes those down
            if self._claims and self._take_claim(port, method, path):
                return  # a lab client's: it writes the exchange down
            headers = delivery.headers
            self._add_raw(
                (
                    next(self._seq),
                    _SERVED,
                    delivery.received_at,
                    0.0,
                    delivery.duration_ms / 1000,
                    party(path) or "Your receiver",
                    method,
                    path,
                    delivery.status,
                    delivery.webhook_id,
                    headers.get("user-agent"),
                    None,
                ),
            )

        return inbox.subscribe(recorded)

    def _take_claim(self, port: int, method: str, path: str) -> bool:
        with self._claims_lock:
            waiting = self._claims.get((port, method, path))
            if not waiting:
                return False
            pending = waiting.popleft()
            if not waiting:
                del self._claims[(port, method, path)]
        pending.claimed = True
        return True

    def _drop_claim(self, pending: Pending) -> None:
        key = (pending.port, pending.method, pending.path)
        with self._claims_lock:
            waiting = self._claims.get(key)
            if waiting is None:
                return
            # Not contextlib.suppress, a fifth of what recording an exchange costs: this runs
            # after every request a lab client makes.
            try:  # noqa: SIM105
                waiting.remove(pending)
            except ValueError:
                pass
            if not waiting:
                del self._claims[key]

    def _server_name(self, port: int, path: str) -> str:
        party = self._servers.get(port)
        name = party(path) if party is not None else None
        return name or (f"127.0.0.1:{port}" if port else "?")

    # -- reading ----------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Exchanges begun and not yet recorded: by a lab client, or at a traced server."""
        with self._claims_lock:
            return sum(len(q) for q in self._claims.values()) + self.serving

    def exchanges(self, since: int = 0) -> list[Exchange]:
        """What is kept, numbered above ``since``, in the order the exchanges ended."""
        items = [
            x if isinstance(x, Exchange) else _exchange_of(x)
            for x in list(self._items)
            if (x.seq if isinstance(x, Exchange) else x[0]) > since
        ]
        return items

    @property
    def last_seq(self) -> int:
        items = self._items
        if not items:
            return 0
        last = items[-1]
        return last.seq if isinstance(last, Exchange) else last[0]

    def subscribe(self, listener: Callable[[Exchange], object]) -> Callable[[], None]:
        return self.listeners.subscribe(listener)

    def clear(self) -> None:
        self._items.clear()

    def to_json(self, since: int = 0, *, names: Names | None = None) -> str:
        """The kept exchanges as a JSON array, oldest first, parties as ``names`` renames them."""
        return to_json(self.exchanges(since), {**self.names, **(names or {})})

    def to_mermaid(self, since: int = 0, *, names: Names | None = None) -> str:
        """The kept exchanges as a Mermaid ``sequenceDiagram``, ready to paste into docs."""
        return mermaid(self.exchanges(since), {**self.names, **(names or {})})

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return True  # an empty trace is still a trace (``trace or default`` must not skip it)

    def __repr__(self) -> str:
        return f"<Trace: {len(self._items)} exchanges kept of {self.total}, at most {self.keep}>"


class TracedApp:
    """An ASGI app that writes each request nobody claimed into a :class:`Trace`.

    This is on every request the lab serves, so it does as little as it can: it notes the
    status on the way out, and leaves a plain tuple that becomes an :class:`Exchange` only
    when someone reads the trace (or at once, while a view listens).
    """

    def __init__(self, app: Any, trace: Trace, party: str | PartyFor) -> None:
        self.app = app
        self.trace = trace
        self.party: PartyFor = party if callable(party) else (lambda path, _p=party: _p)
        self._ports: set[int] = set()
        self.inbox: Any = None  # the receiver's inbox, whose records stand for deliveries
        self.inbox_watched = False  # set when the trace reads deliveries from it (watch)
        self._names: dict[str, str | None] = {}  # path -> party, for the paths seen most

    def watch(self, port: int) -> Any:
        """Start reading deliveries from the inbox given to :meth:`Trace.serve`, for the server
        listening on ``port``; returns the way to stop."""
        if self.inbox is None:
            raise ValueError("this app was traced without an inbox to watch")
        self.inbox_watched = True
        self._ports.add(port)
        self.trace._servers[port] = self.party
        return self.trace.watch_inbox(self.inbox, port, self._party_of)

    def _party_of(self, path: str) -> str | None:
        """``party(path)``, looked up once for each path seen (at most 1,024 are kept)."""
        try:
            return self._names[path]
        except KeyError:
            server = self.party(path)
            if len(self._names) < 1024:  # every name a stranger makes up is not kept
                self._names[path] = server
            return server

    def record_refusal(self, status: int, code: str, method: str, target: str, detail: str) -> None:
        """For ``Server(on_refusal=...)``: a request refused before the app ran (head too big)."""
        path = (target or "?").split("?", 1)[0][:200]
        if not (self.inbox_watched and _FROM_INBOX(method, path)):  # else the inbox's record
            self.trace.record("Client", self.party(path) or "Server", method or "?", path, status)
        inner = getattr(self.app, "record_refusal", None)
        if inner is not None:
            inner(status, code, method, target, detail)

    def answer_now(self, method: str, path: str, headers: Any, body: bytes) -> Any:
        """The wrapped app's ``answer_now`` (see ``runtime.protocol``) for a delivery, whose
        record the watched inbox keeps; ``None`` for the rest, which this app writes down."""
        if not (self.inbox_watched and _FROM_INBOX(method, path)):
            return None
        inner = getattr(self.app, "answer_now", None)
        return None if inner is None else inner(method, path, headers, body)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # The delivery path, first and in line: the inbox's record of it is the trace's.
        if self.inbox_watched and scope["method"] == "POST" and path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        trace = self.trace
        port = scope["server"][1] if scope.get("server") else 0
        if port not in self._ports:
            self._ports.add(port)
            trace._servers[port] = self.party
        if trace._claims and trace._take_claim(port, scope["method"], path):
            await self.app(scope, receive, send)  # a lab client's: it writes the exchange down
            return
        server = self._party_of(path)
        if server is None:
            await self.app(scope, receive, send)
            return
        at, started = trace.clock.time(), time.perf_counter()
        answer: list[Any] = [None, None]  # status, and the headers of an answer to POST /jobs
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            headers = dict(scope["headers"])
            trace._add_raw(
                (
                    next(trace._seq),
                    _SERVED,
                    at,
                    started,
                    time.perf_counter(),
                    server,
                    scope["method"],
                    path,
                    answer[0],
                    headers.get(b"webhook-id") or headers.get(b"ce-id"),
                    headers.get(b"user-agent"),
                    answer[1],
                ),
            )

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
                if path == "/jobs":  # where the new job lives: its id, for the job filter
                    answer[1] = message.get("headers")
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()  # before the answer leaves: a client holding it finds it in the trace
            await send(message)

        trace.serving += 1  # on the server's loop only, so no lock
        try:
            await self.app(scope, receive, watch)
        finally:
            trace.serving -= 1
            if not recorded:  # no answer went out (the app failed, the client left)
                record()


def _FROM_INBOX(method: str, path: str) -> bool:  # noqa: N802 - a rule, named as one
    """Requests a watched inbox records (see :meth:`Trace.watch_inbox`), not the traced app."""
    return method == "POST" and path.startswith("/webhooks/")


def _decoded(value: str | bytes | None, limit: int = 200) -> str | None:
    if value is None:
        return None
    return (value.decode("latin-1") if isinstance(value, bytes) else value)[:limit]


def _exchange_of(raw: _Raw) -> Exchange:
    """The :class:`Exchange` a record kept as it came stands for: a lab client's
    (:meth:`Trace.end`), or a traced server's or watched inbox's."""
    seq = raw[0]
    if raw[1] == _WHOLE:
        (_, _, at, client, server, method, path, status, error, latency, webhook_id, job_id, event,
         recorded_by) = raw  # fmt: skip
        return Exchange(
            seq,
            at,
            client,
            server,
            method,
            path,
            status or None,
            outcome_of(status, error),
            latency,
            webhook_id,
            job_id or job_id_in(path),
            event,
            None if status else (error or "no answer"),
            recorded_by,
        )
    _, _, at, started, ended, server, method, path, status, webhook_id, agent, headers = raw
    job_id = None
    for key, value in headers or ():
        if key.lower() == b"location":
            job_id = job_id_in(value.decode("latin-1"))
    return Exchange(
        seq,
        at,
        client_party(_decoded(agent)),
        server,
        method,
        path[:200],
        status or None,
        outcome_of(status, None),
        (ended - started) * 1000,
        _decoded(webhook_id, 120),
        job_id or job_id_in(path),
        None,
        None if status else "the server gave no answer",
        "server",
    )


# -- names ----------------------------------------------------------------------------------------

_YOUR_CODE = ("python-httpx", "python-requests", "python-urllib", "aiohttp", "node", "undici")


def client_party(user_agent: str | None) -> str:
    """Who a request nobody claimed came from, by its ``User-Agent``: the learner's own code
    (``httpx``, ``requests``...), ``curl``, or a name the client gave."""
    if not user_agent:
        return "Client"
    product = user_agent.split("/", 1)[0].split(" ", 1)[0].strip()
    if product.lower() in _YOUR_CODE:
        return "Your code"
    if product == "webhooks-lab-sender":
        return "Sender"
    return product[:24] or "Client"


def lab_server_party(path: str) -> str | None:
    """How the lab's own server names itself for ``path``; ``None`` for the inbox page's own
    requests (the page watching the wire is not part of the conversation it shows)."""
    if path.startswith("/webhooks/"):
        return "Your receiver"
    if path.startswith(("/jobs", "/openapi.json")):
        return "Jobs API"
    if path == "/" or path.startswith("/inbox") or path == "/favicon.ico":
        return None
    return "Your receiver"


_JOB_ID = re.compile(r"^/jobs/([^/]+)")


@functools.lru_cache(maxsize=256)
def _path_and_port(url: str) -> tuple[str, int]:
    """The path and port a request to ``url`` goes to (0: a port that cannot be read). Kept
    for the few URLs a lab sends to, which it sends to over and over."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return parts.path or "/", port


def job_id_in(path: str) -> str | None:
    """The job a ``/jobs/{id}...`` path is about."""
    found = _JOB_ID.match(path)
    return found.group(1) if found and found.group(1) != "kinds" else None


def display_parties(x: Exchange, names: Names | None) -> tuple[str, str]:
    """``x``'s client and server as ``names`` renames them.

    A key naming a party (``"Sender": "Shop"``) renames that party everywhere; a key starting
    with ``/`` (``"/webhooks/orders": "Warehouse"``) names the server of every path under it,
    or both ends with a pair (``"/webhooks/orders": ("Shop", "Warehouse")``).
    """
    client, server = x.client, x.server
    if not names:
        return client, server
    for key, name in names.items():
        if key.startswith("/") and x.path.startswith(key):
            if isinstance(name, str):
                return _renamed(client, names), name
            return name[0], name[1]
    return _renamed(client, names), _renamed(server, names)


def _renamed(party: str, names: Names) -> str:
    name = names.get(party, party)
    return name if isinstance(name, str) else party


def to_json(exchanges: Iterable[Exchange], names: Names | None = None) -> str:
    """``exchanges`` as a JSON array, oldest first, the parties as ``names`` renames them."""
    rows = []
    for x in sorted(exchanges, key=lambda x: (x.at, x.seq)):
        row = x.to_dict()
        row["client"], row["server"] = display_parties(x, names)
        rows.append(row)
    return json.dumps(rows, indent=1)


# -- Mermaid --------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[;#\n\r<>:]")


def _text(value: str) -> str:
    return _UNSAFE.sub(" ", value).strip()


def mermaid(exchanges: Iterable[Exchange], names: Names | None = None) -> str:
    """A Mermaid ``sequenceDiagram`` of ``exchanges``: a request arrow and an answer arrow each,
    a crossed answer for a timeout or a broken connection, a note for each long wait."""
    rows = sorted(exchanges, key=lambda x: (x.at, x.seq))
    ids: dict[str, str] = {}
    body: list[str] = []
    gaps = [b.at - a.at for a, b in itertools.pairwise(rows)]
    long_wait = max(0.5, 0.25 * max(gaps, default=0.0))
    previous: Exchange | None = None
    for x in rows:
        client, server = display_parties(x, names)
        for party in (client, server):
            ids.setdefault(party, f"P{len(ids) + 1}")
        a, b = ids[client], ids[server]
        if previous is not None and x.at - previous.at >= long_wait:
            body.append(f"    Note over {a}: waited {describe_seconds(x.at - previous.at)}")
        label = f"{x.method} {x.path}"
        if x.event or x.webhook_id:
            label += f" ({x.event or x.webhook_id})"
        body.append(f"    {a}->>{b}: {_text(label)}")
        if x.status:
            body.append(f"    {b}-->>{a}: {x.status} ({x.latency_ms:.0f} ms)")
        else:
            body.append(f"    {b}--x{a}: {x.outcome}")
        previous = x
    head = ["sequenceDiagram"]
    head += [f"    participant {pid} as {_text(party)}" for party, pid in ids.items()]
    return "\n".join(head + body) + "\n"


# -- the lab's trace ------------------------------------------------------------------------------

_current: Trace | None = None


def current() -> Trace | None:
    """The trace lab clients write to when given none: the running lab's (see :func:`use`).

    ``None`` before a lab has started: nobody is watching, so a client given no trace (a
    :class:`~webhooks_lab.sender.sender.Sender` in a script of your own, say) writes nothing down.
    Recording an exchange nobody can see cost the sender about 4% of its work per delivery."""
    return _current


def use(trace: Trace) -> Trace:
    """Make ``trace`` the one :func:`current` returns (the lab does, when it starts)."""
    global _current
    _current = trace
    return trace
