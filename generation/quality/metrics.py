"""Weight-free quality metrics of one clip: sharpness, temporal consistency, colour, overall.

Each metric is a number in [0, 1] (higher is better) computed from decoded frames with numpy
alone, so every clip can be scored on any machine in a small fraction of its render time.
The mapping constants below turn raw measurements into [0, 1]; they are where a measurement
gives half marks, chosen so a sharp, steady, well-exposed colour clip scores near or above 0.7.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from generation.quality.frames import Frames

# Variance of the 4-neighbour Laplacian of luma (0..255 scale) that scores 0.5 in `sharpness`.
SHARPNESS_HALF_VARIANCE = 60.0
# Motion-compensated mean absolute luma error (0..1 scale) between neighbouring frames that scores
# 0.5 per frame pair in `temporal_consistency`.
TEMPORAL_HALF_ERROR = 0.02
# Hasler-Suesstrunk colourfulness (0..255 scale) that scores 0.5 in `color_quality`.
COLORFULNESS_HALF = 25.0
# Luma standard deviation (0..1 scale) that scores full contrast marks.
FULL_CONTRAST_STD = 0.2
# Frames per metric: enough to be stable, few enough to stay cheap on long clips.
SAMPLED_FRAMES = 16
# Temporal consistency works on frames shrunk to at most this width, in blocks of this size,
# searching this far (in shrunk pixels) for where each block moved.
MOTION_WIDTH = 48
MOTION_BLOCK = 8
MOTION_SEARCH = 2
# Colour statistics do not need detail: frames are box-averaged to at most this width first.
COLOR_WIDTH = 160


@dataclass(frozen=True)
class ClipQuality:
    """The scores of one clip; `clip_score` is None when no CLIP model is configured."""

    frames: int
    fps: float
    sharpness: float
    temporal: float
    color: float
    overall: float
    clip_score: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        """The JSON shape used by the CLI, the job views and the reports."""
        return asdict(self)


def score_frames(frames: Frames) -> ClipQuality:
    """All weight-free metrics of `frames` (no CLIP score: see `ClipScorer`)."""
    sharp = sharpness(frames)
    steady = temporal_consistency(frames)
    colour = color_quality(frames)
    return ClipQuality(
        frames=len(frames),
        fps=frames.fps,
        sharpness=sharp,
        temporal=steady,
        color=colour,
        overall=overall_score(sharp, steady, colour),
    )


def overall_score(sharpness: float, temporal: float, color: float) -> float:
    """Geometric mean of the three weight-free metrics.

    A geometric mean, not an arithmetic one, so one bad aspect (a black clip, a flickering one)
    pulls the whole score down instead of being averaged away by the others.
    """
    values = np.clip([sharpness, temporal, color], 1e-6, 1.0)
    return float(np.exp(np.log(values).mean()))


def luma(pixels: np.ndarray) -> np.ndarray:
    """BT.601 luma of uint8 RGB frames (... x H x W x 3) as float32 on the 0..255 scale."""
    rgb = pixels.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def sharpness(frames: Frames) -> float:
    """How much fine detail the frames hold: v / (v + SHARPNESS_HALF_VARIANCE).

    v is the variance of the 4-neighbour Laplacian of luma (0..255), averaged over up to
    SAMPLED_FRAMES evenly sampled frames. Blur removes high frequencies and lowers v; a flat
    frame has v = 0 and scores 0. Noise raises v too: this measures detail, not taste.
    """
    y = np.stack([_grey(f) for f in frames.sample(SAMPLED_FRAMES)]).astype(np.float32)
    if y.shape[1] < 3 or y.shape[2] < 3:
        return 0.0
    lap = 4 * y[:, 1:-1, 1:-1] - y[:, :-2, 1:-1] - y[:, 2:, 1:-1] - y[:, 1:-1, :-2] - y[:, 1:-1, 2:]
    variance = float(lap.reshape(len(lap), -1).var(axis=1).mean())
    return variance / (variance + SHARPNESS_HALF_VARIANCE)


def temporal_consistency(frames: Frames) -> float:
    """How well each frame follows from the one before: 0.75 * mean + 0.25 * worst pair score.

    For each pair of neighbouring frames (shrunk to MOTION_WIDTH), every MOTION_BLOCK-pixel
    block of the later frame is matched to the best position within MOTION_SEARCH pixels in the
    earlier one (block matching, as a video codec does), and the pair's error e is the mean
    absolute luma difference (0..1) of the matched blocks. Motion, a pan or a moving object, is
    matched away and costs little; flicker (a brightness change) and jumps (a shuffled or cut
    frame) leave errors no shift explains. A pair scores 1 / (1 + e / TEMPORAL_HALF_ERROR);
    the worst pair counts extra so that one jump in a long clip is not averaged away.
    A single frame has nothing to be inconsistent with and scores 1.
    """
    if len(frames) < 2:
        return 1.0
    factor = _factor(frames.pixels.shape[2], MOTION_WIDTH)
    y = np.stack([_grey(f, factor) for f in frames.pixels]).astype(np.float32) / 255.0
    errors = _matched_errors(y[:-1], y[1:])
    pair_scores = 1.0 / (1.0 + errors / TEMPORAL_HALF_ERROR)
    return float(0.75 * pair_scores.mean() + 0.25 * pair_scores.min())


def color_quality(frames: Frames) -> float:
    """Exposure, contrast and colourfulness, averaged (each in [0, 1]).

    - exposure: 1 - ((mean luma - 0.5) / 0.5)^2 on the 0..1 scale: mid-grey mean scores 1,
      black or blown-out white 0;
    - contrast: luma standard deviation / FULL_CONTRAST_STD, capped at 1: a flat frame scores 0;
    - colourfulness: Hasler & Suesstrunk's M = sigma_rgyb + 0.3 * mu_rgyb (0..255), mapped by
      M / (M + COLORFULNESS_HALF): a greyscale frame scores 0.
    Computed per sampled frame and averaged. A grey clip scores at most 1/3, a black one 0.
    """
    factor = _factor(frames.pixels.shape[2], COLOR_WIDTH)
    pixels = np.stack([_reduce(f, factor) for f in frames.sample(SAMPLED_FRAMES)]).astype(np.float32)
    y = luma(pixels) / 255.0
    mean = y.reshape(len(y), -1).mean(axis=1)
    std = y.reshape(len(y), -1).std(axis=1)
    exposure = np.clip(1.0 - ((mean - 0.5) / 0.5) ** 2, 0.0, 1.0)
    contrast = np.clip(std / FULL_CONTRAST_STD, 0.0, 1.0)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg = (r - g).reshape(len(pixels), -1)
    yb = (0.5 * (r + g) - b).reshape(len(pixels), -1)
    m = np.hypot(rg.std(axis=1), yb.std(axis=1)) + 0.3 * np.hypot(rg.mean(axis=1), yb.mean(axis=1))
    colourful = m / (m + COLORFULNESS_HALF)
    return float(((exposure + contrast + colourful) / 3.0).mean())


def _factor(width: int, max_width: int) -> int:
    return max(1, -(-width // max_width))


def _grey(frame: np.ndarray, factor: int = 1) -> np.ndarray:
    """BT.601 luma (uint8, as `luma` but rounded) of one frame, box-averaged by `factor` (PIL: fast)."""
    image = Image.fromarray(frame).convert("L")
    return np.asarray(image.reduce(factor) if factor > 1 else image)


def _reduce(frame: np.ndarray, factor: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).reduce(factor)) if factor > 1 else frame


def _matched_errors(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per frame pair, the mean over blocks of the smallest block error over all half-pixel shifts.

    Shifts go in half pixels (a half-pixel shift is the mean of the two or four whole-pixel ones,
    i.e. bilinear), so a slow pan is matched closely. What is left of a motion of up to a quarter
    pixel, at most a quarter of the block's gradient, is forgiven; uncorrelated change (noise
    re-drawn every frame, flicker, a jump) is not.
    """
    t, h, w = after.shape
    block = min(MOTION_BLOCK, h, w)
    bh, bw = h // block, w // block
    s = MOTION_SEARCH
    padded = np.pad(before, ((0, 0), (s, s), (s, s)), mode="edge")
    target = after[:, : bh * block, : bw * block]

    def whole(dy: int, dx: int) -> np.ndarray:
        return padded[:, s + dy : s + dy + bh * block, s + dx : s + dx + bw * block]

    best = np.full((t, bh, bw), np.inf, dtype=np.float32)
    for hy in range(-2 * s, 2 * s + 1):
        for hx in range(-2 * s, 2 * s + 1):
            ys, xs = {hy // 2, -(-hy // 2)}, {hx // 2, -(-hx // 2)}
            parts = [whole(dy, dx) for dy in ys for dx in xs if abs(dy) <= s and abs(dx) <= s]
            if len(parts) < len(ys) * len(xs):
                continue
            moved = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0]) / len(parts)
            err = np.abs(target - moved).reshape(t, bh, block, bw, block).mean(axis=(2, 4))
            np.minimum(best, err, out=best)
    gx = np.abs(np.diff(target, axis=2, append=target[:, :, -1:]))
    gy = np.abs(np.diff(target, axis=1, append=target[:, -1:, :]))
    tolerance = 0.25 * (gx + gy).reshape(t, bh, block, bw, block).mean(axis=(2, 4))
    return np.maximum(best - tolerance, 0.0).reshape(t, -1).mean(axis=1)
