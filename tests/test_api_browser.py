"""The moderator page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.test_api_support import MOD_TOKEN, REVIEW_DIARY, RunningApi, api_fixture  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright import sync_api as playwright_api

    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def refused_job(api: RunningApi) -> int:
    job = api.service.submit_diary(REVIEW_DIARY, channel="api", user="abc:u7")
    view = api.service.wait(job.job_id, 60)
    assert view.status == "in_review", view.status
    return view.job_id


def sign_in(page: Any, api: RunningApi) -> None:
    page.goto(f"{api.url}/moderation")
    assert page.url.endswith("/moderation/login")  # sign-in required
    page.fill("#name", "mina")
    page.fill("#token", MOD_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{api.url}/moderation")


def test_a_moderator_approves_a_refused_request_and_sees_the_video_finish(
    api: RunningApi, browser: Any, tmp_path: Path
) -> None:
    job_id = refused_job(api)
    # a phone-sized screen: the page must read well there
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="ko-KR")
    sign_in(page, api)
    item = page.locator(f".queue-item[data-job='{job_id}']")
    assert "self_harm" in item.inner_text()
    item.locator("a").click()
    page.wait_for_url(f"{api.url}/moderation/jobs/{job_id}")

    marks = page.locator(".diary mark")
    assert marks.count() >= 1
    assert all(text in REVIEW_DIARY for text in marks.all_inner_texts())
    assert page.locator(".diary").inner_text().strip() == REVIEW_DIARY
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    # DREAMREEL_TEST_SCREENSHOT=1 refreshes the README's picture
    shot = REPO / "docs" / "moderation.png" if os.environ.get("DREAMREEL_TEST_SCREENSHOT") else tmp_path / "m.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.fill("#prompt_0", "a quiet walk along a bright beach at dawn")
    page.click("#approve-form button[type=submit]")
    page.wait_for_url(f"**/moderation/jobs/{job_id}?done=approved")
    # the page refreshes itself while the job works
    # (a locator, not wait_for_function: the page's Content-Security-Policy forbids string eval)
    from playwright import sync_api

    sync_api.expect(page.locator("#status")).to_have_text("done", timeout=60_000)
    assert page.locator("a[href$='/video']").count() == 1
    assert api.service.get_job(job_id).segments[0].prompt == "a quiet walk along a bright beach at dawn"


def test_without_the_csrf_token_a_decision_is_refused(api: RunningApi, browser: Any) -> None:
    job_id = refused_job(api)
    page = browser.new_page()
    sign_in(page, api)
    page.goto(f"{api.url}/moderation/jobs/{job_id}")
    page.evaluate("document.querySelector('#reject-form input[name=csrf_token]').remove()")
    page.fill("#reject-note", "no")
    with page.expect_navigation() as navigation:
        page.click("#reject-form button[type=submit]")
    assert navigation.value.status == 403
    assert api.service.get_job(job_id).status == "in_review"
