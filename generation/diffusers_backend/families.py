"""Per-family glue: how each diffusers pipeline is loaded and called.

Every family turns (preset, prompts, negative prompts, generators, step callback) into float
frames shaped (batch, frames, height, width, 3) in [0, 1]. Only this module and `backend.py`
touch diffusers classes; they are imported lazily.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generation.base import GenerationError
from generation.diffusers_backend.image_to_video import draw_keyframe, image_to_video, load_keyframe_pipe
from generation.diffusers_backend.loading import require_torch, resolve_model
from generation.diffusers_backend.presets import Preset
from generation.diffusers_backend.video import to_numpy

logger = logging.getLogger(__name__)

StepCallback = Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]


@dataclass
class LoadedModel:
    """The pipeline(s) of one preset. `lora_pipe` is where emotion LoRAs go.

    `keyframe_pipe` draws first frames (svd: always, loaded with the model; other families: for
    keyframe continuity, loaded on first use); `i2v_pipe` starts a scene from a frame (svd: `pipe`
    itself; others: loaded on first use, see `image_to_video.load_i2v_pipe`).
    """

    pipe: Any
    keyframe_pipe: Any | None = None
    i2v_pipe: Any | None = None
    loras_on_keyframe: bool = False  # svd: emotion LoRAs style the SD key frame, not the animation

    @property
    def lora_pipe(self) -> Any:
        return self.keyframe_pipe if self.loras_on_keyframe and self.keyframe_pipe is not None else self.pipe


def load_model(preset: Preset, dtype: Any) -> LoadedModel:
    """Load the preset's pipeline(s) from local files only (see `loading.resolve_model`)."""
    _, diffusers = require_torch()
    path = resolve_model(
        preset.model, preset_name=preset.name, revision=preset.revision, cache_dir=preset.cache_dir
    )
    common: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if preset.family == "animatediff":
        assert preset.motion_adapter is not None
        adapter_path = resolve_model(
            preset.motion_adapter,
            preset_name=preset.name,
            cache_dir=preset.cache_dir,
            what="motion_adapter",
            allow_file=True,
        )
        adapter = _motion_adapter(diffusers, adapter_path, preset.motion_adapter_file, dtype)
        pipe = diffusers.AnimateDiffPipeline.from_pretrained(path, motion_adapter=adapter, **common)
        return LoadedModel(_with_scheduler(diffusers, pipe, preset))
    if preset.family == "svd":
        keyframe = load_keyframe_pipe(preset, dtype)
        pipe = _with_scheduler(diffusers, diffusers.StableVideoDiffusionPipeline.from_pretrained(path, **common), preset)
        return LoadedModel(pipe, keyframe, i2v_pipe=pipe, loras_on_keyframe=True)
    cls = {
        "wan": diffusers.WanPipeline,
        "ltx": diffusers.LTXPipeline,
        "cogvideox": diffusers.CogVideoXPipeline,
    }[preset.family]
    return LoadedModel(_with_scheduler(diffusers, cls.from_pretrained(path, **common), preset))


def _motion_adapter(diffusers: Any, path: Path, weight_file: str | None, dtype: Any) -> Any:
    """A MotionAdapter from a diffusers directory, or from one safetensors file (AnimateDiff-Lightning:
    the file holds a standard SD 1.5 adapter's weights, so the default config applies)."""
    file = path / weight_file if weight_file else (path if path.is_file() else None)
    if file is None:
        return diffusers.MotionAdapter.from_pretrained(path, dtype=dtype, local_files_only=True)
    if not file.is_file():
        raise GenerationError(f"motion adapter file {file} does not exist")
    from safetensors.torch import load_file

    adapter = diffusers.MotionAdapter()
    adapter.load_state_dict(load_file(str(file)))
    return adapter.to(dtype=dtype)


def _with_scheduler(diffusers: Any, pipe: Any, preset: Preset) -> Any:
    """Swap in the preset's scheduler (class name + config overrides), keeping the model's config."""
    if preset.scheduler is None:
        if preset.scheduler_config:
            pipe.scheduler = type(pipe.scheduler).from_config(
                pipe.scheduler.config, **preset.scheduler_config
            )
        return pipe
    cls = getattr(diffusers, preset.scheduler, None)
    if cls is None or not hasattr(cls, "from_config"):
        raise GenerationError(f"preset {preset.name!r}: diffusers has no scheduler {preset.scheduler!r}")
    pipe.scheduler = cls.from_config(pipe.scheduler.config, **preset.scheduler_config)
    return pipe


def text_to_video(
    model: LoadedModel,
    preset: Preset,
    prompts: list[str],
    negatives: list[str],
    generators: list[Any],
    callback: StepCallback | None,
) -> np.ndarray:
    """Run the text-to-video families in one batched call; SVD draws key frames first."""
    if preset.family == "svd":
        return _svd(model, preset, prompts, negatives, generators, callback)
    kwargs: dict[str, Any] = {
        "prompt": prompts,
        "negative_prompt": negatives if preset.guidance > 1.0 else None,
        "height": preset.height,
        "width": preset.width,
        "num_frames": preset.num_frames,
        "num_inference_steps": preset.steps,
        "guidance_scale": preset.guidance,
        "generator": generators,
        "output_type": "np",
        "callback_on_step_end": callback,
    }
    if preset.family == "ltx":
        kwargs["frame_rate"] = preset.fps
    if preset.family == "animatediff":
        kwargs["decode_chunk_size"] = preset.decode_chunk_size
    elif preset.max_sequence_length is not None:
        kwargs["max_sequence_length"] = preset.max_sequence_length
    kwargs.update(preset.pipeline_kwargs)
    return to_numpy(model.pipe(**kwargs).frames)


def _svd(
    model: LoadedModel,
    preset: Preset,
    prompts: list[str],
    negatives: list[str],
    generators: list[Any],
    callback: StepCallback | None,
) -> np.ndarray:
    """ "Perfect first frame, then animate": a text-to-image key frame, then SVD image-to-video."""
    assert model.keyframe_pipe is not None
    videos = []
    for prompt, negative, generator in zip(prompts, negatives, generators, strict=True):
        image = draw_keyframe(model.keyframe_pipe, preset, prompt, negative, generator)
        videos.append(image_to_video(model.pipe, preset, prompt, negative, image, generator, callback)[0])
    return np.stack(videos)
