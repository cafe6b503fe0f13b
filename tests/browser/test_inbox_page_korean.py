"""The live inbox page speaks the lab's language: in real Chromium, a Korean lab's page labels,
counts and verdicts come from the Korean catalog (the script's words included)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.test_i18n import korean  # noqa: F401  (the fixture: Korean for one test)
from webhooks_lab import signing
from webhooks_lab.lab import Lab

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.mark.usefixtures("korean")
def test_a_korean_lab_shows_its_inbox_page_in_korean(lab: Lab, page: Page, screenshots: Path):
    secret = signing.generate_secret()
    lab.receiver.endpoint("payments").require(secret)
    page.goto(lab.url + "/")
    page.wait_for_selector("#status.live")
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "webhooks-lab 인박스"
    assert page.locator("#status").inner_text() == "실시간"
    assert page.locator("#counts").inner_text() == "인박스에 전달 0건"
    assert "아직 전달이 없습니다" in page.locator("#empty").inner_text()

    body = b'{"type":"invoice.paid","data":{"invoice":"in_42"}}'
    forged = signing.sign_headers(signing.generate_secret(), body, timestamp=int(lab.clock.time()))
    with httpx.Client(base_url=lab.url, trust_env=False) as client:
        client.post("/webhooks/payments", content=body, headers=forged)
    bad = page.locator('#inbox tbody.delivery[data-seq="1"]')
    bad.wait_for()
    assert "✗ 거부됨" in bad.inner_text() and "거부" in bad.locator(".badge").inner_text()
    assert page.locator("#counts").inner_text() == "인박스에 전달 1건"
    bad.locator("tr.summary").click()
    bad.locator(".panes").wait_for()
    assert bad.locator(".verdict").inner_text().startswith("서명이 거부되었습니다: ")
    assert bad.locator("button.replay").inner_text() == "다시 보내기"
    page.screenshot(path=str(screenshots / "inbox_page_ko.png"), full_page=True)
