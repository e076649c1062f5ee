"""Voice diaries through the service: the recording is kept first, then checked and transcribed;
the person confirms or corrects the transcript before a job starts (dreamreel.voice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamreel.errors import BadRecording, InvalidTransition, SpeechUnavailable
from dreamreel.settings import load_settings
from dreamreel.wiring import build_service
from storage.models import Recording
from tests import recordings
from tests.helpers import fast_env
from tests.tiny_models.audio import tiny_whisper_fixture  # noqa: F401

SPOKEN = "어젯밤 꿈에서 나는 바다 위를 날고 있었다."


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)


def _service(tiny_whisper: Path | None, **overrides: object):  # type: ignore[no-untyped-def]
    speech = {"backend": "whisper", "model": tiny_whisper} if tiny_whisper else {}
    return build_service(load_settings(speech=speech, **overrides))


def test_voice_note_transcribed_corrected_confirmed_and_kept_with_the_diary(
    tmp_path: Path, tiny_whisper: Path
) -> None:
    service = _service(tiny_whisper)
    data = recordings.voice_note(tmp_path / "v.ogg", SPOKEN).read_bytes()
    heard = service.voice.receive(data, channel="telegram", user="7", filename="voice.ogg")
    assert heard.status == "transcribed" and heard.transcript and heard.duration and heard.duration > 1
    assert service.voice.pending("telegram", "7") == heard
    assert service.voice.pending("telegram", "8") is None

    corrected = service.voice.correct(heard.recording_id, "  " + SPOKEN + "  ")
    assert corrected.transcript == SPOKEN and corrected.status == "transcribed"
    job = service.voice.confirm(heard.recording_id)
    assert job.channel == "telegram" and job.user == "7"
    done = service.wait(job.job_id, timeout=120)
    assert done.status == "done"
    assert service.get_job(job.job_id, detail=True).diary == SPOKEN  # the correction, not the first transcript

    after = service.voice.get(heard.recording_id)
    assert after.status == "confirmed" and after.job_id == job.job_id
    assert service.voice.audio_file(heard.recording_id).read_bytes() == data  # the audio is kept
    with service.db.session() as s:
        row = s.get(Recording, heard.recording_id)
        assert row is not None and row.diary is not None and row.diary.jobs[0].id == job.job_id
    assert service.voice.pending("telegram", "7") is None
    with pytest.raises(InvalidTransition):
        service.voice.confirm(heard.recording_id)  # one recording, one job
    service.close()


@pytest.mark.parametrize(("make", "reason"), [
    (recordings.not_audio, "not_audio"),
    (recordings.two_hours, "too_long"),
    (recordings.silent_note, "silent"),
    (recordings.odd_codec, "unsupported_codec"),
])  # fmt: skip
def test_bad_audio_gets_a_clear_message_and_is_kept(tmp_path: Path, tiny_whisper: Path, make, reason) -> None:  # type: ignore[no-untyped-def]
    service = _service(tiny_whisper)
    data = make(tmp_path / "input.bin").read_bytes()
    with pytest.raises(BadRecording) as caught:
        service.voice.receive(data, channel="api", user="k:1", filename="upload.ogg")
    assert caught.value.reason == reason
    ko, en = caught.value.user_message("ko"), caught.value.user_message("en")
    assert "저장" in ko and "saved" in en  # both languages say it is kept
    kept = service.voice.get(caught.value.recording_id or 0)
    assert kept.status == "refused" and kept.reason == reason
    assert service.voice.audio_file(kept.recording_id).read_bytes() == data
    if reason == "too_long":
        assert "120 min" in en and "10 min" in en
    if reason == "unsupported_codec":
        assert "(none)" in en  # the codec ffmpeg names
    service.close()


def test_without_a_model_the_recording_is_kept_and_the_person_told(tmp_path: Path) -> None:
    service = _service(None)
    assert not service.voice.available
    data = recordings.voice_note(tmp_path / "v.ogg", SPOKEN).read_bytes()
    with pytest.raises(SpeechUnavailable) as caught:
        service.voice.receive(data, channel="telegram", user="7", filename="voice.ogg")
    assert "음성 인식 모델" in caught.value.user_message("ko") and "speech model" in caught.value.user_message("en")
    kept = service.voice.get(caught.value.recording_id or 0)
    assert kept.status == "unheard" and service.voice.audio_file(kept.recording_id).read_bytes() == data
    service.close()
