"""Real clips for the quality tests: a photograph panned by a camera, encoded like our renderers.

The photograph is Grace Hopper's portrait that ships with matplotlib (a core dependency), so
the tests need nothing from outside the environment. Clips go through the project's own H.264
writer and are decoded back, so the metrics see real compression, not ideal arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from generation.ffmpeg import write_h264

WIDTH, HEIGHT, FPS, FRAMES = 320, 240, 12, 24


def photograph() -> np.ndarray:
    """The sample photograph as H x W x 3 uint8 (512 x 600)."""
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return np.asarray(img.convert("RGB"))


def pan_frames(step: int = 3, frames: int = FRAMES) -> np.ndarray:
    """A smooth horizontal pan over the photograph, `step` pixels a frame."""
    photo = photograph()
    return np.stack([photo[40 : 40 + HEIGHT, 10 + i * step : 10 + i * step + WIDTH] for i in range(frames)])


def write_clip(frames: np.ndarray, path: Path, fps: int = FPS) -> Path:
    """Encode uint8 frames to an H.264 mp4 with the renderers' writer."""
    write_h264(frames, path, fps)
    return path
