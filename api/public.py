"""The job object and events as API clients see them: links to downloads, never server paths.

`JobView.to_public()` (the CLI's contract) names the files the service wrote by their absolute
paths. Over HTTP those mean nothing to a client and tell an attacker how the server is laid out,
so `video`, `subtitles`, `clips`, `segments[].clip` and the "done" event's `data.video` become
URLs of `GET /v1/jobs/{id}/video`, `/subtitles.{srt,vtt}` and `/clips/{index}` (which need the
owner's API key or a signed link).
"""

from __future__ import annotations

from typing import Any

from dreamreel.links import media_path
from dreamreel.views import EventView, JobView


def media_url(base_url: str, job_id: int, clip: int | None = None) -> str:
    """`base_url` (e.g. "https://api.example", or "" for a path) + the download path."""
    return f"{base_url.rstrip('/')}{media_path(job_id, clip)}"


def public_event(event: EventView, base_url: str) -> dict[str, Any]:
    """An event as JSON, with a file path in its data replaced by the download link."""
    data = event.model_dump(mode="json")
    if "video" in data["data"]:
        data["data"]["video"] = media_url(base_url, event.job_id)
    return data


def public_job(job: JobView, base_url: str) -> dict[str, Any]:
    """The job object of the API: `to_public()` with links in place of server paths."""
    data = job.to_public()
    data["video"] = media_url(base_url, job.job_id) if job.video else None
    kinds = [path.rsplit(".", 1)[-1] for path in job.subtitles]
    data["subtitles"] = [f"{base_url.rstrip('/')}/v1/jobs/{job.job_id}/subtitles.{kind}" for kind in kinds]
    rendered = [segment.index for segment in job.segments if segment.clip]
    data["clips"] = [media_url(base_url, job.job_id, index) for index in rendered]
    for segment in data["segments"]:
        if segment["clip"]:
            segment["clip"] = media_url(base_url, job.job_id, segment["index"])
        # the frame a scene starts from stays on the server (it may be the dreamer's photo): only whether
        # there is one is said
        segment["start_frame"] = bool(segment.get("start_frame"))
    if job.events is not None:
        data["events"] = [public_event(event, base_url) for event in job.events]
    return data
