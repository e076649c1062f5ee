"""SQLAlchemy 2 typed models: everything DreamReel receives and decides.

users ─< recordings ──(confirmed)── diaries   (voice diaries: the audio, its transcript)
users ─< diaries ─< jobs ─< segments
                        ├─< clips           (one per segment, the rendered file, its quality scores)
                        ├─< clip_attempts   (every render of a scene the quality gate judged)
                        ├── videos          (the stitched result)
                        ├─< reviews         (moderation: verdict, reasons, decision)
                        └─< events          (progress feed and audit log)
event_cursors                                   (how far the bot / API delivered events)
moderator_sessions                              (signed-in moderators of the web page)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # cli | telegram | api
    # the API stores "<12 hex key id>:<user>" and accepts users of up to 128 characters
    external_id: Mapped[str] = mapped_column(String(160))
    language: Mapped[str | None] = mapped_column(String(8))
    blocked_bot: Mapped[bool] = mapped_column(default=False)  # Telegram: user blocked the bot
    prefs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    diaries: Mapped[list[Diary]] = relationship(back_populates="user")


class Diary(Base):
    __tablename__ = "diaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    # the dreamer's photo (PNG, relative to the media store), kept only with this diary
    photo_path: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="diaries")
    jobs: Mapped[list[Job]] = relationship(back_populates="diary")
    recording: Mapped[Recording | None] = relationship(back_populates="diary")


class Recording(Base):
    """A voice diary as received: the audio file (always kept), what speech-to-text heard, and
    the diary it became once the person confirmed or corrected the transcript."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(1024))  # relative to the media store root
    filename: Mapped[str | None] = mapped_column(String(256))  # as sent, for people reading the list
    size: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    # transcribed (waiting for the person) | confirmed | refused (bad audio) | unheard (no model) | discarded
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  # why refused: not_audio, too_long, silent, ...
    transcript: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    diary_id: Mapped[int | None] = mapped_column(ForeignKey("diaries.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    diary: Mapped[Diary | None] = relationship(back_populates="recording")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    diary_id: Mapped[int] = mapped_column(ForeignKey("diaries.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="received")
    # the state a failed job was in, so a retry re-enters at the last completed step
    failed_in: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # none | chain | keyframe: how a scene's first frame relates to the scene before (dreamreel.continuity)
    continuity: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    style_seed: Mapped[int | None] = mapped_column(Integer)  # keyframe: one seed for every key frame
    planner: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    emotion: Mapped[str | None] = mapped_column(String(16))
    emotion_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verdict: Mapped[str | None] = mapped_column(String(8))  # allow | review | block
    # [{"category", "score", "span": {"start", "end", "text"} | null, "source"}] of the safety step
    verdict_reasons: Mapped[list[Any]] = mapped_column(default=list)
    # [{"start", "end", "text"}]: the sentences an allowed diary's video leaves out (SafetyVerdict.withheld)
    withheld: Mapped[list[Any]] = mapped_column(default=list, server_default=sql_text("'[]'"))
    attempts: Mapped[int] = mapped_column(default=0)
    # the process running the job ("host:pid:token") and until when; see dreamreel.pipeline
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    diary: Mapped[Diary] = relationship(back_populates="jobs")
    segments: Mapped[list[SegmentRow]] = relationship(
        back_populates="job", order_by="SegmentRow.index", cascade="all, delete-orphan"
    )
    clips: Mapped[list[Clip]] = relationship(
        back_populates="job", order_by="Clip.segment_index", cascade="all, delete-orphan"
    )
    clip_attempts: Mapped[list[ClipAttempt]] = relationship(
        back_populates="job",
        order_by=lambda: [ClipAttempt.segment_index, ClipAttempt.attempt],
        cascade="all, delete-orphan",
    )
    video: Mapped[Video | None] = relationship(back_populates="job", cascade="all, delete-orphan")
    reviews: Mapped[list[ModerationReview]] = relationship(
        back_populates="job", order_by="ModerationReview.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="job", order_by="Event.id", cascade="all, delete-orphan"
    )


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_segments_job_id_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    emotion: Mapped[str | None] = mapped_column(String(16))
    emotion_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    style: Mapped[str | None] = mapped_column(String(32))
    lora_name: Mapped[str | None] = mapped_column(String(256))
    lora_weight: Mapped[float | None] = mapped_column(Float)
    preset: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    # the image the scene's clip starts from (relative to the media store), saved before it renders,
    # so a resumed job or a re-roll starts from the same frame; None = from the prompt alone
    start_frame: Mapped[str | None] = mapped_column(String(1024))

    job: Mapped[Job] = relationship(back_populates="segments")


class _MediaColumns:
    path: Mapped[str] = mapped_column(String(1024))  # relative to the media store root
    frames: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Clip(_MediaColumns, Base):
    __tablename__ = "clips"
    __table_args__ = (UniqueConstraint("job_id", "segment_index", name="uq_clips_job_id_segment_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    segment_index: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    # scores of this clip (generation.quality.ClipQuality + "passed", "failures"); None = not scored
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="clips")


class ClipAttempt(Base):
    """One render of a scene and its scores: the quality gate keeps the best of a scene's attempts."""

    __tablename__ = "clip_attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "segment_index", "attempt", name="uq_clip_attempts_job_id_segment_index_attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    segment_index: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)  # 1 = the scene's own seed and prompt
    seed: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)  # the scene prompt this attempt rendered (maybe simplified)
    steps_factor: Mapped[float] = mapped_column(Float, default=1.0)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ClipQuality.as_dict()
    failures: Mapped[list[Any]] = mapped_column(default=list)  # scores under their threshold
    kept: Mapped[bool] = mapped_column(default=False)  # the attempt whose file became the clip
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    job: Mapped[Job] = relationship(back_populates="clip_attempts")


class Video(_MediaColumns, Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)

    job: Mapped[Job] = relationship(back_populates="video")


class ModerationReview(Base):
    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[str] = mapped_column(String(8))  # review | block
    # [{"category", "score", "span": {"start", "end", "text"} | null, "source"}]
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    moderator: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    job: Mapped[Job] = relationship(back_populates="reviews")


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # state | progress | info | error
    state: Mapped[str | None] = mapped_column(String(16))
    progress: Mapped[float | None] = mapped_column(Float)  # 0..1 within the current step
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    job: Mapped[Job] = relationship(back_populates="events")


class EventCursor(Base):
    """How far a long-lived consumer (the bot, the API) has delivered the events table, so a
    restart goes on from there instead of from the newest event."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ModeratorSession(Base):
    """A signed-in moderator of the web page. The cookie carries the session id; the row decides
    whether it is still good (not expired, not revoked at sign-out or when its token was removed).
    Only the SHA-256 of the id is stored, so reading the table does not let anyone sign in."""

    __tablename__ = "moderator_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    moderator: Mapped[str] = mapped_column(String(128))  # "web:<name>", recorded on decisions
    token_id: Mapped[str] = mapped_column(String(16))  # key id of the moderator token used
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
