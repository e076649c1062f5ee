"""Evaluating a video backend on a prompt set: render each prompt, score every clip, sum up the set.

Pure (no database, no settings): the caller hands in a backend, the `ClipSpec`s to render and
the scorers it wants. `dreamreel quality eval` builds these from the settings; the LoRA work
compares two runs with the same specs (same prompts, same seeds).
Each clip is decoded once and its frames are dropped as soon as it is scored: a set keeps its
numbers, a thumbnail strip and (for FVD) one feature vector per clip, so a run of hundreds of
prompts on a large preset does not hold every decoded video in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generation.base import ClipSpec, GenerationError, VideoBackend
from generation.quality.clip_score import clipsim
from generation.quality.frames import Frames, read_frames, thumbnail_strip
from generation.quality.fvd import VideoFeatures, fvd
from generation.quality.gate import Thresholds
from generation.quality.metrics import ClipQuality
from generation.quality.scoring import TextAlignment, score_video

EvalProgress = Callable[[int, int, str], None]  # (done, total, what is happening now)
METRICS = ("sharpness", "temporal", "color", "overall", "clip_score")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif")


@dataclass
class EvalClip:
    """One rendered prompt and its scores."""

    index: int
    prompt: str
    seed: int
    path: Path
    render_seconds: float
    score_seconds: float
    quality: ClipQuality
    failures: list[str]
    strip: str = field(repr=False)  # `thumbnail_strip` of its frames (a PNG data URI)
    features: np.ndarray | None = field(default=None, repr=False)  # for FVD, when a feature model is given

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "prompt": self.prompt,
            "seed": self.seed,
            "clip": str(self.path),
            "render_seconds": round(self.render_seconds, 4),
            "score_seconds": round(self.score_seconds, 4),
            "quality": self.quality.as_dict(),
            "passed": not self.failures,
            "failures": self.failures,
        }


@dataclass
class EvalSet:
    """The clips of one run (e.g. the base model, or the same prompts with a LoRA)."""

    name: str
    clips: list[EvalClip]
    lora: dict[str, str] | None = None
    fvd: float | None = None  # against the reference set, when one was given

    @property
    def clipsim(self) -> float | None:
        scores = [c.quality.clip_score for c in self.clips if c.quality.clip_score is not None]
        return clipsim(scores) if scores else None

    def summary(self) -> dict[str, Any]:
        means: dict[str, float | None] = {}
        for metric in METRICS:
            values = [getattr(c.quality, metric) for c in self.clips]
            present = [v for v in values if v is not None]
            means[metric] = round(float(np.mean(present)), 4) if present else None
        return {
            "clips": len(self.clips),
            "passed": sum(1 for c in self.clips if not c.failures),
            "mean": means,
            "clipsim": _round(self.clipsim),
            "fvd": _round(self.fvd),
            "render_seconds": round(sum(c.render_seconds for c in self.clips), 3),
            "score_seconds": round(sum(c.score_seconds for c in self.clips), 3),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lora": self.lora,
            "summary": self.summary(),
            "clips": [c.as_dict() for c in self.clips],
        }


def read_prompts(path: Path, limit: int | None = None) -> list[str]:
    """Prompts from JSON lines `{"prompt": ...}` (blank lines skipped), at most `limit`.

    Raises ValueError naming the line that is not such an object.
    """
    prompts: list[str] = []
    with Path(path).open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from err
            prompt = row.get("prompt") if isinstance(row, dict) else None
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError(f'{path}:{number}: expected an object with a non-empty "prompt" string')
            prompts.append(prompt.strip())
            if limit is not None and len(prompts) >= limit:
                break
    if not prompts:
        raise ValueError(f"{path} holds no prompts")
    return prompts


def render_and_score(
    name: str,
    backend: VideoBackend,
    specs: Sequence[ClipSpec],
    folder: Path,
    *,
    thresholds: Thresholds,
    clip: TextAlignment | None = None,
    features: VideoFeatures | None = None,
    progress: EvalProgress | None = None,
    step_offset: int = 0,
    total_steps: int | None = None,
) -> EvalSet:
    """Render every spec into `folder` (clip-NNN.mp4) and score it; the CLIP score uses the spec's prompt.

    With `features`, each clip's FVD feature vector is kept too (see `set_fvd`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    total = total_steps or len(specs)
    clips: list[EvalClip] = []
    for n, spec in enumerate(specs):
        if progress is not None:
            progress(step_offset + n, total, f"{name}: rendering {n + 1}/{len(specs)}")
        path = folder / f"clip-{spec.index:03d}.mp4"
        started = time.perf_counter()
        backend.render_clip(spec, path)
        rendered = time.perf_counter()
        frames = read_frames(path)
        quality = score_video(frames, prompt=spec.prompt, clip=clip)
        scored = time.perf_counter()
        clips.append(
            EvalClip(
                spec.index,
                spec.prompt,
                spec.seed,
                path,
                rendered - started,
                scored - rendered,
                quality,
                thresholds.failures(quality),
                thumbnail_strip(frames.pixels),
                None if features is None else features.features([frames])[0],
            )
        )
    if progress is not None:
        progress(step_offset + len(specs), total, f"{name}: done")
    return EvalSet(name, clips)


def reference_clips(folder: Path) -> Iterator[Frames]:
    """Every video file directly in `folder`, decoded one at a time, in name order (the FVD
    reference set). The folder is checked before the first clip is decoded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GenerationError(f"reference folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if len(paths) < 2:
        raise GenerationError(f"FVD needs at least 2 reference clips in {folder}, found {len(paths)}")
    return (read_frames(p) for p in paths)


def set_fvd(generated: EvalSet, reference: np.ndarray) -> float:
    """FVD of a set rendered with `features` against reference features (from the same `VideoFeatures`)."""
    rows = [c.features for c in generated.clips if c.features is not None]
    if len(rows) < len(generated.clips):
        raise GenerationError(f"set {generated.name!r} was rendered without FVD features")
    return fvd(np.stack(rows), reference)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
