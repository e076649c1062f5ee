"""Voice diaries end to end: the real aiogram bot against the local Bot API server
(tests/fakes/telegram_server.py, getFile + file download over the real wire format), the real
service, and a tiny random Whisper. Recordings are made at test time (espeak-ng -> OGG/Opus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.texts import t
from dreamreel.errors import BadRecording
from tests import recordings
from tests.fakes.telegram_server import button_data
from tests.test_bot import DREAMER, _fast_preview, _job_of, open_settings, press_setting, running_bot  # noqa: F401
from tests.tiny_models.audio import tiny_whisper_fixture  # noqa: F401

SPOKEN = "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 큰 고래가 나타나 나를 삼켰다."
CORRECTED = "꿈에서 나는 하늘을 날았고, 큰 고래가 바다에서 나를 불렀다."

pytestmark = pytest.mark.timeout(180)


def _transcript_messages(server: Any) -> list[dict[str, Any]]:
    return [m for (c, _), m in server.messages.items() if c == DREAMER and button_data(m, "voice:")]


async def test_voice_message_transcribed_confirmed_and_a_typed_correction_replaces_it(
    tmp_path: Path, tiny_whisper: Path
) -> None:
    async with running_bot(tmp_path, speech={"backend": "whisper", "model": tiny_whisper}) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        await press_setting(h, dreamer, await open_settings(h, dreamer), "continuity", "chain")
        note = recordings.voice_note(tmp_path / "voice.ogg", SPOKEN).read_bytes()
        s.send_voice(dreamer, note, duration=6)
        shown = await s.wait_for(lambda: _transcript_messages(s), what="the transcript", timeout=90)
        assert s.downloads and s.downloads[0].startswith("voice/")  # fetched through getFile + /file/bot...
        heard = h.service.voice.pending("telegram", str(DREAMER))
        assert heard is not None and heard.transcript  # what the tiny Whisper heard, waiting for a yes
        assert shown[0]["text"] == t("ko", "voice_transcript", text=heard.transcript)
        assert not h.service.list_jobs(channel="telegram", user=str(DREAMER))  # nothing starts before a yes

        # ✅: the transcript runs like a typed diary, and a video arrives
        s.press(dreamer, shown[0], button_data(shown[0], f"voice:{heard.recording_id}:confirm")[0])
        await s.wait_for(lambda: s.calls_to("sendVideo", DREAMER, ok=True), what="the video", timeout=120)
        job = await _job_of(h, DREAMER)
        assert h.service.get_job(job.job_id, detail=True).diary == heard.transcript
        assert job.continuity == "chain"  # the person's /settings, as for a typed diary
        kept = h.service.voice.get(heard.recording_id)
        assert kept.status == "confirmed" and kept.job_id == job.job_id
        assert h.service.voice.audio_file(kept.recording_id).read_bytes() == note  # the audio, with the diary
        edited = s.messages[(DREAMER, shown[0]["message_id"])]
        assert edited["text"] == t("ko", "voice_confirmed", text=heard.transcript) and not button_data(edited, "")

        # a second note, corrected by typing: the typed text replaces the transcript
        s.send_voice(dreamer, note, duration=6)
        await s.wait_for(lambda: len(_transcript_messages(s)) == 1 and _transcript_messages(s)[0] is not shown[0]
                         and h.service.voice.pending("telegram", str(DREAMER)), what="second transcript", timeout=90)
        second = h.service.voice.pending("telegram", str(DREAMER))
        assert second is not None and second.recording_id != heard.recording_id
        s.send_text(dreamer, CORRECTED)
        fixed = await s.wait_for(
            lambda: [m for m in _transcript_messages(s) if CORRECTED in m["text"]], what="the corrected transcript"
        )
        assert fixed[0]["text"] == t("ko", "voice_transcript", text=CORRECTED)
        assert h.service.voice.get(second.recording_id).transcript == CORRECTED
        assert len(h.service.list_jobs(channel="telegram", user=str(DREAMER))) == 1  # a correction is not a diary
        yes = button_data(fixed[0], f"voice:{second.recording_id}:confirm")[0]
        s.press(dreamer, fixed[0], yes)
        await s.wait_for(lambda: len(s.calls_to("sendVideo", DREAMER, ok=True)) == 2, what="second video", timeout=120)
        newest = await _job_of(h, DREAMER, 1)
        assert h.service.get_job(newest.job_id, detail=True).diary == CORRECTED

        # pressing ✅ again under the old transcript: already used, no second job
        s.press(dreamer, fixed[0], yes)
        await s.wait_for(lambda: any(c.params.get("text") == t("ko", "voice_gone")
                                     for c in s.calls_to("answerCallbackQuery")), what="already used")
        assert len(h.service.list_jobs(channel="telegram", user=str(DREAMER))) == 2


async def test_bad_audio_gets_a_clear_message_and_is_kept(tmp_path: Path, tiny_whisper: Path) -> None:
    async with running_bot(tmp_path, speech={"backend": "whisper", "model": tiny_whisper, "max_seconds": 300}) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="en")
        sent = {
            "not_audio": recordings.not_audio(tmp_path / "dream.ogg").read_bytes(),
            "too_long": recordings.two_hours(tmp_path / "night.wav").read_bytes(),
            "silent": recordings.silent_note(tmp_path / "quiet.ogg").read_bytes(),
            "unsupported_codec": recordings.odd_codec(tmp_path / "odd.wav").read_bytes(),
        }
        s.send_document(dreamer, sent["not_audio"], file_name="dream.ogg", mime_type="audio/ogg")
        s.send_audio(dreamer, sent["too_long"], file_name="night.wav", mime_type="audio/x-wav", duration=7200)
        s.send_voice(dreamer, sent["silent"], duration=3)
        s.send_audio(dreamer, sent["unsupported_codec"], file_name="odd.wav", mime_type="audio/x-wav")
        expected = {
            reason: BadRecording(reason, detail, limit="5 min").user_message("en")
            for reason, detail in [("not_audio", ""), ("too_long", "120 min"), ("silent", ""),
                                   ("unsupported_codec", "none")]
        }  # fmt: skip
        await s.wait_for(lambda: len([m for (c, _), m in s.messages.items() if c == DREAMER
                                      and m.get("from", {}).get("is_bot") and m["text"] in expected.values()]) == 4,
                         what="all four answers", timeout=90)  # fmt: skip
        answers = {m["text"] for (c, _), m in s.messages.items() if c == DREAMER and m.get("from", {}).get("is_bot")}
        assert set(expected.values()) <= answers
        assert not h.service.list_jobs(channel="telegram", user=str(DREAMER))
        kept = [h.service.voice.get(i) for i in range(1, 5)]
        assert sorted(r.reason or "" for r in kept) == sorted(sent)
        for rec in kept:  # every file is kept, byte for byte
            assert rec.status == "refused"
            assert h.service.voice.audio_file(rec.recording_id).read_bytes() == sent[rec.reason or ""]


async def test_without_a_speech_model_the_voice_is_kept_and_the_user_told(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        s = h.server
        dreamer = s.user(DREAMER, language_code="ko")
        note = recordings.voice_note(tmp_path / "voice.ogg", SPOKEN).read_bytes()
        s.send_voice(dreamer, note)
        unavailable = "음성 인식 모델"
        await s.wait_for(lambda: any(unavailable in m.get("text", "") for (c, _), m in s.messages.items() if c == DREAMER),
                         what="the no-model message")  # fmt: skip
        kept = h.service.voice.get(1)
        assert kept.status == "unheard" and h.service.voice.audio_file(1).read_bytes() == note
        # a voice note claiming more than Telegram lets a bot fetch is answered without downloading
        s.send_voice(dreamer, b"x", file_size=25_000_000)
        await s.wait_for(lambda: any("너무 커서" in m.get("text", "") for (c, _), m in s.messages.items() if c == DREAMER),
                         what="too large")  # fmt: skip
        assert len(s.downloads) == 1
