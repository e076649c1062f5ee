"""The preview renderer honours continuity: a card starts from a given frame and dissolves into its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from generation.base import ClipSpec, ClipStyle
from generation.frames import last_frame, save_last_frame
from generation.preview import PreviewRenderer
from tests.tiny_models.fixtures import read_frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 frames, in dB (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def card(index: int, seed: int, palette: tuple[str, ...], **overrides: object) -> ClipSpec:
    values: dict[str, object] = dict(
        index=index, prompt="p", caption=f"scene {index}", emotion="joy", seed=seed, width=96, height=64,
        num_frames=24, fps=12, style=ClipStyle(name="x", palette=palette, motion="drift"), language="en",
    )
    values.update(overrides)
    return ClipSpec(**values)  # type: ignore[arg-type]


SEA = ("#03045e", "#0077b6", "#90e0ef")
FIRE = ("#370617", "#d00000", "#ffba08")


def test_a_card_with_a_start_image_begins_on_it_and_dissolves_into_its_own(tmp_path: Path) -> None:
    renderer = PreviewRenderer()
    first = tmp_path / "clip-000.mp4"
    start = tmp_path / "clip-001.start.png"
    renderer.render_clip(card(0, 1, SEA, end_frame=start), first)
    # the end frame is the last frame as drawn, before encoding
    assert np.array_equal(np.asarray(Image.open(start)), renderer.render_frame(card(0, 1, SEA), 23))

    chained, alone = tmp_path / "chained.mp4", tmp_path / "alone.mp4"
    renderer.render_clip(card(1, 2, FIRE, start_image=start), chained)
    renderer.render_clip(card(1, 2, FIRE), alone)
    end = last_frame(first)
    chained_frames, alone_frames = read_frames(chained), read_frames(alone)

    assert psnr(chained_frames[0], end) >= 30.0
    assert psnr(alone_frames[0], end) < 20.0
    # after the one-second dissolve the card is its own again
    assert psnr(chained_frames[-1], alone_frames[-1]) >= 35.0
    assert psnr(chained_frames[6], end) < psnr(chained_frames[1], end)
    # decoding the clip gives (nearly) the same frame, for clips rendered before end frames existed
    assert psnr(np.asarray(Image.open(save_last_frame(first, tmp_path / "decoded.png"))), end) == float("inf")


def test_a_start_image_of_another_size_is_cropped_to_the_clip_not_stretched(tmp_path: Path) -> None:
    photo = np.zeros((300, 100, 3), np.uint8)  # tall: a red band across the middle third
    photo[100:200] = (255, 0, 0)
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    frame = PreviewRenderer().render_frame(card(0, 1, SEA, start_image=path), 0)
    assert frame.shape == (64, 96, 3)
    assert frame[32, 48, 0] > 200 and frame[32, 48, 2] < 50  # the middle is the red band


def test_key_frames_share_the_style_seed_and_start_from_the_reference(tmp_path: Path) -> None:
    renderer = PreviewRenderer()
    a = renderer.draw_keyframe(card(0, 42, SEA), tmp_path / "a.png")
    b = renderer.draw_keyframe(card(1, 42, SEA), tmp_path / "b.png")
    c = renderer.draw_keyframe(card(1, 43, SEA), tmp_path / "c.png")
    pa, pb, pc = (np.asarray(Image.open(p)) for p in (a, b, c))
    # same seed: one layout (only the scene label differs); another seed: another picture
    assert psnr(pa, pb) > psnr(pa, pc) + 5
    white = tmp_path / "white.png"
    Image.fromarray(np.full((64, 96, 3), 255, np.uint8)).save(white)
    d = np.asarray(Image.open(renderer.draw_keyframe(card(1, 42, SEA), tmp_path / "d.png", reference=white)))
    assert d.mean() > pb.mean() + 60  # the white photo shows through
