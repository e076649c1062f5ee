"""Frames to mp4 and back: uint8 conversion, H.264 writing with imageio-ffmpeg, probing the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generation.base import ClipInfo, GenerationError


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] -> uint8 (encoders write float frames as black)."""
    if frames.dtype == np.uint8:
        return frames
    return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def write_mp4(frames: np.ndarray, out_path: Path, fps: int) -> None:
    """Write (F, H, W, 3) frames as H.264/yuv420p; every frame is kept, none resized."""
    import imageio_ffmpeg

    video = to_uint8(frames)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise GenerationError(f"expected frames shaped (F, H, W, 3), got {video.shape}")
    _, height, width, _ = video.shape
    if width % 2 or height % 2:
        raise GenerationError(f"H.264 (yuv420p) needs even sizes, got {width}x{height}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(out_path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        output_params=["-crf", "18", "-preset", "veryfast"],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in video:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def probe(path: Path) -> ClipInfo:
    """Frame count, fps, size and duration as read back from the file."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    fps = float(meta["fps"])
    width, height = meta["size"]
    return ClipInfo(path=path, frames=frames, fps=fps, width=width, height=height, duration=frames / fps)
