"""`DreamService`: the one facade every channel (CLI, Telegram bot, web API) uses.

Submit a diary, run or resume a job, look at jobs, work the moderation queue. The diary is
committed before any other work, so nothing a user sent is lost whatever fails later.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.language import TextRejected, check_text, detect_language
from dreamreel import moderation
from dreamreel.continuity import scenes_from_photo
from dreamreel.errors import (
    BadImage,
    DiaryTooLong,
    EmptyDiary,
    InputError,
    InvalidTransition,
    JobBusy,
    LimitExceeded,
    NotFound,
    NotText,
    UnsupportedScript,
    refuse_control_characters,
)
from dreamreel.events import EventBus, EventRelay, publishing
from dreamreel.images import Photo, check_photo
from dreamreel.payloads import EventData, InfoData, StateData
from dreamreel.pipeline import DreamPipeline
from dreamreel.runners.base import JobRunner
from dreamreel.settings import Settings
from dreamreel.states import (
    PASSED_MODERATION,
    RESTING_STATES,
    WORKING_STATES,
    JobState,
    transition,
)
from dreamreel.views import EventView, JobOptions, JobView, ReviewView, event_view, job_view, review_view
from dreamreel.voice import VoiceDiaries
from storage import repos
from storage.db import Database
from storage.media import MediaStore, diary_dir, job_dir
from storage.models import Diary, Job, Recording, utcnow

log = logging.getLogger(__name__)

LIMIT_WINDOW = timedelta(hours=1)  # hourly limits count the jobs started in the last hour


class DreamService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        media: MediaStore,
        pipeline: DreamPipeline,
        bus: EventBus,
        runner: JobRunner,
    ) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.pipeline = pipeline
        self.bus = bus
        self.runner = runner
        self.relay: EventRelay | None = None
        self.voice = VoiceDiaries(self, lambda: None)  # build_service plugs in the configured recognizer
        # why the configured backend cannot render a continuity mode (None: it can); set by wiring
        self.continuity_problem: Callable[[str], str | None] = lambda mode: None

    # -- intake -------------------------------------------------------------------------------

    def validate_diary(self, text: str | bytes) -> str:
        """Return the diary as text, or raise an InputError saying what is wrong with it."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NotText(f"not valid UTF-8 at byte {exc.start}") from None
        text = text.strip()  # before the length check: a trailing newline is not the diary's
        if not text:
            raise EmptyDiary("empty diary")
        if len(text) > self.settings.max_diary_chars:
            raise DiaryTooLong(f"{len(text):,} characters, at most {self.settings.max_diary_chars:,}")
        try:
            check_text(text)
        except TextRejected as exc:
            raise _input_error(exc) from None
        return text

    def check_photo(self, data: bytes) -> Photo:
        """The dreamer's photo as PNG, or a BadImage saying (in the user's language) what is wrong."""
        return check_photo(
            data, max_bytes=int(self.settings.max_image_mb * 2**20), max_pixels=self.settings.max_image_pixels
        )

    def continuity_for(self, options: JobOptions) -> str:
        """The job's continuity (its option, else the settings' default), or an InputError saying
        why the configured preset cannot render it."""
        mode = options.continuity or self.settings.video.continuity
        if problem := self.continuity_problem(mode):
            raise InputError(problem)
        return mode

    def check_limits(self, channel: str, user: str, *, api_key_prefix: str | None = None) -> None:
        """Raise LimitExceeded when `user` of `channel` may not start another job now.

        A Telegram user may have `bot_max_active_jobs` jobs being made and start
        `bot_jobs_per_hour`; an API key (all users whose id starts with `api_key_prefix`, "<keyid>:")
        may start `api_jobs_per_hour`. Checked before the insert, so requests racing each other
        may pass a limit by a few. Other channels (the command line) have no limits."""
        since = utcnow() - LIMIT_WINDOW
        if channel == "telegram":
            active = self.count_jobs(channel, user, active_only=True)
            if active >= self.settings.bot_max_active_jobs:
                raise LimitExceeded("active", active, self.settings.bot_max_active_jobs)
            recent = self.count_jobs(channel, user, since=since)
            if recent >= self.settings.bot_jobs_per_hour:
                raise LimitExceeded("hourly", recent, self.settings.bot_jobs_per_hour)
        elif channel == "api":
            prefix = api_key_prefix if api_key_prefix is not None else user
            recent = self.count_jobs_with_user_prefix(channel, prefix, since=since)
            if recent >= self.settings.api_jobs_per_hour:
                raise LimitExceeded("hourly", recent, self.settings.api_jobs_per_hour)

    def submit_diary(
        self,
        text: str | bytes,
        *,
        channel: str = "cli",
        user: str = "local",
        language: str | None = None,
        options: JobOptions | None = None,
        idempotency_key: str | None = None,
        run: bool = True,
        recording_id: int | None = None,
        photo: bytes | None = None,
        limited: bool = False,
        api_key_prefix: str | None = None,
    ) -> JobView:
        """Save the diary and a new job (committed before anything else), then hand it to the runner.

        `recording_id` names the voice recording the diary was transcribed from; it is linked to
        the diary in the same transaction (see `dreamreel.voice`). `photo` (the dreamer's picture)
        is checked first: a bad one raises BadImage after the diary alone has been saved (nothing
        the user wrote is lost; `diary_id` is on the error). With `limited` (a person's request
        through a channel) the channel's limits apply first (`check_limits`; LimitExceeded); a
        retry with an idempotency key already used is no new job and is answered with the earlier one."""
        diary_text = self.validate_diary(text)
        refuse_control_characters(user, "user id")
        opts = options or JobOptions()
        if language not in (None, "ko", "en", "mixed"):
            raise InputError(f"unsupported language {language!r}; use ko, en or mixed")
        continuity = self.continuity_for(opts)
        if idempotency_key and (earlier := self.job_for_idempotency_key(idempotency_key)):
            return earlier
        if limited:
            self.check_limits(channel, user, api_key_prefix=api_key_prefix)
        checked: Photo | None = None
        if photo is not None:
            try:
                checked = self.check_photo(photo)
            except BadImage as exc:
                exc.diary_id = self._save_diary_only(diary_text, channel, user, language)
                log.info("diary %s saved without a job: %s", exc.diary_id, exc)
                raise
        with publishing(self.db, self.bus) as s:
            owner = repos.get_or_create_user(s, channel, user)
            diary = Diary(
                user_id=owner.id,
                text=diary_text,
                language=language or detect_language(diary_text),
                channel=channel,
            )
            job = Job(
                diary=diary,
                state=JobState.RECEIVED,
                continuity=continuity,
                options=opts.model_dump(exclude_none=True),
                idempotency_key=idempotency_key,
                # a new job has none of these yet; saying so spares the view five lazy loads
                segments=[],
                clips=[],
                reviews=[],
                video=None,
            )
            try:
                with s.begin_nested():  # a retried request racing the first one loses here, harmlessly
                    s.add(job)
                    diary.user = owner
            except IntegrityError:
                earlier = self.job_for_idempotency_key(idempotency_key) if idempotency_key else None
                if earlier is None:
                    raise
                return earlier
            if recording_id is not None:
                recording = s.get(Recording, recording_id)
                if recording is None:
                    raise NotFound(f"recording {recording_id}")
                recording.diary = diary
                recording.status = "confirmed"
            if checked is not None:
                diary.photo_path = self._store_photo(diary.id, checked)
            # a job is born received: its first event is not a transition
            self.bus.add(s, job.id, "diary received", StateData(channel=channel), state=JobState.RECEIVED)
            job_id = job.id
            view = job_view(job, self.media, review_threshold=self.settings.safety.review_threshold)
        log.info("job %s: diary of %d chars from %s:%s saved", job_id, len(diary_text), channel, user)
        if run:
            self.runner.submit(job_id)
            if not getattr(self.runner, "background", True):  # it ran inline: show where it got to
                return self.get_job(job_id)
        return view  # the job as saved; get_job / wait / subscribe follow it

    def _save_diary_only(self, text: str, channel: str, user: str, language: str | None) -> int:
        """Keep a diary whose request was refused for its photo: nothing a user wrote is lost."""
        with self.db.session() as s:
            owner = repos.get_or_create_user(s, channel, user)
            diary = Diary(user_id=owner.id, text=text, language=language or detect_language(text), channel=channel)
            s.add(diary)
            s.flush()
            return diary.id

    def _store_photo(self, diary_id: int, photo: Photo) -> str:
        rel = f"{diary_dir(diary_id)}/photo.png"
        self.media.write_bytes(rel, photo.png)
        return rel

    def attach_photo(self, job_id: int, data: bytes) -> JobView:
        """Add the dreamer's photo to a job's diary after the diary was sent (a Telegram photo right
        after the text). A finished video is made again from it: its first scene, or every scene
        under chain and keyframe continuity. Raises BadImage (nothing stored), JobBusy while the
        scenes are being rendered, InvalidTransition when the job was rejected."""
        checked = self.check_photo(data)
        with self._job(job_id) as (s, job):
            if job.state == JobState.REJECTED:
                raise InvalidTransition(f"job {job_id} was rejected; its photo would never be used")
            redo = scenes_from_photo(job.continuity, len(job.segments))
            stale = [c for c in job.clips if c.segment_index in redo]
            if stale and job.state in (JobState.RENDERING, JobState.STITCHING):
                raise JobBusy(f"job {job_id} is {job.state}; send the photo again when the video is there")
            diary = job.diary
            if diary.photo_path:
                self.media.remove(diary.photo_path)
            diary.photo_path = self._store_photo(diary.id, checked)
            for segment in job.segments:
                if segment.index in redo and segment.start_frame:
                    self.media.remove(segment.start_frame)
                    segment.start_frame = None
            for clip in stale:
                self.media.remove(clip.path)
                s.delete(clip)
            rerun = bool(stale)
            if rerun:  # done, or failed after moderation: the video is made again from the photo
                job.failed_in, job.error = None, None
                transition(
                    s, job, JobState.APPROVED, f"the dreamer's photo was added; rendering {len(stale)} scene(s) again",
                    StateData(photo=True, rerender=sorted(c.segment_index for c in stale)),
                )
            else:
                self.bus.add(s, job_id, "the dreamer's photo was added", InfoData(photo=True), state=job.state)
        if rerun:
            self.runner.submit(job_id)
        return self.get_job(job_id)

    def delete_diary(self, job_id: int) -> None:
        """Delete the diary behind a job with every job of it, their files and the dreamer's photo."""
        with self.db.session() as s:
            job = self._load(s, job_id)
            diary = job.diary
            if diary.photo_path:
                self.media.remove(diary.photo_path)
            for other in list(diary.jobs):
                self.media.remove_tree(job_dir(other.id))
                s.delete(other)
            self.media.remove_tree(diary_dir(diary.id))
            s.delete(diary)
        log.info("job %s: its diary, jobs, files and photo were deleted", job_id)

    # -- running ------------------------------------------------------------------------------

    def run_job(self, job_id: int) -> JobView:
        """Run or resume a job inline until it rests (done, failed, rejected, in_review, blocked).

        A dry-run job asked to run goes on from its plan. Raises JobBusy when another process runs it.
        """
        self._set_dry_run(job_id, False)
        self.pipeline.run(job_id)
        return self.get_job(job_id)

    def plan_job(self, job_id: int) -> JobView:
        """Run a job inline only as far as its plan and safety verdict (a dry run); it rests there
        (crash recovery leaves it alone) until someone runs it."""
        self._set_dry_run(job_id, True)
        self.pipeline.run(job_id, until="planned")
        return self.get_job(job_id)

    def _set_dry_run(self, job_id: int, on: bool) -> None:
        with self._job(job_id) as (_, job):
            if bool(job.options.get("dry_run")) != on:
                job.options = {**job.options, "dry_run": on}

    def recover_interrupted(self) -> list[int]:
        """Re-submit jobs a crash left in a working state (dry runs excepted: they rest after planning).
        Call once when a long-lived process starts; a job another live process runs is skipped by its lease."""
        with self.db.session() as s:
            ids = [
                job.id
                for job in repos.jobs_in_states(s, WORKING_STATES)
                if not (job.state == JobState.PLANNED and job.options.get("dry_run"))
            ]
        for job_id in ids:
            log.info("job %s: resuming after an interruption", job_id)
            self.runner.submit(job_id)
        return ids

    def wait(self, job_id: int, timeout: float = 60.0, poll: float = 0.1) -> JobView:
        """Block until the job rests or `timeout` seconds pass; return its view either way."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get_job(job_id)
            if view.status in RESTING_STATES or time.monotonic() >= deadline:
                return view
            time.sleep(poll)

    def reroll_segment(self, job_id: int, index: int, *, seed: int | None = None) -> JobView:
        """Render one scene again with a new seed and stitch again; other clips are kept."""
        with self._job(job_id) as (s, job):
            passed_moderation = job.state == JobState.DONE or (
                job.state == JobState.FAILED and job.failed_in in PASSED_MODERATION
            )
            if not passed_moderation:
                raise InvalidTransition(f"job {job_id} is {job.state}; only a finished video can be re-rolled")
            segment = repos.segment_for(s, job_id, index)
            if segment is None:
                raise NotFound(f"scene {index} of job {job_id}")
            segment.seed = seed if seed is not None else secrets.randbelow(2**31 - 1)
            clip = repos.clip_for(s, job_id, index)
            if clip is not None:
                self.media.remove(clip.path)
                s.delete(clip)
            repos.forget_attempts(s, job_id, index)  # the re-roll is judged afresh
            job.failed_in = None
            job.error = None
            transition(
                s, job, JobState.APPROVED, f"re-rolling scene {index + 1} with seed {segment.seed}",
                StateData(reroll=index, seed=segment.seed),
            )
        self.runner.submit(job_id)
        return self.get_job(job_id)

    # -- moderation ---------------------------------------------------------------------------

    def moderation_queue(self, *, include_decided: bool = False) -> list[ReviewView]:
        with self.db.session() as s:
            return [review_view(r) for r in repos.pending_reviews(s, include_decided=include_decided)]

    def approve(
        self,
        job_id: int,
        *,
        moderator: str,
        note: str | None = None,
        prompts: dict[int, str] | None = None,
    ) -> JobView:
        """A moderator lets a refused job through (optionally with edited scene prompts); it then runs.
        Every prompt, edited or not, is softened for the verdict's categories first (see
        `renderable_prompts`)."""
        refuse_control_characters(moderator, "moderator name")
        refuse_control_characters(note, "note", lines=True)
        for prompt in (prompts or {}).values():
            refuse_control_characters(prompt, "prompt", lines=True)
        with self._job(job_id) as (s, job):
            moderation.check_waiting(job)
            moderation.edit_prompts(s, job, prompts or {})
            # an approved refusal is rendered only through the softening of the planning step
            # (for its verdict's categories), whatever the moderator typed
            categories = _categories(job.verdict_reasons)
            for segment in job.segments:
                segment.prompt = self.pipeline.renderable_prompt(segment.prompt, categories)
            moderation.decide(s, job, JobState.APPROVED, moderator, note)
        self.runner.submit(job_id)
        return self.get_job(job_id)

    def renderable_prompts(self, job: JobView) -> list[str]:
        """The prompt of each scene as it will be rendered if the job is approved (what a moderator
        sees before deciding)."""
        categories = {reason.category for reason in job.verdict.reasons} if job.verdict else set()
        return [self.pipeline.renderable_prompt(segment.prompt, categories) for segment in job.segments]

    def reject(self, job_id: int, *, moderator: str, note: str) -> JobView:
        """A moderator refuses a job for good; the diary stays saved."""
        if not note or not note.strip():
            raise InputError("a rejection needs a note saying why")
        refuse_control_characters(moderator, "moderator name")
        refuse_control_characters(note, "note", lines=True)
        with self._job(job_id) as (s, job):
            moderation.decide(s, job, JobState.REJECTED, moderator, note.strip())
        return self.get_job(job_id)

    # -- reading ------------------------------------------------------------------------------

    def get_job(self, job_id: int, *, detail: bool = False) -> JobView:
        with self.db.session() as s:
            job = self._load(s, job_id)
            view = job_view(job, self.media, review_threshold=self.settings.safety.review_threshold)
            if detail:
                view.diary = job.diary.text
                view.events = [event_view(e) for e in repos.events_after(s, job_id)]
                view.reviews = [review_view(r) for r in job.reviews]
            return view

    def list_jobs(
        self, *, channel: str | None = None, user: str | None = None, limit: int = 50
    ) -> list[JobView]:
        with self.db.session() as s:
            return [
                job_view(j, self.media, review_threshold=self.settings.safety.review_threshold)
                for j in repos.list_jobs(s, channel=channel, external_id=user, limit=limit)
            ]

    def events(self, job_id: int, *, after_id: int = 0) -> list[EventView]:
        with self.db.session() as s:
            return [event_view(e) for e in repos.events_after(s, job_id, after_id)]

    def events_since(self, after_id: int, limit: int = 500) -> list[EventView]:
        """The global feed: events of all jobs with an id above `after_id`, oldest first."""
        with self.db.session() as s:
            return [event_view(e) for e in repos.events_since(s, after_id, limit)]

    def pending_review_count(self) -> int:
        """How many refused requests wait for a moderator."""
        with self.db.session() as s:
            return repos.count_pending_reviews(s)

    def job_counts(self) -> dict[str, int]:
        """Number of jobs in each state (states without jobs are absent)."""
        with self.db.session() as s:
            return repos.count_by_state(s)

    def subscribe(self, callback: Callable[[EventView], None]) -> Callable[[], None]:
        """Call `callback` with every new event; returns the function that unsubscribes.

        With a runner that works in other processes (Celery), events are followed from the
        database, so subscribers see workers' progress too.
        """
        unsubscribe = self.bus.subscribe(callback)
        if self.relay is not None:
            self.relay.start()
        return unsubscribe

    def follow_events_from_database(self, interval: float = 0.5, consumer: str | None = None) -> None:
        """Deliver events written by other processes (workers) to this process's subscribers.

        Without `consumer`, from the newest event on. With it (e.g. "telegram-bot"), from where
        that consumer's last process got to, so nothing that happened while it was stopped is
        missed; a new consumer starts at the newest event."""
        if self.relay is None:
            with self.db.session() as s:
                start = repos.latest_event_id(s)
                if consumer is not None:
                    stored = repos.get_cursor(s, consumer)
                    if stored is None:
                        repos.advance_cursor(s, consumer, start)
                    else:
                        start = stored
            save = None if consumer is None else (lambda event_id: self._save_cursor(consumer, event_id))
            self.relay = EventRelay(lambda after: self.events_since(after), self.bus, start, interval, save)
            if consumer is not None:
                log.info("following events as %r after event %d", consumer, start)

    def _save_cursor(self, consumer: str, event_id: int) -> None:
        with self.db.session() as s:
            repos.advance_cursor(s, consumer, event_id)

    def outcome_told(self, job_id: int, after_event: int, state: str, told_by: type[EventData]) -> bool:
        """Whether the outcome `state` of the resting-state event `after_event` was told already
        through a channel whose events are `told_by` (a bot delivery, an API callback the receiver
        took): one follows the event. A process following events from a durable cursor sees a
        resting state again after a restart; asked before telling, this tells each outcome once."""
        return any(
            told_by.of(e).tells == state for e in self.events(job_id, after_id=after_event) if e.kind == told_by.kind
        )

    def record_event(self, job_id: int, message: str, data: EventData) -> EventView:
        """Channels add their own audit rows (deliveries, ratings, callbacks) to a job's feed."""
        with self._job(job_id) as (s, _):
            row = self.bus.add(s, job_id, message, data)
        return event_view(row)

    def video_file(self, job_id: int) -> Path | None:
        with self.db.session() as s:
            job = self._load(s, job_id)
            if job.video is None or not self.media.exists(job.video.path):
                return None
            return self.media.path_for(job.video.path)

    def subtitle_file(self, job_id: int, kind: str) -> Path | None:
        """The video's subtitles, `kind` "srt" or "vtt", if the job has a video with them."""
        video = self.video_file(job_id)
        if video is None or kind not in ("srt", "vtt"):
            return None
        path = video.with_suffix(f".{kind}")
        return path if path.is_file() else None

    def clip_file(self, job_id: int, index: int) -> Path | None:
        with self.db.session() as s:
            self._load(s, job_id)
            clip = repos.clip_for(s, job_id, index)
            if clip is None or not self.media.exists(clip.path):
                return None
            return self.media.path_for(clip.path)

    # -- users --------------------------------------------------------------------------------

    def user_prefs(self, channel: str, user: str) -> dict[str, Any]:
        with self.db.session() as s:
            found = repos.find_user(s, channel, user)
            if found is None:
                return {}
            prefs = dict(found.prefs or {})
            prefs.setdefault("language", found.language)
            prefs["blocked_bot"] = found.blocked_bot
            return prefs

    def update_user(
        self,
        channel: str,
        user: str,
        *,
        language: str | None = None,
        prefs: dict[str, Any] | None = None,
        blocked_bot: bool | None = None,
    ) -> None:
        with self.db.session() as s:
            found = repos.get_or_create_user(s, channel, user)
            if language is not None:
                found.language = language
            if prefs:
                found.prefs = {**(found.prefs or {}), **prefs}
            if blocked_bot is not None:
                found.blocked_bot = blocked_bot

    def count_jobs(
        self, channel: str, user: str, *, active_only: bool = False, since: datetime | None = None
    ) -> int:
        with self.db.session() as s:
            states = WORKING_STATES if active_only else None
            return repos.count_jobs(s, channel, user, states=states, since=since)

    def count_jobs_with_user_prefix(self, channel: str, prefix: str, *, since: datetime) -> int:
        """Jobs created since `since` by all users of `channel` whose id starts with `prefix`
        (the API counts one key's jobs with the prefix "<keyid>:")."""
        with self.db.session() as s:
            return repos.count_jobs_with_user_prefix(s, channel, prefix, since=since)

    def job_for_idempotency_key(self, key: str) -> JobView | None:
        """The job submitted earlier with this idempotency key, if any."""
        with self.db.session() as s:
            existing = repos.job_by_idempotency_key(s, key)
            job_id = existing.id if existing is not None else None
        return self.get_job(job_id) if job_id is not None else None

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()
        self.runner.close()
        self.db.dispose()

    # -- helpers ------------------------------------------------------------------------------

    def _load(self, s: Session, job_id: int) -> Job:
        job = repos.load_job(s, job_id)
        if job is None:
            raise NotFound(f"job {job_id}")
        return job

    @contextmanager
    def _job(self, job_id: int) -> Iterator[tuple[Session, Job]]:
        """A unit of work on one job (NotFound if there is none): commits, then publishes the
        events written in it."""
        with publishing(self.db, self.bus) as s:
            yield s, self._load(s, job_id)


def _categories(reasons: list[Any] | None) -> set[str]:
    """The categories of a job's stored verdict reasons."""
    return {str(reason.get("category")) for reason in reasons or [] if isinstance(reason, dict)}


def _input_error(exc: TextRejected) -> InputError:
    code = str(getattr(exc, "reason_code", "") or "")
    detail = str(getattr(exc, "detail", "") or exc)
    if "empty" in code:
        return EmptyDiary(detail)
    if "script" in code or "language" in code:
        return UnsupportedScript(detail)
    return NotText(detail)
