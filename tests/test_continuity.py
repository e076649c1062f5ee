"""Continuity through the whole service with the preview renderer: chain, keyframe, the dreamer's
photo, resume and re-roll from the saved start frame, hard cuts."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dreamreel.errors import ConfigError, InputError
from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service
from generation.preview import load_frame
from generation.probe import probe_video
from tests.helpers import cli_json
from tests.photos import good_photo
from tests.test_continuity_preview import psnr
from tests.tiny_models.fixtures import read_frames

DREAM = "I dreamt I was flying over the sea. Then a whale swallowed me. Inside the whale was my old house."
ENV = {
    "DREAMREEL_PREVIEW__WIDTH": "128",
    "DREAMREEL_PREVIEW__HEIGHT": "72",
    "DREAMREEL_PREVIEW__FPS": "8",
    "DREAMREEL_PREVIEW__SECONDS_PER_SCENE": "1.5",
}


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    svc = build_service(load_settings())
    yield svc
    svc.close()


def boundaries(clips: list[str]) -> list[float]:
    """PSNR between the last frame of each clip and the first frame of the next."""
    frames = [read_frames(Path(c)) for c in clips]
    return [psnr(a[-1], b[0]) for a, b in itertools.pairwise(frames)]


def test_dream_with_chain_continues_each_scene_from_the_last_frame_and_cuts_hard() -> None:
    code, chained = cli_json("dream", DREAM, "--segments", "3", "--continuity", "chain", "-q", env=ENV)
    assert code == 0 and chained["status"] == "done" and chained["continuity"] == "chain"
    assert all(p >= 30.0 for p in boundaries(chained["clips"])), boundaries(chained["clips"])
    starts = [s["start_frame"] for s in chained["segments"]]
    assert starts[0] is None and all(Path(p).is_file() for p in starts[1:])
    # hard cuts by default: the stitched video holds every frame of every clip
    assert probe_video(Path(chained["video"])).frames == sum(probe_video(Path(c)).frames for c in chained["clips"])

    code, alone = cli_json("dream", DREAM, "--segments", "3", "-q", env=ENV)
    assert code == 0 and alone["continuity"] == "none"
    assert all(p < 20.0 for p in boundaries(alone["clips"])), boundaries(alone["clips"])
    assert all(s["start_frame"] is None for s in alone["segments"])


def test_chain_with_an_explicit_crossfade_still_blends(service: Any) -> None:
    job = service.submit_diary(DREAM, options=JobOptions(segments=2, continuity="chain", crossfade=0.5), run=False)
    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    total = sum(probe_video(Path(c)).frames for c in view.clips)
    assert probe_video(Path(view.video)).frames == total - 4  # 0.5 s at 8 fps overlap


def test_the_dreamers_photo_starts_the_first_scene(service: Any) -> None:
    job = service.submit_diary(DREAM, options=JobOptions(segments=2), photo=good_photo(), run=False)
    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    start = view.segments[0].start_frame
    assert start is not None and view.segments[1].start_frame is None
    saved = Image.open(start)
    assert saved.size == Image.open(io.BytesIO(good_photo())).size  # the photo itself, kept as PNG
    first = read_frames(Path(view.clips[0]))[0]
    assert psnr(first, np.asarray(load_frame(Path(start), 128, 72))) >= 30.0  # cropped to 16:9, not stretched


def test_keyframe_draws_every_scene_from_one_style_seed(service: Any) -> None:
    job = service.submit_diary(DREAM, options=JobOptions(segments=3, continuity="keyframe"), run=False)
    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    keys = [np.asarray(Image.open(s.start_frame)) for s in view.segments]
    firsts = [read_frames(Path(c))[0] for c in view.clips]
    assert all(psnr(f, k) >= 30.0 for f, k in zip(firsts, keys, strict=True))
    from storage.models import Job

    with service.db.session() as s:
        seed = s.get(Job, job.job_id).style_seed
    assert seed is not None


def test_reroll_renders_the_scene_again_from_the_same_start_frame(service: Any) -> None:
    job = service.submit_diary(DREAM, options=JobOptions(segments=3, continuity="chain"), run=False)
    view = service.run_job(job.job_id)
    start = Path(view.segments[1].start_frame)
    saved, mtime = np.asarray(Image.open(start)), start.stat().st_mtime_ns
    old_clip = read_frames(Path(view.clips[1]))

    seed = view.segments[1].seed + 1
    service.reroll_segment(job.job_id, 1, seed=seed)
    view = service.wait(job.job_id, timeout=60)
    assert view.status == "done", view.error
    assert start.stat().st_mtime_ns == mtime and view.segments[1].start_frame == str(start)
    assert view.segments[1].seed == seed
    new_clip = read_frames(Path(view.clips[1]))
    assert psnr(new_clip[0], saved) >= 30.0  # the same start frame...
    # ...and a new render after it, not the old clip again. Two seeds from one start frame can end
    # alike (17-27 dB seen across runs: the scene seeds are random), a reused clip is >= 40 dB.
    assert psnr(new_clip[-1], old_clip[-1]) < 35.0


def test_a_killed_job_resumes_from_the_saved_start_frame(service: Any) -> None:
    """Scene 2's start frame is saved with scene 1's clip; a job stopped before scene 2 finished
    renders it from that saved frame, even when scene 1's clip has changed since."""
    job = service.submit_diary(DREAM, options=JobOptions(segments=3, continuity="chain"), run=False)
    view = service.run_job(job.job_id)
    start = Path(view.segments[1].start_frame)
    saved = np.asarray(Image.open(start))
    from storage import repos

    with service.db.session() as s:  # as if killed while scene 2 rendered: its clip never recorded
        clip = repos.clip_for(s, job.job_id, 1)
        service.media.remove(clip.path)
        s.delete(clip)
        s.get(type(clip.job), job.job_id).state = "rendering"
    Path(view.clips[0]).write_bytes(b"")  # scene 1's clip replaced by junk: only the saved frame can be used
    with service.db.session() as s:
        repos.clip_for(s, job.job_id, 0).path = "jobs/missing.mp4"  # (and its row points nowhere)
    view = service.run_job(job.job_id)
    assert view.status == "done", view.error
    assert psnr(read_frames(Path(view.clips[1]))[0], saved) >= 30.0


def test_a_preset_without_image_to_video_refuses_chain_at_start_up_and_per_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "dreamreel.toml"
    config.write_text(
        '[video]\npreset = "wan"\ncontinuity = "chain"\n'
        '[presets.wan]\nfamily = "wan"\nmodel = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"\n'
        "width = 16\nheight = 16\nnum_frames = 9\n"
    )
    monkeypatch.setenv("DREAMREEL_CONFIG", str(config))
    monkeypatch.setenv("DREAMREEL_RUNNER", "celery")  # submit-only: no weights needed here
    with pytest.raises(ConfigError, match="no i2v_model"):
        build_service(load_settings())
    monkeypatch.setenv("DREAMREEL_VIDEO__CONTINUITY", "none")
    svc = build_service(load_settings())
    try:
        with pytest.raises(InputError, match="no i2v_model") as refused:
            svc.submit_diary(DREAM, options=JobOptions(continuity="keyframe"), run=False)
        assert "i2v_model" in refused.value.user_message("ko")
    finally:
        svc.close()
