"""Single frames as image files: the frame a scene ends on becomes the frame the next one starts from.

Frames are kept as PNG (lossless), so a start frame saved with a clip is exactly what the next
render reads, whether it runs now or after a restart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from generation.base import GenerationError
from generation.ffmpeg import imageio_ffmpeg_lib


def last_frame(video: Path) -> np.ndarray:
    """The last decoded frame of `video` as HxWx3 uint8 (every frame is decoded: clips are short)."""
    imageio_ffmpeg = imageio_ffmpeg_lib()
    try:
        reader = imageio_ffmpeg.read_frames(str(video))
        meta = next(reader)
        width, height = meta["size"]
        last: bytes | None = None
        for raw in reader:
            last = raw
    except (OSError, RuntimeError, StopIteration) as exc:
        raise GenerationError(f"cannot read the last frame of {video}: {exc}") from exc
    if last is None:
        raise GenerationError(f"{video} has no frames")
    return np.frombuffer(last, np.uint8).reshape(height, width, 3).copy()


def save_frame(frame: np.ndarray, out_path: Path) -> Path:
    """Write an HxWx3 uint8 frame as PNG (the caller makes the write atomic)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(out_path, format="PNG")
    return out_path


def save_last_frame(video: Path, out_path: Path) -> Path:
    """The last frame of `video`, saved as a PNG at `out_path`."""
    return save_frame(last_frame(video), out_path)
