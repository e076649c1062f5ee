"""The moderator web page at /moderation: sign in with a token, work the queue of refused jobs.

The cookie (signed, HttpOnly, SameSite=Lax, path /moderation) holds a CSRF token that every form
posts back, the page language and, once signed in, the id of a server-side session
(`dreamreel.moderator_sessions`): sign-out, expiry or removing the token used ends that session,
whoever kept a copy of the cookie. Pages forbid framing, sniffing and any script or style not
served by this app (Content-Security-Policy).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import JobId, ServiceDep, SettingsDep
from api.errors import request_language
from api.highlight import highlight
from api.security import PAGE_HEADERS, SessionCookie, key_id, match_secret, new_csrf_token, same_token
from api.throttle import SignInThrottle
from dreamreel.errors import DreamReelError, InputError, refuse_control_characters
from dreamreel.moderator_sessions import ModeratorSessions
from dreamreel.service import DreamService
from dreamreel.settings import Settings
from dreamreel.views import REFUSED_STATES, RESTING_STATES

logger = logging.getLogger(__name__)

COOKIE = "dreamreel_session"
COOKIE_PATH = "/moderation"
router = APIRouter(prefix="/moderation", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "DreamReel moderation", "sign_in": "Sign in", "token": "Moderator token", "name": "Your name",
        "sign_out": "Sign out", "queue": "Queue", "empty": "Nothing waits for a decision.", "age": "Age",
        "decision": "Decision", "categories": "Categories", "diary": "Diary", "job": "Job", "user": "User",
        "scores": "Scores", "scenes": "Planned scenes", "prompt": "Prompt", "history": "History",
        "approve": "Approve", "reject": "Reject", "note": "Note", "note_required": "Reject needs a note",
        "status": "Status", "video": "Video", "bad_token": "That token is not valid.", "back": "Back to queue",
        "approved": "Approved; the video is being made.", "rejected": "Rejected.", "category": "Category",
        "score": "Score", "text": "Text",
        "edit_hint": "These are the prompts approving renders, already softened for the refused categories. "
                     "Edit one to change that scene; edits are softened the same way.",
        "no_decision": "This job is not waiting for a decision.", "csrf": "The form expired; reload the page.",
        "sign_in_first": "Sign in to see the queue.",
        "quality": "Clip quality", "attempts": "Attempts", "below": "below threshold",
        "too_many": "Too many failed sign-ins from your address. Try again in {minutes} min.",
    },
    "ko": {
        "title": "DreamReel 검토", "sign_in": "로그인", "token": "검토자 토큰", "name": "이름",
        "sign_out": "로그아웃", "queue": "검토 대기열", "empty": "검토를 기다리는 요청이 없어요.", "age": "경과",
        "decision": "판정", "categories": "분류", "diary": "꿈 일기", "job": "작업", "user": "사용자",
        "scores": "점수", "scenes": "계획된 장면", "prompt": "프롬프트", "history": "기록",
        "approve": "승인", "reject": "거절", "note": "메모", "note_required": "거절하려면 메모가 필요해요",
        "status": "상태", "video": "영상", "bad_token": "토큰이 올바르지 않아요.", "back": "대기열로",
        "approved": "승인했어요. 영상을 만드는 중이에요.", "rejected": "거절했어요.", "category": "분류",
        "score": "점수", "text": "문장",
        "edit_hint": "승인하면 이 프롬프트로 영상을 만들어요. 거절 사유에 맞게 이미 순화된 내용이에요. "
                     "고치면 그 장면이 바뀌고, 고친 내용도 같은 방식으로 순화돼요.",
        "no_decision": "이 작업은 결정을 기다리고 있지 않아요.", "csrf": "양식이 만료됐어요. 새로고침해 주세요.",
        "sign_in_first": "대기열을 보려면 로그인하세요.",
        "quality": "클립 품질", "attempts": "시도", "below": "기준 미달",
        "too_many": "이 주소에서 로그인 실패가 너무 많아요. {minutes}분 후에 다시 시도해 주세요.",
    },
}


COOKIE_FIELDS = ("csrf", "lang", "sid")  # what the cookie carries; "mod" comes from the session row


def _cookie(request: Request) -> SessionCookie:
    cookie: SessionCookie = request.app.state.session_cookie
    return cookie


def _sessions(request: Request) -> ModeratorSessions:
    sessions: ModeratorSessions = request.app.state.moderator_sessions
    return sessions


def token_ids(settings: Settings) -> set[str]:
    """Key ids of the moderator tokens configured now."""
    return {key_id(t.get_secret_value()) for t in settings.moderator_tokens}


async def _session(request: Request, settings: Settings) -> dict[str, Any]:
    """The visitor's session; a fresh anonymous one when the cookie is missing or invalid. "mod" is
    set only while the server-side session is live (not signed out, expired or its token removed)."""
    data = _cookie(request).loads(request.cookies.get(COOKIE)) or {}
    data = {k: data[k] for k in COOKIE_FIELDS if isinstance(data.get(k), str)}
    if not data.get("csrf"):
        data = {"csrf": new_csrf_token()}
    if sid := data.pop("sid", None):
        moderator = await run_in_threadpool(
            lambda: _sessions(request).find(sid, valid_token_ids=token_ids(settings)))
        if moderator is not None:
            data.update(sid=sid, mod=moderator)
    wanted = request.query_params.get("lang")
    if wanted in LABELS:
        data["lang"] = wanted
    elif data.get("lang") not in LABELS:
        data["lang"] = request_language(request)
    return data


def _respond(request: Request, response: Response, session: dict[str, Any]) -> Response:
    cookie = _cookie(request)
    value = cookie.dumps({k: session[k] for k in COOKIE_FIELDS if k in session})
    response.set_cookie(COOKIE, value, max_age=cookie.max_age, path=COOKIE_PATH,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    response.headers.update(PAGE_HEADERS)
    return response


def _page(request: Request, session: dict[str, Any], name: str, status: int = 200, **context: Any) -> Response:
    context.update(t=LABELS[session["lang"]], lang=session["lang"], csrf=session["csrf"],
                   moderator=session.get("mod"))
    return _respond(request, templates.TemplateResponse(request, name, context, status_code=status), session)


def _redirect(request: Request, session: dict[str, Any], url: str) -> Response:
    return _respond(request, RedirectResponse(url, status_code=303), session)


async def _checked_form(request: Request, session: dict[str, Any]) -> dict[str, str]:
    """The posted form; 403 unless it carries this session's CSRF token."""
    form = await request.form()
    if not same_token(str(form.get("csrf_token", "")), session.get("csrf")):
        raise HTTPException(403, LABELS[session["lang"]]["csrf"])
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def _age(created: datetime) -> str:
    seconds = (datetime.now(UTC) - (created if created.tzinfo else created.replace(tzinfo=UTC))).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


@router.get("")
async def queue(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    if not session.get("mod"):
        return _redirect(request, session, "/moderation/login")
    reviews = await run_in_threadpool(service.moderation_queue)
    rows = [
        {"review": r, "age": _age(r.created_at), "categories": sorted({x.category for x in r.reasons}),
         "snippet": r.diary[:90] + ("…" if len(r.diary) > 90 else "")}
        for r in reviews
    ]
    return _page(request, session, "queue.html", rows=rows)


STYLESHEET = Path(__file__).parent / "templates" / "style.css"


@router.get("/style.css")
def stylesheet() -> Response:
    """The pages' stylesheet, served (not inlined) so the Content-Security-Policy needs no 'unsafe-inline'."""
    response = FileResponse(STYLESHEET, media_type="text/css")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "max-age=3600"
    return response


@router.get("/login")
async def login_form(request: Request, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    return _page(request, session, "login.html", error=None)


def _throttle(request: Request) -> SignInThrottle:
    """This app's failed sign-in counter (in memory, per process: see api/throttle.py)."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle


@router.post("/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    form = await _checked_form(request, session)
    address = request.client.host if request.client else "?"
    throttle = _throttle(request)
    if wait := throttle.retry_after(address):
        logger.warning("moderation: sign-in from %s refused for %d s after repeated failures", address, wait)
        error = LABELS[session["lang"]]["too_many"].format(minutes=(wait + 59) // 60)
        response = _page(request, session, "login.html", status=429, error=error)
        response.headers["Retry-After"] = str(wait)
        return response
    token = match_secret(form.get("token", ""), settings.moderator_tokens)
    if token is None:
        throttle.failed(address)
        logger.warning("moderation: failed sign-in from %s", address)
        return _page(request, session, "login.html", status=401, error=LABELS[session["lang"]]["bad_token"])
    throttle.succeeded(address)
    name = form.get("name", "").strip()[:40] or key_id(token)[:8]
    moderator = f"web:{name}"
    try:
        refuse_control_characters(moderator, "name")
    except InputError as exc:
        return _page(request, session, "login.html", status=422, error=exc.user_message(session["lang"]))
    sessions = _sessions(request)
    if old := session.get("sid"):
        await run_in_threadpool(sessions.revoke, old)
    sid = await run_in_threadpool(lambda: sessions.open(moderator, token_id=key_id(token)))
    # a new CSRF token at sign-in: a token seen before signing in is worth nothing after
    session = {"csrf": new_csrf_token(), "lang": session["lang"], "sid": sid, "mod": moderator}
    return _redirect(request, session, "/moderation")


@router.post("/logout")
async def logout(request: Request, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    await _checked_form(request, session)
    if sid := session.get("sid"):
        await run_in_threadpool(_sessions(request).revoke, sid)
    return _redirect(request, {"csrf": new_csrf_token(), "lang": session["lang"]}, "/moderation/login")


async def _detail(request: Request, service: DreamService, session: dict[str, Any], job_id: int,
                  message: str | None = None, error: str | None = None, status: int = 200) -> Response:
    job = await run_in_threadpool(service.get_job, job_id, detail=True)
    reasons = job.verdict.reasons if job.verdict else []
    history = [e for e in job.events or [] if e.kind in ("state", "callback", "error")]
    rendered = service.renderable_prompts(job)  # what approving renders, before anyone decides
    return _page(
        request, session, "detail.html", status=status, job=job, pieces=highlight(job.diary or "", reasons),
        rendered=rendered,
        reasons=reasons, history=history, reviews=job.reviews or [], message=message, error=error,
        decidable=job.status in REFUSED_STATES, working=job.status not in RESTING_STATES,
        has_video=job.status == "done" and job.video is not None,
    )


@router.get("/jobs/{job_id}")
async def detail(job_id: JobId, request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    if not session.get("mod"):
        return _redirect(request, session, "/moderation/login")
    done = request.query_params.get("done")
    message = LABELS[session["lang"]].get(done) if done in ("approved", "rejected") else None
    return await _detail(request, service, session, job_id, message=message)


@router.post("/jobs/{job_id}/approve")
async def approve(job_id: JobId, request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    form = await _checked_form(request, session)
    if not session.get("mod"):
        raise HTTPException(401, LABELS[session["lang"]]["sign_in_first"])
    job = await run_in_threadpool(service.get_job, job_id)
    prompts = {
        seg.index: form[f"prompt_{seg.index}"].strip()
        for seg in job.segments
        if form.get(f"prompt_{seg.index}", "").strip() not in ("", seg.prompt)
    }
    try:
        await run_in_threadpool(
            lambda: service.approve(job_id, moderator=session["mod"], note=form.get("note") or None,
                                    prompts=prompts or None)
        )
    except DreamReelError as exc:
        return await _detail(request, service, session, job_id, error=exc.user_message(session["lang"]),
                             status=422 if isinstance(exc, InputError) else 409)
    return _redirect(request, session, f"/moderation/jobs/{job_id}?done=approved")


@router.post("/jobs/{job_id}/reject")
async def reject(job_id: JobId, request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    form = await _checked_form(request, session)
    if not session.get("mod"):
        raise HTTPException(401, LABELS[session["lang"]]["sign_in_first"])
    note = form.get("note", "").strip()
    if not note:
        return await _detail(request, service, session, job_id,
                             error=LABELS[session["lang"]]["note_required"], status=422)
    try:
        await run_in_threadpool(lambda: service.reject(job_id, moderator=session["mod"], note=note))
    except DreamReelError as exc:
        return await _detail(request, service, session, job_id, error=exc.user_message(session["lang"]),
                             status=422 if isinstance(exc, InputError) else 409)
    return _redirect(request, session, f"/moderation/jobs/{job_id}?done=rejected")


@router.get("/jobs/{job_id}/video")
async def video(job_id: JobId, request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    session = await _session(request, settings)
    if not session.get("mod"):
        return _redirect(request, session, "/moderation/login")
    path = await run_in_threadpool(service.video_file, job_id)
    if path is None:
        raise HTTPException(404, "no video")
    return FileResponse(path, media_type="video/mp4")
