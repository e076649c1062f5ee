"""Sound in the job pipeline: narration before rendering (each scene lasts as long as its words),
narration off per diary or per scene, the stitched video scored with music and subtitles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service
from generation.audio.base import wav_speech
from generation.probe import probe_streams, probe_video
from tests.helpers import fast_env

KO = "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 큰 고래가 나타나 나를 삼켰다."


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_env(monkeypatch)  # 1 s scenes at 4 fps: every narration is longer than that


def _narrations(video: Path) -> dict[int, Path]:
    return {int(p.name.split("-")[1]): p for p in video.parent.glob("narration-*.wav")}


def test_scenes_last_as_long_as_their_narration_and_a_muted_scene_stays_short(tmp_path: Path) -> None:
    service = build_service(load_settings())
    job = service.submit_diary(KO, options=JobOptions(segments=2, mute_scenes=[0]))
    assert job.status == "done", job.error
    video = Path(job.video or "")
    spoken = _narrations(video)
    assert set(spoken) == {1}  # scene 0 is muted
    clips = [probe_video(Path(c)) for c in job.clips]
    padding = service.settings.audio.scene_padding
    assert clips[0].duration == pytest.approx(1.0)  # the preset's length: nothing to say
    assert clips[1].duration >= wav_speech(spoken[1]).duration + padding  # grown to hold the words
    assert {s.kind for s in probe_streams(video)} == {"video", "audio", "subtitle"}
    srt = video.with_suffix(".srt").read_text(encoding="utf-8")
    assert srt.count(" --> ") == 2  # a muted scene still has its subtitle
    assert "00:00:01,000 -->" in srt  # scene 2 starts where the 1 s scene 1 ends

    # a re-rolled scene reuses its narration file and keeps its length
    before = spoken[1].stat().st_mtime_ns
    service.reroll_segment(job.job_id, 1)
    again = service.wait(job.job_id, timeout=120)
    assert again.status == "done" and _narrations(video)[1].stat().st_mtime_ns == before
    assert probe_video(Path(again.clips[1])).duration == pytest.approx(clips[1].duration, abs=0.01)
    service.close()


def test_narration_off_for_a_diary_keeps_music_and_subtitles(tmp_path: Path) -> None:
    service = build_service(load_settings())
    job = service.submit_diary(KO, options=JobOptions(segments=2, narration=False))
    assert job.status == "done", job.error
    video = Path(job.video or "")
    assert _narrations(video) == {}
    assert [probe_video(Path(c)).duration for c in job.clips] == pytest.approx([1.0, 1.0])
    assert {s.kind for s in probe_streams(video)} == {"video", "audio", "subtitle"}
    assert len(re.findall(" --> ", video.with_suffix(".srt").read_text(encoding="utf-8"))) == 2
    assert [Path(p).suffix for p in job.subtitles] == [".srt", ".vtt"]
    service.close()


def test_narration_off_everywhere_by_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMREEL_AUDIO__NARRATION", "false")
    service = build_service(load_settings())
    job = service.submit_diary(KO, options=JobOptions(segments=1))
    assert job.status == "done" and _narrations(Path(job.video or "")) == {}
    on = service.submit_diary(KO, options=JobOptions(segments=1, narration=True))  # a diary may still ask
    assert on.status == "done" and set(_narrations(Path(on.video or ""))) == {0}
    service.close()
