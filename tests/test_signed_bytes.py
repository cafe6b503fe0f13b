"""The "what a signature covers" figure lays out exactly the bytes each scheme signs."""

from __future__ import annotations

import pytest

from webhooks_lab import signing
from webhooks_lab.lessons import signed_bytes
from webhooks_lab.lessons.signed_bytes import scheme_rows, signed_bytes_figure

# The Standard Webhooks reference libraries' test vector (libraries/go/webhook_test.go).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_each_row_holds_the_parts_its_scheme_signs_and_gives_the_labs_signature():
    standard, stripe, github = scheme_rows(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert standard.covers == ("id", "timestamp", "body")
    assert standard.content == b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + BODY
    assert standard.header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="  # published
    assert stripe.covers == ("timestamp", "body")
    assert stripe.content == b"1614265330." + BODY
    assert stripe.header == signing.stripe_sign(SECRET, BODY, TIMESTAMP)
    assert github.covers == ("body",)
    assert github.content == BODY


def test_a_recipe_the_lab_does_not_use_is_refused_before_drawing(monkeypatch):
    monkeypatch.setattr(signed_bytes.signing, "github_sign", lambda secret, body: "sha256=00")
    with pytest.raises(RuntimeError, match="GitHub"):
        scheme_rows(SECRET, MSG_ID, TIMESTAMP, BODY)


def test_the_figure_draws_a_png_and_its_text_names_parts_and_sizes_only():
    figure = signed_bytes_figure(SECRET, MSG_ID, TIMESTAMP, BODY)
    assert figure.png().startswith(b"\x89PNG")
    text = repr(figure)
    assert "Standard Webhooks  id (28 B) + timestamp (10 B) + body (20 B); 60 bytes" in text
    assert "GitHub             body (20 B); 20 bytes" in text
    assert "g0hM9" not in text  # signatures are drawn, not printed into a compared output
