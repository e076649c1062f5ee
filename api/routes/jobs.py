"""GET /v1/jobs/{id}: status, the video and clips (with HTTP range requests), progress as SSE.

No part of a request becomes a file path: ids go to the service, which answers with the path
of a file it wrote itself (or None).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from api.deps import ClipIndex, ClipJobDep, OwnedJobDep, ServiceDep, VideoJobDep
from api.errors import error_responses
from api.public import public_event, public_job
from api.routes.diaries import JobLinks, job_links
from dreamreel.views import RESTING_STATES, EventView, JobView, SegmentView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0

MP4_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The mp4 file"},
    206: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The requested byte range (send `Range: bytes=start-end`)"},
    416: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Range not satisfiable"},
    **error_responses(401, 403, 404, 422),
}
# Either the owner's API key or a signed link (`expires` + `sig` query parameters, no key).
SIGNED_OR_KEY: dict[str, Any] = {"security": [{}]}


class PublicSegment(SegmentView):
    """A scene as API clients see it: the frame it starts from stays on the server (it may be
    the dreamer's photo), so only whether there is one is said."""

    start_frame: bool = False  # type: ignore[assignment]


class JobWithLinks(JobView):
    """The job object of `dreamreel jobs show --json`, plus links to its resources; `video`,
    `clips` and `segments[].clip` are download URLs here, not server paths, and
    `segments[].start_frame` says only whether a scene starts from a saved frame."""

    segments: list[PublicSegment]  # type: ignore[assignment]
    links: JobLinks


@router.get(
    "/{job_id}",
    name="get_job",
    response_model=None,
    responses={200: {"model": JobWithLinks, "description": "The job object (as `dreamreel jobs show --json`)"},
               **error_responses(401, 404, 422)},
    summary="A job with its diary, plan, verdict, events and reviews",
)
def get_job(job: OwnedJobDep, request: Request, service: ServiceDep) -> JSONResponse:
    data = public_job(service.get_job(job.job_id, detail=True), str(request.base_url))
    data["links"] = job_links(request, job.job_id).model_dump()
    return JSONResponse(data)


def _mp4(path: Path | None, what: str, filename: str) -> FileResponse:
    if path is None or not path.is_file():
        raise HTTPException(404, f"{what} is not ready (yet).")
    return FileResponse(path, media_type="video/mp4", filename=filename)


DOWNLOAD_NOTE = ("Send the owner's API key, or none with a signed link's `expires` and `sig` "
                 "(as the Telegram bot hands out); a wrong or expired signature gets 403.")


@router.head("/{job_id}/video", name="job_video_head", response_class=FileResponse, responses=MP4_RESPONSES,
             summary="Size and type of the stitched video", description=DOWNLOAD_NOTE, openapi_extra=SIGNED_OR_KEY)
@router.get("/{job_id}/video", name="job_video", response_class=FileResponse, responses=MP4_RESPONSES,
            summary="The stitched video (mp4, range requests supported)", description=DOWNLOAD_NOTE,
            openapi_extra=SIGNED_OR_KEY)
def job_video(job: VideoJobDep, service: ServiceDep) -> FileResponse:
    return _mp4(service.video_file(job.job_id), "The video", f"dreamreel-{job.job_id}.mp4")


SUBTITLE_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}


@router.get("/{job_id}/subtitles.{kind}", name="job_subtitles", response_class=FileResponse,
            responses={200: {"content": {"application/x-subrip": {"schema": {"type": "string"}},
                                         "text/vtt": {"schema": {"type": "string"}}},
                             "description": "One cue per scene, in the diary's own words"},
                       **error_responses(401, 403, 404, 422)},
            summary="The video's subtitles (`srt` or `vtt`)", description=DOWNLOAD_NOTE, openapi_extra=SIGNED_OR_KEY)
def job_subtitles(job: VideoJobDep, service: ServiceDep, kind: Literal["srt", "vtt"]) -> FileResponse:
    path = service.subtitle_file(job.job_id, kind)
    if path is None:
        raise HTTPException(404, "The subtitles are not ready (yet).")
    return FileResponse(path, media_type=SUBTITLE_TYPES[kind], filename=f"dreamreel-{job.job_id}.{kind}")


@router.head("/{job_id}/clips/{index}", name="job_clip_head", response_class=FileResponse,
             responses=MP4_RESPONSES, summary="Size and type of one scene's clip", description=DOWNLOAD_NOTE,
             openapi_extra=SIGNED_OR_KEY)
@router.get("/{job_id}/clips/{index}", name="job_clip", response_class=FileResponse, responses=MP4_RESPONSES,
            summary="One scene's clip (mp4, range requests supported)", description=DOWNLOAD_NOTE,
            openapi_extra=SIGNED_OR_KEY)
def job_clip(job: ClipJobDep, service: ServiceDep, index: ClipIndex) -> FileResponse:
    scenes = len(job.segments)
    if index >= scenes and (scenes or job.finished):
        raise HTTPException(404, f"Job {job.job_id} has {scenes} scenes; there is no clip {index} "
                                 f"(clips are numbered from 0).")
    return _mp4(service.clip_file(job.job_id, index), f"Clip {index}",
                f"dreamreel-{job.job_id}-{index}.mp4")


def _sse(event: EventView, base_url: str) -> str:
    data = json.dumps(public_event(event, base_url), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


@router.get(
    "/{job_id}/events",
    name="job_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "Server-sent events: `id`, `event` (state, progress, info, error, "
                                    "callback) and `data` (the event as JSON). The stream ends once the "
                                    "job rests (done, failed, rejected, in_review, blocked); reconnect "
                                    "with `Last-Event-ID` to continue."},
               **error_responses(401, 404, 422)},
    summary="Progress of a job as server-sent events",
)
async def job_events(
    job: OwnedJobDep,
    request: Request,
    service: ServiceDep,
    last_event_id: Annotated[int | None, Header(
        alias="Last-Event-ID", ge=0, le=2**31 - 1,  # event ids are 32-bit integers on PostgreSQL
        description="Resume after this event id")] = None,
) -> StreamingResponse:
    base_url = str(request.base_url)

    async def stream() -> AsyncIterator[str]:
        after = last_event_id or 0
        idle = 0.0
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            events = await run_in_threadpool(service.events, job.job_id, after_id=after)
            for event in events:
                yield _sse(event, base_url)
                after = event.id
            if not events:
                current = await run_in_threadpool(service.get_job, job.job_id)
                if current.status in RESTING_STATES:
                    # events written between the two reads above come out before the end
                    for event in await run_in_threadpool(service.events, job.job_id, after_id=after):
                        yield _sse(event, base_url)
                    return
                idle += POLL_SECONDS
                if idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    yield ": keepalive\n\n"
            else:
                idle = 0.0
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
