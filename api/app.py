"""The DreamReel web app: the diary web hook, job status and downloads, signed callbacks,
metrics and the moderator page, all on top of one `DreamService`.

    from api.app import create_app
    app = create_app(service, settings)      # the caller owns (and closes) the service

`run_api(settings, host, port)` is what `dreamreel api` runs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse

from api import moderation
from api.callbacks import CallbackDispatcher
from api.errors import UnexpectedErrors, install_error_handlers
from api.limits import BodySizeLimit
from api.metrics import JobMetrics
from api.routes import diaries, health, jobs, recordings
from api.routes.recordings import UPLOAD_PATH
from api.security import SessionCookie
from api.throttle import SignInThrottle
from dreamreel.moderator_sessions import ModeratorSessions
from dreamreel.service import DreamService
from dreamreel.settings import Settings

logger = logging.getLogger(__name__)

CONSUMER = "api"  # its place in the event feed is kept across restarts (callbacks are not lost)

DESCRIPTION = """\
Post a dream diary, get a short video.

* `POST /v1/diaries` with `Authorization: Bearer <api key>` answers `202` with the job id at once;
  the video is made in the background.
* Follow progress with `GET /v1/jobs/{id}/events` (server-sent events) or pass `callback_url`:
  the job object is POSTed there when the job finishes or is refused, signed with
  `X-DreamReel-Signature: sha256=hex(HMAC-SHA256(secret, "{X-DreamReel-Timestamp}.{raw body}"))`.
* Errors are always `{"error": {"code", "message"}}`.
"""


def create_app(service: DreamService, settings: Settings) -> FastAPI:
    """The ASGI app. Starts the callback dispatcher and metrics feed in its lifespan."""
    dispatcher = CallbackDispatcher(service, settings)
    job_metrics = JobMetrics(service)
    moderator_sessions = ModeratorSessions(service.db)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()  # first: the events missed while the API was stopped reach it
        job_metrics.start()
        # a token removed from the settings ends the sessions opened with it
        moderator_sessions.revoke_removed_tokens(moderation.token_ids(settings))
        try:
            yield
        finally:
            dispatcher.stop()
            job_metrics.stop()

    app = FastAPI(title="DreamReel", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    app.state.settings = settings
    app.state.callbacks = dispatcher
    app.state.metrics = job_metrics
    secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else None
    if secret is None:
        logger.warning("DREAMREEL_SESSION_SECRET is not set: moderator sessions end when the process stops")
    app.state.session_cookie = SessionCookie(secret or secrets.token_bytes(32))
    app.state.moderator_sessions = moderator_sessions
    app.state.sign_in_throttle = SignInThrottle(limit=5, window=600.0)

    install_error_handlers(app)
    upload_limit = settings.speech.max_bytes + 64_000  # the recording plus its form fields
    # a diary may carry the dreamer's photo: read it all, so a bad one is refused with the diary kept
    photo_limit = max(settings.api_max_body_bytes, settings.api_max_upload_bytes)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes,
                       larger={UPLOAD_PATH: upload_limit, "/v1/diaries": photo_limit, "/v1/diaries/upload": photo_limit})
    app.add_middleware(UnexpectedErrors)  # last added, outermost: see api.errors
    app.include_router(diaries.router)
    app.include_router(recordings.router)
    app.include_router(jobs.router)
    app.include_router(health.router)
    app.include_router(moderation.router)

    def openapi() -> dict[str, Any]:
        # the diary length limit is a setting: publish the one this server enforces
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema["components"]["schemas"]["DiaryIn"]["properties"]["text"]["maxLength"] = settings.max_diary_chars
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


def run_api(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the API and the moderator page with the in-process runner until interrupted."""
    import uvicorn

    from dreamreel.wiring import build_service

    service = build_service(settings, background=True, consumer=CONSUMER)
    try:
        resumed = service.recover_interrupted()
        if resumed:
            logger.info("resumed %d interrupted jobs", len(resumed))
        app = create_app(service, settings)
        config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level.lower(),
                                proxy_headers=True, server_header=False)
        uvicorn.Server(config).run()
    finally:
        service.close()
    return 0
