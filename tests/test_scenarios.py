"""The course's cases end to end over real HTTP: signed, verified, idempotent, answered fast.

Also the email outbox they send to, and ``webhooks-lab demo`` as a real process.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from webhooks_lab import Event, InvalidPayload, signing
from webhooks_lab.lab import Lab
from webhooks_lab.lessons.email_outbox import EmailOutbox
from webhooks_lab.lessons.scenarios import CASES, Chat, Newsletter, Payments, Shop, need, table


@pytest.fixture
def fast_lab() -> Iterator[Lab]:
    """A lab whose clock runs 50x: a retry due in 5 s comes after 0.1 s."""
    with Lab(speed=50) as running:
        yield running


# -- the email outbox --------------------------------------------------------------------------


def test_an_email_sent_is_kept_numbered_and_listed():
    emails = EmailOutbox()
    first = emails.send("ada@example.com", "Welcome!", "Hello Ada")
    emails.send("grace@example.com", "Welcome!")

    assert (first.number, first.to, first.subject, first.body) == (
        1,
        "ada@example.com",
        "Welcome!",
        "Hello Ada",
    )
    assert len(emails) == 2
    assert emails.to("grace@example.com")[0].number == 2
    assert "2 emails" in repr(emails) and "grace@example.com" in repr(emails)


def test_a_listener_that_raises_never_loses_an_email_and_is_dropped():
    emails = EmailOutbox()
    heard = []
    emails.subscribe(lambda email: 1 / 0)
    emails.subscribe(heard.append)
    emails.send("ada@example.com", "one")
    emails.send("ada@example.com", "two")
    assert [e.subject for e in emails] == ["one", "two"]
    assert [e.subject for e in heard] == ["one", "two"]
    assert len(emails.listeners) == 1 and "ZeroDivisionError" in emails.listeners.errors[0]


def test_a_journal_listener_that_raises_is_dropped_and_the_story_goes_on():
    from webhooks_lab.lessons.scenarios import Journal
    from webhooks_lab.runtime.clock import FakeClock

    journal = Journal(FakeClock())
    heard = []

    def closed_terminal(line: object) -> None:
        raise BrokenPipeError("the terminal is gone")

    journal.subscribe(closed_terminal)
    stop = journal.subscribe(heard.append)
    journal.add("shop", "sends order.created")
    stop()
    journal.add("your app", "answers 200")
    assert [line.what for line in journal] == ["sends order.created", "answers 200"]
    assert [line.what for line in heard] == ["sends order.created"]
    assert not journal.listeners and "BrokenPipeError" in journal.listeners.errors[0]


def test_an_email_without_an_address_is_refused_saying_why():
    with pytest.raises(ValueError, match="an address like"):
        EmailOutbox().send("ada", "Welcome!")


def test_waiting_for_email_returns_once_another_thread_sends_it():
    emails = EmailOutbox()
    timer = threading.Timer(0.05, emails.send, ("ada@example.com", "Welcome!"))
    timer.start()
    try:
        arrived = emails.wait_for(1, timeout=5, to="ada@example.com")
    finally:
        timer.cancel()
    assert [e.subject for e in arrived] == ["Welcome!"]


def test_waiting_for_email_that_never_comes_says_how_many_did():
    emails = EmailOutbox()
    emails.send("ada@example.com", "one")
    with pytest.raises(TimeoutError, match="1 were sent"):
        emails.wait_for(2, timeout=0.05)


# -- checking payloads -------------------------------------------------------------------------


def test_need_names_every_problem_at_once():
    event = Event("payment.succeeded", {"amount": "24.00", "paid": True})
    with pytest.raises(InvalidPayload) as refused:
        need(event, order=str, amount=int, paid=bool)
    message = str(refused.value)
    assert "'order' is missing" in message
    assert "'amount' should be int, got str" in message
    assert "paid" not in message


def test_need_does_not_take_true_for_a_number():
    with pytest.raises(InvalidPayload, match="'amount' should be int, got bool"):
        need(Event("x.y", {"amount": True}), amount=int)


# -- the cases, end to end ---------------------------------------------------------------------


def test_the_newsletter_saves_preferences_logs_and_welcomes_each_subscriber_once(fast_lab):
    newsletter = Newsletter(fast_lab)
    report = newsletter.run()

    assert newsletter.preferences["ada@example.com"]["subscribed"] is True
    assert newsletter.preferences["ada@example.com"]["topics"] == ["python", "webhooks"]
    assert newsletter.preferences["grace@example.com"]["subscribed"] is False
    assert len(newsletter.log) == 3
    assert [e.to for e in newsletter.emails] == ["ada@example.com", "grace@example.com"]
    assert (report.sent, report.delivered, report.accepted, report.refused) == (3, 3, 3, 0)
    arrived = fast_lab.receiver.inbox.for_endpoint(newsletter.endpoint)
    assert all(d.verified for d in arrived)


def test_the_newsletter_answers_before_the_welcome_email_is_sent(fast_lab):
    newsletter = Newsletter(fast_lab)
    newsletter.run()
    answered = [line for line in newsletter.journal if line.what.startswith("answers 200")]
    emailed = [line for line in newsletter.journal if line.what.startswith("email to")]
    assert answered[0].at < emailed[0].at
    lines = newsletter.journal.lines
    assert lines.index(answered[0]) < lines.index(emailed[0])


def test_the_shop_records_customers_orders_and_alerts_and_pages_only_for_critical(fast_lab):
    shop = Shop(fast_lab)
    report = shop.run()

    assert shop.customers == {7: {"email": "linus@example.com", "name": "Linus"}}
    assert shop.orders["A-1001"]["status"] == "picking"
    assert [a["severity"] for a in shop.alerts] == ["warning", "critical"]
    assert [e.to for e in shop.emails] == ["linus@example.com", "oncall@example.com"]
    assert (report.sent, report.accepted, report.jobs) == (4, 4, 3)


def test_the_payment_gateway_retries_after_a_503_and_a_resent_payment_ships_once(fast_lab):
    payments = Payments(fast_lab)
    report = payments.run()

    assert payments.orders == {
        "A-1001": "shipping",
        "A-1002": "payment failed",
        "A-1003": "shipping",
    }
    assert payments.inventory == {"mug": 8, "t-shirt": 4, "poster": 2}
    assert payments.shipments == ["A-1001", "A-1003"]
    assert [e.to for e in payments.emails] == ["grace@example.com"]
    assert report.attempts == report.sent + 1  # one retry, after the 503
    assert (report.delivered, report.duplicates, report.refused) == (4, 1, 1)
    assert fast_lab.receiver.inbox.for_endpoint(payments.endpoint)[0].status == 503
    assert all("stripe-signature" in d.headers for d in fast_lab.receiver.inbox)


def test_a_payment_replayed_after_the_receiver_forgot_its_id_still_ships_once(fast_lab):
    payments = Payments(fast_lab)
    payments.run([Event("payment.succeeded", _paid("pay_1", "A-1001", {"mug": 1}))])
    delivered = payments.sent[0]

    fast_lab.receiver.endpoint(payments.endpoint).forget()  # as after a restart
    fast_lab.sender.replay(delivered)
    payments.wait()

    assert fast_lab.receiver.inbox.last.accepted  # the receiver did not recognise it ...
    assert payments.inventory["mug"] == 9  # ... but the handler did
    assert payments.shipments == ["A-1001"]
    assert any("already handled" in line.what for line in payments.journal)


def test_chat_notifies_each_person_mentioned_and_nobody_else(fast_lab):
    chat = Chat(fast_lab)
    chat.run()
    assert sorted((n["to"], n["text"][:5]) for n in chat.notifications) == [
        ("ada", "grace"),
        ("ada", "linus"),
        ("grace", "linus"),
    ]


def test_a_case_endpoint_refuses_a_forged_delivery_without_running_a_handler(fast_lab):
    chat = Chat(fast_lab)
    forged = Event("message.posted", {"channel": "#x", "author": "eve", "text": "@ada hi"})
    answer = httpx.post(chat.url, content=forged.body(), headers={"webhook-id": forged.id})
    assert answer.status_code == 401
    assert chat.notifications == [] and chat.jobs == []


def test_a_case_refuses_a_payload_missing_fields_with_422_naming_them(fast_lab):
    shop = Shop(fast_lab)
    bad = Event("order.created", {"order": "A-9", "total": "lots"})
    signed = signing.sign_headers(
        shop.secret, bad.body(), msg_id=bad.id, timestamp=int(fast_lab.clock.time())
    )
    answer = httpx.post(shop.url, content=bad.body(), headers=signed)
    assert answer.status_code == 422
    refused = fast_lab.receiver.inbox.for_endpoint(shop.endpoint)[0]
    assert refused.status == 422
    assert "'user_id' is missing" in refused.reason
    assert "'total' should be int or float, got str" in refused.reason
    assert shop.orders == {}


def test_making_a_case_again_replaces_the_old_one_instead_of_doubling_handlers(fast_lab):
    old = Chat(fast_lab)
    new = Chat(fast_lab)
    new.run()
    assert len(fast_lab.receiver.endpoint(new.endpoint).handlers["message.posted"]) == 1
    assert len(old.journal) == 0
    assert len(new.notifications) == 3


def test_the_summary_table_totals_every_case():
    from webhooks_lab.lessons.scenarios import Report

    rows = [Report("a", 1, 2, 1, 1, 0, 1, 0, 1), Report("b", 2, 2, 2, 2, 0, 0, 3, 0)]
    text = table(rows)
    assert text.splitlines()[0].split() == ["case", *Report.COLUMNS]
    assert text.splitlines()[-1].split() == ["total", "3", "4", "3", "3", "0", "1", "3", "1"]


# -- the command line --------------------------------------------------------------------------


def test_webhooks_lab_demo_payments_prints_the_story_and_exits_0():
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "demo", "payments", "--speed", "50"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "answers 503" in out
    assert "attempt 1 got 503; retries in" in out
    assert "booked a courier for order A-1001" in out
    assert "answers 200 to payment.succeeded: duplicate" in out
    assert "stock: mug 8, t-shirt 4, poster 2" in out
    assert out.rstrip().splitlines()[-1].split() == [
        "payments",
        "4",
        "5",
        "4",
        "3",
        "1",
        "1",
        "5",
        "1",
    ]


def test_webhooks_lab_demo_refuses_an_unknown_case():
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "demo", "bank"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice: 'bank'" in result.stderr


def test_the_command_line_offers_every_case():
    from webhooks_lab.cli import _parser

    demo = _parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr]
    case = next(a for a in demo._actions if a.dest == "case")
    assert list(case.choices) == list(CASES)


def _paid(payment: str, order: str, items: dict[str, int]) -> dict[str, object]:
    return {
        "payment": payment,
        "order": order,
        "amount": 1200,
        "currency": "EUR",
        "email": "ada@example.com",
        "items": items,
    }


def test_webhooks_lab_demo_refuses_a_clock_that_does_not_move():
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "demo", "chat", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--speed must be positive" in result.stderr
