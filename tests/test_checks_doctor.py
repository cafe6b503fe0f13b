"""Lesson 11's checks accept the reference solutions and refuse the answers people really write."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lesson_cells import assert_teaches_without_telling, exercise, run_cell

from webhooks_lab.checks import doctor as check

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def solution(name: str, function: str):  # type: ignore[no-untyped-def]
    """The solution file's function, run as %load would run it (its check call included)."""
    namespace: dict = {"check": check}
    exec(compile((SOLUTIONS / name).read_text(), name, "exec"), namespace)
    return namespace[function]


# -- exercise 1: Zoom's handshake --------------------------------------------------------------


def token_of(body: bytes) -> str:
    return json.loads(body)["payload"]["plainToken"]


def base64_not_hex(body, secret):  # type: ignore[no-untyped-def]
    mac = hmac.new(secret.encode(), token_of(body).encode(), hashlib.sha256)
    return {"plainToken": token_of(body), "encryptedToken": base64.b64encode(mac.digest()).decode()}


def key_and_message_swapped(body, secret):  # type: ignore[no-untyped-def]
    mac = hmac.new(token_of(body).encode(), secret.encode(), hashlib.sha256)
    return {"plainToken": token_of(body), "encryptedToken": mac.hexdigest()}


def plain_hash(body, secret):  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(token_of(body).encode()).hexdigest()
    return {"plainToken": token_of(body), "encryptedToken": digest}


def sha1(body, secret):  # type: ignore[no-untyped-def]
    mac = hmac.new(secret.encode(), token_of(body).encode(), hashlib.sha1)
    return {"plainToken": token_of(body), "encryptedToken": mac.hexdigest()}


def forgets_plain_token(body, secret):  # type: ignore[no-untyped-def]
    mac = hmac.new(secret.encode(), token_of(body).encode(), hashlib.sha256)
    return {"encryptedToken": mac.hexdigest()}


def hard_coded(body, secret):  # type: ignore[no-untyped-def]
    return {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": "0" * 64}


def hashes_the_whole_body(body, secret):  # type: ignore[no-untyped-def]
    mac = hmac.new(secret.encode(), body, hashlib.sha256)
    return {"plainToken": token_of(body), "encryptedToken": mac.hexdigest()}


def not_written_yet(body, secret):  # type: ignore[no-untyped-def]
    ...


def test_the_zoom_solution_passes():
    assert check.zoom_answer(solution("11_zoom_answer.py", "zoom_answer"))


def test_a_json_string_answer_passes_too():
    right = solution("11_zoom_answer.py", "zoom_answer")
    assert check.zoom_answer(lambda body, secret: json.dumps(right(body, secret)))


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (base64_not_hex, "hex"),
        (key_and_message_swapped, "swapped"),
        (plain_hash, "plain SHA-256"),
        (sha1, "SHA-1"),
        (forgets_plain_token, "plainToken should be"),
        (hard_coded, "not the HMAC-SHA256"),
        (hashes_the_whole_body, "not the HMAC-SHA256"),
        (not_written_yet, "not a dict"),
    ],
)
def test_zoom_wrong_answers_are_refused_and_named(wrong, words):
    result = check.zoom_answer(wrong)
    assert not result
    assert words in result.message, result.message


# -- exercise 2: sign v1a -----------------------------------------------------------------------


def private(secret_key: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret_key[5:]))


def signs_only_the_body(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    return "v1a," + base64.b64encode(private(secret_key).sign(body)).decode()


def forgets_the_dots(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    content = f"{msg_id}{timestamp}".encode() + body
    return "v1a," + base64.b64encode(private(secret_key).sign(content)).decode()


def v1_prefix(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(private(secret_key).sign(content)).decode()


def hex_signature(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    return "v1a," + private(secret_key).sign(f"{msg_id}.{timestamp}.".encode() + body).hex()


def no_prefix(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    content = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(private(secret_key).sign(content)).decode()


def returns_bytes(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    return private(secret_key).sign(f"{msg_id}.{timestamp}.".encode() + body)


def a_new_key_each_time(secret_key, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1a," + base64.b64encode(Ed25519PrivateKey.generate().sign(content)).decode()


def test_the_v1a_solution_passes():
    assert check.sign_v1a(solution("11_sign_v1a.py", "sign_v1a"))


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (signs_only_the_body, "only the body"),
        (forgets_the_dots, "dots"),
        (v1_prefix, "'v1,' (HMAC)"),
        (hex_signature, "hex"),
        (no_prefix, "no 'v1a,'"),
        (returns_bytes, "not the header's text"),
        (a_new_key_each_time, "does not accept"),
    ],
)
def test_v1a_wrong_answers_are_refused_and_named(wrong, words):
    result = check.sign_v1a(wrong)
    assert not result
    assert words in result.message, result.message


def test_a_function_that_raises_gets_a_plain_answer():
    def broken(*args):  # type: ignore[no-untyped-def]
        raise KeyError("payload")

    assert "raised KeyError" in check.zoom_answer(broken).message
    assert "raised KeyError" in check.sign_v1a(broken).message


# -- the lesson's own starters get a "not yet" that teaches without telling ---------------------


@pytest.mark.parametrize(
    ("name", "solution_file"),
    [("sign_v1a", "11_sign_v1a.py"), ("zoom_answer", "11_zoom_answer.py")],
)
def test_the_lessons_starters_are_not_yet_and_give_nothing_away(lab, name, solution_file):
    cells = exercise("11", name)
    namespace = {"lab": lab}
    cells.run_lesson(namespace, skip=("webhooks_lab.start(",))
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, solution_file, cells)
