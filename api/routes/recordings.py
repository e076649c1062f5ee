"""POST /v1/recordings: voice diaries. The audio is kept and transcribed; the app shows the
transcript to its user, then confirms it (optionally corrected) to start the job.

    POST /v1/recordings                    multipart `file` + `user` -> 201 the transcript
    GET  /v1/recordings/{id}               the recording's status and transcript
    POST /v1/recordings/{id}/diary         {"text": correction?, "segments"?, "callback_url"?} -> 202 job

Bad audio is refused with 422 `bad_audio` (its `details` name the reason and the kept
recording's id); with no speech model configured, 503 `speech_unavailable` (the audio is kept).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.callback_target import callback_url_problem
from api.deps import ApiClientDep, ServiceDep, SettingsDep
from api.errors import error_response, error_responses, request_language
from api.routes.diaries import DiaryAccepted, _responses, job_links, rate_limited
from api.security import API_CHANNEL, ApiClient
from dreamreel.errors import BadRecording, InputError, LimitExceeded, NotFound, SpeechUnavailable
from dreamreel.service import DreamService
from dreamreel.views import JobOptions, RecordingView

router = APIRouter(prefix="/v1", tags=["recordings"])
RecordingId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The recording's id")]
UPLOAD_PATH = "/v1/recordings"


class RecordingLinks(BaseModel):
    self: str
    diary: str


class RecordingOut(RecordingView):
    links: RecordingLinks


class RecordingDiaryIn(BaseModel):
    """Confirm a transcript (as it is, or corrected) as the diary of a new job."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, pattern=r"\S", description="The corrected transcript; omitted: as heard")
    segments: int | None = Field(default=None, ge=1, le=6, description="Number of scenes")
    narration: bool | None = Field(default=None, description="Speak each scene's words (default: the server's)")
    callback_url: AnyHttpUrl | None = Field(default=None, description="As in POST /v1/diaries")


def _out(request: Request, view: RecordingView) -> RecordingOut:
    links = RecordingLinks(
        self=str(request.url_for("get_recording", recording_id=view.recording_id)),
        diary=str(request.url_for("recording_diary", recording_id=view.recording_id)),
    )
    return RecordingOut(**view.model_dump(), links=links)


def _refused(exc: BadRecording | SpeechUnavailable, request: Request) -> JSONResponse:
    details: list[dict[str, Any]] = [{"recording_id": exc.recording_id}]
    if isinstance(exc, BadRecording):
        details[0]["reason"] = exc.reason
        return error_response(422, "bad_audio", exc.user_message(request_language(request)), details)
    return error_response(503, "speech_unavailable", exc.user_message(request_language(request)), details)


@router.post(
    "/recordings",
    status_code=201,
    response_model=RecordingOut,
    responses=error_responses(400, 401, 413, 422, 503),
    summary="Upload a voice diary: it is kept and transcribed; confirm the transcript to make the video",
)
async def upload_recording(
    request: Request,
    client: ApiClientDep,
    service: ServiceDep,
    file: Annotated[UploadFile, File(description="The recording: ogg/opus, mp3, m4a/aac, wav, flac, webm...")],
    user: Annotated[str, Form(min_length=1, max_length=128, description="The app's id of the person")],
) -> RecordingOut | JSONResponse:
    data = await file.read()
    try:
        view = await run_in_threadpool(
            service.voice.receive, data, channel=API_CHANNEL, user=client.owner(user), filename=file.filename,
            mime=file.content_type,
        )  # fmt: skip
    except (BadRecording, SpeechUnavailable) as exc:
        return _refused(exc, request)
    return _out(request, view)


def _owned(service: DreamService, client: ApiClient, recording_id: int) -> RecordingView:
    view = service.voice.get(recording_id)
    if not client.owns(view.channel, view.user):
        raise NotFound(f"recording {recording_id}")
    return view


@router.get("/recordings/{recording_id}", name="get_recording", response_model=RecordingOut,
            responses=error_responses(401, 404, 422), summary="A recording's status and transcript")
def get_recording(recording_id: RecordingId, request: Request, client: ApiClientDep, service: ServiceDep) -> RecordingOut:
    return _out(request, _owned(service, client, recording_id))


@router.post(
    "/recordings/{recording_id}/diary",
    name="recording_diary",
    status_code=202,
    response_model=DiaryAccepted,
    responses={**_responses(), **error_responses(404, 409)},
    summary="Confirm the transcript (or send a correction) and make the video",
)
def recording_diary(
    recording_id: RecordingId,
    body: RecordingDiaryIn,
    request: Request,
    client: ApiClientDep,
    service: ServiceDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> DiaryAccepted | JSONResponse:
    _owned(service, client, recording_id)
    callback_url = str(body.callback_url) if body.callback_url else None
    if callback_url and (problem := callback_url_problem(callback_url, allow_private=settings.callback_allow_private)):
        raise InputError(problem)
    scoped_key = client.scoped_idempotency_key(idempotency_key)
    key_prefix = client.owner("")
    try:
        if not (scoped_key and service.job_for_idempotency_key(scoped_key)):  # a retry is no new job
            service.check_limits(API_CHANNEL, key_prefix, api_key_prefix=key_prefix)  # before correcting
        if body.text is not None:
            service.voice.correct(recording_id, body.text)
        options = JobOptions(segments=body.segments, narration=body.narration, callback_url=callback_url)
        job = service.voice.confirm(recording_id, options=options, idempotency_key=scoped_key, limited=True,
                                    api_key_prefix=key_prefix)
    except LimitExceeded as exc:
        return rate_limited(key_prefix, exc)
    return DiaryAccepted(job_id=job.job_id, status=job.status, links=job_links(request, job.job_id))
