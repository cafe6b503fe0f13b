"""A newsletter subscription: the platform tells your app, your app remembers and says welcome.

From the source material: when someone subscribes, the newsletter service's webhook lets your app
*update the user's preferences*, *send a welcome email* and *log the subscription*. The first and
last are quick writes, done before answering; the email is slow (an SMTP server), so it goes to a
background job and the platform gets its ``200`` at once.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.events import Event
from webhooks_lab.i18n import _
from webhooks_lab.lessons.scenarios.base import Handler, Scenario, need

WELCOME_EMAIL_SECONDS = 1.0  # lab seconds an SMTP server takes to accept a message


class Newsletter(Scenario):
    """``subscription.created`` / ``subscription.cancelled`` from a newsletter platform."""

    name = "newsletter"
    endpoint_name = "subscribers"
    title = "A newsletter subscription"
    source = "newsletter platform"
    types = ("subscription.created", "subscription.cancelled")

    def __init__(self, lab: Any, **options: Any) -> None:
        #: email -> {"name", "list", "frequency", "topics", "subscribed"}
        self.preferences: dict[str, dict[str, Any]] = {}
        #: one line per subscription change, oldest first
        self.log: list[str] = []
        super().__init__(lab, **options)

    def story(self) -> list[Event]:
        return [
            subscribed("ada@example.com", "Ada", frequency="weekly", topics=["python", "webhooks"]),
            subscribed("grace@example.com", "Grace", frequency="daily", topics=["compilers"]),
            Event("subscription.cancelled", {"email": "grace@example.com", "list": "digest"}),
        ]

    def handlers(self) -> dict[str, Handler]:
        return {
            "subscription.created": self.on_subscribed,
            "subscription.cancelled": self.on_cancelled,
        }

    async def on_subscribed(self, event: Event) -> None:
        data = need(event, email=str, name=str, list=str, preferences=dict)
        if not self.first_time(event):
            return
        email = data["email"]
        # 1. Update the user's preferences: a quick write, done before answering.
        self.preferences[email] = {
            "name": data["name"],
            "list": data["list"],
            "frequency": data["preferences"].get("frequency", "weekly"),
            "topics": list(data["preferences"].get("topics", [])),
            "subscribed": True,
        }
        # 2. Log the subscription.
        self.log.append(f"{event.payload()['timestamp']}  {email} subscribed to {data['list']}")
        self.note(_("saved preferences of {email} and logged the subscription", email=email))
        # 3. Send the welcome email: slow, so later, in the background.
        self.background("welcome email", self.welcome, email, data["name"], data["list"])

    async def on_cancelled(self, event: Event) -> None:
        data = need(event, email=str, list=str)
        if not self.first_time(event):
            return
        email = data["email"]
        if email in self.preferences:
            self.preferences[email]["subscribed"] = False
        self.log.append(f"{event.payload()['timestamp']}  {email} left {data['list']}")
        self.note(_("unsubscribed {email} and logged it", email=email))

    async def welcome(self, email: str, name: str, newsletter: str) -> str:
        await self.pause(WELCOME_EMAIL_SECONDS)
        self.send_email(
            email,
            f"Welcome to the {newsletter}, {name}!",
            "Thanks for subscribing. Your first issue is on its way.",
        )
        return email

    def state(self) -> str:
        lines = [_("preferences:")]
        for email, prefs in sorted(self.preferences.items()):
            status = "subscribed" if prefs["subscribed"] else "unsubscribed"
            topics = ", ".join(prefs["topics"]) or "-"
            lines.append(f"  {email:<20} {status:<12} {prefs['frequency']:<7} {topics}")
        lines.append(_("subscription log: {count} entries", count=len(self.log)))
        return "\n".join(lines)


def subscribed(email: str, name: str, *, frequency: str, topics: list[str]) -> Event:
    """The event a newsletter platform sends when someone subscribes to its digest."""
    return Event(
        "subscription.created",
        {
            "email": email,
            "name": name,
            "list": "digest",
            "preferences": {"frequency": frequency, "topics": topics},
        },
    )
