"""Decoded frames of a clip, the one input every quality metric takes.

A clip is read once into a `Frames` value (uint8 RGB, T x H x W x 3, plus its fps) and every
scorer works on that array, so scoring a clip costs one decode whatever is measured.
`thumbnail_strip` is the small picture of a clip the HTML reports show next to its numbers.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from generation.base import GenerationError

THUMB_FRAMES = 4
THUMB_HEIGHT = 64


@dataclass(frozen=True)
class Frames:
    """The frames of one clip: `pixels` is T x H x W x 3 uint8 RGB, `fps` frames per second."""

    pixels: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        if self.pixels.ndim != 4 or self.pixels.shape[3] != 3 or self.pixels.dtype != np.uint8:
            raise GenerationError(
                f"frames must be a T x H x W x 3 uint8 array, got {self.pixels.shape} {self.pixels.dtype}"
            )
        if len(self.pixels) == 0:
            raise GenerationError("a clip with no frames cannot be scored")

    def __len__(self) -> int:
        return len(self.pixels)

    def sample(self, count: int) -> np.ndarray:
        """`count` frames spread evenly from the first to the last (all of them when fewer)."""
        return self.pixels[sample_indices(len(self.pixels), count)]


def sample_indices(total: int, count: int) -> np.ndarray:
    """Indices of `count` frames spread evenly over `total` (first and last included)."""
    if count <= 0 or total <= 0:
        raise GenerationError(f"cannot sample {count} of {total} frames")
    if count >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, count).round().astype(int))


def read_frames(path: Path) -> Frames:
    """Decode every frame of the first video stream of `path` into `Frames`.

    Decodes in this process with PyAV (libav* bundled by the `av` wheel): no ffmpeg process is
    started, which is most of the cost for the small clips the quality gate judges.
    Raises GenerationError when the file is missing or holds no decodable video.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"cannot score {path}: no such file")
    pixels: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise GenerationError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            for frame in container.decode(stream):
                pixels.append(frame.to_ndarray(format="rgb24"))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise GenerationError(f"cannot read {path.name} as a video: {exc}") from exc
    if not pixels:
        raise GenerationError(f"{path.name} has no decodable video frames")
    return Frames(np.stack(pixels), fps)


def thumbnail_strip(frames: np.ndarray) -> str:
    """A PNG data URI of up to THUMB_FRAMES frames side by side, THUMB_HEIGHT pixels high."""
    picks = frames[np.unique(np.linspace(0, len(frames) - 1, THUMB_FRAMES).round().astype(int))]
    h, w = picks.shape[1:3]
    width = max(1, round(w * THUMB_HEIGHT / h))
    tiles = [Image.fromarray(f).resize((width, THUMB_HEIGHT), Image.Resampling.BILINEAR) for f in picks]
    strip = Image.new("RGB", (width * len(tiles), THUMB_HEIGHT))
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * width, 0))
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
