"""Lesson 4's checks accept the reference solutions and reject the typical wrong answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import operator
import time
from hmac import compare_digest
from pathlib import Path

import pytest

from webhooks_lab.checks import signatures as check

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


def _recent_and_matching(secret, headers, body, compare):  # type: ignore[no-untyped-def]
    """A right answer in every way but one: how it compares signatures (``compare``)."""
    if "webhook-signature" not in headers:
        return False
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    expected = _expected(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return any(
        compare(expected.encode(), entry.partition(",")[2].encode())
        for entry in headers["webhook-signature"].split()
    )


def compares_with_double_equals(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, operator.eq)


def says_compare_digest_but_uses_double_equals(secret, headers, body):  # type: ignore[no-untyped-def]
    # hmac.compare_digest would be safer here, but == is simpler
    return _recent_and_matching(secret, headers, body, lambda a, b: a == b)


def imports_compare_digest_by_name(secret, headers, body):  # type: ignore[no-untyped-def]
    return _recent_and_matching(secret, headers, body, compare_digest)


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
    assert "stale" in result.message


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (not_written_yet, "returned None"),
        (forgets_the_timestamp_check, "hour-old message"),
        (reserialises_the_json, "unusual spacing"),
        (reads_only_the_first_signature, "two signatures"),
        (compares_with_double_equals, "compared with =="),
        (says_compare_digest_but_uses_double_equals, "compared with =="),
        (crashes_on_a_missing_header, "raised KeyError"),
        (trusts_everything, "body was changed after it was signed was accepted"),
        (..., "should be a function"),
    ],
)
def test_verify_by_hand_rejects_a_typical_wrong_answer_saying_what_is_wrong(wrong, words):
    result = check.verify_by_hand(wrong)
    assert not result
    assert words in result.message, result.message
    assert result.hint


def test_verify_by_hand_accepts_compare_digest_imported_by_name():
    assert check.verify_by_hand(imports_compare_digest_by_name)


def test_verify_by_hand_says_how_to_fix_a_missing_timestamp_check():
    result = check.verify_by_hand(forgets_the_timestamp_check)
    assert "300" in result.hint


# -- exercise 2: rotation, checked with real signed deliveries -------------------------------------


def test_rotation_accepts_the_reference_solution(lab):
    lab.receiver.endpoint("secure").require(OLD_SECRET)  # the lesson's starting point
    namespace = {"lab": lab, "OLD_SECRET": OLD_SECRET, "NEW_SECRET": NEW_SECRET}
    exec((SOLUTIONS / "04_rotate_secret.py").read_text(), namespace)

    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)

    assert result, repr(result)
    sent = lab.receiver.inbox.for_endpoint("secure")
    assert [d.status for d in sent] == [200, 200, 401, 401]  # real deliveries, visible to learners


def test_rotation_rejects_the_starting_point_that_knows_only_the_old_secret(lab):
    lab.receiver.endpoint("secure").require(OLD_SECRET)
    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)
    assert not result
    assert "signed with the new secret was refused (401 no_matching_signature)" in result.message
    assert "a list" in result.hint


def test_rotation_rejects_dropping_the_old_secret_too_early(lab):
    lab.receiver.endpoint("secure").require(NEW_SECRET)
    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)
    assert not result
    assert "old secret was refused" in result.message
    assert "no_matching_signature" in result.message


def test_rotation_rejects_an_endpoint_that_stopped_checking_signatures(lab):
    lab.receiver.endpoint("secure").open()
    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)
    assert not result
    assert "unsigned delivery was accepted" in result.message


def test_rotation_rejects_the_wrong_scheme(lab):
    lab.receiver.endpoint("secure").require([OLD_SECRET, NEW_SECRET], scheme="github")
    result = check.rotation(lab, OLD_SECRET, NEW_SECRET)
    assert not result
    assert "missing_header" in result.message
