"""`PostProcessed`: a model backend whose raw clips are made deliverable (fps, size, caption).

Model backends write small, slow, uncaptioned clips; wiring wraps them in this backend so the
pipeline renders through one `VideoBackend` whatever is behind it. The preview renderer draws its
own captions at its own size and is not wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from generation.base import ClipInfo, ClipSpec, ProgressFn, VideoBackend
from generation.postprocess import PostProcessSpec, postprocess_clip

RENDER_SHARE = 0.8  # of a clip's progress; post-processing reports the rest


class PostProcessed(VideoBackend):
    """Renders through `inner`, then post-processes each raw clip with `spec`; the scene's own
    caption (in its language) is burnt in when `captions` is on."""

    def __init__(self, inner: VideoBackend, spec: PostProcessSpec, *, captions: bool = True) -> None:
        self.inner = inner
        self.name = inner.name
        self.any_length = inner.any_length
        self.spec = spec
        self.captions = captions

    def batch_size(self) -> int:
        return self.inner.batch_size()

    def lora_for(self, emotion: str) -> tuple[str, float] | None:
        return self.inner.lora_for(emotion)

    def continuity_problem(self, mode: str) -> str | None:
        return self.inner.continuity_problem(mode)

    def draw_keyframe(self, spec: ClipSpec, out_path: Path, reference: Path | None = None) -> Path:
        return self.inner.draw_keyframe(spec, out_path, reference)

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        return self.render_batch([spec], [out_path], progress)[0]

    def render_batch(
        self, specs: Sequence[ClipSpec], out_paths: Sequence[Path], progress: ProgressFn | None = None
    ) -> list[ClipInfo]:
        report = progress or (lambda fraction: None)
        # named after the (temporary) outputs, so a crash leaves them where temp files are swept
        raws = [out.with_name(out.stem + ".raw.mp4") for out in out_paths]
        try:
            if len(specs) > 1:
                self.inner.render_batch(specs, raws, lambda f: report(RENDER_SHARE * f))
            else:
                self.inner.render_clip(specs[0], raws[0], lambda f: report(RENDER_SHARE * f))
            return [
                postprocess_clip(raw, out, self.spec_for(spec), lambda f: report(RENDER_SHARE + (1 - RENDER_SHARE) * f))
                for spec, raw, out in zip(specs, raws, out_paths, strict=True)
            ]
        finally:
            for raw in raws:
                raw.unlink(missing_ok=True)

    def spec_for(self, clip: ClipSpec) -> PostProcessSpec:
        """The post-processing of one scene: the shared settings plus its caption."""
        return replace(self.spec, caption=clip.caption if self.captions else "", caption_language=clip.language)
