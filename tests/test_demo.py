"""`make demo` end to end: the embedded defaults make a video with sound and subtitles.

The demo runs as a user runs it (`python -m dreamreel.demo`, its own DREAMREEL_HOME), then the
files are probed with the project's ffmpeg: an audio stream (narration over music) and a
language-tagged subtitle stream in the mp4, and a .srt with one cue per scene, each inside its
scene's span on the video's timeline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generation.ffmpeg import ffmpeg_command
from generation.probe import probe_streams, probe_video
from generation.stitch import timeline_spans
from tests.helpers import REPO

pytestmark = pytest.mark.timeout(300)

_CUE = re.compile(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)")


def _seconds(parts: tuple[str, ...]) -> float:
    h, m, s, ms = (int(p) for p in parts)
    return h * 3600 + m * 60 + s + ms / 1000


def _band_rms(path: Path, start: float, end: float, band: str) -> float:
    out = subprocess.run(ffmpeg_command(["-ss", str(start), "-to", str(end), "-i", str(path), "-map", "0:a",
                                         "-af", band, "-ac", "1", "-f", "f32le", "-"]),
                         capture_output=True, check=True).stdout  # fmt: skip
    samples = np.frombuffer(out, dtype="<f4").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_the_demo_video_has_narration_music_and_subtitles_one_cue_per_scene(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DREAMREEL_HOME": str(tmp_path / "demo"),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "dreamreel.demo"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=280, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    _assert_one_passing_attempt_per_scene(env, proc.stdout)
    video = Path(re.search(r"^video: (.+)$", proc.stdout, re.M)[1])  # type: ignore[index]
    clips = sorted(video.parent.glob("clip-*.mp4"))
    assert len(clips) == 3  # the demo asks for three scenes

    streams = probe_streams(video)
    kinds = {s.kind: s for s in streams}
    assert kinds["video"].codec == "h264"
    assert kinds["audio"].codec == "aac" and kinds["audio"].language == "kor"
    assert kinds["subtitle"].codec == "mov_text" and kinds["subtitle"].language == "kor"

    spans = timeline_spans([probe_video(c) for c in clips], crossfade=0.0)
    assert probe_video(video).duration == pytest.approx(spans[-1][1], abs=0.1)
    srt = video.with_suffix(".srt").read_text(encoding="utf-8")
    cues = [(_seconds(m.groups()[:4]), _seconds(m.groups()[4:])) for m in _CUE.finditer(srt)]
    assert len(cues) == len(spans) == 3, srt
    for (start, end), (scene_start, scene_end) in zip(cues, spans, strict=True):
        assert scene_start - 0.001 <= start < end <= scene_end + 0.001, (cues, spans)
    assert video.with_suffix(".vtt").read_text(encoding="utf-8").startswith("WEBVTT")

    # narration: speech-band energy at the start of every scene
    for scene_start, _ in spans:
        voiced = _band_rms(video, scene_start + 0.3, scene_start + 1.3, "highpass=f=1500")
        assert voiced > 0.01, (scene_start, voiced)
    # music: the bed runs under everything, so no 50 ms inside the video (past the fades) is silent,
    # while narration alone has silent pauses between sentences
    decoded = subprocess.run(ffmpeg_command(["-i", str(video), "-map", "0:a", "-ac", "1", "-ar", "8000",
                                             "-f", "f32le", "-"]), capture_output=True, check=True).stdout  # fmt: skip
    samples = np.frombuffer(decoded, dtype="<f4").astype(np.float64)
    windows = samples[: samples.size // 400 * 400].reshape(-1, 400)  # 50 ms
    levels = np.sqrt(np.mean(windows**2, axis=1))[30:-30]  # without the 1.5 s fades
    assert levels.min() > 0.001, 20 * np.log10(levels.min())  # above -60 dBFS


def _assert_one_passing_attempt_per_scene(env: dict[str, str], demo_stdout: str) -> None:
    """The quality gate's record of the demo's job: every default, so one kept attempt per scene."""
    shown = subprocess.run([sys.executable, "-m", "dreamreel.cli", "jobs", "show", "1", "--json"], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    job = json.loads(shown.stdout)
    assert job["status"] == "done" and len(job["segments"]) == 3
    for seg in job["segments"]:
        assert [(a["attempt"], a["kept"]) for a in seg["attempts"]] == [(1, True)]
        quality = seg["quality"]
        assert quality["passed"] is True and quality["failures"] == []
        assert set(quality) >= {"frames", "fps", "sharpness", "temporal", "color", "clip_score", "overall"}
        assert quality["clip_score"] is None  # no CLIP model configured by default
    assert "quality" in demo_stdout  # the demo tells each scene's score
