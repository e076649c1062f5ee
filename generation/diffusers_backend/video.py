"""Frames to mp4: float [0, 1] -> uint8, written with the project's shared H.264 settings.

Using `generation.ffmpeg.write_h264` keeps diffusers clips stream-compatible with the
preview renderer and the stitcher (same codec, profile, pixel format, 1-second closed GOPs), so
the final assembly can stream-copy them. What was written is probed back, not assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from generation.base import ClipInfo, GenerationError
from generation.ffmpeg import write_h264
from generation.probe import probe_video


def to_numpy(frames: Any) -> np.ndarray:
    """Pipeline output as float frames (B, F, H, W, 3): np arrays (output_type="np") as they are,
    PIL frames scaled to [0, 1], tensors moved to the CPU."""
    if isinstance(frames, np.ndarray):
        arr = frames
    elif isinstance(frames, list):
        arr = np.stack([np.stack([np.asarray(f, dtype=np.float32) for f in video]) for video in frames])
        if arr.max() > 1.5:  # PIL frames
            arr = arr / 255.0
    else:  # torch tensor
        arr = frames.float().cpu().numpy()
    if arr.ndim != 5 or arr.shape[-1] != 3:
        raise GenerationError(f"unexpected frames shape {arr.shape} from the pipeline")
    return arr.astype(np.float32)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] -> uint8 0..255 (encoders write float frames as black)."""
    if frames.dtype == np.uint8:
        return frames
    return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def write_mp4(frames: np.ndarray, out_path: Path, fps: int) -> ClipInfo:
    """Write (F, H, W, 3) frames as H.264/yuv420p; every frame is kept, none resized."""
    video = to_uint8(frames)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise GenerationError(f"expected frames shaped (F, H, W, 3), got {video.shape}")
    count = len(video)
    write_h264(video, out_path, fps)
    info = probe_video(out_path)
    if info.frames != count:
        raise GenerationError(f"{out_path.name}: wrote {info.frames} frames, expected {count}")
    return info.as_clip_info()
