"""What every case shares: the wiring, the journal, idempotency, and waiting for the work to end.

A case (a :class:`Scenario`) plays both sides of one webhook integration inside one lab:

* **the source** (a newsletter platform, a shop, a payment gateway, a chat service) is the lab's
  *sender*: the case registers the receiver's URL with it, for the event types it wants, with a
  shared secret, so every delivery is signed and retried until it is acknowledged;
* **your app** is the lab's *receiver*: its endpoint (``/webhooks/merchant`` for the payments
  case) accepts only deliveries signed with that secret, and hands each event to the handlers.

Handlers follow three rules you will find in every good webhook integration:

1. **Check the payload** (:func:`need`) and refuse a bad one with a clear ``422``.
2. **Do it once** (:meth:`Scenario.first_time`): a sender delivers *at least* once, so the same
   event can come again; remember which events you handled and skip repeats.
3. **Answer fast, work later** (:meth:`Scenario.background`): do the quick, essential update
   right away and hand slow work (email, shipping, notifications) to a background job.

Everything that happens is written to the case's :class:`Journal`, one line per step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.i18n import _
from webhooks_lab.i18n.columns import ljust
from webhooks_lab.lessons.email_outbox import EmailOutbox
from webhooks_lab.receiver.endpoint import InvalidPayload
from webhooks_lab.retry import describe_seconds
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners

if TYPE_CHECKING:
    from webhooks_lab.jobs.model import Job
    from webhooks_lab.lab import Lab
    from webhooks_lab.receiver.inbox import Delivery
    from webhooks_lab.sender.records import Attempt, OutgoingDelivery

__all__ = ["Journal", "Line", "Report", "Scenario", "need"]

Handler = Callable[[Event], Awaitable[None]]


# -- the journal -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One step of a story: when (lab seconds since the case began), who, and what happened."""

    at: float
    who: str
    what: str

    def __str__(self) -> str:
        # No padding before the time: lines stay alike however long the story runs.
        return f"{self.at:.2f} s  {ljust(self.who, 20)} {self.what}"


class Journal:
    """What happened in a case, in order. Thread-safe; listeners hear each line as it is added.

    A listener that raises (a closed terminal) is unsubscribed, its error kept in
    ``journal.listeners.errors``: it never breaks the handler that wrote the line.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._start: float | None = None  # the story's clock starts with its first line
        self._lines: list[Line] = []
        self._lock = threading.Lock()
        self.listeners: Listeners[[Line]] = Listeners("journal")

    def add(self, who: str, what: str) -> Line:
        with self._lock:
            now = self.clock.monotonic()
            if self._start is None:
                self._start = now
            line = Line(now - self._start, who, what)
            self._lines.append(line)
        self.listeners.notify(line)
        return line

    def subscribe(self, listener: Callable[[Line], object]) -> Callable[[], None]:
        """Call ``listener(line)`` for every new line; returns a function that stops it."""
        return self.listeners.subscribe(listener)

    @property
    def lines(self) -> list[Line]:
        with self._lock:
            return list(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Line]:
        return iter(self.lines)

    def __repr__(self) -> str:
        lines = self.lines
        if not lines:
            return _("Journal: nothing has happened yet")
        shown = [str(line) for line in lines[-40:]]
        if len(lines) > 40:
            shown.insert(0, "  ... " + _("{count} earlier lines", count=len(lines) - 40))
        return "\n".join(shown)


# -- checking a payload ----------------------------------------------------------------------------


def need(event: Event, **wanted: type | tuple[type, ...]) -> dict[str, Any]:
    """Check that ``event.data`` has each named field, of the given type; return the data.

    ``need(event, email=str, amount=int)`` raises :class:`InvalidPayload` (so the sender gets a
    ``422`` saying why) naming *every* problem at once, so the sender can fix them in one go.
    ``True`` is not accepted as a number, although Python's ``bool`` is a kind of ``int``.
    """
    data = event.data
    problems = []
    for name, kind in wanted.items():
        if name not in data:
            problems.append(f"'{name}' is missing")
            continue
        value = data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            problems.append(f"'{name}' should be {expected}, got {type(value).__name__}")
    if problems:
        raise InvalidPayload(f"{event.type}: {'; '.join(problems)}")
    return data


# -- what a run adds up to -------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A case's figures, all read from the lab's own records.

    ``sent``: events the source emitted (a resend counts again). ``attempts``: HTTP requests its
    sender made. ``delivered``: deliveries that ended acknowledged. ``accepted``, ``duplicates``,
    ``refused``: what the receiver did with the requests (``refused`` is any 4xx/5xx, on purpose
    or not). ``jobs``: background jobs run. ``emails``: emails the case sent.
    """

    case: str
    sent: int
    attempts: int
    delivered: int
    accepted: int
    duplicates: int
    refused: int
    jobs: int
    emails: int

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "sent",
        "attempts",
        "delivered",
        "accepted",
        "duplicates",
        "refused",
        "jobs",
        "emails",
    )

    def row(self) -> tuple[int, ...]:
        return tuple(getattr(self, column) for column in self.COLUMNS)


def table(reports: Iterable[Report]) -> str:
    """Reports as an aligned text table, one case a row, with a total row."""
    reports = list(reports)
    header = ("case", *Report.COLUMNS)
    rows = [(r.case, *map(str, r.row())) for r in reports]
    if len(reports) > 1:
        totals = [sum(r.row()[i] for r in reports) for i in range(len(Report.COLUMNS))]
        rows.append(("total", *map(str, totals)))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    rule = "  ".join("-" * width for width in widths)
    lines = [fmt(header), rule, *map(fmt, rows)]
    if len(reports) > 1:
        lines.insert(-1, rule)
    return "\n".join(lines)


# -- a case ----------------------------------------------------------------------------------------

_active: dict[tuple[int, str], Scenario] = {}
_active_lock = threading.Lock()


class Scenario:
    """One webhook integration, wired end to end in a running lab.

    Subclasses say who sends (``source``), which event ``types``, the signature ``scheme``, the
    events of their story (:meth:`story`) and the handlers for them (:meth:`handlers`).
    Making a case again for the same lab and endpoint (a re-run cell) replaces the old one.
    """

    name: ClassVar[str] = "case"
    #: your app's endpoint, ``/webhooks/<endpoint_name>``, unless another is given
    endpoint_name: ClassVar[str] = "case"
    title: ClassVar[str] = "A webhook integration"
    source: ClassVar[str] = "the source"
    app: ClassVar[str] = "your app"
    scheme: ClassVar[str] = "standard"
    types: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        lab: Lab,
        *,
        endpoint: str | None = None,
        secret: str | None = None,
        emails: EmailOutbox | None = None,
    ) -> None:
        self.lab = lab
        self.endpoint = endpoint or self.endpoint_name
        self.secret = secret or signing.generate_secret()
        self.emails = emails if emails is not None else EmailOutbox(clock=lab.clock)
        self.journal = Journal(lab.clock)
        self.sent: list[OutgoingDelivery] = []
        self.jobs: list[Job] = []
        self.emails_sent = 0
        self._handled: set[str] = set()
        self._stop_listening: list[Callable[[], object]] = []
        self._wire()

    # -- wiring ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the source delivers: ``http://127.0.0.1:<port>/webhooks/<endpoint>``."""
        return self.lab.receiver.url_for(self.endpoint)

    def _wire(self) -> None:
        with _active_lock:
            previous = _active.get((id(self.lab), self.endpoint))
            _active[(id(self.lab), self.endpoint)] = self
        if previous is not None:
            previous.close()
        # Your app's side: only deliveries signed with the shared secret get in.
        receiving = self.lab.receiver.endpoint(self.endpoint)
        receiving.require(self.secret, self.scheme)
        receiving.handlers.clear()
        for event_type, handler in self.handlers().items():
            receiving.on(event_type)(handler)
        # The source's side: your URL registered for the event types you want, with the secret.
        self.subscription = self.lab.sender.add_endpoint(
            self.url, secret=self.secret, scheme=self.scheme, types=self.types
        )
        self._stop_listening += [
            self.lab.receiver.inbox.subscribe(self._received),
            self.lab.sender.subscribe(self._attempted),
        ]

    def close(self) -> None:
        """Stop writing to this case's journal (its endpoint and handlers stay as they are)."""
        while self._stop_listening:
            self._stop_listening.pop()()

    def handlers(self) -> dict[str, Handler]:
        """Event type -> the handler your app runs for it."""
        return {}

    def story(self) -> list[Event]:
        """The events the source emits when the case runs, in order."""
        return []

    # -- the source's side -------------------------------------------------------------------

    def emit(self, event: Event) -> list[OutgoingDelivery]:
        """The source sends ``event``, signed, to every endpoint subscribed to its type.

        Returns the deliveries to this case's endpoint (a learner's own endpoint subscribed to the
        same type gets one too, but it is not this case's to wait for or count).
        """
        self.journal.add(
            self.source,
            _("sends {type} {gist} ({id})", type=event.type, gist=_gist(event.data), id=event.id),
        )
        deliveries = [d for d in self.lab.sender.send(event) if d.url == self.url]
        self.sent += deliveries
        return deliveries

    def run(self, events: Iterable[Event] | None = None, *, timeout: float = 15.0) -> Report:
        """Play the story: emit each event, let it be delivered and handled, then the next.

        Waiting for each event's background work before the next keeps the journal in a
        readable order; the source would not wait, and neither would your app.
        """
        for event in self.story() if events is None else events:
            self.wait(self.emit(event), timeout=timeout)
        return self.report()

    def wait(
        self, deliveries: Iterable[OutgoingDelivery] | None = None, *, timeout: float = 15.0
    ) -> None:
        """Block until ``deliveries`` (default: all this case sent) have ended, then until every
        background job the case started has ended (jobs may start more jobs)."""
        deadline = time.monotonic() + timeout
        waiting = list(self.sent if deliveries is None else deliveries)
        try:
            self.lab.sender.wait_deliveries(waiting, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{self.name}: deliveries still under way after {timeout:g} s"
            ) from None
        while pending := [job for job in self.jobs if not job.done]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: {len(pending)} jobs still running")
            self.lab.jobs.wait_all(pending, timeout=left)

    # -- your app's side ---------------------------------------------------------------------

    def first_time(self, event: Event) -> bool:
        """True the first time this event id is seen; then False, with a line in the journal.

        The receiver already acknowledges a repeated ``webhook-id`` without calling handlers, but
        it forgets (a restart, a second server behind a load balancer); a handler that changes
        something should remember for itself. In production this is a table with the event id as
        a unique key, written in the same transaction as the change.
        """
        if event.id in self._handled:
            self.note(_("already handled {id}; nothing to do", id=event.id))
            return False
        self._handled.add(event.id)
        return True

    def background(self, name: str, work: Callable[..., Awaitable[Any]], *args: Any) -> Job:
        """Hand slow work to a background job, so the webhook is answered now."""
        job = self.lab.jobs.options(name=name).submit(work, *args)
        self.jobs.append(job)
        return job

    def send_email(self, to: str, subject: str, body: str = "") -> None:
        """'Send' an email (it lands in ``self.emails``) and say so in the journal."""
        self.emails.send(to, subject, body)
        self.emails_sent += 1
        self.journal.add(
            _("background job"), _("email to {to}: {subject}", to=to, subject=repr(subject))
        )

    def note(self, what: str) -> None:
        """Your app writes a line in the journal."""
        self.journal.add(self.app, what)

    async def pause(self, lab_seconds: float) -> None:
        """Wait on the lab clock: how a simulated slow call (SMTP, a courier's API) takes time."""
        await self.lab.clock.sleep(lab_seconds)

    # -- the record --------------------------------------------------------------------------

    def _received(self, delivery: Delivery) -> None:
        if delivery.endpoint != self.endpoint:
            return
        trust = {None: _("unsigned"), True: _("signature ok"), False: _("bad signature")}[
            delivery.verified
        ]
        why = f"; {delivery.reason}" if delivery.reason else ""
        if delivery.duplicate:
            why = "; " + _("seen this webhook-id before, so not processed again")
        said = _(
            "answers {status} to {type}: {outcome}, {trust}",
            status=delivery.status,
            type=delivery.event_type or "-",
            outcome=delivery.outcome,
            trust=trust,
        )
        self.journal.add(self.app, said + why)

    def _attempted(self, attempt: Attempt) -> None:
        if attempt.url != self.url or attempt.state == "delivered":
            return
        if attempt.state == "retrying" and attempt.next_attempt_at is not None:
            wait = describe_seconds(max(0.0, attempt.next_attempt_at - attempt.started_at))
            said = _(
                "attempt {number} got {outcome}; retries in {wait}",
                number=attempt.number,
                outcome=attempt.outcome,
                wait=wait,
            )
        else:
            said = _(
                "attempt {number} got {outcome}: {state}",
                number=attempt.number,
                outcome=attempt.outcome,
                state=attempt.state,
            )
        self.journal.add(self.source, said)

    def report(self) -> Report:
        """This case's figures, from the sender's, the receiver's and the job runner's records."""
        arrived = self.lab.receiver.inbox.for_endpoint(self.endpoint)
        return Report(
            case=self.name,
            sent=len({d.id for d in self.sent}),
            attempts=sum(len(d.attempts) for d in self.sent),
            delivered=sum(d.delivered for d in self.sent),
            accepted=sum(d.accepted for d in arrived),
            duplicates=sum(d.duplicate for d in arrived),
            refused=sum(not d.ok for d in arrived),
            jobs=sum(job.done for job in self.jobs),
            emails=self.emails_sent,
        )

    def state(self) -> str:
        """What your app's side now holds, in a few lines."""
        return ""

    def __repr__(self) -> str:
        kinds = ", ".join(self.types)
        return _(
            "<{name}: {source} -> /webhooks/{endpoint} ({scheme} signatures) for {kinds}>",
            name=type(self).__name__,
            source=self.source,
            endpoint=self.endpoint,
            scheme=self.scheme,
            kinds=kinds,
        )


def _gist(data: dict[str, Any], limit: int = 70) -> str:
    """A short look at an event's data for the journal."""
    text = ", ".join(f"{key}={value!r}" for key, value in data.items() if key != "items")
    return text if len(text) <= limit else text[: limit - 3] + "..."
