"""One root for the package's errors: ``except webhooks_lab.Error`` catches every refusal."""

from __future__ import annotations

import pytest

import webhooks_lab
from webhooks_lab import signing
from webhooks_lab.events import Event, EventError
from webhooks_lab.http.body import BodyTooLarge, ClientDisconnected
from webhooks_lab.receiver.endpoint import InvalidPayload
from webhooks_lab.runtime.server import PortInUseError, bind_socket

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def caught(fn, *args, **kwargs) -> webhooks_lab.Error:
    try:
        fn(*args, **kwargs)
    except webhooks_lab.Error as exc:
        return exc
    raise AssertionError(f"{fn.__name__} raised nothing")


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, signing.MissingHeader),
        (
            {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,x"},
            signing.MalformedHeader,
        ),
        (signing.sign_headers(SECRET, b"{}", msg_id="m", timestamp=1), signing.StaleTimestamp),
        (
            signing.sign_headers(SECRET, b"{}", msg_id="m", timestamp=10**10),
            signing.FutureTimestamp,
        ),
        (
            signing.sign_headers(SECRET, b"{}", msg_id="m", timestamp=1_700_000_000),
            signing.NoMatchingSignature,
        ),
    ],
)
def test_every_signature_failure_is_a_lab_error_and_still_a_value_error(headers, kind):
    body = b"{}" if kind is not signing.NoMatchingSignature else b"{ }"
    error = caught(signing.verify, SECRET, headers, body, now=1_700_000_000)
    assert isinstance(error, kind) and isinstance(error, signing.SignatureError)
    assert isinstance(error, ValueError)


def test_an_unknown_scheme_is_one_lab_error_wherever_it_is_named():
    error = caught(signing.check_scheme, "rot13")
    assert isinstance(error, signing.UnknownScheme) and isinstance(error, ValueError)
    assert (
        str(error)
        == "unknown scheme 'rot13'; choose one of standard, github, stripe, slack, shopify, none"
    )
    assert signing.check_scheme("github") == "github"


def test_an_unknown_scheme_reads_the_same_from_receiver_sender_and_signing():
    from webhooks_lab.receiver.receiver import Receiver
    from webhooks_lab.sender.sender import Sender

    sender = Sender(outbox=":memory:", allow_loopback=True)
    places = [
        lambda: Receiver().endpoint("shop").require(SECRET, "rot13"),
        lambda: Receiver().require_all(SECRET, "rot13"),
        lambda: sender.add_endpoint("http://127.0.0.1:9/hook", secret=SECRET, scheme="rot13"),
        lambda: signing.headers_for("rot13", SECRET, b"", msg_id="m", timestamp=0),
        lambda: signing.verify_scheme("rot13", [SECRET], {}, b""),
    ]
    messages = {str(caught(place)) for place in places}
    assert messages == {
        "unknown scheme 'rot13'; choose one of standard, github, stripe, slack, shopify, none"
    }


def test_a_payload_that_is_not_an_event_is_a_lab_error():
    error = caught(Event.from_body, b"[1, 2]")
    assert isinstance(error, EventError) and isinstance(error, ValueError)
    assert issubclass(InvalidPayload, EventError)
    assert isinstance(caught(_raise, InvalidPayload("amount must be positive")), InvalidPayload)


def test_body_refusals_are_lab_errors():
    assert isinstance(caught(_raise, BodyTooLarge(10, 5)), ValueError)
    assert isinstance(caught(_raise, ClientDisconnected(3)), ConnectionError)


def test_a_taken_port_is_a_lab_error_and_still_an_os_error():
    taken = bind_socket()
    try:
        error = caught(bind_socket, "127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
    assert isinstance(error, PortInUseError) and isinstance(error, OSError)


def test_the_face_names_the_same_classes():
    assert webhooks_lab.EventError is EventError
    assert webhooks_lab.InvalidPayload is InvalidPayload
    assert webhooks_lab.PortInUseError is PortInUseError


def _raise(error: Exception) -> None:
    raise error
