"""The video-backend contract: a `ClipSpec` goes in, an mp4 file and a `ClipInfo` come out.

Backends are pure: they never touch the database. The caller (the job pipeline) decides the
output path; backends write exactly that file (the caller makes it atomic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

ProgressFn = Callable[[float], None]  # fraction done, 0.0 .. 1.0


@dataclass(frozen=True)
class ClipStyle:
    """The look of one clip, resolved from the emotion style table."""

    name: str = "neutral"
    palette: tuple[str, ...] = ("#1d2b53", "#7e2553", "#ff77a8")
    motion: str = "drift"
    prompt_suffix: str = ""
    negative_prompt: str = ""


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one scene's clip, reproducibly."""

    index: int
    prompt: str  # English visual prompt (style suffix not yet applied)
    caption: str  # the diary's own words for the scene, shown by renderers that caption
    emotion: str
    seed: int
    width: int
    height: int
    num_frames: int
    fps: int
    style: ClipStyle = field(default_factory=ClipStyle)
    language: str = "en"
    preset: str = "preview"
    # the frame the clip starts from (an image file: the previous scene's last frame, a key frame or
    # the dreamer's photo); None renders from the prompt alone
    start_image: Path | None = None


@dataclass(frozen=True)
class ClipInfo:
    """What was actually written (probed from the file, not assumed)."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    duration: float


@runtime_checkable
class VideoBackend(Protocol):
    name: str

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        """Render `spec` to an mp4 at `out_path` and return what was written."""
        ...


class GenerationError(RuntimeError):
    """Rendering, probing or stitching failed; the message says what and how to fix it."""
