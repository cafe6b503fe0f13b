"""The email outbox: where the lab's handlers "send" email, so you can read what they sent.

Webhook handlers love to send email: a welcome message after a signup, a receipt after a payment.
In the lab no email ever leaves your machine. A handler calls ``emails.send(to, subject, body)``
and the message lands here, numbered and stamped with the lab clock, for a cell to look at::

    emails = EmailOutbox()
    emails.send("ada@example.com", "Welcome to the weekly digest!")
    emails                      # Email outbox: 1 email ...
    emails.to("ada@example.com")

It is safe to use from any thread (a plain handler runs in a worker thread, an async one on the lab
loop), and ``wait_for`` lets a cell wait for email that a background job has yet to send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from webhooks_lab.i18n import _, n_
from webhooks_lab.runtime.clock import Clock
from webhooks_lab.runtime.listeners import Listeners

__all__ = ["Email", "EmailOutbox"]


@dataclass(frozen=True)
class Email:
    """One message "sent": who to, the subject and body, and when (lab-clock Unix seconds)."""

    number: int
    to: str
    subject: str
    body: str
    sent_at: float

    def __repr__(self) -> str:
        return f"<Email #{self.number} to {self.to}: {self.subject!r}>"


EmailListener = Callable[[Email], object]


class EmailOutbox:
    """Every email the lab's handlers sent, oldest first. Nothing is really sent anywhere."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._emails: list[Email] = []
        self._changed = threading.Condition()
        self.listeners: Listeners[[Email]] = Listeners("email outbox")

    def send(self, to: str, subject: str, body: str = "") -> Email:
        """'Send' an email: record it here and return it."""
        if not isinstance(to, str) or "@" not in to:
            raise ValueError(f"an email goes to an address like 'ada@example.com', got {to!r}")
        with self._changed:
            email = Email(len(self._emails) + 1, to, subject, body, self.clock.time())
            self._emails.append(email)
            self._changed.notify_all()
        self.listeners.notify(email)  # one that raises is dropped; the email is never lost
        return email

    def subscribe(self, listener: EmailListener) -> Callable[[], None]:
        """Call ``listener(email)`` after each email is sent; returns a function to stop."""
        return self.listeners.subscribe(listener)

    def to(self, address: str) -> list[Email]:
        """The emails sent to ``address``, oldest first."""
        return [email for email in self if email.to == address]

    def wait_for(
        self, count: int = 1, timeout: float = 10.0, *, to: str | None = None
    ) -> list[Email]:
        """Block until ``count`` emails (to ``to``, if given) have been sent; return them.

        Raises ``TimeoutError`` after ``timeout`` real seconds, saying how many came.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self._emails if to is None or e.to == to]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    who = f" to {to}" if to else ""
                    raise TimeoutError(
                        f"waited {timeout:g} s for {count} emails{who}; {len(found)} were sent"
                    )
                self._changed.wait(remaining)

    def clear(self) -> None:
        """Forget every email (numbering starts again at 1)."""
        with self._changed:
            self._emails.clear()

    def __len__(self) -> int:
        return len(self._emails)

    def __iter__(self) -> Iterator[Email]:
        with self._changed:
            return iter(list(self._emails))

    def __getitem__(self, index: int) -> Email:
        with self._changed:
            return self._emails[index]

    @property
    def last(self) -> Email | None:
        with self._changed:
            return self._emails[-1] if self._emails else None

    def __repr__(self) -> str:
        emails = list(self)
        if not emails:
            return _("Email outbox: empty")
        count = len(emails)
        lines = [n_("Email outbox: {count} email", "Email outbox: {count} emails", count)]
        if count > 10:
            lines.append("  ... " + _("{count} earlier", count=count - 10))
        lines += [
            f"  #{e.number:<3} " + _("to {address:<22} {subject}", address=e.to, subject=e.subject)
            for e in emails[-10:]
        ]
        return "\n".join(lines)
