"""How the render step turns scene rows into clips: the clip each scene asks of the backend,
which scenes share a backend call, where the files go, and how often progress is written.

The pipeline's `step_render` tells the story (which scenes, progress, clip rows); this module
holds the mechanics it uses.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from agent.schemas import Style
from generation.base import ClipSpec, ClipStyle, ProgressFn
from storage.media import job_dir

PROGRESS_INTERVAL = 0.5  # seconds between progress rows of one render call


@dataclass(frozen=True)
class RenderParams:
    """The clip shape of the configured preset: every scene of every job renders at it."""

    preset: str
    width: int
    height: int
    num_frames: int
    fps: int


def clip_spec(
    params: RenderParams, *, index: int, caption: str, prompt: str, emotion: str, style: Style, seed: int,
    language: str,
) -> ClipSpec:
    """What the backend renders for one scene."""
    return ClipSpec(
        index=index,
        prompt=prompt,
        caption=caption,
        emotion=emotion,
        seed=seed,
        width=params.width,
        height=params.height,
        num_frames=params.num_frames,
        fps=params.fps,
        language=language,
        preset=params.preset,
        style=ClipStyle(
            name=style.name,
            palette=tuple(style.palette),
            motion=style.motion,
            prompt_suffix=style.prompt_suffix,
            negative_prompt=style.negative_prompt,
        ),
    )


def batches(specs: Sequence[ClipSpec], size: int) -> list[list[ClipSpec]]:
    """Scenes that share an emotion (hence a LoRA) in groups of at most `size`; one by one when
    the backend renders one scene per call."""
    if size <= 1:
        return [[spec] for spec in specs]
    by_emotion: dict[str, list[ClipSpec]] = {}
    for spec in specs:
        by_emotion.setdefault(spec.emotion, []).append(spec)
    return [group[i : i + size] for group in by_emotion.values() for i in range(0, len(group), size)]


def clip_path(job_id: int, index: int) -> str:
    """Where scene `index` of job `job_id` is kept, relative to the media store."""
    return f"{job_dir(job_id)}/clip-{index:03d}.mp4"


def throttled(report: ProgressFn, interval: float = PROGRESS_INTERVAL) -> ProgressFn:
    """`report`, called at most once per `interval` seconds (the rest are dropped)."""
    last = time.monotonic()

    def on_progress(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= interval:
            last = now
            report(fraction)

    return on_progress
