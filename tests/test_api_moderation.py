"""The moderator page over plain HTTP: sessions, CSRF, the queue, approve (with an edited prompt)
and reject. The same flows in a real browser are in test_api_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api.throttle import SignInThrottle
from tests.test_api_support import (
    BLOCK_DIARY,
    MOD_TOKEN,
    REVIEW_DIARY,
    RunningApi,
    api_env,
    api_fixture,  # noqa: F401
    running_api,
)


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


def sign_in_from(api: RunningApi, address: str, token: str, lang: str = "en") -> httpx.Response:
    """One sign-in as a visitor at `address` (uvicorn trusts X-Forwarded-For from 127.0.0.1)."""
    headers = {"X-Forwarded-For": address, "Accept-Language": lang}
    with httpx.Client(base_url=api.url, timeout=30, headers=headers) as visitor:
        page = visitor.get("/moderation/login")
        return visitor.post("/moderation/login", data={"csrf_token": csrf(page.text), "token": token})


def test_repeated_failed_sign_ins_from_one_address_are_throttled(api: RunningApi) -> None:
    for _ in range(5):
        assert sign_in_from(api, "203.0.113.7", "guess").status_code == 401
    sixth = sign_in_from(api, "203.0.113.7", "guess")
    assert sixth.status_code == 429 and "Too many failed sign-ins" in sixth.text
    assert sixth.headers["content-type"].startswith("text/html") and 0 < int(sixth.headers["Retry-After"]) <= 600
    # even the right token waits at that address; the page speaks Korean when asked
    korean = sign_in_from(api, "203.0.113.7", MOD_TOKEN, lang="ko")
    assert korean.status_code == 429 and "로그인 실패가 너무 많아요" in korean.text
    # others' failures do not lock out a moderator elsewhere
    elsewhere = sign_in_from(api, "198.51.100.2", MOD_TOKEN)
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/moderation"


def test_the_throttle_forgets_failures_after_the_window_and_on_success() -> None:
    now = [1000.0]
    throttle = SignInThrottle(limit=5, window=600.0, clock=lambda: now[0])
    for _ in range(5):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
        now[0] += 10
    assert throttle.retry_after("a") == 550  # now 1050; the first failure leaves the window at 1600
    assert throttle.retry_after("b") == 0
    now[0] = 1600.0
    assert throttle.retry_after("a") == 0  # one failure fell out: one more try
    throttle.failed("a")
    assert throttle.retry_after("a") == 10
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 0


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(api: RunningApi) -> None:
    with signed_in(api) as browser:
        saved = browser.cookies.get("dreamreel_session")
        assert saved
        page = browser.get("/moderation")
        browser.post("/moderation/logout", data={"csrf_token": csrf(page.text)})
    with httpx.Client(base_url=api.url, timeout=30) as replay:
        replay.cookies.set("dreamreel_session", saved, path="/moderation")
        answer = replay.get("/moderation")
        assert answer.status_code == 303 and answer.headers["location"] == "/moderation/login"


def test_removing_a_moderator_token_ends_the_sessions_opened_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "another-moderator-token-0123"
    api_env(monkeypatch, DREAMREEL_MODERATOR_TOKENS=f"{MOD_TOKEN},{other}", DREAMREEL_SESSION_SECRET="s" * 32)
    with running_api(render=False) as api, signed_in(api) as browser:
        saved = browser.cookies.get("dreamreel_session")
        assert browser.get("/moderation").status_code == 200
    with running_api(render=False) as api, httpx.Client(base_url=api.url, timeout=30) as replay:
        replay.cookies.set("dreamreel_session", saved, path="/moderation")
        assert replay.get("/moderation").status_code == 200  # a restart alone keeps the session
    monkeypatch.setenv("DREAMREEL_MODERATOR_TOKENS", other)  # the token mina used is gone
    with running_api(render=False) as api, httpx.Client(base_url=api.url, timeout=30) as replay:
        replay.cookies.set("dreamreel_session", saved, path="/moderation")
        assert replay.get("/moderation").status_code == 303
    monkeypatch.setenv("DREAMREEL_MODERATOR_TOKENS", f"{MOD_TOKEN},{other}")  # back: still revoked
    with running_api(render=False) as api, httpx.Client(base_url=api.url, timeout=30) as replay:
        replay.cookies.set("dreamreel_session", saved, path="/moderation")
        assert replay.get("/moderation").status_code == 303


def test_sessions_expire_and_tampered_cookies_are_anonymous(tmp_path: Path) -> None:
    from api.security import SessionCookie
    from dreamreel.moderator_sessions import ModeratorSessions
    from storage.db import Database
    from storage.migrate import ensure_schema

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ensure_schema(url)
    db = Database(url)
    try:
        sessions = ModeratorSessions(db, ttl=timedelta(seconds=-1))
        assert sessions.find(sessions.open("web:late", token_id="t1"), valid_token_ids={"t1"}) is None
        sessions = ModeratorSessions(db)
        sid = sessions.open("web:mina", token_id="t1")
        assert sessions.find(sid, valid_token_ids={"t1"}) == "web:mina"
        assert sessions.find(sid + "x", valid_token_ids={"t1"}) is None
        assert sessions.revoke_removed_tokens({"t2"}) == 1
        assert sessions.find(sid, valid_token_ids={"t1"}) is None
    finally:
        db.dispose()
    cookie = SessionCookie(b"k" * 32)
    value = cookie.dumps({"csrf": "c", "sid": "abc"})
    assert cookie.loads(value) == {"csrf": "c", "sid": "abc"}
    assert cookie.loads(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
    assert SessionCookie(b"o" * 32).loads(value) is None


def test_moderator_pages_send_a_content_security_policy_and_nosniff(api: RunningApi) -> None:
    with signed_in(api) as browser:
        for path in ("/moderation", "/moderation/login", "/moderation/jobs/424242"):
            answer = browser.get(path)
            assert answer.headers["x-content-type-options"] == "nosniff", path
            policy = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, path
        page = browser.get("/moderation")
        assert "<style" not in page.text and " style=" not in page.text  # the policy allows no inline style
        sheet = browser.get("/moderation/style.css")
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")


def test_the_page_shows_the_prompt_that_approving_renders(api: RunningApi) -> None:
    from sqlalchemy import update

    from storage.models import SegmentRow

    job_id = refused_job(api, "I dreamt I had sex with a 12-year-old girl in a dark classroom.")
    raw = "A dreamlike scene: the dreamer had sex with a 12-year-old girl in a dark classroom."
    with api.service.db.session() as s:  # as a job planned before prompts were softened for minors
        s.execute(update(SegmentRow).where(SegmentRow.job_id == job_id).values(prompt=raw))
    with signed_in(api) as browser:
        page = browser.get(f"/moderation/jobs/{job_id}")
        shown = re.findall(r'<textarea id="prompt_\d+" name="prompt_\d+">([^<]*)</textarea>', page.text)
        assert shown and all("12-year-old" not in p and "sex with" not in p for p in shown), shown
        assert "shadowy figure" in shown[0]
        browser.post(f"/moderation/jobs/{job_id}/approve", data={"csrf_token": csrf(page.text)})
    job = api.service.wait(job_id, 60)
    assert job.status == "done", job.error
    assert [seg.prompt for seg in job.segments] == shown
