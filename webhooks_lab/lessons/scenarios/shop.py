"""A shop's integration: new orders, new customers and system alerts reach your back office.

From the source material: applications integrate through webhooks, one telling the other about a
*new order*, a *user signup* or a *system alert*. Here an online shop tells your back office: a
signup becomes a customer record and a welcome email; an order is recorded and the warehouse is
asked to pick it; an alert is logged, and a critical one pages whoever is on call.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.events import Event
from webhooks_lab.i18n import _
from webhooks_lab.lessons.scenarios.base import Handler, Scenario, need

ON_CALL = "oncall@example.com"
PICKING_SECONDS = 2.0  # lab seconds the warehouse's system takes to queue an order for picking


class Shop(Scenario):
    """``user.signup``, ``order.created`` and ``system.alert`` from an online shop."""

    name = "shop"
    endpoint_name = "back-office"
    title = "A shop's integration"
    source = "shop"
    types = ("user.signup", "order.created", "system.alert")

    def __init__(self, lab: Any, **options: Any) -> None:
        #: user id -> {"email", "name"}
        self.customers: dict[int, dict[str, Any]] = {}
        #: order id -> {"customer", "total", "items", "status"}
        self.orders: dict[str, dict[str, Any]] = {}
        #: every alert, oldest first
        self.alerts: list[dict[str, Any]] = []
        super().__init__(lab, **options)

    def story(self) -> list[Event]:
        return [
            Event("user.signup", {"user_id": 7, "email": "linus@example.com", "name": "Linus"}),
            Event(
                "order.created",
                {"order": "A-1001", "user_id": 7, "total": 42.5, "items": ["mug", "t-shirt"]},
            ),
            Event("system.alert", {"severity": "warning", "message": "disk 91% full on db-1"}),
            Event("system.alert", {"severity": "critical", "message": "checkout error rate 12%"}),
        ]

    def handlers(self) -> dict[str, Handler]:
        return {
            "user.signup": self.on_signup,
            "order.created": self.on_order,
            "system.alert": self.on_alert,
        }

    async def on_signup(self, event: Event) -> None:
        data = need(event, user_id=int, email=str, name=str)
        if not self.first_time(event):
            return
        self.customers[data["user_id"]] = {"email": data["email"], "name": data["name"]}
        self.note(_("created customer #{id} ({email})", id=data["user_id"], email=data["email"]))
        self.background("welcome email", self.welcome, data["email"], data["name"])

    async def on_order(self, event: Event) -> None:
        data = need(event, order=str, user_id=int, total=(int, float), items=list)
        if not self.first_time(event):
            return
        self.orders[data["order"]] = {
            "customer": data["user_id"],
            "total": data["total"],
            "items": list(data["items"]),
            "status": "received",
        }
        self.note(
            _(
                "recorded order {order} ({count} items)",
                order=data["order"],
                count=len(data["items"]),
            )
        )
        self.background("ask the warehouse", self.pick, data["order"])

    async def on_alert(self, event: Event) -> None:
        data = need(event, severity=str, message=str)
        if not self.first_time(event):
            return
        self.alerts.append({"severity": data["severity"], "message": data["message"]})
        self.note(
            _(
                "logged a {severity} alert: {message}",
                severity=data["severity"],
                message=data["message"],
            )
        )
        if data["severity"] == "critical":
            self.background("page on-call", self.page, data["message"])

    async def welcome(self, email: str, name: str) -> None:
        await self.pause(1.0)
        self.send_email(email, f"Welcome to the shop, {name}!")

    async def pick(self, order: str) -> None:
        await self.pause(PICKING_SECONDS)
        self.orders[order]["status"] = "picking"
        self.journal.add(
            _("background job"), _("the warehouse is picking order {order}", order=order)
        )

    async def page(self, message: str) -> None:
        self.send_email(ON_CALL, f"CRITICAL: {message}")

    def state(self) -> str:
        emails = ", ".join(c["email"] for c in self.customers.values()) or "-"
        lines = [_("customers: {emails}", emails=emails)]
        for order, details in sorted(self.orders.items()):
            lines.append(
                _(
                    "order {order}: {status}, total {total}",
                    order=order,
                    status=details["status"],
                    total=details["total"],
                )
            )
        lines.append(_("alerts: {count} logged", count=len(self.alerts)))
        return "\n".join(lines)
