"""Model presets: one validated `Preset` per named table of the settings file.

A preset holds everything a user tunes for one text-to-video model (model id or local path,
size, frame count, steps, guidance, memory options...) and the models continuity needs: an
image-to-video model that starts a scene from a frame (`i2v_model`) and a text-to-image model that
draws key frames (`keyframe_model`). `parse_presets` turns the free-form
`[presets.*]` tables into presets and refuses, before any job starts, values the model cannot
take, with a message that says what it accepts. Pure pydantic: no torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from generation.base import GenerationError

Family = Literal["animatediff", "wan", "ltx", "cogvideox", "svd"]
FAMILIES: tuple[str, ...] = get_args(Family)  # in the Literal's order
Continuity = Literal["none", "chain", "keyframe"]
CONTINUITY_MODES: tuple[str, ...] = get_args(Continuity)

# A start image for each family: Wan and CogVideoX have separate image-to-video checkpoints, one
# LTX checkpoint does both (LTXConditionPipeline), SVD only animates images, AnimateDiff has none.
I2V_EXAMPLES = {
    "wan": "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
    "cogvideox": "THUDM/CogVideoX-5b-I2V",
    "ltx": "the same LTX-Video checkpoint (the default)",
}


class PresetError(GenerationError, ValueError):
    """A preset asks for something its model cannot do; the message says what it accepts."""


@dataclass(frozen=True)
class FamilyRules:
    """What a family's pipeline accepts: frame counts `frame_step*k + 1` and sizes in multiples."""

    size_multiple: int
    frame_step: int  # 1 = any count; 4 = 4k+1 (Wan, CogVideoX); 8 = 8k+1 (LTX)
    min_frames: int
    max_frames: int
    example: str  # a size/frame combination known to work, for refusal messages

    def frames_ok(self, n: int) -> bool:
        return self.min_frames <= n <= self.max_frames and (
            self.frame_step == 1 or (n - 1) % self.frame_step == 0
        )

    def frames_rule(self) -> str:
        span = f"between {self.min_frames} and {self.max_frames}"
        if self.frame_step == 1:
            return f"any frame count {span}"
        return f"frame counts of the form {self.frame_step}k+1 {span} (e.g. {self.min_frames}, {self.min_frames + self.frame_step}, ...)"


# Sizes: the VAE's spatial factor times the denoiser's patch size (what the pipeline checks or needs).
FAMILY_RULES: dict[str, FamilyRules] = {
    # SD1.5 UNet + motion adapter; motion modules carry 32 positions.
    "animatediff": FamilyRules(8, 1, 1, 32, "512x512, 16 frames"),
    # Wan VAE: 8x spatial, 4x temporal; transformer patch 2x2.
    "wan": FamilyRules(16, 4, 5, 1025, "832x480, 33 or 81 frames"),
    # LTX VAE: 32x spatial, 8x temporal.
    "ltx": FamilyRules(32, 8, 9, 1025, "704x480, 97 or 161 frames"),
    # CogVideoX VAE: 8x spatial, 4x temporal; transformer patch 2x2.
    "cogvideox": FamilyRules(16, 4, 5, 1025, "720x480, 49 frames"),
    # SVD: the pipeline checks multiples of 8; trained at 1024x576, 14 or 25 frames.
    "svd": FamilyRules(8, 1, 1, 128, "1024x576, 14 or 25 frames"),
}


class Preset(BaseModel):
    """One model configuration. `name` is the key of its `[presets.NAME]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: Family
    model: str = Field(min_length=1)  # local directory or Hugging Face hub id
    revision: str | None = None
    cache_dir: str | None = None  # Hugging Face cache to read from (default: HF_HUB_CACHE)
    motion_adapter: str | None = None  # animatediff: MotionAdapter dir or hub id
    motion_adapter_file: str | None = None  # a single-file adapter inside it (AnimateDiff-Lightning)
    keyframe_model: str | None = None  # text-to-image model (SD 1.5 / SDXL / FLUX) drawing first frames
    i2v_model: str | None = None  # wan, cogvideox (ltx: defaults to model): starts a scene from a frame

    width: int = Field(default=512, ge=8, le=4096)
    height: int = Field(default=512, ge=8, le=4096)
    num_frames: int = Field(default=16, ge=1)
    fps: int = Field(default=8, ge=1, le=120)
    steps: int = Field(default=25, ge=1, le=500)
    guidance: float = Field(default=7.5, ge=0.0, le=50.0)
    negative_prompt: str = ""
    max_sequence_length: int | None = Field(default=None, ge=1, le=1024)  # wan, ltx, cogvideox text length
    pipeline_kwargs: dict[str, Any] = Field(default_factory=dict)  # passed to the pipeline call as is
    scheduler: str | None = None  # a diffusers scheduler class name replacing the model's own
    scheduler_config: dict[str, Any] = Field(default_factory=dict)  # e.g. { timestep_spacing = "trailing" }

    seed_policy: Literal["per_segment", "fixed"] = "per_segment"
    seed: int = Field(default=0, ge=0, lt=2**63)

    # svd image-to-video
    motion_bucket_id: int = Field(default=127, ge=0, le=255)
    noise_aug_strength: float = Field(default=0.02, ge=0.0, le=1.0)
    decode_chunk_size: int = Field(default=8, ge=1, le=128)
    keyframe_steps: int | None = Field(default=None, ge=1, le=500)
    keyframe_guidance: float | None = Field(default=None, ge=0.0, le=50.0)
    # keyframe continuity with a dreamer's photo: how far a key frame may move away from the photo
    reference_strength: float = Field(default=0.6, gt=0.0, le=1.0)

    # runtime and memory
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: str = "auto"  # auto = cuda when available, else cpu
    cpu_offload: bool = False  # enable_model_cpu_offload (needs a CUDA device)
    vae_slicing: bool = False
    vae_tiling: bool = False
    max_batch: int = Field(default=1, ge=1, le=64)  # segments per pipeline call
    memory_budget_mb: float = Field(default=0.0, ge=0.0)  # 0 = no budget check beyond max_batch
    segment_memory_mb: float | None = Field(default=None, gt=0.0)  # measured cost of one segment

    @property
    def rules(self) -> FamilyRules:
        return FAMILY_RULES[self.family]

    @model_validator(mode="after")
    def _fits_the_family(self) -> Preset:
        rules = self.rules
        problems: list[str] = []
        m = rules.size_multiple
        for axis, value in (("width", self.width), ("height", self.height)):
            if value % m:
                lo, hi = value // m * m, (value // m + 1) * m
                problems.append(f"{axis} {value} is not a multiple of {m} (try {lo or m} or {hi})")
        if not rules.frames_ok(self.num_frames):
            problems.append(
                f"num_frames {self.num_frames} is not allowed: {self.family} takes {rules.frames_rule()}"
            )
        if self.family == "animatediff" and not self.motion_adapter:
            problems.append("animatediff needs motion_adapter (a MotionAdapter directory or hub id)")
        if self.family == "svd" and not self.keyframe_model:
            problems.append("svd needs keyframe_model (a Stable Diffusion model that draws the first frame)")
        if self.scheduler is not None and not self.scheduler.endswith("Scheduler"):
            problems.append(f"scheduler {self.scheduler!r} is not a diffusers scheduler class name")
        if self.family == "animatediff" and (self.keyframe_model or self.i2v_model):
            problems.append(
                "animatediff cannot start a scene from an image (diffusers has no AnimateDiff "
                "image-to-video); keyframe_model and i2v_model need wan, ltx, cogvideox or svd"
            )
        if self.family == "svd" and self.i2v_model:
            problems.append("svd's model already animates an image; i2v_model is for wan, ltx and cogvideox")
        if problems:
            raise ValueError(
                f"preset {self.name!r} ({self.family}): "
                + "; ".join(problems)
                + f". Known good: {rules.example}."
            )
        return self

    @property
    def image_to_video_model(self) -> str | None:
        """The model that starts a scene from a given frame, or None when the preset has none."""
        if self.family == "svd":
            return self.model
        if self.family == "ltx":
            return self.i2v_model or self.model
        return self.i2v_model

    def continuity_problem(self, mode: str) -> str | None:
        """Why this preset cannot render `mode` continuity (None when it can); said at start-up."""
        if mode == "none":
            return None
        if self.image_to_video_model is None:
            if self.family == "animatediff":
                return (
                    f"preset {self.name!r} (animatediff) cannot start a scene from an image; continuity "
                    f"{mode!r} needs a wan, ltx, cogvideox or svd preset"
                )
            return (
                f"preset {self.name!r} ({self.family}) has no i2v_model; continuity {mode!r} starts "
                f"scenes from a frame, so set i2v_model (e.g. {I2V_EXAMPLES[self.family]!r})"
            )
        if mode == "keyframe" and not self.keyframe_model:
            return (
                f"preset {self.name!r} ({self.family}) has no keyframe_model; continuity 'keyframe' draws "
                "each scene's first frame with a text-to-image model (SD 1.5, SDXL or FLUX), e.g. "
                "'stable-diffusion-v1-5/stable-diffusion-v1-5'"
            )
        return None

    def estimated_segment_mb(self) -> float:
        """Rough working memory of one segment in a batch (latents and activations), in MiB.

        Deliberately coarse; set `segment_memory_mb` after measuring on the target GPU.
        """
        if self.segment_memory_mb is not None:
            return self.segment_memory_mb
        bytes_per_value = 4 if self.dtype == "float32" else 2
        # ~64 activations per output pixel-frame across the denoiser at peak (empirical order).
        return self.width * self.height * self.num_frames * bytes_per_value * 64 / 2**20

    def batch_size(self) -> int:
        """How many segments fit one pipeline call: `max_batch`, capped by the memory budget."""
        if self.memory_budget_mb <= 0:
            return self.max_batch
        fit = int(self.memory_budget_mb // self.estimated_segment_mb())
        return max(1, min(self.max_batch, fit))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Preset:
        """A copy with per-emotion overrides applied and validated again."""
        if not overrides:
            return self
        return parse_preset(self.name, {**self.model_dump(exclude={"name"}), **overrides})


def _explain(name: str, err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "preset"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(msg if loc == "preset" or not e["loc"] else f"{loc}: {msg}")
    return f"invalid preset {name!r}: " + " | ".join(parts)


def parse_preset(name: str, table: Mapping[str, Any]) -> Preset:
    """Validate one `[presets.NAME]` table; raise `PresetError` saying what the model accepts."""
    data = dict(table)
    data.pop("name", None)
    family = data.get("family")
    if family not in FAMILY_RULES:
        raise PresetError(f"preset {name!r}: family must be one of {', '.join(FAMILIES)} (got {family!r})")
    try:
        return Preset(name=name, **data)
    except ValidationError as err:
        raise PresetError(_explain(name, err)) from None


def parse_presets(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, Preset]:
    """Validate every `[presets.*]` table; the first bad one raises `PresetError`."""
    return {name: parse_preset(name, table) for name, table in tables.items()}
