"""Lesson 4's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import operator
import secrets
import time
from hmac import compare_digest
from pathlib import Path

import pytest
from lesson_cells import assert_teaches_without_telling, exercise, run_cell

from webhooks_lab import signing
from webhooks_lab.checks import signatures as check
from webhooks_lab.signing import verify

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"
OLD_SECRET = "whsec_" + base64.b64encode(b"the old secret, 32 bytes long!!!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"the new secret, 32 bytes long!!!").decode()


def load_solution(name: str):  # type: ignore[no-untyped-def]
    """Import a solution file as a module, so its functions keep their source (inspect)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), SOLUTIONS / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- typical wrong answers to exercise 1, written as a learner might -------------------------------


def _expected(secret, msg_id, timestamp, body):  # type: ignore[no-untyped-def]
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def not_written_yet(secret, headers, body):  # type: ignore[no-untyped-def]
    ...


def forgets_the_timestamp_check(secret, headers, body):  # type: ignore[no-untyped-def]
    if "webhook-signature" not in headers:
        return False
    expected = _expected(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return any(
        hmac.compare_digest(expected.encode(), entry.partition(",")[2].encode())
        for entry in headers["webhook-signature"].split()
    )


def reserialises_the_json(secret, headers, body):  # type: ignore[no-untyped-def]
    if "webhook-signature" not in headers:
        return False
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    canonical = json.dumps(json.loads(body), separators=(",", ":")).encode()
    expected = _expected(secret, headers["webhook-id"], headers["webhook-timestamp"], canonical)
    return any(
        hmac.compare_digest(expected.encode(), entry.partition(",")[2].encode())
        for entry in headers["webhook-signature"].split()
    )


def reads_only_the_first_signature(secret, headers, body):  # type: ignore[no-untyped-def]
    if "webhook-signature" not in headers:
        return False
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    expected = _expected(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return hmac.compare_digest(("v1," + expected).encode(), headers["webhook-signature"].encode())


def _recent_and_matching(  # type: ignore[no-untyped-def]
    secret,
    headers,
    body,
    compare,
    *,
    key=lambda secret: base64.b64decode(secret.removeprefix("whsec_")),
    content=lambda msg_id, timestamp, body: f"{msg_id}.{timestamp}.".encode() + body,
    encode=lambda digest: base64.b64encode(digest).decode(),
    tolerance=300,
    both_ways=True,
    received=lambda entry: entry.partition(",")[2],
):
    """A right answer in every way but the ones given: each keyword is one place to slip."""
    if "webhook-signature" not in headers:
        return False
    age = time.time() - int(headers["webhook-timestamp"])
    if (abs(age) if both_ways else age) > tolerance:
        return False
    signed = content(headers["webhook-id"], headers["webhook-timestamp"], body)
    expected = encode(hmac.new(key(secret), signed, hashlib.sha256).digest())
    return any(
        compare(expected.encode(), received(entry).encode())
        for entry in headers["webhook-signature"].split()
    )


def compares_with_double_equals(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, operator.eq)


def says_compare_digest_but_uses_double_equals(secret, headers, body):  # type: ignore[no-untyped-def]
    # hmac.compare_digest would be safer here, but == is simpler
    return _recent_and_matching(secret, headers, body, lambda a, b: a == b)


def calls_compare_digest_on_something_else(secret, headers, body):  # type: ignore[no-untyped-def]
    if not hmac.compare_digest(headers.get("webhook-id", "")[:4], "msg_"):
        return False
    return _recent_and_matching(secret, headers, body, operator.eq)


def _stops_at_the_first_difference(a, b):  # type: ignore[no-untyped-def]
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):  # noqa: SIM110 (the loop is the point)
        if x != y:
            return False
    return True


def loops_but_stops_early(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, _stops_at_the_first_difference)


def _constant_time(a, b):  # type: ignore[no-untyped-def]
    """The classic hand-written comparison: look at every byte, whatever it finds."""
    if len(a) != len(b):
        return False
    difference = 0
    for x, y in zip(a, b, strict=True):
        difference |= x ^ y
    return difference == 0


def compares_in_constant_time_by_hand(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, _constant_time)


def uses_secrets_compare_digest(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, secrets.compare_digest)


def compares_raw_digests(secret, headers, body):  # type: ignore[no-untyped-def]
    """Decodes the received signature and compares digests, not base64 text."""
    try:
        msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
        entries = headers["webhook-signature"].split()
    except KeyError:
        return False
    if abs(time.time() - int(stamp)) > 300:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    digest = hmac.digest(key, f"{msg_id}.{stamp}.".encode() + body, "sha256")
    for entry in entries:
        version, _, signature = entry.partition(",")
        try:
            if version == "v1" and hmac.compare_digest(digest, base64.b64decode(signature)):
                return True
        except ValueError:
            continue
    return False


def compares_entries_with_the_version(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(
        secret,
        headers,
        body,
        hmac.compare_digest,
        encode=lambda digest: "v1," + base64.b64encode(digest).decode(),
        received=lambda entry: entry,
    )


def imports_compare_digest_by_name(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest)


def keys_with_the_secrets_text(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, key=str.encode)


def forgets_to_base64_decode_the_key(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(
        secret, headers, body, compare_digest, key=lambda s: s.removeprefix("whsec_").encode()
    )


def compares_hex_digests(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, encode=bytes.hex)


def leaves_out_the_last_dot(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(
        secret, headers, body, compare_digest, content=lambda i, t, b: f"{i}.{t}".encode() + b
    )


def compares_with_the_whole_entry(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, received=lambda e: e)


def allows_an_hour(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, tolerance=3600)


def allows_a_minute(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, tolerance=60)


def forgets_abs(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest, both_ways=False)


def uses_the_library(secret, headers, body):  # type: ignore[no-untyped-def]
    try:
        signing.verify(secret, headers, body)
    except signing.SignatureError:
        return False
    return True


def uses_the_library_and_swallows_everything(secret, headers, body):  # type: ignore[no-untyped-def]
    try:
        verify(secret, headers, body)
    except Exception:
        return False
    return True


def crashes_on_a_missing_header(secret, headers, body):  # type: ignore[no-untyped-def]
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    expected = _expected(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return any(
        hmac.compare_digest(expected.encode(), entry.partition(",")[2].encode())
        for entry in headers["webhook-signature"].split()
    )


def trusts_everything(secret, headers, body):  # type: ignore[no-untyped-def]
    return True


def test_verify_by_hand_accepts_the_reference_solution():
    solution = load_solution("04_verify_by_hand.py")
    result = check.verify_by_hand(solution.verify_by_hand)
    assert result, repr(result)
    assert "stale" in result.message and "hmac.compare_digest" in result.message


def test_verify_by_hand_answers_the_notebooks_starter_with_what_to_do():
    cells = exercise("04", "verify_by_hand")
    namespace: dict = {}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert_teaches_without_telling(answer, "04_verify_by_hand.py", cells)


WRONG_VERIFIERS = [
    (not_written_yet, "returned None", "Start with the genuine one"),
    (forgets_the_timestamp_check, "hour-old message", "300 seconds"),
    (allows_an_hour, "six minutes ago was accepted", "300 seconds"),
    (allows_a_minute, "two minutes ago was rejected", "within the tolerance"),
    (forgets_abs, "an hour in the future was accepted", "both ways"),
    (reserialises_the_json, "unusual spacing", "raw bytes"),
    (reads_only_the_first_signature, "two signatures", "any 'v1,' entry"),
    (keys_with_the_secrets_text, "a genuine message was rejected", "secret's text as the"),
    (forgets_to_base64_decode_the_key, "genuine message was rejected", "without base64-decoding"),
    (compares_hex_digests, "a genuine message was rejected", "hex digests"),
    (leaves_out_the_last_dot, "a genuine message was rejected", "lacks the dot"),
    (compares_with_the_whole_entry, "a genuine message was rejected", "the part after the comma"),
    (compares_with_double_equals, "compared with ==", "hmac.compare_digest"),
    (says_compare_digest_but_uses_double_equals, "compared with ==", "hmac.compare_digest"),
    (calls_compare_digest_on_something_else, "compared with ==", "hmac.compare_digest"),
    (loops_but_stops_early, "stops at the first difference", "every character"),
    (uses_the_library, "calls webhooks_lab.signing.verify", "only hmac, hashlib, base64"),
    (uses_the_library_and_swallows_everything, "calls webhooks_lab.signing.verify", "the steps"),
    (crashes_on_a_missing_header, "raised KeyError", "headers.get(name)"),
    (trusts_everything, "body was changed after it was signed was accepted", "body you received"),
    (..., "should be a function", "def verify_by_hand"),
]


@pytest.mark.parametrize(
    ("wrong", "words", "hint"),
    WRONG_VERIFIERS,
    ids=[getattr(w[0], "__name__", "placeholder") for w in WRONG_VERIFIERS],
)
def test_verify_by_hand_refuses_a_wrong_answer_naming_the_slip(wrong, words, hint):
    result = check.verify_by_hand(wrong)
    assert not result
    assert words in result.message, result.message
    assert hint in result.hint, result.hint


@pytest.mark.parametrize(
    "right",
    [
        imports_compare_digest_by_name,
        uses_secrets_compare_digest,
        compares_raw_digests,
        compares_entries_with_the_version,
        compares_in_constant_time_by_hand,
    ],
)
def test_verify_by_hand_accepts_other_right_answers(right):
    result = check.verify_by_hand(right)
    assert result, result


def test_verify_by_hand_leaves_the_library_and_hmac_as_they_were():
    real = (hmac.compare_digest, secrets.compare_digest, signing.verify, verify)
    check.verify_by_hand(uses_the_library)
    check.verify_by_hand(compares_with_double_equals)
    assert (hmac.compare_digest, secrets.compare_digest, signing.verify, verify) == real
    assert compare_digest is real[0]


# -- exercise 2: rotation, checked with real signed deliveries -------------------------------------


def test_rotation_accepts_the_reference_solution(lab):
    lab.receiver.endpoint("secure").require(OLD_SECRET)  # the lesson's starting point
    namespace = {"lab": lab, "OLD_SECRET": OLD_SECRET, "NEW_SECRET": NEW_SECRET}
    exec((SOLUTIONS / "04_rotate_secret.py").read_text(), namespace)

    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)

    assert result, repr(result)
    sent = lab.receiver.inbox.for_endpoint("secure")
    assert [d.status for d in sent] == [200, 200, 401, 401]  # real deliveries, visible to learners


def test_rotation_answers_the_notebooks_starter_with_what_to_do(lab):
    cells = exercise("04", "rotation")
    namespace = {"lab": lab, "signing": signing, "check": check}
    run_cell(cells.starter, namespace)
    answer = run_cell(cells.call, namespace)
    assert "signed with the new secret was refused (401 no_matching_signature)" in answer.message
    assert_teaches_without_telling(answer, "04_rotate_secret.py", cells)


def two_calls(endpoint):  # type: ignore[no-untyped-def]
    endpoint.require(OLD_SECRET)
    endpoint.require(NEW_SECRET)  # "adds" the new one, or so it seems


WRONG_ROTATIONS = [
    (lambda e: e.require(OLD_SECRET), "new secret was refused (401 no_matching_signature)"),
    (lambda e: e.require(NEW_SECRET), "old secret was refused (401 no_matching_signature)"),
    (two_calls, "old secret was refused"),
    (lambda e: e.open(), "unsigned delivery was accepted"),
    (
        lambda e: e.require([OLD_SECRET, signing.generate_secret()]),
        "new secret was refused",
    ),
    (
        lambda e: e.require([OLD_SECRET, NEW_SECRET], scheme="github"),
        "another scheme's headers",
    ),
]


@pytest.mark.parametrize(
    ("wrong", "words"),
    WRONG_ROTATIONS,
    ids=["old only", "new only", "two calls", "open", "a fresh secret", "github scheme"],
)
def test_rotation_refuses_a_wrong_answer_naming_the_slip(lab, wrong, words):
    wrong(lab.receiver.endpoint("secure").require(OLD_SECRET))
    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)
    assert not result
    assert words in result.message, result.message
    assert result.hint


@pytest.mark.parametrize(
    "right",
    [
        lambda e: e.require((NEW_SECRET, OLD_SECRET)),
        lambda e: e.require([OLD_SECRET, NEW_SECRET], tolerance=600),
    ],
    ids=["a tuple, new first", "a longer tolerance"],
)
def test_rotation_accepts_other_right_answers(lab, right):
    secure = lab.receiver.endpoint("secure").require(OLD_SECRET)
    right(secure)
    assert check.rotation(lab, OLD_SECRET, NEW_SECRET)
