"""A chat notification: the chat service pushes each message; your app notifies who was mentioned.

From the source material: real-time notifications, as in chat, without constant polling. Instead
of asking the chat service every few seconds "anything new for Ada?", your app is told about
every message the moment it is posted, and pushes a notification to each person it mentions.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.events import Event
from webhooks_lab.i18n import _
from webhooks_lab.lessons.scenarios.base import Handler, Scenario, need

PUSH_SECONDS = 0.3  # lab seconds a push service takes to reach a phone


class Chat(Scenario):
    """``message.posted`` from a chat service; a push notification per mention."""

    name = "chat"
    endpoint_name = "notifier"
    title = "A chat notification"
    source = "chat service"
    app = "your app"
    types = ("message.posted",)

    def __init__(self, lab: Any, **options: Any) -> None:
        #: the push notifications sent, oldest first: {"to", "text"}
        self.notifications: list[dict[str, str]] = []
        super().__init__(lab, **options)

    def story(self) -> list[Event]:
        return [
            posted("#release", "grace", "@ada the deploy is done", ["ada"]),
            posted("#release", "ada", "thanks! looks good", []),
            posted("#incident", "linus", "@ada @grace checkout is failing", ["ada", "grace"]),
        ]

    def handlers(self) -> dict[str, Handler]:
        return {"message.posted": self.on_message}

    async def on_message(self, event: Event) -> None:
        data = need(event, channel=str, author=str, text=str, mentions=list)
        if not self.first_time(event):
            return
        if not data["mentions"]:
            self.note(
                _(
                    "message in {channel} mentions nobody: nothing to notify",
                    channel=data["channel"],
                )
            )
            return
        for person in data["mentions"]:
            text = f"{data['author']} in {data['channel']}: {data['text']}"
            self.background(f"push to {person}", self.push, person, text)
        self.note(_("notifying {people}", people=", ".join(data["mentions"])))

    async def push(self, person: str, text: str) -> None:
        await self.pause(PUSH_SECONDS)
        self.notifications.append({"to": person, "text": text})
        self.journal.add(
            _("background job"),
            _("pushed to {person}'s phone: {text}", person=person, text=repr(text)),
        )

    def state(self) -> str:
        lines = [_("notifications: {count}", count=len(self.notifications))]
        lines += [
            _("  to {to} {text}", to=str(n["to"]).ljust(6), text=n["text"])
            for n in self.notifications
        ]
        return "\n".join(lines)


def posted(channel: str, author: str, text: str, mentions: list[str]) -> Event:
    """The event a chat service sends for each new message."""
    return Event(
        "message.posted",
        {"channel": channel, "author": author, "text": text, "mentions": mentions},
    )
