"""Stitching real clips with the bundled ffmpeg: frames and durations are decoded and checked."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from generation.base import ClipSpec, ClipStyle, GenerationError
from generation.preview import PreviewRenderer
from generation.probe import probe_video
from generation.stitch import plan_pieces, plan_timeline, stitch_clips, verify_stitched

MOTIONS = ("drift", "zoom", "fall")


def render(tmp_path: Path, count: int = 3, **overrides: object) -> list[Path]:
    renderer = PreviewRenderer()
    paths = []
    for i in range(count):
        values: dict[str, object] = dict(
            index=i, prompt="", caption=f"장면 {i}", emotion="joy", seed=i,
            width=96, height=64, num_frames=6, fps=12, style=ClipStyle(motion=MOTIONS[i % 3]),
        )  # fmt: skip
        values.update(overrides)
        path = tmp_path / f"clip{i}_{values['width']}x{values['height']}.mp4"
        renderer.render_clip(ClipSpec(**values), path)  # type: ignore[arg-type]
        paths.append(path)
    return paths


def frames(path: Path) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    width, height = meta["size"]
    return np.stack([np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader]).astype(float)


def expected_crossfade(sources: list[np.ndarray], overlap: int) -> np.ndarray:
    """The timeline computed independently: neighbours blend linearly over `overlap` frames."""
    out = list(sources[0])
    for clip in sources[1:]:
        if overlap:
            weights = np.arange(overlap) / overlap
            blend = [
                a * (1 - w) + b * w for a, b, w in zip(out[-overlap:], clip[:overlap], weights, strict=True)
            ]
            out = out[:-overlap] + blend
        out += list(clip[overlap:])
    return np.stack(out)


def test_equal_clips_are_joined_by_stream_copy_bit_exactly(tmp_path: Path) -> None:
    clips = render(tmp_path)
    seen: list[float] = []
    info = stitch_clips(clips, tmp_path / "out.mp4", progress=seen.append)
    assert (info.frames, info.width, info.height) == (18, 96, 64)
    assert info.duration == pytest.approx(1.5, abs=0.05)
    assert np.array_equal(frames(info.path), np.concatenate([frames(c) for c in clips]))
    assert seen and seen[-1] == 1.0


def test_crossfade_copies_between_keyframes_and_reencodes_only_the_windows(tmp_path: Path) -> None:
    # 4 fps and 12 frames per clip: keyframes at 0, 4, 8 (one per second)
    clips = render(tmp_path, fps=4, num_frames=12)
    probes = [probe_video(c, keyframes=True) for c in clips]
    assert probes[0].keyframes == (0, 4, 8)
    plan = plan_timeline(probes, crossfade=0.5)
    assert plan.overlap == 2 and plan.total_frames == 36 - 2 * 2
    pieces = plan_pieces(probes, plan)
    copied = sum(p.end - p.start for p in pieces if p.clip is not None)
    assert copied == 20  # 12 of the 32 frames are re-encoded: the two transition windows

    info = stitch_clips(clips, tmp_path / "out.mp4", crossfade=0.5)
    assert info.frames == 32 and info.duration == pytest.approx(8.0, abs=0.05)
    got = frames(info.path)
    want = expected_crossfade([frames(c) for c in clips], overlap=2)
    error = np.abs(got - want).mean(axis=(1, 2, 3))
    for piece in pieces:
        if piece.clip is not None:  # stream copy: identical pixels
            assert error[piece.start : piece.end].max() == 0.0
    assert error.max() < 6.0  # the re-encoded windows: the blend, up to compression noise


def test_tiny_clips_with_crossfade_keep_frame_count(tmp_path: Path) -> None:
    clips = render(tmp_path)
    info = stitch_clips(clips, tmp_path / "out.mp4", crossfade=0.25)
    assert info.frames == 18 - 2 * 3
    assert info.duration == pytest.approx(1.0, abs=0.05)
    want = expected_crossfade([frames(c) for c in clips], overlap=3)
    assert np.abs(frames(info.path) - want).mean() < 6.0


def test_a_crossfade_longer_than_half_a_clip_is_shortened(tmp_path: Path) -> None:
    clips = render(tmp_path, count=2)
    info = stitch_clips(clips, tmp_path / "out.mp4", crossfade=2.0)
    assert info.frames == 12 - 3


def test_clips_of_different_size_and_fps_are_composed_and_reencoded(tmp_path: Path) -> None:
    first = render(tmp_path, count=1)[0]
    other = render(tmp_path / "b", count=1, width=64, height=48, fps=6, num_frames=3, seed=9)[0]
    info = stitch_clips([first, other], tmp_path / "out.mp4")
    # the second clip plays 0.5 s at the first clip's 12 fps: 6 frames
    assert (info.frames, info.width, info.height, info.fps) == (12, 96, 64, 12.0)
    assert info.duration == pytest.approx(1.0, abs=0.05)
    got = frames(info.path)
    assert np.abs(got[:6] - frames(first)).mean() < 6.0
    # letterboxed: 64x48 scaled to 85x64 in the middle, black bars left and right
    assert got[6:, :, :4].max() < 40 and got[6:, :, 10:86].mean() > 40


def test_mismatched_clips_with_crossfade(tmp_path: Path) -> None:
    first = render(tmp_path, count=1)[0]
    other = render(tmp_path / "b", count=1, width=128, height=64)[0]
    info = stitch_clips([first, other], tmp_path / "out.mp4", crossfade=0.25)
    assert (info.frames, info.width, info.height) == (9, 96, 64)


def test_a_broken_clip_is_a_generation_error_naming_it(tmp_path: Path) -> None:
    good = render(tmp_path, count=1)[0]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    with pytest.raises(GenerationError, match=r"broken\.mp4"):
        stitch_clips([good, broken], tmp_path / "out.mp4")
    with pytest.raises(GenerationError, match="no clips"):
        stitch_clips([], tmp_path / "out.mp4")


def test_verification_rejects_a_result_with_missing_frames(tmp_path: Path) -> None:
    clips = render(tmp_path)
    probes = [probe_video(c) for c in clips]
    short = stitch_clips(clips[:2], tmp_path / "short.mp4")
    with pytest.raises(GenerationError, match="expected 18 frames"):
        verify_stitched(short.path, plan_timeline(probes, crossfade=0.0))


def test_a_stream_copy_that_loses_frames_is_redone_by_composing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the concat step silently drops the last clip, as a bad copy can."""
    import generation.stitch as stitch

    clips = render(tmp_path)
    real_concat = stitch._concat_copy
    calls: list[int] = []

    def lossy_concat(paths: list[Path], out_path: Path) -> None:
        calls.append(len(paths))
        real_concat(paths[:-1], out_path)

    monkeypatch.setattr(stitch, "_concat_copy", lossy_concat)
    info = stitch_clips(clips, tmp_path / "out.mp4")
    assert calls == [3]  # the copy was tried once, then the whole timeline was composed
    assert info.frames == 18
    assert np.abs(frames(info.path) - np.concatenate([frames(c) for c in clips])).mean() < 6.0


def test_output_without_mp4_suffix_is_still_mp4(tmp_path: Path) -> None:
    clips = render(tmp_path, count=2)
    info = stitch_clips(clips, tmp_path / "out.partial", crossfade=0.25)
    assert info.frames == 9 and probe_video(info.path).codec == "h264"
