"""Continuity for the diffusers families: start a scene from a frame, and draw that frame.

Image-to-video, per family (checked against diffusers 0.42):

    wan        WanImageToVideoPipeline        its own checkpoint (`i2v_model`, e.g. Wan2.1-I2V)
    ltx        LTXConditionPipeline           the same LTX-Video checkpoint: built from the loaded
                                              text-to-video pipeline, no second copy in memory
                                              (emotion LoRAs apply, the transformer is shared)
    cogvideox  CogVideoXImageToVideoPipeline  its own checkpoint (`i2v_model`, e.g. CogVideoX-5b-I2V)
    svd        StableVideoDiffusionPipeline   the preset's model itself

Key frames come from any diffusers text-to-image checkpoint of SD 1.5, SDXL or FLUX
(`keyframe_model`, loaded by `AutoPipelineForText2Image`); with a dreamer's photo as reference the
same components run as image-to-image (`AutoPipelineForImage2Image.from_pipe`, nothing reloaded).
Image-to-video renders one scene per call: each scene has its own start frame.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from generation.base import GenerationError
from generation.diffusers_backend.loading import require_torch, resolve_model
from generation.diffusers_backend.presets import Preset
from generation.diffusers_backend.video import to_numpy

logger = logging.getLogger(__name__)

# model_index.json `_class_name` -> the kind of text-to-image model a key frame is drawn with
KEYFRAME_PIPELINES = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "FluxPipeline": "flux",
}
# guidance a kind is trained for, when the preset sets no keyframe_guidance (FLUX is guidance-distilled)
DEFAULT_KEYFRAME_GUIDANCE = {"sd": 7.5, "sdxl": 5.0, "flux": 3.5}


def load_keyframe_pipe(preset: Preset, dtype: Any) -> Any:
    """The preset's text-to-image pipeline (SD 1.5, SDXL or FLUX), from local files only."""
    _, diffusers = require_torch()
    assert preset.keyframe_model is not None
    path = resolve_model(
        preset.keyframe_model, preset_name=preset.name, cache_dir=preset.cache_dir, what="keyframe_model"
    )
    try:
        class_name = json.loads((path / "model_index.json").read_text(encoding="utf-8"))["_class_name"]
    except (OSError, ValueError, KeyError) as err:
        raise GenerationError(
            f"keyframe_model {preset.keyframe_model!r} of preset {preset.name!r} is not a diffusers "
            f"pipeline directory (model_index.json: {err})"
        ) from err
    if class_name not in KEYFRAME_PIPELINES:
        raise GenerationError(
            f"keyframe_model {preset.keyframe_model!r} of preset {preset.name!r} is a {class_name}; "
            f"key frames are drawn by {', '.join(KEYFRAME_PIPELINES)}"
        )
    extra: dict[str, Any] = {}
    if class_name == "StableDiffusionPipeline":  # the checker blacks out frames and costs memory
        extra = {"safety_checker": None, "requires_safety_checker": False}
    return diffusers.AutoPipelineForText2Image.from_pretrained(
        path, dtype=dtype, local_files_only=True, **extra
    )


def load_i2v_pipe(preset: Preset, text_to_video_pipe: Any, dtype: Any) -> Any:
    """The pipeline that starts a scene from a frame (see the module docstring)."""
    _, diffusers = require_torch()
    if preset.family == "svd":
        return text_to_video_pipe  # SVD's only pipeline animates an image
    ref = preset.image_to_video_model
    if ref is None:
        raise GenerationError(preset.continuity_problem("chain") or f"preset {preset.name!r} has no i2v_model")
    if preset.family == "ltx" and ref == preset.model:
        return diffusers.LTXConditionPipeline.from_pipe(text_to_video_pipe)
    cls = {
        "wan": diffusers.WanImageToVideoPipeline,
        "ltx": diffusers.LTXConditionPipeline,
        "cogvideox": diffusers.CogVideoXImageToVideoPipeline,
    }[preset.family]
    path = resolve_model(ref, preset_name=preset.name, cache_dir=preset.cache_dir, what="i2v_model")
    return cls.from_pretrained(path, dtype=dtype, local_files_only=True)


def fit_frame(image: Image.Image, width: int, height: int) -> Image.Image:
    """RGB, cropped to the clip's aspect ratio around the centre, then resized: never stretched."""
    rgb = image.convert("RGB")
    if rgb.size == (width, height):
        return rgb
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)


def keyframe_kind(pipe: Any) -> str:
    """sd, sdxl or flux, from the loaded pipeline's class (image-to-image variants included)."""
    name = type(pipe).__name__
    if name.startswith("Flux"):
        return "flux"
    if "XL" in name:
        return "sdxl"
    return "sd"


def draw_keyframe(
    pipe: Any,
    preset: Preset,
    prompt: str,
    negative: str,
    generator: Any,
    reference: Image.Image | None = None,
) -> Image.Image:
    """One first frame at the preset's size; a `reference` photo is kept as the starting point."""
    _, diffusers = require_torch()
    kind = keyframe_kind(pipe)
    kwargs: dict[str, Any] = {
        "prompt": prompt,
        "num_inference_steps": preset.keyframe_steps or preset.steps,
        "guidance_scale": (
            preset.keyframe_guidance if preset.keyframe_guidance is not None else DEFAULT_KEYFRAME_GUIDANCE[kind]
        ),
        "generator": generator,
        "output_type": "pil",
    }
    if kind != "flux":  # FLUX is guidance-distilled: it takes no negative prompt at guidance 1
        kwargs["negative_prompt"] = negative or None
    if reference is None:
        image = pipe(height=preset.height, width=preset.width, **kwargs).images[0]
    else:
        img2img = diffusers.AutoPipelineForImage2Image.from_pipe(pipe)  # shares every component
        start = fit_frame(reference, preset.width, preset.height)
        image = img2img(image=start, strength=preset.reference_strength, **kwargs).images[0]
    return fit_frame(image, preset.width, preset.height)


def image_to_video(
    pipe: Any,
    preset: Preset,
    prompt: str,
    negative: str,
    image: Image.Image,
    generator: Any,
    callback: Any,
) -> np.ndarray:
    """Animate one scene from `image` (its first frame); float frames (1, F, H, W, 3) in [0, 1]."""
    start = fit_frame(image, preset.width, preset.height)
    common: dict[str, Any] = {
        "height": preset.height,
        "width": preset.width,
        "num_frames": preset.num_frames,
        "num_inference_steps": preset.steps,
        "generator": generator,
        "output_type": "np",
        "callback_on_step_end": callback,
    }
    if preset.family == "svd":
        kwargs: dict[str, Any] = {
            "image": start,
            "max_guidance_scale": max(preset.guidance, 1.0),
            "fps": preset.fps,
            "motion_bucket_id": preset.motion_bucket_id,
            "noise_aug_strength": preset.noise_aug_strength,
            "decode_chunk_size": preset.decode_chunk_size,
        }
    else:
        kwargs = {
            "prompt": prompt,
            "negative_prompt": negative if preset.guidance > 1.0 else None,
            "guidance_scale": preset.guidance,
        }
        if preset.max_sequence_length is not None:
            kwargs["max_sequence_length"] = preset.max_sequence_length
        if preset.family == "ltx":
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            kwargs["conditions"] = [LTXVideoCondition(image=start, frame_index=0)]
            kwargs["frame_rate"] = preset.fps
        else:
            kwargs["image"] = start
    return to_numpy(pipe(**common, **kwargs, **preset.pipeline_kwargs).frames)
