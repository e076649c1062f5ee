"""Small query helpers over the models, so the service and pipeline read as intent, not SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Clip,
    ClipAttempt,
    Diary,
    Event,
    EventCursor,
    Job,
    ModerationReview,
    SegmentRow,
    User,
    utcnow,
)

# What a job view needs, loaded up front in a few queries instead of lazily one by one.
_JOB_VIEW_LOADS = (
    selectinload(Job.diary).selectinload(Diary.user),
    selectinload(Job.segments),
    selectinload(Job.clips),
    selectinload(Job.clip_attempts),
    selectinload(Job.video),
    selectinload(Job.reviews),
)


_NEW_EVENTS = "dreamreel.new_events"  # key in Session.info


def add_event(
    s: Session,
    job_id: int,
    kind: str,
    message: str,
    *,
    state: str | None = None,
    progress: float | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add an event row to the session and remember it, so the caller can publish it once the
    session has committed (`take_new_events`)."""
    row = Event(job_id=job_id, kind=kind, state=state, progress=progress, message=message, data=data or {})
    s.add(row)
    s.info.setdefault(_NEW_EVENTS, []).append(row)
    return row


def take_new_events(s: Session) -> list[Event]:
    """The event rows added through this session so far (publish them once it has committed)."""
    rows: list[Event] = s.info.pop(_NEW_EVENTS, [])
    return rows


def get_or_create_user(s: Session, channel: str, external_id: str, language: str | None = None) -> User:
    """The user row, inserted on first sight; safe when two first requests race."""
    user = find_user(s, channel, external_id)
    if user is not None:
        return user
    try:
        with s.begin_nested():  # a savepoint: losing the race rolls back only this insert
            user = User(channel=channel, external_id=external_id, language=language, prefs={})
            s.add(user)
    except IntegrityError:
        user = find_user(s, channel, external_id)
        if user is None:
            raise
    return user


def find_user(s: Session, channel: str, external_id: str) -> User | None:
    return s.scalar(select(User).where(User.channel == channel, User.external_id == external_id))


def load_job(s: Session, job_id: int) -> Job | None:
    """A job with everything a view needs, loaded in a few queries."""
    return s.scalar(select(Job).where(Job.id == job_id).options(*_JOB_VIEW_LOADS))


def job_by_idempotency_key(s: Session, key: str) -> Job | None:
    return s.scalar(select(Job).where(Job.idempotency_key == key))


def list_jobs(
    s: Session,
    *,
    channel: str | None = None,
    external_id: str | None = None,
    states: Collection[str] | None = None,
    limit: int = 50,
) -> list[Job]:
    stmt = (
        select(Job)
        .join(Job.diary)
        .join(Diary.user)
        .options(*_JOB_VIEW_LOADS)
        .order_by(Job.id.desc())
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(User.channel == channel)
    if external_id is not None:
        stmt = stmt.where(User.external_id == external_id)
    if states:
        stmt = stmt.where(Job.state.in_(list(states)))
    return list(s.scalars(stmt))


def count_jobs(
    s: Session,
    channel: str,
    external_id: str,
    *,
    states: Collection[str] | None = None,
    since: datetime | None = None,
) -> int:
    return _count_jobs(s, channel, User.external_id == external_id, states=states, since=since)


def count_jobs_with_user_prefix(s: Session, channel: str, prefix: str, *, since: datetime) -> int:
    """Jobs since `since` of every user of `channel` whose external id starts with `prefix`
    (LIKE wildcards in `prefix` match only themselves)."""
    return _count_jobs(s, channel, User.external_id.startswith(prefix, autoescape=True), since=since)


def _count_jobs(
    s: Session,
    channel: str,
    who: Any,
    *,
    states: Collection[str] | None = None,
    since: datetime | None = None,
) -> int:
    stmt = select(func.count(Job.id)).join(Job.diary).join(Diary.user).where(User.channel == channel, who)
    if states:
        stmt = stmt.where(Job.state.in_(list(states)))
    if since is not None:
        stmt = stmt.where(Job.created_at >= since)
    return int(s.scalar(stmt) or 0)


def pending_reviews(s: Session, *, include_decided: bool = False) -> list[ModerationReview]:
    stmt = (
        select(ModerationReview)
        .options(selectinload(ModerationReview.job).selectinload(Job.diary).selectinload(Diary.user))
        .order_by(ModerationReview.id)
    )
    if not include_decided:
        stmt = stmt.where(ModerationReview.status == "pending")
    return list(s.scalars(stmt))


def open_review(s: Session, job_id: int) -> ModerationReview | None:
    return s.scalar(
        select(ModerationReview)
        .where(ModerationReview.job_id == job_id, ModerationReview.status == "pending")
        .order_by(ModerationReview.id.desc())
    )


def events_after(s: Session, job_id: int, after_id: int = 0) -> list[Event]:
    return list(s.scalars(select(Event).where(Event.job_id == job_id, Event.id > after_id).order_by(Event.id)))


def events_since(s: Session, after_id: int = 0, limit: int = 500) -> list[Event]:
    """Events of all jobs with an id above `after_id`, oldest first, at most `limit`."""
    return list(s.scalars(select(Event).where(Event.id > after_id).order_by(Event.id).limit(max(limit, 0))))


def count_by_state(s: Session) -> dict[str, int]:
    """Number of jobs in each state (states without jobs are absent), in one GROUP BY query."""
    rows = s.execute(select(Job.state, func.count(Job.id)).group_by(Job.state))
    return {state: int(count) for state, count in rows}


def latest_event_id(s: Session) -> int:
    return int(s.scalar(select(func.max(Event.id))) or 0)


def get_cursor(s: Session, name: str) -> int | None:
    """The event id up to which consumer `name` has delivered events (None: a new consumer)."""
    return s.scalar(select(EventCursor.last_event_id).where(EventCursor.name == name))


def advance_cursor(s: Session, name: str, event_id: int) -> None:
    """Move consumer `name`'s cursor up to `event_id` (created on first use); never moves it back."""
    moved = s.execute(
        update(EventCursor)
        .where(EventCursor.name == name, EventCursor.last_event_id < event_id)
        .values(last_event_id=event_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", moved).rowcount or get_cursor(s, name) is not None:
        return
    try:
        with s.begin_nested():  # two processes creating one cursor at once: one insert wins
            s.add(EventCursor(name=name, last_event_id=event_id))
    except IntegrityError:
        advance_cursor(s, name, event_id)


def clip_for(s: Session, job_id: int, index: int) -> Clip | None:
    return s.scalar(select(Clip).where(Clip.job_id == job_id, Clip.segment_index == index))


def attempts_for(s: Session, job_id: int, index: int) -> list[ClipAttempt]:
    """The quality gate's attempts at one scene, in order."""
    return list(
        s.scalars(
            select(ClipAttempt)
            .where(ClipAttempt.job_id == job_id, ClipAttempt.segment_index == index)
            .order_by(ClipAttempt.attempt)
        )
    )


def forget_attempts(s: Session, job_id: int, index: int) -> None:
    """Drop a scene's attempts (it is rendered afresh: a re-roll, or a render that was cut short)."""
    s.execute(delete(ClipAttempt).where(ClipAttempt.job_id == job_id, ClipAttempt.segment_index == index))


def segment_for(s: Session, job_id: int, index: int) -> SegmentRow | None:
    return s.scalar(select(SegmentRow).where(SegmentRow.job_id == job_id, SegmentRow.index == index))


def jobs_in_states(s: Session, states: Collection[str]) -> list[Job]:
    """Jobs in the given states (e.g. left working by a crash), oldest first."""
    return list(s.scalars(select(Job).where(Job.state.in_(list(states))).order_by(Job.id)))


def claim_state(s: Session, job_id: int, states: Collection[str]) -> bool:
    """Lock the job's row for this transaction if it is still in one of `states`; False if it
    is not. Of two sessions claiming at once, the second waits and then sees the first's move."""
    result = s.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_(list(states)))
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)


def count_pending_reviews(s: Session) -> int:
    return int(s.scalar(select(func.count(ModerationReview.id)).where(ModerationReview.status == "pending")) or 0)


__all__ = [
    "add_event",
    "advance_cursor",
    "claim_state",
    "clip_for",
    "count_by_state",
    "count_jobs",
    "count_pending_reviews",
    "events_after",
    "events_since",
    "find_user",
    "get_cursor",
    "get_or_create_user",
    "job_by_idempotency_key",
    "jobs_in_states",
    "latest_event_id",
    "list_jobs",
    "load_job",
    "open_review",
    "pending_reviews",
    "segment_for",
    "take_new_events",
    "utcnow",
]
