"""The weight-free clip metrics on real clips: each degradation lowers its metric by a margin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from generation.base import ClipSpec, ClipStyle, GenerationError
from generation.preview import PreviewRenderer
from generation.quality import ClipQuality, Frames, read_frames, score_clip, score_frames
from generation.quality.metrics import luma
from tests.quality_clips import pan_frames, write_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipQuality]:
    """Scores of a panned photograph and copies degraded one way each, all encoded as mp4."""
    folder = tmp_path_factory.mktemp("quality-clips")
    pan = pan_frames()
    rng = np.random.default_rng(7)
    order = np.roll(rng.permutation(len(pan)), 1)  # a shuffle, then no frame keeps its place
    grey = np.repeat(luma(pan).round().clip(0, 255).astype(np.uint8)[..., None], 3, axis=3)
    flicker = (pan * np.where(np.arange(len(pan)) % 2, 1.0, 0.75)[:, None, None, None]).astype(np.uint8)
    copies = {
        "pan": pan,
        "static": np.repeat(pan[:1], len(pan), axis=0),
        "blurred": np.stack(
            [np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(2))) for f in pan]
        ),
        "shuffled": pan[order],
        "greyscale": grey,
        "darkened": (pan * 0.3).astype(np.uint8),
        "flicker": flicker,
        "black": np.zeros_like(pan),
        "grey-card": np.full_like(pan, 128),
    }
    return {name: score_clip(write_clip(frames, folder / f"{name}.mp4")) for name, frames in copies.items()}


def test_every_score_is_in_unit_range_and_overall_combines_them(clips: dict[str, ClipQuality]) -> None:
    for name, q in clips.items():
        for value in (q.sharpness, q.temporal, q.color, q.overall):
            assert 0.0 <= value <= 1.0, (name, q)
        assert q.frames == 24 and q.fps == pytest.approx(12.0)
        geometric = (max(q.sharpness, 1e-6) * max(q.temporal, 1e-6) * max(q.color, 1e-6)) ** (1 / 3)
        assert q.overall == pytest.approx(geometric, rel=1e-6)


def test_the_panned_photograph_scores_well(clips: dict[str, ClipQuality]) -> None:
    pan = clips["pan"]
    assert pan.sharpness > 0.8 and pan.temporal > 0.85 and pan.color > 0.7 and pan.overall > 0.8


def test_blur_lowers_sharpness(clips: dict[str, ClipQuality]) -> None:
    assert clips["blurred"].sharpness < clips["pan"].sharpness - 0.4
    assert clips["blurred"].overall < clips["pan"].overall - 0.15


def test_shuffled_frames_lower_temporal_consistency_but_a_smooth_pan_does_not(
    clips: dict[str, ClipQuality],
) -> None:
    assert clips["shuffled"].temporal < clips["pan"].temporal - 0.4
    assert clips["flicker"].temporal < clips["pan"].temporal - 0.4
    # motion alone is not punished: the pan is within 0.1 of the same photograph held still
    assert clips["pan"].temporal > clips["static"].temporal - 0.1
    # and the shuffle changes nothing else
    assert clips["shuffled"].sharpness == pytest.approx(clips["pan"].sharpness, abs=0.01)


def test_greyscale_darkened_black_and_grey_clips_lower_colour(clips: dict[str, ClipQuality]) -> None:
    pan = clips["pan"].color
    assert clips["greyscale"].color < pan - 0.2
    assert clips["darkened"].color < pan - 0.35
    assert clips["black"].color < 0.05 and clips["black"].overall < 0.05
    assert clips["grey-card"].color <= 1 / 3 + 0.01 and clips["grey-card"].overall < 0.05


def test_a_preview_clip_and_its_shuffled_copy(tmp_path: Path) -> None:
    spec = ClipSpec(
        index=0, prompt="a whale swallows me", caption="큰 고래가 나타나 나를 삼켰다", emotion="fear",
        seed=3, width=320, height=180, num_frames=24, fps=12, style=ClipStyle(motion="shake"), language="ko",
    )  # fmt: skip
    path = tmp_path / "clip.mp4"
    PreviewRenderer().render_clip(spec, path)
    frames = read_frames(path)
    assert frames.pixels.shape == (24, 180, 320, 3)
    steady = score_frames(frames)
    order = np.roll(np.random.default_rng(1).permutation(24), 1)
    shuffled = score_frames(Frames(frames.pixels[order], frames.fps))
    assert steady.temporal > 0.85
    assert shuffled.temporal < steady.temporal - 0.2


def test_frames_are_checked_and_unreadable_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="no such file"):
        read_frames(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(GenerationError):
        read_frames(junk)
    with pytest.raises(GenerationError, match="uint8"):
        Frames(np.zeros((2, 4, 4, 3), np.float32), 12.0)
    single = score_frames(Frames(np.full((1, 8, 8, 3), 90, np.uint8), 12.0))
    assert single.temporal == 1.0 and single.sharpness == 0.0


def test_thresholds_name_what_fails_and_the_best_attempt_fails_least() -> None:
    from generation.quality import Thresholds, best_attempt

    def q(sharp: float, steady: float, colour: float, clip: float | None = None) -> ClipQuality:
        return ClipQuality(24, 12.0, sharp, steady, colour, (sharp * steady * colour) ** (1 / 3), clip)

    t = Thresholds(min_clip_score=0.3, min_sharpness=0.5, min_temporal=0.5, min_color=0.5)
    assert t.failures(q(0.9, 0.9, 0.9)) == []
    assert t.failures(q(0.9, 0.9, 0.9, clip=0.2)) == ["clip_score"]
    assert t.failures(q(0.1, 0.9, 0.4, clip=0.5)) == ["sharpness", "color"]
    attempts = [
        q(0.1, 0.9, 0.9),
        q(0.9, 0.9, 0.9, clip=0.1),
        q(0.95, 0.2, 0.9, clip=0.31),
        q(0.6, 0.6, 0.6, clip=0.31),
    ]
    # attempt 3 passes everything; attempt 2 has the same CLIP score but fails temporal
    assert best_attempt(attempts, t) == 3
    # nothing passes: the fewest failures, then the higher CLIP score
    assert best_attempt(attempts[:3], t) == 2
    # ties keep the first (the scene's own seed and prompt)
    assert best_attempt([q(0.9, 0.9, 0.9), q(0.9, 0.9, 0.9)], t) == 0
