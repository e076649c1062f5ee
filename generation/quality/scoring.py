"""Scoring one clip file: decode once, run the weight-free metrics, add the CLIP score if asked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

from generation.quality.frames import Frames, read_frames
from generation.quality.metrics import ClipQuality, score_frames


class TextAlignment(Protocol):
    """Anything that scores frames against a prompt on the CLIP-score scale (`ClipScorer`)."""

    def score(self, frames: Frames, prompt: str) -> float: ...


def score_clip(path: Path, *, prompt: str | None = None, clip: TextAlignment | None = None) -> ClipQuality:
    """The quality of the clip at `path`; `clip_score` is set when both `prompt` and `clip` are given.

    Raises GenerationError when the file cannot be decoded.
    """
    return score_video(read_frames(path), prompt=prompt, clip=clip)


def score_video(
    frames: Frames, *, prompt: str | None = None, clip: TextAlignment | None = None
) -> ClipQuality:
    """`score_clip` for frames already decoded."""
    quality = score_frames(frames)
    if clip is not None and prompt:
        quality = replace(quality, clip_score=clip.score(frames, prompt))
    return quality
