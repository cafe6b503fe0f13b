"""A payment gateway tells the merchant: update the order, ship it, take it out of stock.

From the source material: payment gateways notify merchants about payments, so the merchant can
*update the order's status*, *trigger shipping* and *update the inventory*. This is where doing
it exactly once matters most: a payment handled twice ships twice and counts stock away twice.

The story has two twists real gateways produce every day:

* the merchant's server is restarting when the first notification arrives and answers ``503``;
  the gateway tries again a few (lab) seconds later;
* the gateway sends one notification a second time. The receiver recognises its ``webhook-id``
  and acknowledges it without running the handler; the handler would skip it anyway.

Signatures here are Stripe's style: ``Stripe-Signature: t=<timestamp>,v1=<hex HMAC>``.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.events import Event
from webhooks_lab.i18n import _
from webhooks_lab.lessons.scenarios.base import Handler, Report, Scenario, need

SHIPPING_SECONDS = 2.0  # lab seconds the courier's API takes to book a pickup
STOCK_SECONDS = 0.5  # lab seconds the warehouse system takes to update stock


class Payments(Scenario):
    """``payment.succeeded`` / ``payment.failed`` from a payment gateway to a merchant."""

    name = "payments"
    endpoint_name = "merchant"
    title = "A payment gateway notifying the merchant"
    source = "payment gateway"
    app = "the merchant"
    scheme = "stripe"
    types = ("payment.succeeded", "payment.failed")

    def __init__(self, lab: Any, **options: Any) -> None:
        #: order id -> status; the merchant's orders, waiting for their payments
        self.orders: dict[str, str] = {
            "A-1001": "awaiting payment",
            "A-1002": "awaiting payment",
            "A-1003": "awaiting payment",
        }
        #: product -> units in stock
        self.inventory: dict[str, int] = {"mug": 10, "t-shirt": 5, "poster": 3}
        #: one booking per shipped order
        self.shipments: list[str] = []
        super().__init__(lab, **options)

    def story(self) -> list[Event]:
        first = paid("pay_1001", "A-1001", 2400, {"mug": 2}, "ada@example.com")
        return [
            first,
            Event(
                "payment.failed",
                {
                    "payment": "pay_1002",
                    "order": "A-1002",
                    "email": "grace@example.com",
                    "reason": "card_declined",
                },
            ),
            paid("pay_1003", "A-1003", 3500, {"t-shirt": 1, "poster": 1}, "linus@example.com"),
            first,  # the gateway sends the same notification again, same webhook-id
        ]

    def run(self, events: Any = None, *, timeout: float = 15.0) -> Report:
        if events is None:
            # The merchant's server is restarting: the first delivery is refused with a 503.
            self.lab.receiver.chaos(self.endpoint).fail_next(1, status=503)
            self.note(_("is restarting: the next request will get 503"))
        return super().run(events, timeout=timeout)

    def handlers(self) -> dict[str, Handler]:
        return {"payment.succeeded": self.on_paid, "payment.failed": self.on_failed}

    async def on_paid(self, event: Event) -> None:
        data = need(event, payment=str, order=str, amount=int, currency=str, items=dict)
        if not self.first_time(event):
            return
        order = data["order"]
        # Update the order's status now; shipping and stock can follow in the background.
        self.orders[order] = "paid"
        self.note(
            _(
                "order {order} is paid ({amount:.2f} {currency})",
                order=order,
                amount=data["amount"] / 100,
                currency=data["currency"],
            )
        )
        self.background("update inventory", self.take_from_stock, data["items"])
        self.background("trigger shipping", self.ship, order)

    async def on_failed(self, event: Event) -> None:
        data = need(event, payment=str, order=str, email=str, reason=str)
        if not self.first_time(event):
            return
        self.orders[data["order"]] = "payment failed"
        self.note(
            _(
                "order {order}: payment failed ({reason})",
                order=data["order"],
                reason=data["reason"],
            )
        )
        self.background("tell the customer", self.tell_customer, data["email"], data["order"])

    async def take_from_stock(self, items: dict[str, int]) -> None:
        await self.pause(STOCK_SECONDS)
        for product, quantity in items.items():
            self.inventory[product] = self.inventory.get(product, 0) - quantity
        taken = ", ".join(f"{quantity} × {product}" for product, quantity in items.items())
        self.journal.add(_("background job"), _("took {taken} out of stock", taken=taken))

    async def ship(self, order: str) -> None:
        await self.pause(SHIPPING_SECONDS)
        self.shipments.append(order)
        self.orders[order] = "shipping"
        self.journal.add(_("background job"), _("booked a courier for order {order}", order=order))

    async def tell_customer(self, email: str, order: str) -> None:
        self.send_email(email, f"Your payment for order {order} did not go through")

    def state(self) -> str:
        orders = ", ".join(f"{order} {status}" for order, status in sorted(self.orders.items()))
        stock = ", ".join(f"{product} {units}" for product, units in self.inventory.items())
        return _(
            "orders: {orders}\nstock: {stock}\nshipments: {shipments}",
            orders=orders,
            stock=stock,
            shipments=", ".join(self.shipments) or "-",
        )


def paid(payment: str, order: str, amount: int, items: dict[str, int], email: str) -> Event:
    """The event a gateway sends when a payment succeeds (``amount`` in cents)."""
    return Event(
        "payment.succeeded",
        {
            "payment": payment,
            "order": order,
            "amount": amount,
            "currency": "EUR",
            "email": email,
            "items": items,
        },
    )
