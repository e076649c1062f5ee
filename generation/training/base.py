"""What every training step shares: the error for bad input and the families that can be trained."""

from __future__ import annotations

from generation.base import GenerationError
from generation.diffusers_backend.presets import FAMILY_RULES

# Text-to-video families whose denoiser takes a LoRA the `[loras]` registry loads back.
# svd is image-to-video: its LoRAs style the Stable Diffusion key frame, trained elsewhere.
TRAINABLE_FAMILIES: tuple[str, ...] = ("wan", "animatediff", "cogvideox", "ltx")


class TrainingError(GenerationError, ValueError):
    """Bad training input (empty folder, wrong size, untrainable preset...): exit 2, nothing lost."""


def check_trainable(family: str) -> None:
    if family not in TRAINABLE_FAMILIES:
        raise TrainingError(
            f"family {family!r} cannot be trained here; LoRA training supports "
            f"{', '.join(TRAINABLE_FAMILIES)} (svd animates a Stable Diffusion key frame: "
            "train an SD LoRA for that)"
        )


def check_shape(family: str, width: int, height: int, frames: int) -> None:
    """Refuse a clip shape the family's pipeline cannot take, saying which it can."""
    if family not in FAMILY_RULES:
        raise TrainingError(f"unknown family {family!r}; one of {', '.join(FAMILY_RULES)}")
    rules = FAMILY_RULES[family]
    problems = []
    m = rules.size_multiple
    for axis, value in (("width", width), ("height", height)):
        if value < m or value % m:
            problems.append(f"{axis} {value} is not a multiple of {m}")
    if not rules.frames_ok(frames):
        problems.append(f"{frames} frames: {family} takes {rules.frames_rule()}")
    if problems:
        raise TrainingError(f"{family}: " + "; ".join(problems) + f" (known good: {rules.example})")
