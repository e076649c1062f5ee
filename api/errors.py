"""Errors translated at the HTTP edge, always as `{"error": {"code", "message"}}`.

InputError -> 422, NotFound -> 404, InvalidTransition -> 409, LimitExceeded -> 429; request
validation (bad JSON, wrong fields) -> 422; HTTP errors raised by routes keep their status;
anything unexpected -> 500 `internal_error` (logged with its traceback, never shown).
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.security import PAGE_HEADERS
from dreamreel.errors import (
    DreamReelError,
    EmptyDiary,
    InputError,
    InvalidTransition,
    LimitExceeded,
    NotFound,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[DreamReelError], int, str]] = [
    (InputError, 422, "invalid_input"),
    (NotFound, 404, "not_found"),
    (InvalidTransition, 409, "invalid_transition"),
    (LimitExceeded, 429, "limit_exceeded"),
]
CODE_BY_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_request",
    429: "limit_exceeded",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error response of the API."""

    error: ErrorDetail


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    detail = ErrorDetail(code=code, message=message, details=details)
    return JSONResponse(ErrorBody(error=detail).model_dump(exclude_none=True), status_code=status,
                        headers=headers)


def request_language(request: Request) -> str:
    """"ko" when the request's Accept-Language starts with Korean, else "en"."""
    accept = request.headers.get("accept-language", "")
    return "ko" if accept.lower().startswith("ko") else "en"


def _page(status: int, message: str) -> HTMLResponse:
    """The moderator page answers errors in HTML (with the same protective headers as its pages)."""
    page = (f"<!doctype html><meta name=viewport content='width=device-width'><title>{status}</title>"
            f"<p>{escape(message)}</p><p><a href='/moderation'>DreamReel moderation</a></p>")
    return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)


def _for_page(request: Request) -> bool:
    return request.url.path.startswith("/moderation")


async def _dreamreel_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DreamReelError)
    status, code = 500, "internal_error"
    for kind, kind_status, kind_code in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            status, code = kind_status, kind_code
            break
    else:
        logger.exception("unexpected service error", exc_info=exc)
    message = exc.user_message(request_language(request))
    return _page(status, message) if _for_page(request) else error_response(status, code, message)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    details = [
        {"location": ".".join(str(part) for part in err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in errors
    ]
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(422, "invalid_json", "The request body is not valid JSON.", details)
    if [(tuple(err.get("loc", ())), err.get("type")) for err in errors] == [(("body", "text"), "string_pattern_mismatch")]:
        # a blank diary: the service's own message, in the caller's language
        return error_response(422, "invalid_input", EmptyDiary("blank").user_message(request_language(request)),
                              details)
    summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:5])
    return error_response(422, "invalid_request", f"The request is not valid: {summary}", details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI: not UTF-8
        code, message = "invalid_json", "The request body is not valid UTF-8 JSON."
    if _for_page(request):
        return _page(exc.status_code, message)
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


INTERNAL_ERROR = {
    "en": "Something went wrong on our side. Your request is not lost if it was accepted; please try again.",
    "ko": "서버에서 문제가 생겼어요. 이미 접수된 요청은 사라지지 않아요. 다시 시도해 주세요.",
}


class UnexpectedErrors:
    """ASGI middleware, outermost: any other exception becomes a 500 in the usual envelope, its
    traceback logged, never shown. Starlette's own handler for `Exception` sends that answer and
    then re-raises to the server, which closes the connection: a client's next request on the same
    keep-alive connection was reset. Here the exception ends at the answer (and is re-raised only
    when the response had already started, where only closing the connection is left)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            if started:
                raise
            logger.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            request = Request(scope)
            message = INTERNAL_ERROR[request_language(request)]
            response = _page(500, message) if _for_page(request) else error_response(500, "internal_error", message)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations above on `app` (add the middleware last: it must be outermost)."""
    app.add_exception_handler(DreamReelError, _dreamreel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route can return."""
    descriptions = {
        400: "The body is not UTF-8 JSON", 401: "Missing or wrong API key",
        403: "Signed link not valid or expired", 404: "No such job (or not yours)", 409: "Not possible in this state",
        413: "Request body too large", 416: "Range not satisfiable", 422: "Invalid request",
        429: "Too many requests", 500: "Unexpected server error (`internal_error`)",
        503: "No speech-to-text model is configured (`speech_unavailable`); the audio is kept",
    }
    return {s: {"model": ErrorBody, "description": descriptions.get(s, "Error")} for s in statuses}
