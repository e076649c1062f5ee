"""Voice diaries over HTTP: upload (multipart) -> transcript -> confirm or correct -> job; bad
audio 422 `bad_audio`, no model 503 `speech_unavailable`, the audio kept either way; subtitles
linked from the job. The real app on uvicorn, the real service, a tiny random Whisper."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import recordings
from tests.test_api import wait_for
from tests.test_api_support import KEY_B, api_env, running_api
from tests.tiny_models.audio import tiny_whisper_fixture  # noqa: F401

SPOKEN = "I dreamt I was flying over a quiet sea at sunset."
CORRECTED = "I dreamt I was flying over a quiet sea at sunset. Then a whale sang below me and I fell."


def test_upload_transcribe_correct_confirm_and_subtitles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_whisper: Path
) -> None:
    api_env(monkeypatch, DREAMREEL_SPEECH__BACKEND="whisper", DREAMREEL_SPEECH__MODEL=str(tiny_whisper))
    note = recordings.voice_note(tmp_path / "note.ogg", SPOKEN, "en").read_bytes()
    with running_api() as api, api.client() as client:
        response = client.post("/v1/recordings", data={"user": "u1"},
                               files={"file": ("note.ogg", note, "audio/ogg")})  # fmt: skip
        assert response.status_code == 201, response.text
        heard = response.json()
        assert heard["status"] == "transcribed" and heard["transcript"] and heard["duration"] > 1
        assert heard["links"]["self"].endswith(f"/v1/recordings/{heard['recording_id']}")
        with api.client(KEY_B) as other:  # another app's key does not see it
            assert other.get(f"/v1/recordings/{heard['recording_id']}").status_code == 404

        accepted = client.post(heard["links"]["diary"], json={"text": CORRECTED, "segments": 2})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        links = accepted.json()["links"]
        assert links["subtitles_srt"].endswith(f"/v1/jobs/{job_id}/subtitles.srt")
        job = wait_for(api, job_id, ("done", "failed"), timeout=120)
        assert job["status"] == "done", job.get("error")
        assert job["diary"] == CORRECTED  # the correction replaced the transcript
        recording = client.get(heard["links"]["self"]).json()
        assert recording["status"] == "confirmed" and recording["job_id"] == job_id
        assert api.service.voice.audio_file(heard["recording_id"]).read_bytes() == note
        again = client.post(heard["links"]["diary"], json={})
        assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"

        srt = client.get(links["subtitles_srt"])
        vtt = client.get(links["subtitles_vtt"])
        assert srt.status_code == 200 and srt.headers["content-type"].startswith("application/x-subrip")
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
        assert srt.text.count(" --> ") == len(job["segments"]) == 2
        assert client.get(f"/v1/jobs/{job_id}/subtitles.txt").status_code == 422


def test_bad_audio_and_no_model_are_refused_with_the_audio_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_whisper: Path
) -> None:
    api_env(monkeypatch, DREAMREEL_SPEECH__BACKEND="whisper", DREAMREEL_SPEECH__MODEL=str(tiny_whisper))
    silent = recordings.silent_note(tmp_path / "quiet.ogg").read_bytes()
    with running_api() as api, api.client() as client:
        response = client.post("/v1/recordings", data={"user": "u1"}, headers={"Accept-Language": "ko"},
                               files={"file": ("quiet.ogg", silent, "audio/ogg")})  # fmt: skip
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "bad_audio" and error["details"][0]["reason"] == "silent"
        assert "들리지 않아요" in error["message"]  # in the caller's language
        kept = error["details"][0]["recording_id"]
        assert api.service.voice.audio_file(kept).read_bytes() == silent
        assert client.get(f"/v1/recordings/{kept}").json()["status"] == "refused"

    api_env(monkeypatch, DREAMREEL_SPEECH__BACKEND="none", DREAMREEL_SPEECH__MAX_BYTES="100000")
    note = recordings.voice_note(tmp_path / "note.ogg", SPOKEN, "en").read_bytes()
    with running_api() as api, api.client() as client:
        response = client.post("/v1/recordings", data={"user": "u1"}, files={"file": ("n.ogg", note, "audio/ogg")})
        assert response.status_code == 503 and response.json()["error"]["code"] == "speech_unavailable"
        kept = response.json()["error"]["details"][0]["recording_id"]
        assert api.service.voice.audio_file(kept).read_bytes() == note
        # uploads are bounded by the recording limit (plus room for the form), not the diary body limit
        huge = client.post("/v1/recordings", data={"user": "u1"}, files={"file": ("big.ogg", b"x" * 200_000, "audio/ogg")})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
