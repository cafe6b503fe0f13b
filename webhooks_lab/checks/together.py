"""Checks for lesson 9, "Put it together".

The first sends a real event through the learner's wiring (sender registration, secret, endpoint,
handler) and a forged one past it; the second replays a payment after the receiver has forgotten
its ``webhook-id``, as after a restart, and counts what the handler did.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from webhooks_lab import signing
from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.checks.hints import coach
from webhooks_lab.events import Event
from webhooks_lab.i18n import _

_EXERCISE_1, _EXERCISE_2 = "09.own_case", "09.survive_replay"

_counter = itertools.count(1)


def _wait_done(lab: Any, delivery: Any, timeout: float = 10.0) -> bool:
    try:
        lab.sender.wait_deliveries([delivery], timeout=timeout)
    except TimeoutError:
        return False
    return True


def _why(delivery: Any) -> str:
    """What the receiver answered a delivery that did not go through, in a few words."""
    last = delivery.last
    if last is None:
        return _("no attempt has been made yet")
    if last.response:
        return _(
            "your endpoint answered {outcome} ({response})",
            outcome=last.outcome,
            response=last.response[:200],
        )
    return _("your endpoint answered {outcome}", outcome=last.outcome)


@check
def own_case(lab: Any, secret: Any, starred: Any, endpoint: str = "stars") -> Result:
    """Exercise 1: signed ``star.created`` events reach a handler at ``/webhooks/{endpoint}``.

    It reads how the two sides are wired only to say which side is missing; what decides is
    behaviour: a star the source signs and sends must reach the handler once, and stars posted
    unsigned or signed with another secret must be refused.
    """
    import httpx

    if secret is Ellipsis or not isinstance(secret, str) or starred is Ellipsis:
        return not_yet(
            _("stars_secret and starred should be set."),
            _("keep the first lines of the cell as given"),
        )
    url = lab.receiver.url_for(endpoint)
    receiving = lab.receiver.endpoint(endpoint)
    if receiving.scheme == "none":
        return coach(
            _EXERCISE_1,
            _(
                "/webhooks/{endpoint} accepts deliveries nobody signed: anyone who learns the URL "
                "can post stars.",
                endpoint=endpoint,
            ),
            idea=_(
                "two sides to wire. Your app: the endpoint should accept only deliveries signed "
                "with stars_secret, and a handler should act on each star.created. The source: it "
                "should know your URL, the event type and the same secret"
            ),
            detail=_(
                "the endpoint object (lab.receiver.endpoint({name})) has a require "
                "method that takes the secret to check signatures with",
                name=repr(endpoint),
            ),
        )
    if secret not in receiving.secrets:
        return coach(
            _EXERCISE_1,
            _(
                "/webhooks/{endpoint} checks signatures, but not with stars_secret: the source "
                "signs with stars_secret, so every real star would be refused.",
                endpoint=endpoint,
            ),
            idea=_("both sides must share one secret: the one in stars_secret"),
            detail=_("require stars_secret itself, not a secret made afresh"),
        )
    handlers = receiving.handlers_for("star.created")
    if not handlers:
        others = sorted(kind for kind in receiving.handlers if kind not in ("*", "star.created"))
        return coach(
            _EXERCISE_1,
            _(
                "no handler on /webhooks/{endpoint} for star.created (there is one for {others}).",
                endpoint=endpoint,
                others=", ".join(others),
            )
            if others
            else _("no handler on /webhooks/{endpoint} for star.created.", endpoint=endpoint),
            idea=_(
                "your app should act on each star.created event: register a function for that "
                "event type on that endpoint"
            ),
            detail=_(
                'the decorator @lab.receiver.on("{endpoint}", "star.created") registers one',
                endpoint=endpoint,
            ),
        )
    if len(handlers) > 1:
        return not_yet(
            _(
                "{count} handlers run for each star.created: running the cell again added "
                "another one.",
                count=len(handlers),
            ),
            _(
                'start the cell with lab.receiver.endpoint("{endpoint}").handlers.clear()',
                endpoint=endpoint,
            ),
        )
    try:
        subscription = lab.sender.endpoint(url)
    except KeyError:
        return coach(
            _EXERCISE_1,
            _("the sender does not know your URL, so the source never sends you anything."),
            idea=_(
                "register your endpoint's URL with the source, for star.created, with the secret"
            ),
            detail=_(
                'lab.sender.add_endpoint(...) takes lab.receiver.url_for("{endpoint}"), '
                "secret= and types=",
                endpoint=endpoint,
            ),
        )
    if not subscription.wants("star.created"):
        return coach(
            _EXERCISE_1,
            _(
                "your URL is registered, but for {types}, not star.created.",
                types=", ".join(subscription.types),
            ),
            idea=_("the source sends only the event types your URL is registered for"),
            detail='types=["star.created"]',
        )
    if subscription.secret != secret:
        return coach(
            _EXERCISE_1,
            _(
                "the sender signs nothing: you registered your URL without a secret, so your "
                "endpoint refuses every real star."
            )
            if subscription.secret is None
            else _(
                "the sender signs with another secret than your endpoint checks, so your "
                "endpoint refuses every real star."
            ),
            idea=_(
                "the source signs with the secret you give it when you register: the same one "
                "your endpoint checks"
            ),
            detail=_("give add_endpoint(...) secret=stars_secret"),
        )
    repository = f"check-repo-{next(_counter)}"
    before = list(starred)
    sent = lab.send(Event("star.created", {"repository": repository, "user": "ada"}))
    mine = [d for d in sent if d.url == url]
    if not mine:
        return not_yet(_("the sender made no delivery to your URL."))
    delivery = mine[0]
    if not _wait_done(lab, delivery, timeout=5) or not delivery.delivered:
        return not_yet(_("the star was not delivered: {why}.", why=_why(delivery)))
    added = list(starred)[len(before) :]
    if added != [repository]:
        return coach(
            _EXERCISE_1,
            _(
                "a star for {repository} was delivered, but starred gained {added}.",
                repository=repository,
                added=_short(added),
            ),
            idea=_("for each star, add the repository's name to starred, once"),
            detail=_('append event.data["repository"] to starred, once per event'),
        )
    forged = Event("star.created", {"repository": "forged", "user": "eve"})
    unsigned = httpx.post(url, content=forged.body(), headers={"webhook-id": forged.id}, timeout=10)
    other = Event("star.created", {"repository": "forged-too", "user": "eve"})
    signed_otherwise = httpx.post(
        url,
        content=other.body(),
        headers=signing.headers_for(
            "standard",
            signing.generate_secret(),
            other.body(),
            msg_id=other.id,
            timestamp=int(time.time()),  # a fact on the wire: real time
        ),
        timeout=10,
    )
    if unsigned.is_success or signed_otherwise.is_success:
        return not_yet(
            _("a forged star was accepted."),
            _("require stars_secret on the endpoint, and only it"),
        )
    return right(
        _(
            "the source signed and delivered a star, your handler saw {repository} once, and "
            "forgeries, unsigned or signed with another secret, got {status}.",
            repository=repository,
            status=unsigned.status_code,
        )
    )


@check
def survives_replay(lab: Any, stock: Any, endpoint: str = "shop-payments") -> Result:
    """Exercise 2: a payment replayed after the receiver forgot its id takes stock only once."""
    if stock is Ellipsis or not hasattr(stock, "get"):
        return not_yet(_("stock should be a dict like {'mug': 10}."), "keep stock = {'mug': 10}")
    receiving = lab.receiver.endpoint(endpoint)
    handlers = receiving.handlers_for("payment.succeeded")
    if not handlers:
        return not_yet(
            _("no handler on /webhooks/{endpoint} for payment.succeeded.", endpoint=endpoint),
            f'@lab.receiver.on("{endpoint}", "payment.succeeded")',
        )
    if len(handlers) > 1:
        return not_yet(
            _(
                "{count} handlers run for each payment: running the cell again added another.",
                count=len(handlers),
            ),
            _(
                'start the cell with lab.receiver.endpoint("{endpoint}").handlers.clear()',
                endpoint=endpoint,
            ),
        )
    url = lab.receiver.url_for(endpoint)
    n = next(_counter)

    def deliver(event: Event) -> Any:
        sent = lab.loop.run(lab.sender.deliver_to(url, event, wait=False), timeout=10)
        _wait_done(lab, sent, timeout=5)
        return sent

    payment = Event("payment.succeeded", {"payment": f"pay_check_{n}", "items": {"mug": 1}})
    start = stock.get("mug", 0)
    first = deliver(payment)
    if not first.delivered:
        return not_yet(_("the payment was not delivered: {why}.", why=_why(first)))
    if stock.get("mug", 0) != start - 1:
        return coach(
            _EXERCISE_2,
            _(
                "one payment for 1 mug changed the stock from {start} to {now}.",
                start=start,
                now=stock.get("mug"),
            ),
            idea=_("a new payment takes each of its items out of stock, once"),
            detail=_(
                "take each product's quantity out of stock: stock[product] -= quantity for "
                'event.data["items"]'
            ),
        )
    receiving.forget()  # the receiver restarts and forgets every webhook-id it saw
    replayed = lab.sender.replay(first)
    if not _wait_done(lab, replayed, timeout=5) or not replayed.delivered:
        return not_yet(_("the replayed payment was not delivered: {why}.", why=_why(replayed)))
    if stock.get("mug", 0) != start - 1:
        return coach(
            _EXERCISE_2,
            _(
                "the gateway replayed the same payment after the receiver forgot its webhook-id "
                "(as after a restart), and your handler took the mug again: stock went from "
                "{start} to {now} for one payment.",
                start=start,
                now=stock.get("mug"),
            ),
            idea=_(
                "the receiver's memory of webhook ids can be lost; the handler needs a memory "
                "of its own of which payments it has taken stock for, one that outlives a single "
                "call, and should skip those"
            ),
            detail=_(
                "keep the event.id of every payment you handled in a set made outside the "
                "handler (a table with a unique key in production), and return early for an id "
                "you have seen"
            ),
        )
    another = deliver(
        Event("payment.succeeded", {"payment": f"pay_check_{n}b", "items": {"mug": 1}})
    )
    if not another.delivered or stock.get("mug", 0) != start - 2:
        return coach(
            _EXERCISE_2,
            _("a second, different payment did not take its mug out of stock."),
            idea=_("skip only what you have handled before; every new payment still counts"),
            detail=_("skip only event ids you have seen; every new event still counts"),
        )
    return right(
        _(
            "the replayed payment was acknowledged and skipped by your handler, and a new payment "
            "still counted: idempotent, even when the receiver forgets."
        )
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["own_case", "survives_replay"]
