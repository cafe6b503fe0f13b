"""Deliveries on a broker: every webhook a durable SAQ job, retried on the lab's schedule.

With ``start(broker=...)``, ``webhooks-lab serve --broker`` and in every ``webhooks-lab worker``,
completion webhooks and ``lab.sender`` deliveries are not sent by the process that made them.
:class:`BrokerSender` writes each delivery down in Redis and enqueues its first attempt as a SAQ
job (``webhooks-lab.deliver``); whichever worker takes it makes the attempt
(:func:`webhooks_lab.jobs.broker_worker.delivery_function`): signed and posted by the same code
the in-process sender uses (:mod:`webhooks_lab.sender.attempt`, the SSRF guard checking every
connection), judged by the same :func:`~webhooks_lab.sender.decision.decide`. A retry is the
next attempt enqueued for its time (a SAQ *scheduled* job) on the delivery's own
:class:`~webhooks_lab.retry.RetryPolicy`, which the record carries, so the schedule is the lab's
wherever the attempt runs.

**At least once, across machines.** An attempt is a SAQ job with a heartbeat. A worker killed
mid-POST stops beating; the sweep gives the attempt to another worker, which finds the attempt
still ``"trying"`` in the record, marks it ``"interrupted"`` (the receiver may have got it) and
tries again: the same ``webhook-id`` (the event's id), a fresh signature and timestamp in real
time. The receiver may see the event twice; its dedupe on ``webhook-id`` makes it once.

**Where the record lives.** In Redis, beside the jobs: ``webhooks-lab:delivery:<id>`` holds one
delivery and every attempt (JSON); ``webhooks-lab:deliveries`` and ``webhooks-lab:dead`` index
them by time. A dead letter stays until it is replayed (:meth:`BrokerSender.replay`,
``webhooks-lab deliveries --broker URL replay ID``); a delivered one is kept for
:data:`DELIVERED_TTL`. Redis is only as durable as its persistence: the local
:class:`~webhooks_lab.runtime.redis_server.RedisServer` runs with ``appendonly yes`` (every write
in an append-only file, fsynced each second), so a Redis restart loses at most a second. A
production system keeps the record in a database too (Svix and Convoy keep theirs in Postgres).

**Why the SQLite outbox stays the default.** One process needs no broker: the
:class:`~webhooks_lab.sender.outbox.Outbox` is a file, committed before the first attempt, with
nothing to install or start, and it survives the process. A broker earns its keep only when
many processes, on many machines, share the work; that is lesson 10, not lesson 5.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from webhooks_lab import signing
from webhooks_lab.events import Event
from webhooks_lab.jobs.broker import (
    ATTEMPTS,
    HEARTBEAT,
    QUEUE_NAME,
    TIMEOUT_MARGIN,
    Queue,
    make_queue,
)
from webhooks_lab.retry import RetryPolicy
from webhooks_lab.runtime.loop import LabLoop
from webhooks_lab.sender.records import Attempt, Destination, OutgoingDelivery, new_delivery_id
from webhooks_lab.sender.sender import _signing_secrets
from webhooks_lab.sender.ssrf import UnsafeURL, URLGuard

#: The SAQ function name of one delivery attempt; every worker registers it.
DELIVER = "webhooks-lab.deliver"
RECORD = f"{QUEUE_NAME}:delivery:"
INDEX = f"{QUEUE_NAME}:deliveries"
DEAD = f"{QUEUE_NAME}:dead"
#: How long a delivered delivery's record is kept, in seconds (dead letters stay until replayed).
DELIVERED_TTL = 7 * 24 * 3600
#: How many deliveries the index remembers (the oldest fall out, their records expire).
INDEX_KEEP = 100_000
#: How often a waiting cell asks Redis whether its deliveries have ended, in seconds.
POLL_EVERY = 0.05


@dataclass(frozen=True)
class Terms:
    """What a delivery carries with it so any worker treats it alike: the retry schedule, and
    each attempt's timeout in real seconds."""

    schedule: tuple[float, ...]
    jitter: float = 0.1
    max_retry_after: float | None = None
    timeout: float = 15.0

    @classmethod
    def of(cls, policy: RetryPolicy, timeout: float) -> Terms:
        return cls(policy.schedule, policy.jitter, policy.max_retry_after, float(timeout))

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.schedule, jitter=self.jitter, max_retry_after=self.max_retry_after)


# -- the record in Redis -----------------------------------------------------------------------


def dump(delivery: OutgoingDelivery, terms: Terms) -> str:
    """One delivery, its attempts and its terms as the JSON kept in Redis."""
    fields = {
        name: getattr(delivery, name)
        for name in (
            "id",
            "event_id",
            "event_type",
            "url",
            "endpoint_id",
            "scheme",
            "secret",
            "state",
            "created_at",
            "updated_at",
            "next_attempt_at",
            "round_base",
            "replays",
        )
    }
    fields["body"] = base64.b64encode(delivery.body).decode("ascii")
    fields["attempts"] = [a.to_dict() for a in delivery.attempts]
    fields["terms"] = {
        "schedule": list(terms.schedule),
        "jitter": terms.jitter,
        "max_retry_after": terms.max_retry_after,
        "timeout": terms.timeout,
    }
    return json.dumps(fields)


def load(text: str | bytes) -> tuple[OutgoingDelivery, Terms]:
    fields = json.loads(text)
    terms = fields.pop("terms")
    attempts = [Attempt(**a) for a in fields.pop("attempts")]
    fields["body"] = base64.b64decode(fields["body"])
    delivery = OutgoingDelivery(**fields, attempts=attempts)
    schedule = tuple(terms.pop("schedule"))
    return delivery, Terms(schedule, **terms)


class DeliveryStore:
    """The deliveries' durable record on the broker's Redis (see the module's docstring)."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    @property
    def redis(self) -> Any:
        return self.queue.redis

    async def save(self, delivery: OutgoingDelivery, terms: Terms) -> None:
        """Write a delivery down, and keep the indexes in step with its state, in one go."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self._write(pipe, delivery, terms)
            await pipe.execute()

    async def save_answer(self, delivery: OutgoingDelivery, terms: Terms) -> bool:
        """Write down the answer to ``delivery``'s last attempt, unless the record has moved on.

        A worker that stalled past its heartbeat is presumed dead, and the sweep gives its
        attempt to another worker, which marks it ``interrupted`` and makes a newer one. When the
        stalled worker's answer comes after all, writing its copy would erase the newer attempt
        (a POST the receiver got, gone from the record). So the write is checked: made only while
        the record holds no more attempts than this copy (Redis ``WATCH``). False if it had more.
        """
        key = RECORD + delivery.id

        async def check_and_write(pipe: Any) -> bool:
            text = await pipe.get(key)  # watched: a write meanwhile makes redis-py run this again
            if text is not None and len(load(text)[0].attempts) > len(delivery.attempts):
                return False
            pipe.multi()
            self._write(pipe, delivery, terms)
            return True

        written: bool = await self.redis.transaction(check_and_write, key, value_from_callable=True)
        return written

    @staticmethod
    def _write(pipe: Any, delivery: OutgoingDelivery, terms: Terms) -> None:
        key = RECORD + delivery.id
        pipe.set(key, dump(delivery, terms))
        pipe.zadd(INDEX, {delivery.id: delivery.created_at})
        if delivery.state == "dead":
            pipe.zadd(DEAD, {delivery.id: delivery.updated_at})
        else:
            pipe.zrem(DEAD, delivery.id)
        if delivery.state == "delivered":
            pipe.expire(key, DELIVERED_TTL)
        pipe.zremrangebyrank(INDEX, 0, -INDEX_KEEP - 1)

    async def get(self, delivery_id: str) -> tuple[OutgoingDelivery, Terms] | None:
        if not isinstance(delivery_id, str) or len(delivery_id) > 100:
            return None
        text = await self.redis.get(RECORD + delivery_id)
        return None if text is None else load(text)

    async def many(self, ids: Sequence[str]) -> list[OutgoingDelivery]:
        if not ids:
            return []
        texts = await self.redis.mget([RECORD + i for i in ids])
        return [load(text)[0] for text in texts if text is not None]

    async def page(self, index: str, *, offset: int = 0, limit: int = 100) -> list[str]:
        """Ids from ``index``, newest first, ``limit`` of them (at most 1000) after ``offset``."""
        limit = max(1, min(int(limit), 1000))
        found = await self.redis.zrevrange(index, max(0, int(offset)), offset + limit - 1)
        return [i.decode() if isinstance(i, bytes) else i for i in found]

    async def enqueue(self, delivery: OutgoingDelivery, terms: Terms, due: float = 0) -> None:
        """Enqueue the next attempt of ``delivery`` as a SAQ job, at once or at Unix time ``due``.

        The job's key names the attempt (``<id>.<number>``), so enqueueing it twice is one job.
        """
        await self.queue.enqueue(
            DELIVER,
            key=f"{delivery.id}.{len(delivery.attempts) + 1}",
            kwargs={"delivery_id": delivery.id},
            retries=ATTEMPTS,  # attempts of the *job*: a worker that dies hands it on
            timeout=int(terms.timeout + TIMEOUT_MARGIN),
            heartbeat=HEARTBEAT,
            ttl=60,  # the SAQ job is only the envelope; the record above is the delivery
            scheduled=due if due > time.time() else 0,
        )


# -- the face ----------------------------------------------------------------------------------


class BrokerSender:
    """Deliveries as broker jobs, with the face of the in-process ``Sender`` that matters here.

    ``queue`` is a :class:`~webhooks_lab.jobs.broker.Queue` (or ``url`` a broker to make one
    on, connected by :meth:`start`). ``policy`` is the retry schedule every delivery made here
    carries, ``timeout`` each attempt's limit in real seconds. The guard refuses a URL before
    anything is written (as ``Sender`` does); the worker's guard checks each connection again.
    ``loop`` is the lab loop for the calls a cell makes (``send``, ``dead_letters``, ``replay``,
    ``wait_deliveries``); ``await`` the ``async`` ones on the running loop elsewhere.
    """

    def __init__(
        self,
        queue: Queue | None = None,
        *,
        url: str | None = None,
        loop: LabLoop | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 15.0,
        allow_loopback: bool = False,
        allow_private: bool = False,
        allow_remote: bool = False,
    ) -> None:
        if (queue is None) == (url is None):
            raise TypeError("give a broker queue or a broker url, not both")
        self._own_queue = queue is None
        self.queue = queue if queue is not None else make_queue(url, allow_remote=allow_remote)  # type: ignore[arg-type]
        self.store = DeliveryStore(self.queue)
        self.policy = policy or RetryPolicy()
        self.timeout = float(timeout)
        self.guard = URLGuard(allow_loopback=allow_loopback, allow_private=allow_private)
        self._lab_loop = loop
        self._endpoints: dict[str, Destination] = {}

    @property
    def terms(self) -> Terms:
        return Terms.of(self.policy, self.timeout)

    async def start(self) -> BrokerSender:
        """Connect to the broker. One that is away is no error here: each call that needs it
        raises until it is back (and a completion webhook says it was not sent)."""
        if self._own_queue:
            with contextlib.suppress(Exception):
                await self.queue.connect()
        return self

    async def close(self) -> None:
        if self._own_queue:
            with contextlib.suppress(Exception):  # a broker that went away is closed already
                await self.queue.disconnect()

    # -- endpoints (this process's; each delivery carries its own URL, scheme and secret) --------

    def add_endpoint(
        self,
        url: str,
        *,
        secret: str | Sequence[str] | None = None,
        scheme: str | None = None,
        types: str | Iterable[str] | None = None,
    ) -> Destination:
        """Register ``url`` for events of ``types`` (default all), signed with ``secret``."""
        self.guard.check_url(url)
        scheme = signing.check_scheme(scheme or ("standard" if secret else "none"))
        if scheme != "none":
            secret = _signing_secrets(scheme, secret)
        elif secret:
            raise ValueError("scheme 'none' sends unsigned deliveries; drop the secret")
        kinds = (types,) if isinstance(types, str) else tuple(types or ())
        found = next((e for e in self._endpoints.values() if e.url == url), None)
        endpoint = found or Destination(id=new_delivery_id("ep"), url=url, created_at=time.time())
        endpoint.secret, endpoint.scheme, endpoint.types = secret, scheme, kinds  # type: ignore[assignment]
        self._endpoints[endpoint.id] = endpoint
        return endpoint

    @property
    def endpoints(self) -> list[Destination]:
        return list(self._endpoints.values())

    # -- sending ---------------------------------------------------------------------------------

    def send(
        self, event: Event | str, data: dict[str, Any] | None = None, *, id: str | None = None
    ) -> list[OutgoingDelivery]:
        """Send an event to every endpoint that wants its type; the deliveries, on the broker."""
        if isinstance(event, str):
            event = Event(event, data or {}, **({"id": id} if id else {}))
        elif data is not None or id is not None:
            raise TypeError("pass either an Event, or a type with data and id, not both")
        return self.send_many([event])

    def send_many(self, events: Iterable[Event]) -> list[OutgoingDelivery]:
        return self._run(self.enqueue(list(events)))

    async def enqueue(self, events: Sequence[Event]) -> list[OutgoingDelivery]:
        """:meth:`send_many` on the running loop: written down, then each first attempt queued."""
        made = [
            OutgoingDelivery.of(
                event,
                endpoint.url,
                at=time.time(),
                scheme=endpoint.scheme,
                secret=endpoint.secret,
                endpoint_id=endpoint.id,
            )
            for event in events
            for endpoint in self._endpoints.values()
            if endpoint.wants(event.type)
        ]
        terms = self.terms
        for delivery in made:
            await self.store.save(delivery, terms)
            await self.store.enqueue(delivery, terms)
        return made

    async def deliver_to(
        self,
        url: str,
        event: Event,
        *,
        secret: str | None = None,
        scheme: str = "standard",
        wait: bool = False,
        party: str | None = None,
        timeout: float = 30.0,
    ) -> OutgoingDelivery:
        """Deliver one event to one URL (a callback URL), as ``Sender.deliver_to`` does.

        Returns once it is on the broker, or with ``wait=True`` once it has ended (or after
        ``timeout`` real seconds). A URL the guard refuses gives a dead delivery saying why,
        kept with the dead letters. ``party`` is accepted for the face: the wire trace of a
        delivery made in another process is that process's.
        """
        used = signing.check_scheme(scheme) if secret else "none"
        delivery = OutgoingDelivery.of(event, url, at=time.time(), scheme=used, secret=secret)
        terms = self.terms
        try:
            self.guard.check_url(url)
        except UnsafeURL as refused:
            delivery.refuse(str(refused))
            await self.store.save(delivery, terms)
            return delivery
        await self.store.save(delivery, terms)
        await self.store.enqueue(delivery, terms)
        if wait:
            (delivery,) = await self.ended([delivery.id], timeout)
        return delivery

    # -- reading the record ----------------------------------------------------------------------

    def delivery(self, delivery_id: str) -> OutgoingDelivery:
        """A delivery as the broker has it now, every attempt included; ``KeyError`` if none."""
        found = self._run(self.fetch(delivery_id))
        if found is None:
            raise KeyError(f"no delivery {delivery_id!r} on the broker")
        return found

    async def fetch(self, delivery_id: str) -> OutgoingDelivery | None:
        found = await self.store.get(delivery_id)
        return None if found is None else found[0]

    def deliveries(self, *, offset: int = 0, limit: int = 100) -> list[OutgoingDelivery]:
        """The newest deliveries on the broker, newest first (``limit`` at most 1000)."""
        return self._run(self.newest(INDEX, offset=offset, limit=limit))

    def dead_letters(self, *, offset: int = 0, limit: int = 100) -> list[OutgoingDelivery]:
        """Deliveries every attempt of which failed, newest first, with their attempt logs."""
        return self._run(self.newest(DEAD, offset=offset, limit=limit))

    async def newest(
        self, index: str = DEAD, *, offset: int = 0, limit: int = 100
    ) -> list[OutgoingDelivery]:
        return await self.store.many(await self.store.page(index, offset=offset, limit=limit))

    async def ended(self, ids: Sequence[str], timeout: float) -> list[OutgoingDelivery]:
        """Wait (on the running loop) until every delivery in ``ids`` has ended; ``TimeoutError``
        after ``timeout`` real seconds saying how many are still under way."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.store.many(list(ids))
            if len(found) == len(ids) and all(d.done for d in found):
                return found
            if time.monotonic() > deadline:
                left = len(ids) - sum(d.done for d in found)
                raise TimeoutError(
                    f"waited {timeout:g} s and {left} of {len(ids)} deliveries are still under way"
                )
            await asyncio.sleep(POLL_EVERY)  # asking Redis again; the deadline bounds it

    def wait_deliveries(
        self, deliveries: Iterable[OutgoingDelivery], timeout: float = 10.0
    ) -> list[OutgoingDelivery]:
        """Block (this thread) until every one of ``deliveries`` has ended; returns them."""
        return self._run(self.ended([d.id for d in deliveries], timeout), timeout + 5)

    # -- replay ------------------------------------------------------------------------------------

    def replay(self, delivery: str | OutgoingDelivery) -> OutgoingDelivery:
        """Try a finished delivery (a dead letter, usually) again: a fresh round of attempts on
        its schedule, the same ``webhook-id``."""
        key = delivery.id if isinstance(delivery, OutgoingDelivery) else delivery
        return self._run(self.requeue(key))

    async def requeue(self, delivery_id: str) -> OutgoingDelivery:
        """:meth:`replay` on the running loop; ``KeyError`` for an unknown id."""
        found = await self.store.get(delivery_id)
        if found is None:
            raise KeyError(f"no delivery {delivery_id!r} on the broker")
        delivery, terms = found
        if not delivery.done:
            return delivery  # already on its way
        now = time.time()
        delivery.state, delivery.next_attempt_at, delivery.updated_at = "pending", now, now
        delivery.round_base, delivery.replays = len(delivery.attempts), delivery.replays + 1
        await self.store.save(delivery, terms)
        await self.store.enqueue(delivery, terms)
        return delivery

    # -- small things ------------------------------------------------------------------------------

    def _run(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run ``coro`` on the lab loop from a cell's thread."""
        loop = self._lab_loop
        if loop is None:
            coro.close()
            raise RuntimeError("no lab loop here; await the async form of this call instead")
        if threading.current_thread() is loop.thread:
            coro.close()
            raise RuntimeError("this call would block the lab loop; await its async form there")
        return loop.run(coro, timeout=timeout)

    def __repr__(self) -> str:
        count = len(self._endpoints)
        return (
            f"<BrokerSender on {QUEUE_NAME}: {count} endpoint{'s' if count != 1 else ''}; "
            f"{self.policy!r}>"
        )


__all__ = [
    "DEAD",
    "DELIVER",
    "DELIVERED_TTL",
    "INDEX",
    "BrokerSender",
    "DeliveryStore",
    "Terms",
    "dump",
    "load",
]
