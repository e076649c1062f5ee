"""Tiny saved pipelines loaded back through the real loading code (offline) and rendered to mp4."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from generation.base import ClipSpec, VideoBackend
from generation.diffusers_backend import DiffusersBackend, ModelNotFoundError, parse_preset, weights_present
from tests.tiny_models.fixtures import TinyModels, read_frames, tiny_models_fixture  # noqa: F401

SPEC = ClipSpec(
    index=0, prompt="a whale flying over seoul", caption="", emotion="neutral", seed=7, width=16, height=16, num_frames=9, fps=8
)


@pytest.mark.parametrize("family", ["wan", "animatediff"])
def test_render_clip_writes_the_preset_video_and_reports_step_progress(
    family: str, tiny_models: TinyModels, tmp_path: Path
) -> None:
    backend = DiffusersBackend.from_settings("tiny", {"tiny": tiny_models.preset_table(family, steps=3)})
    assert isinstance(backend, VideoBackend)
    seen: list[float] = []
    out = tmp_path / "clip.mp4"
    info = backend.render_clip(SPEC, out, seen.append)
    size = 16 if family == "wan" else 32
    assert (info.frames, info.width, info.height, info.fps) == (9, size, size, 8.0)
    assert info.duration == pytest.approx(9 / 8, abs=0.01)  # container durations are rounded
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])  # one report per denoising step
    frames = read_frames(out)
    assert frames.shape == (9, size, size, 3)
    assert frames.std() > 1.0  # not a flat (all black) video


def test_same_seed_same_frames_other_seed_other_frames(tiny_models: TinyModels) -> None:
    backend = DiffusersBackend.from_settings("tiny", {"tiny": tiny_models.preset_table("wan")})
    a = backend.render_frames(SPEC)
    b = backend.render_frames(SPEC)
    c = backend.render_frames(dataclasses.replace(SPEC, seed=8))
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_fixed_seed_policy_ignores_the_segment_seed(tiny_models: TinyModels) -> None:
    table = tiny_models.preset_table("wan", seed_policy="fixed", seed=3)
    backend = DiffusersBackend.from_settings("tiny", {"tiny": table})
    assert backend.seed_for(SPEC) == 3
    assert np.array_equal(backend.render_frames(SPEC), backend.render_frames(dataclasses.replace(SPEC, seed=99)))


def test_missing_local_model_fails_fast_naming_the_download_command(tmp_path: Path) -> None:
    table = {"family": "wan", "model": str(tmp_path / "nowhere" / "wan"), "width": 16, "height": 16, "num_frames": 9}
    backend = DiffusersBackend.from_settings("my-wan", {"my-wan": table})
    with pytest.raises(ModelNotFoundError, match="dreamreel models download my-wan"):
        backend.ensure_weights()
    with pytest.raises(ModelNotFoundError) as err:
        backend.render_clip(SPEC, tmp_path / "x.mp4")
    assert "dreamreel models download my-wan" in str(err.value)
    assert not (tmp_path / "x.mp4").exists()


def test_hub_id_not_in_the_cache_fails_fast_without_network(tmp_path: Path) -> None:
    table = {"family": "wan", "model": "someone/not-downloaded", "cache_dir": str(tmp_path / "hub")}
    preset = parse_preset("hub-wan", {**table, "width": 16, "height": 16, "num_frames": 9})
    assert weights_present(preset) == {"model": False}
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="dreamreel models download hub-wan"):
        DiffusersBackend(preset).load()
    assert time.perf_counter() - started < 5


def test_hub_id_loads_from_the_hugging_face_cache(tiny_models: TinyModels, tmp_path: Path) -> None:
    """A model downloaded earlier (HF cache layout: refs/main -> snapshots/<rev>) loads offline."""
    cache = tmp_path / "hub"
    repo = cache / "models--dreamreel--tiny-wan"
    rev = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_models.model("wan"), repo / "snapshots" / rev)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    table = tiny_models.preset_table("wan", model="dreamreel/tiny-wan", cache_dir=str(cache))
    backend = DiffusersBackend.from_settings("cached", {"cached": table})
    assert weights_present(backend.preset) == {"model": True}
    backend.ensure_weights()
    local = DiffusersBackend.from_settings("local", {"local": tiny_models.preset_table("wan")})
    assert np.array_equal(backend.render_frames(SPEC), local.render_frames(SPEC))


def test_scheduler_override_like_animatediff_lightning(tiny_models: TinyModels) -> None:
    lightning = tiny_models.preset_table(
        "animatediff",
        guidance=1.0,
        scheduler="EulerDiscreteScheduler",
        scheduler_config={"timestep_spacing": "trailing", "beta_schedule": "linear"},
    )
    backend = DiffusersBackend.from_settings("lightning", {"lightning": lightning})
    scheduler = backend.load().pipe.scheduler
    assert type(scheduler).__name__ == "EulerDiscreteScheduler"
    assert scheduler.config.timestep_spacing == "trailing"
    default = DiffusersBackend.from_settings("ddim", {"ddim": tiny_models.preset_table("animatediff", guidance=1.0)})
    assert type(default.load().pipe.scheduler).__name__ == "DDIMScheduler"
    assert np.abs(backend.render_frames(SPEC) - default.render_frames(SPEC)).max() > 1e-4


def test_unknown_scheduler_is_refused(tiny_models: TinyModels) -> None:
    from generation.base import GenerationError
    from generation.diffusers_backend import PresetError

    with pytest.raises(PresetError, match="not a diffusers scheduler"):
        parse_preset("x", tiny_models.preset_table("wan", scheduler="euler"))
    backend = DiffusersBackend.from_settings("x", {"x": tiny_models.preset_table("wan", scheduler="NoSuchScheduler")})
    with pytest.raises(GenerationError, match="no scheduler 'NoSuchScheduler'"):
        backend.load()
