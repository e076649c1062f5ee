"""The VideoBackend base class's defaults and the post-processing wrapper, on real clips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from generation.base import ClipInfo, ClipSpec, ProgressFn, VideoBackend
from generation.postprocess import PostProcessSpec
from generation.postprocessed import PostProcessed
from generation.preview import PreviewRenderer
from generation.probe import probe_video
from tests.test_preview import spec


class RawModel(VideoBackend):
    """A stand-in for a model backend: the preview renderer's frames without captions, with a
    LoRA table and a batch size, recording the calls it gets."""

    name = "raw-model"

    def __init__(self, batch: int = 1) -> None:
        self.preview = PreviewRenderer()
        self.batch = batch
        self.calls: list[list[int]] = []

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        self.calls.append([spec.index])
        return self.preview.render_clip(replace(spec, caption=""), out_path, progress)

    def batch_size(self) -> int:
        return self.batch

    def lora_for(self, emotion: str) -> tuple[str, float] | None:
        return ("fear", 0.8) if emotion == "fear" else None


def test_the_defaults_render_one_scene_at_a_time_without_loras(tmp_path: Path) -> None:
    backend = PreviewRenderer()
    assert backend.batch_size() == 1
    assert backend.lora_for("fear") is None
    seen: list[float] = []
    outs = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    infos = backend.render_batch([spec(index=0), spec(index=1, seed=8)], outs, seen.append)
    assert [info.frames for info in infos] == [6, 6]
    assert all(out.exists() for out in outs)
    assert seen == sorted(seen) and seen[-1] == 1.0 and seen[5] == pytest.approx(0.5)  # half after one scene
    with pytest.raises(ValueError, match="one output path per spec"):
        backend.render_batch([spec()], outs)


def test_post_processed_model_clips_get_the_target_fps_and_leave_no_raw_file(tmp_path: Path) -> None:
    model = RawModel(batch=3)
    backend = PostProcessed(model, PostProcessSpec(target_fps=24, upscale=2.0))
    assert (backend.name, backend.batch_size(), backend.lora_for("fear")) == ("raw-model", 3, ("fear", 0.8))
    seen: list[float] = []
    outs = [tmp_path / "clip-000.mp4", tmp_path / "clip-001.mp4"]
    infos = backend.render_batch([spec(index=0), spec(index=1, seed=8)], outs, seen.append)
    for info, out in zip(infos, outs, strict=True):
        probe = probe_video(out)
        assert (probe.fps, probe.width, probe.height) == (24.0, 192, 128)  # 12 -> 24 fps, 96x64 -> 2x
        assert info.frames == probe.frames == 12
    assert model.calls == [[0], [1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip-000.mp4", "clip-001.mp4"]  # raw clips removed
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert max(f for f in seen if f <= 0.8) == pytest.approx(0.8)  # rendering is the first 80 %


def test_post_processing_captions_each_scene_in_its_language_only_when_asked() -> None:
    base = PostProcessSpec(target_fps=16)
    on = PostProcessed(RawModel(), base)
    off = PostProcessed(RawModel(), base, captions=False)
    clip = spec(caption="숲속에서", language="ko")
    assert (on.spec_for(clip).caption, on.spec_for(clip).caption_language) == ("숲속에서", "ko")
    assert off.spec_for(clip).caption == ""
    assert on.spec_for(clip).target_fps == 16


def test_a_failing_model_leaves_no_raw_file(tmp_path: Path) -> None:
    class Broken(RawModel):
        def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
            out_path.write_bytes(b"half a clip")
            raise RuntimeError("CUDA out of memory (simulated)")

    with pytest.raises(RuntimeError, match="out of memory"):
        PostProcessed(Broken(), PostProcessSpec()).render_clip(spec(), tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []
