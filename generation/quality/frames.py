"""Decoded frames of a clip, the one input every quality metric takes.

A clip is read once into a `Frames` value (uint8 RGB, T x H x W x 3, plus its fps) and every
scorer works on that array, so scoring a clip costs one decode whatever is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generation.base import GenerationError


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


def read_frames(path: Path, *, max_frames: int | None = None) -> Frames:
    """Decode the video stream of `path` into `Frames` (at most `max_frames`, from the start).

    Raises GenerationError when the file is missing or holds no decodable video.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"cannot score {path}: no such file")
    output_params = ["-frames:v", str(max_frames)] if max_frames else []
    try:
        reader = imageio_ffmpeg.read_frames(str(path), output_params=output_params)
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise GenerationError(f"cannot read {path.name} as a video: {exc}") from exc
    width, height = meta["size"]
    try:
        pixels = [np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader]
    except (OSError, RuntimeError) as exc:
        raise GenerationError(f"decoding {path.name} failed: {exc}") from exc
    finally:
        reader.close()
    if not pixels:
        raise GenerationError(f"{path.name} has no decodable video frames")
    return Frames(np.stack(pixels), float(meta.get("fps") or 0.0))
