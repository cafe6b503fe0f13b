"""Checks for lesson 9, "Put it together".

The first sends a real event through the learner's wiring (sender registration, secret, endpoint,
handler) and a forged one past it; the second replays a payment after the receiver has forgotten
its ``webhook-id``, as after a restart, and counts what the handler did.
"""

from __future__ import annotations

import itertools
from typing import Any

from webhooks_lab.checks import Result, check, not_yet, right
from webhooks_lab.events import Event

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
        return "no attempt has been made yet"
    answer = f"your endpoint answered {last.outcome}"
    if last.response:
        answer += f" ({last.response[:200]})"
    return answer


@check
def own_case(lab: Any, secret: Any, starred: Any, endpoint: str = "stars") -> Result:
    """Exercise 1: signed ``star.created`` events reach a handler at ``/webhooks/{endpoint}``."""
    import httpx

    if secret is Ellipsis or not isinstance(secret, str) or starred is Ellipsis:
        return not_yet(
            "stars_secret and starred should be set.", "keep the first lines of the cell as given"
        )
    url = lab.receiver.url_for(endpoint)
    receiving = lab.receiver.endpoint(endpoint)
    if receiving.scheme == "none" or secret not in receiving.secrets:
        return not_yet(
            f"/webhooks/{endpoint} accepts deliveries nobody signed: anyone who learns the URL can "
            "post stars.",
            f'lab.receiver.endpoint("{endpoint}").require(stars_secret)',
        )
    handlers = receiving.handlers_for("star.created")
    if not handlers:
        return not_yet(
            f"no handler on /webhooks/{endpoint} for star.created.",
            f'@lab.receiver.on("{endpoint}", "star.created")',
        )
    if len(handlers) > 1:
        return not_yet(
            f"{len(handlers)} handlers run for each star.created: running the cell again added "
            "another one.",
            f'start the cell with lab.receiver.endpoint("{endpoint}").handlers.clear()',
        )
    try:
        subscription = lab.sender.endpoint(url)
    except KeyError:
        return not_yet(
            "the sender does not know your URL, so the source never sends you anything.",
            f'lab.sender.add_endpoint(lab.receiver.url_for("{endpoint}"), secret=stars_secret, '
            'types=["star.created"])',
        )
    if not subscription.wants("star.created"):
        return not_yet(
            f"your URL is registered, but for {', '.join(subscription.types)}, not star.created.",
            'types=["star.created"]',
        )
    if subscription.secret != secret:
        return not_yet(
            "the sender signs with another secret than your endpoint checks.",
            "give add_endpoint(...) secret=stars_secret",
        )
    repository = f"check-repo-{next(_counter)}"
    before = list(starred)
    sent = lab.send(Event("star.created", {"repository": repository, "user": "ada"}))
    mine = [d for d in sent if d.url == url]
    if not mine:
        return not_yet("the sender made no delivery to your URL.")
    delivery = mine[0]
    if not _wait_done(lab, delivery, timeout=5) or not delivery.delivered:
        return not_yet(f"the star was not delivered: {_why(delivery)}.")
    added = list(starred)[len(before) :]
    if added != [repository]:
        return not_yet(
            f"a star for {repository} was delivered, but starred gained {added!r}.",
            'append event.data["repository"] to starred, once per event',
        )
    forged = Event("star.created", {"repository": "forged", "user": "eve"})
    answer = httpx.post(url, content=forged.body(), headers={"webhook-id": forged.id}, timeout=10)
    if answer.is_success:
        return not_yet("an unsigned star was accepted.", "require the secret on the endpoint")
    return right(
        f"the source signed and delivered a star, your handler saw {repository} once, and an "
        f"unsigned forgery got {answer.status_code}."
    )


@check
def survives_replay(lab: Any, stock: Any, endpoint: str = "shop-payments") -> Result:
    """Exercise 2: a payment replayed after the receiver forgot its id takes stock only once."""
    if stock is Ellipsis or not hasattr(stock, "get"):
        return not_yet("stock should be a dict like {'mug': 10}.", "keep stock = {'mug': 10}")
    receiving = lab.receiver.endpoint(endpoint)
    handlers = receiving.handlers_for("payment.succeeded")
    if not handlers:
        return not_yet(
            f"no handler on /webhooks/{endpoint} for payment.succeeded.",
            f'@lab.receiver.on("{endpoint}", "payment.succeeded")',
        )
    if len(handlers) > 1:
        return not_yet(
            f"{len(handlers)} handlers run for each payment: running the cell again added another.",
            f'start the cell with lab.receiver.endpoint("{endpoint}").handlers.clear()',
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
        return not_yet(f"the payment was not delivered: {_why(first)}.")
    if stock.get("mug", 0) != start - 1:
        return not_yet(
            f"one payment for 1 mug changed the stock from {start} to {stock.get('mug')}.",
            "take each product's quantity out of stock: stock[product] -= quantity for "
            'event.data["items"]',
        )
    receiving.forget()  # the receiver restarts and forgets every webhook-id it saw
    replayed = lab.sender.replay(first)
    if not _wait_done(lab, replayed, timeout=5) or not replayed.delivered:
        return not_yet(f"the replayed payment was not delivered: {_why(replayed)}.")
    if stock.get("mug", 0) != start - 1:
        return not_yet(
            f"the gateway replayed the same payment after the receiver forgot its webhook-id (as "
            f"after a restart), and your handler took the mug again: stock went from {start} to "
            f"{stock.get('mug')} for one payment.",
            "remember the event.id of every payment you handled (a set here; a table with a "
            "unique key in production) and skip an id you have seen",
        )
    another = deliver(
        Event("payment.succeeded", {"payment": f"pay_check_{n}b", "items": {"mug": 1}})
    )
    if not another.delivered or stock.get("mug", 0) != start - 2:
        return not_yet(
            "a second, different payment did not take its mug out of stock.",
            "skip only event ids you have seen; every new event still counts",
        )
    return right(
        "the replayed payment was acknowledged and skipped by your handler, and a new payment "
        "still counted: idempotent, even when the receiver forgets."
    )


__all__ = ["own_case", "survives_replay"]
