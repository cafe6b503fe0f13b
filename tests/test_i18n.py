"""Every word the lab says to a learner has its Korean, and the Korean edition really speaks it.

The words are found the way a translator finds them: Babel extracts every ``_``/``n_``/``N_``
from the package, and each must have a Korean translation with the same placeholders, in the
compiled catalog gettext reads (not only in the ``.po`` a person edits).
"""

from __future__ import annotations

import gettext
import os
import string
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import webhooks_lab
from webhooks_lab import i18n
from webhooks_lab.checks import start as start_checks
from webhooks_lab.checks.hints import forget_attempts

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "webhooks_lab" / "i18n" / "ko" / "LC_MESSAGES" / "webhooks_lab"
KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}


def extracted() -> dict[str | tuple[str, str], str]:
    """Every marked word of the package, and where it is (file:line)."""
    found: dict[str | tuple[str, str], str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(ROOT / "webhooks_lab"),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=(),
    ):
        found.setdefault(message, f"{filename}:{line}")
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def literal(text: str) -> str:
    """The words of ``text`` without its placeholders: ``"{said}."`` has none to translate."""
    return "".join(part for part, *_ in string.Formatter().parse(text))


@pytest.fixture
def korean():
    forget_attempts()
    webhooks_lab.set_language("ko")
    yield
    webhooks_lab.set_language("en")
    forget_attempts()


def test_the_package_marks_its_words_for_translation():
    words = extracted()
    assert len(words) > 50
    assert "Right: {message}" in words  # the verdict every check shows


def test_every_word_a_learner_reads_has_its_korean_in_the_compiled_catalog():
    with open(CATALOG.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    missing, wrong_fields = [], []
    for message, where in extracted().items():
        if isinstance(message, tuple):
            korean = compiled.ngettext(*message, 1)
            source = message[1]
        else:
            korean = compiled.gettext(message)
            source = message
        if korean == source and any("a" <= c.lower() <= "z" for c in literal(source)):
            missing.append(f"{where}: {source!r}")
        elif fields(korean) != fields(source):
            wrong_fields.append(f"{where}: {source!r} -> {korean!r}")
    assert not missing, (
        "no Korean for (add it to the .po, then scripts/catalogs.py):\n" + "\n".join(missing)
    )
    assert not wrong_fields, "placeholders differ:\n" + "\n".join(wrong_fields)


def test_the_compiled_catalog_is_the_po_a_translator_edits():
    with open(CATALOG.with_suffix(".po"), "rb") as po:
        edited = {m.id: m.string for m in read_po(po) if m.id and any(m.string) and not m.fuzzy}
    with open(CATALOG.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = []
    for message, korean in edited.items():
        got = (
            compiled.ngettext(*message, 1)
            if isinstance(message, tuple)
            else compiled.gettext(message)
        )
        want = korean[0] if isinstance(message, tuple) else korean
        if got != want:
            stale.append(repr(message))
    assert not stale, "the .mo is stale; run python scripts/catalogs.py compile:\n" + "\n".join(
        stale
    )


def test_english_is_the_default_and_reads_as_the_source():
    assert i18n.language() == "en"
    assert i18n._("Right: {message}", message="done") == "Right: done"
    assert i18n.n_("{count} delivery", "{count} deliveries", 2) == "2 deliveries"


def test_an_unknown_language_is_refused_in_plain_words():
    with pytest.raises(ValueError, match="choose from en, ko"):
        webhooks_lab.set_language("fr")
    assert i18n.language() == "en"


def test_the_environment_variable_chooses_korean_for_a_new_kernel():
    code = (
        "from webhooks_lab.lessons.environment import check_environment; print(check_environment())"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), i18n.ENV: "ko"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "준비가 끝났습니다" in out


def test_a_korean_lab_judges_a_real_delivery_in_korean(korean):
    webhooks_lab.set_language("en")
    lab = webhooks_lab.start(lang="ko")  # lang chooses the words, not a new lab
    try:
        assert i18n.language() == "ko"
        assert "실행 중" in repr(lab)
        url = f"{lab.receiver.url}/webhooks/hello"
        httpx.post(url, json={"type": "user.created", "email": "grace@example.com"}, timeout=10)
        verdict = repr(start_checks.first_event(lab))
        assert verdict.startswith("❌ 다시 해 보세요: ")
        assert "data 객체가 없습니다" in verdict and "힌트: " in verdict
        httpx.post(
            url, json={"type": "user.created", "data": {"email": "grace@example.com"}}, timeout=10
        )
        verdict = repr(start_checks.first_event(lab))
        assert verdict == (
            "✅ 정답입니다: grace@example.com의 user.created 이벤트가 도착했고 "
            "200 응답을 받았습니다."
        )
        assert webhooks_lab.start() is lab  # a later start() without lang keeps lab and language
        assert i18n.language() == "ko"
    finally:
        lab.stop()


# -- lessons 3 to 8: a wrong answer's verdict comes out in Korean ----------------------------------


def test_a_korean_learner_hears_why_a_float_amount_refuses_a_good_refund(korean):
    from dataclasses import field, make_dataclass

    from webhooks_lab.checks import payloads

    schema = make_dataclass(
        "RefundCreated",
        [
            ("refund", str),
            ("invoice", str),
            ("amount", float),
            ("reason", str, field(default="requested_by_customer")),
        ],
    )
    verdict = repr(payloads.refund_schema(schema))
    assert verdict.startswith("❌ 다시 해 보세요: 올바른 환불이 거부되었습니다: ")
    assert "힌트: amount은(는) 센트 단위의 정수입니다. float가 될 수 없습니다" in verdict


def test_a_korean_learner_hears_that_a_verifier_accepting_everything_let_a_forgery_in(korean):
    from webhooks_lab.checks import signatures

    verdict = repr(signatures.verify_by_hand(lambda secret, headers, body: True))
    assert verdict.startswith("❌ 다시 해 보세요: 서명한 뒤에 본문이 바뀐 메시지를 받아들였습니다.")
    assert "힌트: 다른 것이 아니라 받은 본문에 대해 HMAC을 계산하세요" in verdict


def test_a_korean_learner_hears_that_a_backoff_without_jitter_bunches_the_retries(korean):
    from webhooks_lab.checks import delivery

    def no_jitter(made):
        return min(3600, 5 * 2 ** (made - 1))

    first = repr(delivery.backoff(no_jitter))
    assert first.startswith("❌ 다시 해 보세요: 실패 1번 뒤 대기 시간이 늘 5초였습니다.")
    assert "힌트: 대기 시간을 흩뜨리세요" in first  # the idea first ...
    again = repr(delivery.backoff(no_jitter))
    assert (
        "힌트: 계획된 대기 시간에 random.uniform(0.8, 1.2)를 곱하세요" in again
    )  # ... then detail


def test_a_korean_learner_hears_that_a_blocking_call_held_up_the_event_loop(korean):
    from webhooks_lab.checks import asyncio_basics

    async def make_thumbnail(name):
        return asyncio_basics.resize_pixels(name)  # blocks the loop it runs on

    verdict = repr(asyncio_basics.keeps_the_loop_free(make_thumbnail))
    assert verdict.startswith(
        "❌ 다시 해 보세요: resize_pixels가 이벤트 루프 자신의 스레드에서 실행되었습니다. "
        "그것이 잠든 동안"
    )
    assert "힌트: 블로킹 호출에는 따로 스레드가 필요하고" in verdict


def test_a_korean_learner_hears_that_a_job_never_reported_its_progress(korean, lab):
    from webhooks_lab.checks import jobs

    async def make_thumbnails(images, *, progress):
        return [f"thumb_{name}" for name in images]

    verdict = repr(jobs.progress_reporter(make_thumbnails, lab))
    assert verdict.startswith(
        "❌ 다시 해 보세요: 작업은 끝났지만 실행되는 동안 진행률이 0%에서 움직이지 않았습니다."
    )
    assert "힌트: 얼마나 진행했는지는 작업만 압니다." in verdict


def test_a_korean_learner_hears_that_an_album_made_one_job_at_a_time_did_not_fan_out(korean, lab):
    from webhooks_lab.checks import scale

    def make_album(photos):
        urls = []
        for photo in photos:  # waits for each job before it starts the next
            job = lab.jobs.start("image.resize", {"source": photo, "width": 200, "height": 200})
            urls.append(job.wait()["url"])
        return urls

    verdict = repr(scale.fans_out(make_album, lab))
    assert verdict.startswith(
        "❌ 다시 해 보세요: 썸네일은 맞지만 작업 여섯 개가 하나씩 차례로 실행되었습니다."
    )
    assert "힌트: 먼저 팬아웃하고 그다음 팬인하세요" in verdict
