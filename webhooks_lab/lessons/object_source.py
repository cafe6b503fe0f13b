"""A provider with objects: snapshot or thin events, the object's current state, an events list.

Two ways a provider tells you that an object changed:

* a **snapshot** event carries the object as it was when the event was made
  (``data.object``), as most Stripe events, GitHub and Shopify do;
* a **thin** event carries only what changed and where to look (``data.related_object``: its
  ``type``, ``id`` and ``url``), as Stripe's thin events do; the receiver then fetches the
  current state, so an old event can never overwrite a newer state.

An :class:`ObjectSource` keeps objects (each with a ``version`` that goes up by one on every
change, and ``updated_at``), sends an event through the lab's sender on every change (so the
sender's chaos applies: out of order, twice, late), and serves, on a server of its own:

* ``GET /objects/{type}/{id}``: the object's current state (404 if there is none);
* ``GET /events?after=<event id>&limit=<n>``: the events after the one named, oldest first, in
  pages of at most ``limit`` (default 10, at most :data:`MAX_PAGE`), with ``has_more`` and
  ``next_cursor``: what a receiver walks to reconcile after an outage. A cursor is an event id
  (as Stripe's ``starting_after`` is an object id); a malformed one, one that names no event,
  and a limit out of range are refused with a 400 ``application/problem+json`` saying why.

    source = ObjectSource(lab, mode="thin")
    source.change("order", "A-1", status="paid")     # version 1, an order.updated event sent
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhooks_lab.events import Event, new_id
from webhooks_lab.http.problem import Problem
from webhooks_lab.i18n import _
from webhooks_lab.runtime.server import Server

if TYPE_CHECKING:
    from webhooks_lab.lab import Lab
    from webhooks_lab.sender.records import OutgoingDelivery

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "MODES", "LoggedEvent", "ObjectSource"]

MODES = ("snapshot", "thin")
DEFAULT_PAGE = 10
MAX_PAGE = 100
MAX_OBJECTS = 10_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CURSOR = re.compile(r"[a-z]{1,8}_[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class LoggedEvent:
    """One event in the source's events list, exactly as it was sent."""

    seq: int
    event: Event
    object_type: str
    object_id: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.event.id, **self.event.payload()}


class ObjectSource:
    """Objects that change, the events that say so, and the API to read both back.

    ``mode`` is ``"snapshot"`` or ``"thin"`` (changeable later: :attr:`mode`). One source per lab:
    making another (a re-run cell) stops the previous one.
    """

    _active: dict[int, ObjectSource] = {}
    _active_lock = threading.Lock()

    def __init__(self, lab: Lab, *, mode: str = "snapshot", party: str = "Source") -> None:
        self.lab = lab
        self.mode = mode
        self.party = party
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.log: list[LoggedEvent] = []
        self._by_id: dict[str, int] = {}  # event id -> index in the log
        self.sent: list[OutgoingDelivery] = []
        self._lock = threading.Lock()
        self._server: Server | None = None
        with ObjectSource._active_lock:
            previous = ObjectSource._active.get(id(lab))
            ObjectSource._active[id(lab)] = self
        if previous is not None:
            previous.close()
        lab.loop.run(self._start())

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}, got {value!r}")
        self._mode = value

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the source is closed; make a new ObjectSource(lab)")
        return self._server.url

    def object_url(self, object_type: str, object_id: str) -> str:
        return f"{self.url}/objects/{object_type}/{object_id}"

    # -- the provider's side ---------------------------------------------------------------------

    def change(self, object_type: str, object_id: str, **fields: Any) -> Event:
        """Change (or create) an object, log the event saying so, and send it to every endpoint.

        The event is ``<type>.created`` the first time, ``<type>.updated`` after; its data is
        the object's new state (snapshot) or where to fetch it (thin). Returns the event.
        """
        for name in (object_type, object_id):
            if not _NAME.fullmatch(name):
                raise ValueError(f"an object type or id is 1-64 letters, digits, _ . -: {name!r}")
        with self._lock:
            key = (object_type, object_id)
            old = self.objects.get(key)
            if old is None and len(self.objects) >= MAX_OBJECTS:
                raise ValueError(f"the source keeps at most {MAX_OBJECTS} objects")
            now = self.lab.clock.time()
            state = {**(old or {}), **fields}
            state.update(
                type=object_type,
                id=object_id,
                version=(old["version"] + 1) if old else 1,
                updated_at=now,
            )
            self.objects[key] = state
            action = "updated" if old else "created"
            event = Event(f"{object_type}.{action}", self._data(state), id=new_id("evt"))
            logged = LoggedEvent(len(self.log) + 1, event, object_type, object_id, state["version"])
            self._by_id[event.id] = len(self.log)
            self.log.append(logged)
        self.sent += self.lab.sender.send(event)
        return event

    def current(self, object_type: str, object_id: str) -> dict[str, Any]:
        """An object's current state (a copy). Raises KeyError if there is none."""
        with self._lock:
            return dict(self.objects[(object_type, object_id)])

    def _data(self, state: dict[str, Any]) -> dict[str, Any]:
        if self._mode == "snapshot":
            return {"object": dict(state)}
        return {
            "related_object": {
                "type": state["type"],
                "id": state["id"],
                "url": f"/objects/{state['type']}/{state['id']}",
            }
        }

    def page(self, after: str | None = None, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
        """One page of the events list, as ``GET /events`` answers it.

        Raises :class:`~webhooks_lab.http.problem.Problem` (400) for a malformed or unknown
        cursor or a limit out of range.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise Problem(
                400,
                "limit-out-of-range",
                "Limit out of range",
                f"limit must be from 1 to {MAX_PAGE}, got {limit}",
                max_limit=MAX_PAGE,
            )
        with self._lock:
            start = 0
            if after:
                if not _CURSOR.fullmatch(after):
                    raise Problem(
                        400,
                        "malformed-cursor",
                        "Malformed cursor",
                        f"after must be an event id such as evt_abc123, got {after[:80]!r}",
                    )
                index = self._by_id.get(after)
                if index is None:
                    raise Problem(
                        400,
                        "unknown-cursor",
                        "Unknown cursor",
                        f"no event {after!r} in this source's events list; "
                        "start again without after= to read from the beginning",
                    )
                start = index + 1
            found = self.log[start : start + limit]
            more = start + limit < len(self.log)
        next_cursor = found[-1].event.id if found else after
        return {
            "data": [logged.to_dict() for logged in found],
            "has_more": more,
            "next_cursor": next_cursor,
        }

    # -- the server ------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._server = Server(self.lab.trace.serve(self._app(), self.party), "127.0.0.1", 0)
        await self._server.start()

    def close(self) -> None:
        """Stop the source's server. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        with ObjectSource._active_lock:
            if ObjectSource._active.get(id(self.lab)) is self:
                del ObjectSource._active[id(self.lab)]
        if self.lab.running:
            if self.lab.loop.in_loop_thread():
                asyncio.get_running_loop().create_task(server.stop())
            else:
                self.lab.loop.run(server.stop())

    def _app(self) -> Starlette:
        async def get_object(request: Request) -> Response:
            kind, key = request.path_params["type"], request.path_params["id"]
            if not (_NAME.fullmatch(kind) and _NAME.fullmatch(key)):
                return Problem(
                    400,
                    "bad-object-name",
                    "Bad object name",
                    "type and id are 1-64 letters, digits, _ . -",
                ).response(request.url.path)
            try:
                return JSONResponse(self.current(kind, key))
            except KeyError:
                return Problem(
                    404, "no-such-object", "No such object", f"no {kind} {key!r} at this source"
                ).response(request.url.path)

        async def list_events(request: Request) -> Response:
            raw = request.query_params.get("limit", str(DEFAULT_PAGE))
            try:
                limit = int(raw) if len(raw) <= 12 else MAX_PAGE + 1
            except ValueError:
                return Problem(
                    400, "bad-limit", "Bad limit", f"limit must be a whole number, got {raw[:40]!r}"
                ).response(request.url.path)
            try:
                return JSONResponse(self.page(request.query_params.get("after") or None, limit))
            except Problem as problem:
                return problem.response(request.url.path)

        return Starlette(
            routes=[
                Route("/objects/{type}/{id}", get_object, methods=["GET"]),
                Route("/events", list_events, methods=["GET"]),
            ]
        )

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else _("closed")
        return _(
            "<ObjectSource {mode} events; {objects} objects, {events} events; {where}>",
            mode=self._mode,
            objects=len(self.objects),
            events=len(self.log),
            where=where,
        )
