"""The video-backend contract: a `ClipSpec` goes in, an mp4 file and a `ClipInfo` come out.

Backends are pure: they never touch the database. The caller (the job pipeline) decides the
output path; backends write exactly that file (the caller makes it atomic).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    # where to also write the clip's last frame as PNG, exactly as rendered (before any
    # post-processing such as burnt-in captions): the next scene's start frame under `chain`
    end_frame: Path | None = None
    # denoising steps x this (a quality re-render may spend more); backends without steps ignore it
    steps_factor: float = 1.0


@dataclass(frozen=True)
class ClipInfo:
    """What was actually written (probed from the file, not assumed)."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    duration: float


class VideoBackend(ABC):
    """What the pipeline asks of every video backend. A backend implements `render_clip`; the
    rest has defaults here (one scene per call, no LoRAs), so callers never probe for a method.
    """

    name: str = "backend"
    # renders clips of any number of frames (the preview); model presets have fixed lengths, so a
    # scene whose narration is longer holds its last frame instead
    any_length: bool = False

    @abstractmethod
    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        """Render `spec` to an mp4 at `out_path` and return what was written."""

    def batch_size(self) -> int:
        """How many scenes one `render_batch` call may render together (1: one at a time)."""
        return 1

    def render_batch(
        self, specs: Sequence[ClipSpec], out_paths: Sequence[Path], progress: ProgressFn | None = None
    ) -> list[ClipInfo]:
        """Render several scenes, `specs[i]` to `out_paths[i]`; progress covers them all.

        The default renders them one after another; a backend that can share model calls
        between scenes overrides it (and `batch_size`)."""
        if len(specs) != len(out_paths):
            raise ValueError("one output path per spec")
        infos = []
        for done, (spec, out_path) in enumerate(zip(specs, out_paths, strict=True)):
            part = None if progress is None else _share(progress, done, len(specs))
            infos.append(self.render_clip(spec, out_path, part))
        return infos

    def lora_for(self, emotion: str) -> tuple[str, float] | None:
        """(name, weight) of the LoRA scenes of `emotion` render with, for the job record; None
        when the backend uses none (the preview renderer draws palettes instead)."""
        return None

    def continuity_problem(self, mode: str) -> str | None:
        """Why this backend cannot render continuity `mode` (none | chain | keyframe), or None.

        `chain` needs `render_clip` to honour `ClipSpec.start_image`; `keyframe` also needs
        `draw_keyframe`. The default can only render scenes alone."""
        if mode == "none":
            return None
        return f"the {self.name} backend cannot start a scene from an image (continuity {mode!r})"

    def draw_keyframe(self, spec: ClipSpec, out_path: Path, reference: Path | None = None) -> Path:
        """Draw the first frame of `spec` (its prompt, with `spec.seed` the job's style seed) as a
        PNG at `out_path`, starting from `reference` (the dreamer's photo) when given."""
        raise GenerationError(self.continuity_problem("keyframe") or f"the {self.name} backend draws no key frames")


def _share(progress: ProgressFn, index: int, count: int) -> ProgressFn:
    """Progress of item `index` of `count` reported as a share of the whole."""
    return lambda fraction: progress((index + fraction) / count)


class GenerationError(RuntimeError):
    """Rendering, probing or stitching failed; the message says what and how to fix it."""
