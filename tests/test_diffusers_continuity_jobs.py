"""Continuity jobs on tiny random image-to-video pipelines (Wan, CogVideoX): the pipeline call of
each scene receives the frame the scene before ended on; key frames share the job's style seed; a
job killed during scene 2 resumes from the frame saved with scene 1."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dreamreel.continuity import shared_description
from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service
from generation.diffusers_backend.video import to_uint8
from storage.models import Job
from tests.helpers import REPO
from tests.tiny_models.fixtures import PipeSpy, TinyModels, tiny_models_fixture  # noqa: F401

DREAM = "I dreamt I was flying over the sea. Then a whale swallowed me. Inside the whale was my old house."


def preset(tiny: TinyModels, family: str, **extra: Any) -> dict[str, Any]:
    return tiny.preset_table(family, i2v_model=str(tiny.i2v_model(family)), **extra)


def service_for(table: dict[str, Any]) -> Any:
    # quality gate off: a tiny random model draws noise that no threshold passes, and these tests
    # count pipeline calls (the gate's re-renders are tested in test_quality_pipeline.py)
    settings = load_settings(
        video={"preset": "tiny"}, presets={"tiny": table}, postprocess={"captions_for_model_backends": False},
        quality={"gate": False},
    )
    return build_service(settings)


def spies(service: Any) -> tuple[Any, PipeSpy, PipeSpy]:
    """The diffusers backend behind the post-processing wrapper, with spies on its pipelines."""
    inner = service.pipeline.components.backend.inner
    model = inner.load()
    t2v = PipeSpy(model.pipe)
    i2v = PipeSpy(inner._i2v())
    model.pipe, model.i2v_pipe = t2v, i2v
    return inner, t2v, i2v


def pixels(image: Any) -> np.ndarray:
    return np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)


@pytest.mark.parametrize("family", ["wan", "cogvideox"])
def test_chain_passes_each_scenes_last_frame_to_the_next_scenes_pipeline_call(
    family: str, tiny_models: TinyModels
) -> None:
    service = service_for(preset(tiny_models, family))
    try:
        _, t2v, i2v = spies(service)
        job = service.submit_diary(DREAM, options=JobOptions(segments=3, continuity="chain"), run=False)
        view = service.run_job(job.job_id)
        assert view.status == "done", view.error
        assert len(t2v.calls) == 1 and len(i2v.calls) == 2  # scene 1 from text, 2 and 3 from frames
        ends = [to_uint8(t2v.outputs[0].frames[0][-1]), to_uint8(i2v.outputs[0].frames[0][-1])]
        for call, end, segment in zip(i2v.calls, ends, view.segments[1:], strict=True):
            assert np.array_equal(pixels(call["image"]), end)  # exactly the frame the scene before ended on
            assert np.array_equal(np.asarray(Image.open(segment.start_frame)), end)  # saved with the clip
    finally:
        service.close()


def test_keyframe_draws_one_key_frame_per_scene_with_the_shared_seed(tiny_models: TinyModels) -> None:
    table = preset(tiny_models, "wan", keyframe_model=str(tiny_models.sd()), keyframe_steps=2)
    service = service_for(table)
    try:
        inner, t2v, i2v = spies(service)
        keys = PipeSpy(inner._keyframes())
        inner.load().keyframe_pipe = keys
        job = service.submit_diary(DREAM, options=JobOptions(segments=3, continuity="keyframe"), run=False)
        view = service.run_job(job.job_id)
        assert view.status == "done", view.error
        with service.db.session() as s:
            saved = s.get(Job, job.job_id)
            style_seed = saved.style_seed
            shared = shared_description([seg.keywords or [] for seg in saved.segments])
        assert style_seed is not None
        assert len(keys.calls) == 3 and not t2v.calls and len(i2v.calls) == 3
        assert [c["generator"].initial_seed() for c in keys.calls] == [style_seed] * 3
        # every key frame carries the dream's shared description (each keeps its scene's emotion style)
        assert shared.startswith("one continuous dream") and all(shared in c["prompt"] for c in keys.calls)
        assert len({c["prompt"] for c in keys.calls}) == 3  # each scene its own
        for key_out, call, segment in zip(keys.outputs, i2v.calls, view.segments, strict=True):
            drawn = pixels(key_out.images[0])
            assert np.array_equal(pixels(call["image"]), drawn)
            assert np.array_equal(np.asarray(Image.open(segment.start_frame)), drawn)
        assert len({seg.seed for seg in view.segments}) == 3  # the animation keeps each scene's seed
    finally:
        service.close()


def test_a_job_killed_during_scene_two_resumes_from_the_saved_frame(tiny_models: TinyModels, tmp_path: Path) -> None:
    slow = preset(tiny_models, "wan", steps=60)  # scene 2 takes long enough to be killed in
    lines = ['[video]', 'preset = "tiny"', '[postprocess]', 'captions_for_model_backends = false', '[presets.tiny]']
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in slow.items()]
    config = tmp_path / "dreamreel.toml"
    config.write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    env = {**os.environ, "DREAMREEL_CONFIG": str(config), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dreamreel.cli", "dream", DREAM, "--segments", "3", "--continuity", "chain", "-q"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    db_path = Path(os.environ["DREAMREEL_HOME"]) / "dreamreel.db"
    deadline, clips = time.monotonic() + 120, []
    try:
        while time.monotonic() < deadline and proc.poll() is None and not clips:
            if db_path.exists():
                try:
                    clips = sqlite3.connect(db_path).execute("select segment_index from clips").fetchall()
                except sqlite3.OperationalError:
                    clips = []
            time.sleep(0.05)
        assert clips == [(0,)], f"scene 1 was not rendered alone before the deadline: {clips}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    con = sqlite3.connect(db_path)
    job_id, state = con.execute("select id, state from jobs").fetchone()
    (start_rel,) = con.execute("select start_frame from segments where \"index\" = 1").fetchone()
    con.close()
    assert state == "rendering" and start_rel  # killed during scene 2, its start frame already saved
    media = Path(os.environ["DREAMREEL_HOME"]) / "media"
    saved = np.asarray(Image.open(media / start_rel))
    mtime = (media / start_rel).stat().st_mtime_ns

    service = service_for(slow | {"steps": 2})
    try:
        _, t2v, i2v = spies(service)
        view = service.run_job(job_id)
        assert view.status == "done", view.error
        assert not t2v.calls  # scene 1 was kept
        assert np.array_equal(pixels(i2v.calls[0]["image"]), saved)  # scene 2 from the saved frame
        assert (media / start_rel).stat().st_mtime_ns == mtime
    finally:
        service.close()
