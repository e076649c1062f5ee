"""Image-to-video and key frames on tiny random pipelines: Wan, LTX-Video, CogVideoX, SD key frames."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation.base import ClipSpec
from generation.diffusers_backend import DiffusersBackend, parse_preset
from tests.tiny_models.fixtures import PipeSpy, TinyModels, read_frames, tiny_models_fixture  # noqa: F401

SPEC = ClipSpec(
    index=1, prompt="a whale over seoul", caption="", emotion="neutral", seed=7, width=16, height=16,
    num_frames=9, fps=8,
)


def start_image(path: Path, size: int, color: tuple[int, int, int] = (200, 40, 40)) -> Path:
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:] = color
    pixels[: size // 2, : size // 2] = (10, 200, 90)
    Image.fromarray(pixels).save(path)
    return path


def i2v_table(tiny: TinyModels, family: str, **extra: object) -> dict[str, object]:
    if family == "ltx":  # one LTX checkpoint does both
        return tiny.preset_table(family, **extra)
    return tiny.preset_table(family, i2v_model=str(tiny.i2v_model(family)), **extra)


@pytest.mark.parametrize("family", ["wan", "cogvideox"])
def test_a_scene_with_a_start_frame_goes_through_the_image_to_video_pipeline(
    family: str, tiny_models: TinyModels, tmp_path: Path
) -> None:
    backend = DiffusersBackend.from_settings("tiny", {"tiny": i2v_table(tiny_models, family)})
    size = backend.preset.width
    spy = PipeSpy(backend._i2v())
    backend.load().i2v_pipe = spy
    image = start_image(tmp_path / "start.png", size)
    spec = dataclasses.replace(SPEC, width=size, height=size, start_image=image)
    seen: list[float] = []
    info = backend.render_clip(spec, tmp_path / "clip.mp4", seen.append)

    assert (info.frames, info.width, info.height) == (9, size, size)
    assert read_frames(tmp_path / "clip.mp4").std() > 1.0
    assert len(spy.calls) == 1 and seen[-1] == 1.0
    call = spy.calls[0]
    assert np.array_equal(np.asarray(call["image"]), np.asarray(Image.open(image).convert("RGB")))
    assert "a whale over seoul" in call["prompt"]
    # a scene without a start frame still renders from text, with the text-to-video pipeline
    backend.render_clip(dataclasses.replace(spec, start_image=None), tmp_path / "t2v.mp4")
    assert len(spy.calls) == 1


def test_ltx_conditions_on_the_first_frame_with_the_text_to_video_weights(
    tiny_models: TinyModels, tmp_path: Path
) -> None:
    backend = DiffusersBackend.from_settings("tiny", {"tiny": tiny_models.preset_table("ltx", num_frames=9)})
    i2v = backend._i2v()
    assert type(i2v).__name__ == "LTXConditionPipeline"
    assert i2v.transformer is backend.load().pipe.transformer  # no second copy of the weights
    spy = PipeSpy(i2v)
    backend.load().i2v_pipe = spy
    image = start_image(tmp_path / "start.png", 32)
    spec = dataclasses.replace(SPEC, width=32, height=32, start_image=image)
    assert backend.render_clip(spec, tmp_path / "clip.mp4").frames == 9
    (condition,) = spy.calls[0]["conditions"]
    assert condition.frame_index == 0
    assert np.array_equal(np.asarray(condition.image), np.asarray(Image.open(image).convert("RGB")))


def test_key_frames_share_the_seed_and_start_from_a_reference(tiny_models: TinyModels, tmp_path: Path) -> None:
    table = i2v_table(tiny_models, "wan", keyframe_model=str(tiny_models.sd()), keyframe_steps=2)
    backend = DiffusersBackend.from_settings("tiny", {"tiny": table})
    spec = dataclasses.replace(SPEC, seed=1234)
    a = np.asarray(Image.open(backend.draw_keyframe(spec, tmp_path / "a.png")))
    b = np.asarray(Image.open(backend.draw_keyframe(spec, tmp_path / "b.png")))
    c = np.asarray(Image.open(backend.draw_keyframe(dataclasses.replace(spec, seed=99), tmp_path / "c.png")))
    assert a.shape == (16, 16, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    photo = start_image(tmp_path / "photo.png", 40, color=(250, 250, 250))
    d = np.asarray(Image.open(backend.draw_keyframe(spec, tmp_path / "d.png", reference=photo)))
    assert d.shape == (16, 16, 3) and not np.array_equal(a, d)


def test_presets_say_what_continuity_needs(tiny_models: TinyModels) -> None:
    wan = parse_preset("w", {"family": "wan", "model": "m", "width": 16, "height": 16, "num_frames": 9})
    assert "no i2v_model" in (wan.continuity_problem("chain") or "")
    assert "Wan2.1-I2V" in (wan.continuity_problem("chain") or "")
    assert wan.continuity_problem("none") is None
    ltx = parse_preset("l", {"family": "ltx", "model": "m", "width": 32, "height": 32, "num_frames": 9})
    assert ltx.continuity_problem("chain") is None
    assert "no keyframe_model" in (ltx.continuity_problem("keyframe") or "")
    anim = parse_preset("a", {"family": "animatediff", "model": "m", "motion_adapter": "x"})
    assert "cannot start a scene from an image" in (anim.continuity_problem("chain") or "")
    with pytest.raises(ValueError, match="animatediff cannot start a scene from an image"):
        parse_preset("a", {"family": "animatediff", "model": "m", "motion_adapter": "x", "i2v_model": "y"})
    with pytest.raises(ValueError, match="svd's model already animates"):
        parse_preset("s", {"family": "svd", "model": "m", "keyframe_model": "k", "i2v_model": "y"})
