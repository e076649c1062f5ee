"""POST /v1/diaries: the diary web hook."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError

from api.callback_target import MAX_URL_LENGTH, callback_url_problem
from api.deps import ApiClientDep, IdempotencyKey, ServiceDep, SettingsDep
from api.errors import error_response, error_responses, request_language
from api.security import API_CHANNEL, ApiClient
from dreamreel.errors import BadImage, InputError, LimitExceeded
from dreamreel.service import DreamService
from dreamreel.settings import Settings
from dreamreel.views import JobOptions, JobView

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["diaries"])

RETRY_AFTER_SECONDS = 60  # the window slides: a slot frees as the oldest job ages past an hour


def _responses() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(400, 401, 413, 422, 429)
    responses[429] = {
        **responses[429],
        "description": "This API key made DREAMREEL_API_JOBS_PER_HOUR jobs in the last hour (`rate_limited`)",
        "headers": {"Retry-After": {"description": "Seconds to wait before trying again",
                                    "schema": {"type": "integer"}}},
    }
    return responses


CONTINUITY_HELP = ("How scenes connect: `none` (each alone), `chain` (a scene starts from the last frame "
                   "of the one before), `keyframe` (each starts from a key frame with one shared style "
                   "seed); default from the server's settings. A preset that cannot do it: `invalid_input`.")
IMAGE_HELP = ("The dreamer's photo (JPEG, PNG or WebP, one still picture, at most DREAMREEL_MAX_IMAGE_MB MB "
              "and DREAMREEL_MAX_IMAGE_PIXELS pixels): the first scene starts from it (the reference of "
              "every key frame under `keyframe`). Stored with the diary only. A photo that cannot be used "
              "is refused with `invalid_input` (its reason in the message, in the Accept-Language) and the "
              "diary is still saved: `details[0].diary_id`.")


class DiaryIn(BaseModel):
    """A dream diary posted by an app on behalf of one of its users."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(pattern=r"\S", description="The diary, Korean or English, not blank. The text is also "
                      "checked for content: text that is not Korean or English is refused with `invalid_input`.")
    user: str = Field(min_length=1, max_length=128, description="The app's id of the person who dreamt")
    language: Literal["ko", "en", "mixed"] | None = Field(
        default=None, description="Korean, English, or Korean mixed with English; detected when omitted"
    )
    segments: int | None = Field(default=None, ge=1, le=6, description="Number of scenes")
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Receives the signed job object when the job finishes or is refused. http or "
        f"https, no user:password, at most {MAX_URL_LENGTH} characters; private, loopback and link-local "
        "addresses (and names resolving only to them) are refused with `invalid_input` unless the server "
        "allows them (DREAMREEL_CALLBACK_ALLOW_PRIVATE)"
    )
    continuity: Literal["none", "chain", "keyframe"] | None = Field(
        default=None, description=CONTINUITY_HELP
    )
    image: str | None = Field(
        default=None, description=IMAGE_HELP + " Base64 (standard alphabet), optionally as a `data:` URL."
    )


class JobLinks(BaseModel):
    self: str
    events: str
    video: str
    subtitles_srt: str  # the video's subtitles, one cue per scene (SubRip)
    subtitles_vtt: str  # the same cues as WebVTT, for <track> in a web page


class DiaryAccepted(BaseModel):
    job_id: int
    status: str
    links: JobLinks


# the JSON and the multipart submission answer alike
SUBMIT_ROUTE: dict[str, Any] = {"status_code": 202, "response_model": DiaryAccepted, "responses": _responses()}


def job_links(request: Request, job_id: int) -> JobLinks:
    """Absolute URLs of a job's resources."""
    return JobLinks(
        self=str(request.url_for("get_job", job_id=job_id)),
        events=str(request.url_for("job_events", job_id=job_id)),
        video=str(request.url_for("job_video", job_id=job_id)),
        subtitles_srt=str(request.url_for("job_subtitles", job_id=job_id, kind="srt")),
        subtitles_vtt=str(request.url_for("job_subtitles", job_id=job_id, kind="vtt")),
    )


@router.post("/diaries", **SUBMIT_ROUTE, summary="Submit a dream diary; the video is made in the background")
def submit_diary(
    diary: DiaryIn,
    request: Request,
    client: ApiClientDep,
    service: ServiceDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> DiaryAccepted | JSONResponse:
    photo = _decode_base64_image(diary.image) if diary.image is not None else None
    return _submit(diary, photo, request, client, service, settings, idempotency_key)


@router.post("/diaries/upload", **SUBMIT_ROUTE,
             summary="Submit a dream diary with the dreamer's photo as multipart/form-data")
def submit_diary_upload(
    request: Request,
    client: ApiClientDep,
    service: ServiceDep,
    settings: SettingsDep,
    text: Annotated[str, Form(pattern=r"\S", description="The diary, as in POST /v1/diaries")],
    user: Annotated[str, Form(min_length=1, max_length=128, description="The app's id of the person who dreamt")],
    # a part without a file name arrives as text: it is refused as "not a picture" like any other
    image: Annotated[UploadFile | str | None, File(description=IMAGE_HELP)] = None,
    # form fields arrive as text; they are checked as DiaryIn checks them (invalid_input when not)
    language: Annotated[str | None, Form(description="ko, en or mixed; detected when omitted")] = None,
    segments: Annotated[str | None, Form(description="Number of scenes, 1..6")] = None,
    callback_url: Annotated[str | None, Form(description="As in POST /v1/diaries")] = None,
    continuity: Annotated[str | None, Form(description="none, chain or keyframe. " + CONTINUITY_HELP)] = None,
    idempotency_key: IdempotencyKey = None,
) -> DiaryAccepted | JSONResponse:
    fields = {"text": text, "user": user, "language": language, "segments": segments,
              "callback_url": callback_url, "continuity": continuity}
    try:
        diary = DiaryIn.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise InputError(f"the form is not valid: {problems}") from None
    photo = image.encode("utf-8", "replace") if isinstance(image, str) else image.file.read() if image else None
    return _submit(diary, photo, request, client, service, settings, idempotency_key)


def _decode_base64_image(value: str) -> bytes:
    """The photo's bytes; text that is not base64 is passed on as it is, so the service refuses it
    as "not a picture" after saving the diary, like any other unusable photo."""
    data = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return value.encode("utf-8", "replace")


def _submit(
    diary: DiaryIn,
    photo: bytes | None,
    request: Request,
    client: ApiClient,
    service: DreamService,
    settings: Settings,
    idempotency_key: str | None,
) -> DiaryAccepted | JSONResponse:
    callback_url = str(diary.callback_url) if diary.callback_url else None
    if callback_url and (problem := callback_url_problem(callback_url,
                                                         allow_private=settings.callback_allow_private)):
        raise InputError(problem)
    options = JobOptions(segments=diary.segments, callback_url=callback_url, continuity=diary.continuity)
    try:
        # the key's hourly limit counts all its users together (ids "<keyid>:<user>")
        job: JobView = service.submit_diary(
            diary.text,
            channel=API_CHANNEL,
            user=client.owner(diary.user),
            language=diary.language,
            options=options,
            idempotency_key=client.scoped_idempotency_key(idempotency_key),
            photo=photo,
            limited=True,
            api_key_prefix=client.owner(""),
        )
    except BadImage as exc:  # the diary is saved; say which one, in the caller's language
        details = [{"diary_id": exc.diary_id, "reason": type(exc).__name__}] if exc.diary_id else None
        return error_response(422, "invalid_input", exc.user_message(request_language(request)), details)
    except LimitExceeded as exc:
        return rate_limited(client.owner(""), exc)
    return DiaryAccepted(job_id=job.job_id, status=job.status, links=job_links(request, job.job_id))


def rate_limited(key_prefix: str, exc: LimitExceeded) -> JSONResponse:
    """The 429 for an API key over the hourly job limit the service enforces."""
    logger.info("api key %s: %d jobs in the last hour, limit %d", key_prefix.rstrip(":"), exc.count, exc.limit)
    return error_response(
        429, "rate_limited",
        f"This API key made {exc.count} jobs in the last hour (limit {exc.limit}). Try again in a minute.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
