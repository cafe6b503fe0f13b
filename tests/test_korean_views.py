"""What the later checks, the widgets, the inbox page and the command line say comes out in
Korean when Korean is chosen, and in the same English as before otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_i18n import korean  # noqa: F401  (the fixture: Korean for one test)
from tests.test_widgets_inbox import settle
from webhooks_lab import Event
from webhooks_lab.checks import doctor, production, together, world
from webhooks_lab.receiver.inbox_page import SCRIPT_WORDS
from webhooks_lab.widgets import ChaosPanel, InboxView, JobBoard


def never_fetches(table, event, fetch):  # a thin event has only a type and an id
    table[event.data["related_object"]["id"]] = event.data


@pytest.mark.usefixtures("korean")
def test_a_thin_handler_that_never_fetches_is_told_so_in_korean():
    verdict = repr(world.thin_handler(never_fetches))
    assert verdict.startswith("❌ 다시 해 보세요: 핸들러가 fetch를 한 번도 부르지 않아서")
    assert "힌트: event.data['related_object']에서 타입과 id를 읽어 fetch하세요" in verdict


@pytest.mark.usefixtures("korean")
def test_a_base64_zoom_answer_is_named_in_korean():
    import base64
    import hashlib
    import hmac
    import json

    def base64_not_hex(body, secret):
        token = json.loads(body)["payload"]["plainToken"]
        mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
        return {"plainToken": token, "encryptedToken": base64.b64encode(mac).decode()}

    verdict = repr(doctor.zoom_answer(base64_not_hex))
    assert "encryptedToken이 base64입니다. Zoom은 HMAC을 16진수(.hexdigest())로 원합니다" in verdict


@pytest.mark.usefixtures("korean")
def test_a_wrong_rerun_wait_fills_its_numbers_into_the_korean():
    verdict = repr(production.rerun_within(lambda heartbeat, sweep, abort_wait: heartbeat))
    assert "하트비트 2초, 스윕 간격 1초, 중단 대기 1초일 때 2초라고 답했습니다" in verdict
    assert "최악의 경우는 4초입니다" in verdict


def test_the_together_checks_speak_english_by_default():
    verdict = repr(together.survives_replay(None, ..., endpoint="nowhere"))
    assert verdict.startswith("❌ Not yet: stock should be a dict like {'mug': 10}.")


@pytest.mark.usefixtures("korean")
def test_the_inbox_view_counts_and_labels_in_korean(lab, client):
    view = InboxView(lab, "shop")
    assert view.summary.value == "<b>인박스</b> · /webhooks/shop · 전달 <b>0</b>건: 아직 없음"
    assert view.replay_button.description == "다시 보내기"
    body = Event("order.created", {"n": 1}, id="msg_ko").body()
    client.post("/webhooks/shop", content=body, headers={"webhook-id": "msg_ko"})
    settle(view, 1)
    assert "전달 <b>1</b>건" in view.summary.value and "수락 1" in view.summary.value
    label, _seq = view.table.options[0]
    assert "서명 없음" in label  # the trust column, in Korean and still in its fixed width
    view.select(1)
    assert "<summary>헤더</summary>" in view.detail.value
    view.close()


@pytest.mark.usefixtures("korean")
def test_the_chaos_panel_and_job_board_speak_korean(lab):
    panel = ChaosPanel(lab, "shop")
    assert panel.fail_button.description == "실패 예약"
    assert "카오스" in panel.title.value
    panel.close()
    board = JobBoard(lab)
    assert board.summary.value == "작업 <b>0</b>개: 아직 없음"
    assert "작업마다 진행 막대" in repr(board)
    board.close()


def test_the_widgets_keep_their_english_by_default(lab):
    panel = ChaosPanel(lab, "shop")
    assert panel.fail_button.description == "Queue failures"
    assert repr(panel).startswith("ChaosPanel (live) for /webhooks/shop")
    panel.close()


@pytest.mark.usefixtures("korean")
def test_the_inbox_page_is_served_in_korean_words_and_script_alike(client):
    html = client.get("/").text
    assert '<html lang="ko">' in html and "<h1>webhooks-lab 인박스</h1>" in html
    assert "<th>이벤트 타입</th>" in html and "{{" not in html
    start = html.index('<script type="application/json" id="words">')
    words = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert words["replay"] == "다시 보내기"
    assert words["counts_other"] == "인박스에 전달 {shown}건"  # the script fills {shown}
    assert set(words) == {*SCRIPT_WORDS, "counts_one", "counts_other"}


def test_the_inbox_page_keeps_its_english_by_default(client):
    html = client.get("/").text
    assert '<html lang="en">' in html and "<h1>webhooks-lab inbox</h1>" in html
    assert "Every request to <code>POST /webhooks/&lt;name&gt;</code> appears here" in html


def webhooks_lab(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_serve_with_lang_ko_says_what_is_missing_in_korean():
    done = webhooks_lab("serve", "--lang", "ko", "--scheme", "standard")
    assert done.returncode == 2
    assert done.stderr.strip() == "webhooks-lab serve: --scheme standard에는 --secret이 필요합니다"


def test_the_environment_makes_send_print_its_attempts_in_korean(lab):
    lab.receiver.chaos("cli").fail_next(1, status=503)
    done = webhooks_lab(
        "send", lab.receiver.url_for("cli"), "--id", "msg_ko_1", "--schedule", "0,0.05",
        WEBHOOKS_LAB_LANG="ko",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout
    assert lines[0].startswith("webhook.test msg_ko_1을(를) ")
    assert lines[1].startswith("1번째 시도: 503, ") and ", 다음 시도는 " in lines[1]
    assert lines[-1] == "2번 시도 끝에 msg_ko_1을(를) 전달했습니다"


def test_the_help_of_a_command_follows_its_lang():
    done = webhooks_lab("send", "--help", "--lang", "ko")
    assert "이벤트 타입(기본값 webhook.test)" in done.stdout
    english = webhooks_lab("send", "--help")
    assert "event type (default webhook.test)" in english.stdout


@pytest.mark.usefixtures("korean")
def test_the_reprs_lessons_show_speak_korean():
    from webhooks_lab.lessons.gantt import gantt_chart
    from webhooks_lab.lessons.scenarios.base import Journal
    from webhooks_lab.runtime.clock import Clock

    assert repr(Journal(Clock())) == "기록: 아직 아무 일도 일어나지 않았습니다"
    chart = gantt_chart({"in turn": [(0, 1), (1, 2)]}, label="call")
    assert repr(chart) == "간트 차트: in turn call 2개. call마다 막대 하나, 시작부터 끝까지"


def test_demo_with_lang_ko_tells_the_story_in_korean():
    done = webhooks_lab("demo", "newsletter", "--lang", "ko", "--speed", "50")
    assert done.returncode == 0, done.stderr
    assert "subscription.created 보냄: " in done.stdout  # the source's line, in Korean
    assert "구독 기록: " in done.stdout and "지금 " in done.stdout
