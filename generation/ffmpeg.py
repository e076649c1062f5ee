"""The ffmpeg binary shipped by imageio-ffmpeg, and the one H.264 encoding every writer shares.

There is no system ffmpeg or ffprobe to rely on: moviepy and imageio-ffmpeg both use the binary
bundled with imageio-ffmpeg, and so do we. All our encoders use `h264_output_params`, so clips
written by the preview renderer and segments re-encoded by the stitcher are stream-compatible
(same codec, profile, pixel format, closed GOPs) and can be concatenated without re-encoding.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Generator, Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from generation.base import GenerationError

if TYPE_CHECKING:
    import numpy as np  # only the frame writers need it: bot and API processes import this module

logger = logging.getLogger(__name__)

STDERR_TAIL_LINES = 12
CRF = 20
X264_PRESET = "veryfast"


def imageio_ffmpeg_lib() -> ModuleType:
    """imageio-ffmpeg, its readers and writers started without a `preexec_fn` (every caller gets it
    here, not by importing it).

    With one (`os.setpgrp`, imageio-ffmpeg's default for readers and writers) Python forks instead of
    vfork and runs the interpreter's after-fork code in the child, which clears the other threads'
    state; a render thread's child hung there for good, destroying a PyAV scaler's condition variable
    that a thread of the parent was waiting on (`pthread_cond_destroy`, seen with gdb in
    `tests/test_pipeline.py::test_background_runner_returns_at_once_and_finishes`; imageio-ffmpeg's
    own workaround, its issue #58). The cost: Ctrl-C reaches ffmpeg too, which stops with us."""
    os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise GenerationError("imageio-ffmpeg is missing: pip install imageio-ffmpeg") from exc
    return imageio_ffmpeg


@cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    imageio_ffmpeg = imageio_ffmpeg_lib()
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:  # pragma: no cover - broken install
        raise GenerationError(f"no usable ffmpeg binary: {exc}; reinstall imageio-ffmpeg") from exc


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last non-empty lines of ffmpeg's stderr: where it says what went wrong."""
    kept = [line for line in stderr.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def ffmpeg_command(args: Sequence[str]) -> list[str]:
    """The full command line: the bundled binary, quiet banner, no stdin, overwrite, then `args`."""
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]


def run_ffmpeg(args: Sequence[str], *, what: str) -> str:
    """Run ffmpeg with `args` (no binary, no -y needed) and return its stderr.

    Raises GenerationError naming `what` failed, with ffmpeg's last stderr lines.
    """
    cmd = ffmpeg_command(args)
    logger.debug("ffmpeg: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise GenerationError(f"{what} failed (ffmpeg exit {proc.returncode}):\n{stderr_tail(proc.stderr)}")
    return proc.stderr


def x264_params(fps: int) -> list[str]:
    """libx264 options shared by every writer (codec and pixel format are added by the caller).

    A keyframe each second bounds how much of a clip around a crossfade must be re-encoded.
    """
    return [
        "-preset", X264_PRESET,
        "-crf", str(CRF),
        "-profile:v", "high",
        "-g", str(max(1, fps)),
        "-keyint_min", str(max(1, fps)),
        "-sc_threshold", "0",
        "-movflags", "+faststart",
    ]  # fmt: skip


def h264_output_params(fps: int) -> list[str]:
    """Complete ffmpeg output options: H.264 High, yuv420p, closed GOP of 1 second."""
    return ["-c:v", "libx264", "-pix_fmt", "yuv420p", *x264_params(fps)]


def check_even_size(width: int, height: int) -> None:
    """yuv420p needs even dimensions; say so instead of letting ffmpeg fail cryptically."""
    if width % 2 or height % 2 or width < 2 or height < 2:
        raise GenerationError(f"video size {width}x{height} must be even in both dimensions (yuv420p)")


def open_h264_writer(
    path: Path, width: int, height: int, fps: int, *, keyframes_at: Sequence[int] = ()
) -> Generator[None, Any, None]:
    """A primed imageio-ffmpeg writer: `send()` HxWx3 uint8 frames, then `close()`.

    Frames must be uint8 0..255: float frames become an all-black (or garbage) video.
    `keyframes_at` forces keyframes at those frame numbers (besides one each second), so the
    file can later be split there without re-encoding.
    """
    imageio_ffmpeg = imageio_ffmpeg_lib()
    check_even_size(width, height)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: Generator[None, Any, None] = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=[*x264_params(fps), *_force_keyframes(keyframes_at), "-f", "mp4"],
    )
    writer.send(None)  # start ffmpeg
    return writer


def write_h264(frames: Sequence[np.ndarray] | np.ndarray, path: Path, fps: int) -> None:
    """Encode frames already in memory (HxWx3, all one size) with `open_h264_writer`."""
    height, width = frames[0].shape[:2]
    writer = open_h264_writer(path, width, height, fps)
    try:
        for frame in frames:
            writer.send(as_uint8_frame(frame, width, height))
    finally:
        writer.close()


def _force_keyframes(frames: Sequence[int]) -> list[str]:
    if not frames:
        return []
    return ["-force_key_frames", "expr:" + "+".join(f"eq(n,{int(n)})" for n in sorted(set(frames)))]


def as_uint8_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Validate and convert one RGB frame to contiguous uint8 (floats are clipped, not truncated)."""
    import numpy as np

    if frame.ndim != 3 or frame.shape[2] < 3:
        raise GenerationError(f"expected an HxWx3 RGB frame, got shape {frame.shape}")
    if frame.shape[0] != height or frame.shape[1] != width:
        raise GenerationError(f"frame is {frame.shape[1]}x{frame.shape[0]}, expected {width}x{height}")
    rgb = frame[:, :, :3]
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb)
