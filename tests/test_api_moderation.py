"""The moderator page over plain HTTP: sessions, CSRF, the queue, approve (with an edited prompt)
and reject. The same flows in a real browser are in test_api_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.test_api_support import (
    BLOCK_DIARY,
    MOD_TOKEN,
    REVIEW_DIARY,
    RunningApi,
    api_env,
    running_api,
)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningApi]:
    api_env(monkeypatch)
    with running_api() as running:
        yield running


def refused_job(api: RunningApi, text: str) -> int:
    job = api.service.submit_diary(text, channel="api", user="abc:u9")
    view = api.service.wait(job.job_id, 60)
    assert view.status in ("in_review", "blocked"), view.status
    return view.job_id


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@contextmanager
def signed_in(api: RunningApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, follow_redirects=True, timeout=30) as browser:
        page = browser.get("/moderation/login")
        response = browser.post("/moderation/login",
                                data={"csrf_token": csrf(page.text), "token": MOD_TOKEN, "name": "mina"})
        assert response.status_code == 200 and str(response.url).endswith("/moderation")
        yield browser


def test_the_page_needs_a_signed_in_moderator(api: RunningApi) -> None:
    job_id = refused_job(api, BLOCK_DIARY)
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        for path in ("/moderation", f"/moderation/jobs/{job_id}"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/moderation/login"
        page = anonymous.get("/moderation/login")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/moderation" in cookie

        wrong = anonymous.post("/moderation/login", data={"csrf_token": csrf(page.text), "token": "guess"})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        # a posted decision without a session changes nothing
        post = anonymous.post(f"/moderation/jobs/{job_id}/approve", data={"csrf_token": csrf(page.text)})
        assert post.status_code == 401
        # a forged cookie is just an anonymous visitor
        anonymous.cookies.set("dreamreel_session", "eyJtb2QiOiJ3ZWI6eCJ9.0000", path="/moderation")
        assert anonymous.get("/moderation").status_code == 303
    assert api.service.get_job(job_id).status in ("in_review", "blocked")


def test_forms_without_the_csrf_token_are_refused(api: RunningApi) -> None:
    job_id = refused_job(api, BLOCK_DIARY)
    with signed_in(api) as browser:
        for data in ({}, {"csrf_token": "forged"}):
            answer = browser.post(f"/moderation/jobs/{job_id}/approve", data=data)
            assert answer.status_code == 403
        answer = browser.post(f"/moderation/jobs/{job_id}/reject", data={"note": "no"})
        assert answer.status_code == 403
    assert api.service.get_job(job_id).status in ("in_review", "blocked")


def test_queue_detail_and_approval_with_an_edited_prompt(api: RunningApi) -> None:
    job_id = refused_job(api, REVIEW_DIARY)
    with signed_in(api) as browser:
        queue = browser.get("/moderation")
        assert f'data-job="{job_id}"' in queue.text
        assert "self_harm" in queue.text

        detail = browser.get(f"/moderation/jobs/{job_id}?lang=ko")
        assert "<mark" in detail.text and "꿈 일기" in detail.text
        marked = re.findall(r"<mark[^>]*>([^<]+)</mark>", detail.text)
        assert marked and all(m in REVIEW_DIARY for m in marked)
        assert 'name="prompt_0"' in detail.text

        approved = browser.post(f"/moderation/jobs/{job_id}/approve", data={
            "csrf_token": csrf(detail.text), "prompt_0": "a calm walk on a bright beach", "note": "a dream, ok",
        })
        assert approved.status_code == 200 and "승인했어요" in approved.text
    job = api.service.wait(job_id, 60)
    assert job.status == "done", job.error
    assert job.segments[0].prompt.startswith("a calm walk on a bright beach")
    review = api.service.get_job(job_id, detail=True).reviews[-1]  # type: ignore[index]
    assert (review.status, review.moderator, review.note) == ("approved", "web:mina", "a dream, ok")


def test_reject_needs_a_note_and_only_works_once(api: RunningApi) -> None:
    job_id = refused_job(api, BLOCK_DIARY)
    with signed_in(api) as browser:
        detail = browser.get(f"/moderation/jobs/{job_id}")
        token = csrf(detail.text)
        no_note = browser.post(f"/moderation/jobs/{job_id}/reject", data={"csrf_token": token, "note": " "})
        assert no_note.status_code == 422
        done = browser.post(f"/moderation/jobs/{job_id}/reject", data={"csrf_token": token, "note": "rules"})
        assert done.status_code == 200 and "Rejected." in done.text
        again = browser.post(f"/moderation/jobs/{job_id}/approve", data={"csrf_token": token})
        assert again.status_code == 409
        missing = browser.get("/moderation/jobs/424242")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        # signing out ends the session
        browser.post("/moderation/logout", data={"csrf_token": token})
        assert str(browser.get("/moderation").url).endswith("/moderation/login")
    assert api.service.get_job(job_id).status == "rejected"
