"""Voice diaries: keep the recording, transcribe it, let the person confirm or correct, then submit.

    receive(data)        the audio is written to the media store and a `recordings` row made first,
                         so nothing is lost; then it is checked and transcribed. Bad audio raises
                         BadRecording (reason kept on the row); no model configured raises
                         SpeechUnavailable (row kept as "unheard").
    correct(id, text)    a typed correction replaces the transcript (still waiting for a yes)
    confirm(id)          the transcript becomes a diary and a job, exactly like typed text; the
                         recording is linked to that diary
    discard(id)          the person does not want it made; the audio stays stored

Every channel (the bot, the API) goes through here, so they behave alike.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dreamreel.errors import (
    BadRecording,
    InvalidTransition,
    NotFound,
    SpeechUnavailable,
    refuse_control_characters,
)
from dreamreel.views import JobOptions, JobView, RecordingView
from generation.audio.base import AudioRejected, SpeechRecognizer
from generation.audio.listen import read_recording
from storage import repos
from storage.models import Recording, utcnow

if TYPE_CHECKING:
    from dreamreel.service import DreamService

log = logging.getLogger(__name__)

PENDING_FOR = timedelta(minutes=30)  # a transcript waits this long for a yes or a correction
_EXTENSION = re.compile(r"\.[a-z0-9]{1,5}")
_BY_MIME = {"audio/ogg": ".ogg", "audio/opus": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
            "audio/x-m4a": ".m4a", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/webm": ".webm",
            "audio/flac": ".flac", "audio/aac": ".aac"}  # fmt: skip


class VoiceDiaries:
    """The voice side of `DreamService` (`service.voice`)."""

    def __init__(self, service: DreamService, recognizer: Callable[[], SpeechRecognizer | None]) -> None:
        self.service = service
        self._make_recognizer = recognizer
        self._recognizer: SpeechRecognizer | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether a speech-to-text model is configured (no model is loaded to answer this)."""
        return self.service.settings.speech.backend != "none"

    def recognizer(self) -> SpeechRecognizer | None:
        """The speech-to-text backend, built on first use (the model loads with the first recording)."""
        with self._lock:
            if self._recognizer is None and self.available:
                self._recognizer = self._make_recognizer()
            return self._recognizer

    # -- intake -------------------------------------------------------------------------------

    def receive(
        self, data: bytes, *, channel: str, user: str, filename: str | None = None, mime: str | None = None
    ) -> RecordingView:
        """Store `data`, then check and transcribe it; see the module docstring for what is raised."""
        settings = self.service.settings.speech
        refuse_control_characters(user, "user id")  # PostgreSQL cannot store NUL; nothing stored yet
        # a client's file name and type are only recorded: control characters are dropped, not refused
        filename, mime = (_printable(v) if v is not None else None for v in (filename, mime))
        recording_id, path = self._store(data, channel=channel, user=user, filename=filename, mime=mime)
        log.info("recording %s: %d bytes from %s:%s", recording_id, len(data), channel, user)
        if len(data) > settings.max_bytes:
            self._refuse(recording_id, "too_large")
            raise BadRecording("too_large", f"{len(data) / 1e6:.1f} MB", recording_id=recording_id,
                               limit=f"{settings.max_bytes / 1e6:.0f} MB")  # fmt: skip
        recognizer = self.recognizer()
        if recognizer is None:
            self._update(recording_id, status="unheard")
            raise SpeechUnavailable("no speech-to-text model is configured (speech.backend)", recording_id=recording_id)
        try:
            heard = read_recording(path, max_seconds=settings.max_seconds)
        except AudioRejected as exc:
            self._refuse(recording_id, exc.reason)
            raise BadRecording(exc.reason, _shown(exc), recording_id=recording_id,
                               limit=_minutes(settings.max_seconds)) from None  # fmt: skip
        transcript = recognizer.transcribe(heard.samples)
        text = " ".join(transcript.text.split())
        if not text:
            self._refuse(recording_id, "no_speech", duration=heard.duration)
            raise BadRecording("no_speech", "nothing recognised", recording_id=recording_id)
        return self._update(
            recording_id, status="transcribed", transcript=text, language=transcript.language, duration=heard.duration
        )

    def correct(self, recording_id: int, text: str) -> RecordingView:
        """A typed correction replaces the transcript; it is checked like any diary."""
        corrected = self.service.validate_diary(text)
        self._waiting(recording_id)
        return self._update(recording_id, transcript=corrected, status="transcribed")

    def confirm(
        self, recording_id: int, *, options: JobOptions | None = None, idempotency_key: str | None = None,
        limited: bool = False, api_key_prefix: str | None = None,
    ) -> JobView:
        """The transcript (as corrected) becomes the diary of a new job; the recording is linked to it.
        `limited`: the channel's limits apply (`DreamService.check_limits`)."""
        view = self._waiting(recording_id)
        assert view.transcript is not None
        job = self.service.submit_diary(
            view.transcript, channel=view.channel, user=view.user, options=options,
            idempotency_key=idempotency_key, recording_id=recording_id, limited=limited,
            api_key_prefix=api_key_prefix,
        )  # fmt: skip
        log.info("recording %s: confirmed as job %s", recording_id, job.job_id)
        return job

    def discard(self, recording_id: int) -> RecordingView:
        """The person does not want this one made; the audio stays stored."""
        self._waiting(recording_id)
        return self._update(recording_id, status="discarded")

    # -- reading ------------------------------------------------------------------------------

    def get(self, recording_id: int) -> RecordingView:
        with self.service.db.session() as s:
            return _view(self._load(s, recording_id))

    def pending(self, channel: str, user: str) -> RecordingView | None:
        """The person's newest transcript still waiting for a yes or a correction, if any."""
        since = datetime.now(UTC) - PENDING_FOR
        with self.service.db.session() as s:
            owner = repos.find_user(s, channel, user)
            if owner is None:
                return None
            row = s.scalar(
                select(Recording)
                .where(Recording.user_id == owner.id, Recording.status == "transcribed", Recording.created_at >= since)
                .order_by(Recording.id.desc())
                .limit(1)
            )
            return _view(row) if row is not None else None

    def audio_file(self, recording_id: int) -> Path:
        with self.service.db.session() as s:
            return self.service.media.path_for(self._load(s, recording_id).path)

    # -- helpers ------------------------------------------------------------------------------

    def _store(
        self, data: bytes, *, channel: str, user: str, filename: str | None, mime: str | None
    ) -> tuple[int, Path]:
        with self.service.db.session() as s:
            owner = repos.get_or_create_user(s, channel, user)
            row = Recording(user=owner, channel=channel, path="", filename=(filename or "")[:256] or None,
                            size=len(data), status="unheard")  # fmt: skip
            s.add(row)
            s.flush()
            row.path = f"recordings/{row.id:06d}{_extension(filename, mime)}"
            # the file is in place before the row is committed: a row never points at nothing
            path = self.service.media.write_bytes(row.path, data)
            return row.id, path

    def _load(self, s: Session, recording_id: int) -> Recording:
        row = s.get(Recording, recording_id)
        if row is None:
            raise NotFound(f"recording {recording_id}")
        return row

    def _waiting(self, recording_id: int) -> RecordingView:
        view = self.get(recording_id)
        if view.status != "transcribed":
            raise InvalidTransition(f"recording {recording_id} is {view.status}, not waiting for a confirmation")
        return view

    def _refuse(self, recording_id: int, reason: str, duration: float | None = None) -> None:
        log.info("recording %s: refused (%s)", recording_id, reason)
        self._update(recording_id, status="refused", reason=reason, duration=duration)

    def _update(self, recording_id: int, **values: object) -> RecordingView:
        with self.service.db.session() as s:
            row = self._load(s, recording_id)
            for key, value in values.items():
                if value is not None or key == "reason":
                    setattr(row, key, value)
            row.updated_at = utcnow()
            s.flush()
            return _view(row)


def _view(row: Recording) -> RecordingView:
    job_id = None
    if row.diary is not None and row.diary.jobs:
        job_id = row.diary.jobs[0].id
    return RecordingView(
        recording_id=row.id, status=row.status, reason=row.reason,  # type: ignore[arg-type]
        transcript=row.transcript, language=row.language, duration=row.duration, channel=row.channel,
        user=row.user.external_id, job_id=job_id, created_at=row.created_at,
    )  # fmt: skip


def _extension(filename: str | None, mime: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    if _EXTENSION.fullmatch(suffix):
        return suffix
    return _BY_MIME.get((mime or "").split(";")[0].strip().lower(), ".bin")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _shown(rejected: AudioRejected) -> str:
    """The part of a rejection worth showing a person: the length, or the codec's name."""
    if rejected.reason == "too_long":
        return _minutes(round(rejected.seconds)) if rejected.seconds is not None else "too long"
    if rejected.reason == "unsupported_codec":
        return rejected.codec or "unknown codec"
    return str(rejected)


def _printable(value: str) -> str:
    """`value` without control characters (Unicode category Cc)."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")
