"""What the service facade hands to channels (CLI, bot, API): plain pydantic views of a job.

`JobView.to_public()` is the JSON contract of `dreamreel dream --json`, `dreamreel jobs show --json`
and `GET /v1/jobs/{id}`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from agent.schemas import MAX_SEGMENTS, MIN_SEGMENTS
from dreamreel.states import REFUSED_STATES, RESTING_STATES, JobState
from storage.media import MediaStore
from storage.models import ClipAttempt, Event, Job, ModerationReview


def _as_utc(value: datetime) -> datetime:
    """Every stored time is UTC, but SQLite hands them back naive: say so in the contract."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class JobOptions(BaseModel):
    """Per-job choices a user can make; unset fields fall back to settings."""

    segments: int | None = Field(default=None, ge=MIN_SEGMENTS, le=MAX_SEGMENTS)
    captions: bool | None = None
    narration: bool | None = None  # each scene spoken; unset: settings.audio.narration
    mute_scenes: list[int] | None = None  # scene numbers (0-based) that are not spoken
    crossfade: float | None = Field(default=None, ge=0.0, le=2.0)
    callback_url: str | None = None
    continuity: Literal["none", "chain", "keyframe"] | None = None


class SpanView(BaseModel):
    start: int
    end: int
    text: str


class ReasonView(BaseModel):
    category: str
    score: float
    span: SpanView | None = None
    source: str = "rules"


class VerdictView(BaseModel):
    decision: Literal["allow", "review", "block"]
    reasons: list[ReasonView] = Field(default_factory=list)
    support_message: bool = False
    # allowed, with these sentences left out of the video (a sexual or gory moment; content policy)
    withheld: list[SpanView] = Field(default_factory=list)


class LoraView(BaseModel):
    name: str
    weight: float


class QualityView(BaseModel):
    """Scores of a clip (docs/quality.md): each in [0, 1] but `clip_score` (a cosine, None without CLIP)."""

    frames: int
    fps: float
    sharpness: float
    temporal: float
    color: float
    overall: float
    clip_score: float | None = None
    passed: bool = True  # every threshold of [quality] met
    failures: list[str] = Field(default_factory=list)  # the scores under their threshold


class AttemptView(BaseModel):
    """One render of a scene judged by the quality gate."""

    attempt: int  # 1 = the scene's own seed and prompt
    seed: int
    prompt: str
    steps_factor: float = 1.0
    quality: QualityView
    kept: bool


class SegmentView(BaseModel):
    index: int
    text: str
    span: SpanView
    prompt: str
    keywords: list[str]
    emotion: str | None
    emotion_scores: dict[str, float] = Field(default_factory=dict)
    style: str | None
    lora: LoraView | None = None
    preset: str | None = None
    seed: int
    clip: str | None = None  # absolute path of the rendered clip, when there is one
    start_frame: str | None = None  # absolute path of the image the clip starts from, when it has one
    quality: QualityView | None = None  # scores of that clip (None: not rendered or not scored)
    attempts: list[AttemptView] = Field(default_factory=list)  # every render the quality gate judged


class EventView(BaseModel):
    id: int
    job_id: int
    kind: str  # state | progress | info | error
    state: str | None
    progress: float | None
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDatetime


class ReviewView(BaseModel):
    id: int
    job_id: int
    verdict: str
    reasons: list[ReasonView]
    status: str  # pending | approved | rejected
    moderator: str | None
    note: str | None
    created_at: UtcDatetime
    decided_at: UtcDatetime | None
    diary: str  # the diary text, for the moderator
    language: str | None
    user: str  # "<channel>:<external id>"


RecordingStatus = Literal["transcribed", "confirmed", "refused", "unheard", "discarded"]


class RecordingView(BaseModel):
    """A voice diary as received: kept whatever happened, with what speech-to-text heard."""

    recording_id: int
    status: RecordingStatus
    reason: str | None = None  # why refused: not_audio | too_long | too_large | silent | unsupported_codec | no_speech
    transcript: str | None = None
    language: str | None = None
    duration: float | None = None
    channel: str
    user: str
    job_id: int | None = None  # the job made from it, once confirmed
    created_at: UtcDatetime


class JobView(BaseModel):
    job_id: int
    status: JobState
    language: str | None
    emotion: str | None
    emotion_scores: dict[str, float] = Field(default_factory=dict)
    video: str | None  # absolute path of the stitched mp4
    subtitles: list[str] = Field(default_factory=list)  # absolute paths of its .srt and .vtt
    clips: list[str] = Field(default_factory=list)
    segments: list[SegmentView] = Field(default_factory=list)
    verdict: VerdictView | None = None
    planner: str | None = None
    error: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    continuity: Literal["none", "chain", "keyframe"] = "none"
    photo: bool = False  # the diary came with a dreamer's photo (kept with the diary only)
    channel: str
    user: str  # external id within the channel
    created_at: UtcDatetime
    updated_at: UtcDatetime
    diary: str | None = None  # filled by get_job(..., detail=True)
    events: list[EventView] | None = None
    reviews: list[ReviewView] | None = None

    @property
    def refused(self) -> bool:
        return self.status in REFUSED_STATES

    @property
    def finished(self) -> bool:
        return self.status in RESTING_STATES

    def to_public(self) -> dict[str, Any]:
        """The JSON object of the CLI / API contract."""
        data = self.model_dump(mode="json", exclude_none=False)
        if self.diary is None:
            data.pop("diary")
        if self.events is None:
            data.pop("events")
        if self.reviews is None:
            data.pop("reviews")
        return data


# -- from database rows (ORM objects never leave the service) --------------------------------


def job_view(job: Job, media: MediaStore, *, review_threshold: float) -> JobView:
    """The view of a job loaded with `storage.repos.load_job` (files as absolute paths).
    `review_threshold` is the policy's: self-harm at or above it brings the support message."""
    clips = {c.segment_index: str(media.path_for(c.path)) for c in job.clips}
    quality = {c.segment_index: QualityView.model_validate(c.quality) for c in job.clips if c.quality}
    attempts: dict[int, list[AttemptView]] = {}
    for a in job.clip_attempts:
        attempts.setdefault(a.segment_index, []).append(attempt_view(a))
    verdict = None
    if job.verdict is not None:
        reasons = [reason_view(r) for r in job.verdict_reasons or []]
        verdict = VerdictView(
            decision=job.verdict,  # type: ignore[arg-type]
            reasons=reasons,
            # the policy's rule: a weak self-harm reason alone (a meaning-level head's opinion
            # on a murder dream, say) brings no support message
            support_message=any(r.category == "self_harm" and r.score >= review_threshold for r in reasons),
            withheld=[SpanView.model_validate(w) for w in job.withheld or []],
        )
    video = media.path_for(job.video.path) if job.video else None
    subtitles = [video.with_suffix(kind) for kind in (".srt", ".vtt")] if video else []
    return JobView(
        job_id=job.id,
        status=job.state,  # type: ignore[arg-type]
        language=job.language or job.diary.language,
        emotion=job.emotion,
        emotion_scores=dict(job.emotion_scores or {}),
        video=str(video) if video else None,
        subtitles=[str(path) for path in subtitles if path.is_file()],
        clips=[clips[i] for i in sorted(clips)],
        segments=[
            SegmentView(
                index=seg.index,
                text=seg.text,
                span=SpanView(start=seg.span_start, end=seg.span_end, text=seg.text),
                prompt=seg.prompt,
                keywords=list(seg.keywords or []),
                emotion=seg.emotion,
                emotion_scores=dict(seg.emotion_scores or {}),
                style=seg.style,
                lora=LoraView(name=seg.lora_name, weight=seg.lora_weight or 0.0) if seg.lora_name else None,
                preset=seg.preset,
                seed=seg.seed,
                clip=clips.get(seg.index),
                start_frame=str(media.path_for(seg.start_frame)) if seg.start_frame else None,
                quality=quality.get(seg.index),
                attempts=attempts.get(seg.index, []),
            )
            for seg in job.segments
        ],
        verdict=verdict,
        planner=job.planner,
        error=job.error,
        options=dict(job.options or {}),
        continuity=job.continuity or "none",  # type: ignore[arg-type]
        photo=bool(job.diary.photo_path),
        channel=job.diary.user.channel,
        user=job.diary.user.external_id,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def attempt_view(row: ClipAttempt) -> AttemptView:
    """One render attempt of a scene, with the quality gate's scores."""
    scores = {**row.quality, "passed": not row.failures, "failures": list(row.failures or [])}
    return AttemptView(
        attempt=row.attempt,
        seed=row.seed,
        prompt=row.prompt,
        steps_factor=row.steps_factor,
        quality=QualityView.model_validate(scores),
        kept=row.kept,
    )


def reason_view(raw: dict[str, Any]) -> ReasonView:
    """A stored safety reason (`Job.verdict_reasons`, `ModerationReview.reasons`) as a view."""
    return ReasonView.model_validate(raw)


def review_view(review: ModerationReview) -> ReviewView:
    """A review row with its job's diary, for the moderator."""
    job = review.job
    return ReviewView(
        id=review.id,
        job_id=review.job_id,
        verdict=review.verdict,
        reasons=[reason_view(r) for r in review.reasons or []],
        status=review.status,
        moderator=review.moderator,
        note=review.note,
        created_at=review.created_at,
        decided_at=review.decided_at,
        diary=job.diary.text,
        language=job.language or job.diary.language,
        user=f"{job.diary.user.channel}:{job.diary.user.external_id}",
    )


def event_view(row: Event) -> EventView:
    return EventView(
        id=row.id,
        job_id=row.job_id,
        kind=row.kind,
        state=row.state,
        progress=row.progress,
        message=row.message,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )
