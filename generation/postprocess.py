"""Post-processing of a rendered clip: frame interpolation, upscaling and burnt-in captions.

Model backends write raw frames at low fps (8-16) and small sizes (e.g. 512x320) with no
captions. `postprocess_clip` turns such a clip into a deliverable one, in this order:

1. interpolate to `target_fps`, keeping the duration: motion-compensated (ffmpeg `minterpolate`,
   mi_mode=mci) or a cheap cross-fade of neighbours (`framerate`, "blend"). Interpolating before
   upscaling keeps motion search on the small frames, where it is cheapest.
2. upscale by a factor or to an exact (even) size: ffmpeg `scale` with lanczos, or a learned
   `Upscaler` adapter passed by the caller.
3. burn the scene's caption (Hangul included) with the drawing shared with the preview renderer
   (`generation.captions`), at the output size so the text stays sharp.

Everything runs as one ffmpeg pass (one decode, one encode) with the shared H.264 settings of
`generation.ffmpeg`, so stitching can stream-copy the results. Steps that would change nothing
are skipped; when nothing is left the source is hard-linked (or copied) to the output.
The result is probed and checked: frames == round(duration * fps), the asked size.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from generation.base import ClipInfo, GenerationError, ProgressFn
from generation.captions import CaptionPosition, caption_overlay
from generation.ffmpeg import (
    as_uint8_frame,
    check_even_size,
    ffmpeg_command,
    h264_output_params,
    imageio_ffmpeg_lib,
    open_h264_writer,
    stderr_tail,
)
from generation.fonts import find_hangul_font
from generation.probe import VideoProbe, probe_video

logger = logging.getLogger(__name__)

InterpolationMode = Literal["mci", "blend"]
INTERPOLATION_MODES: tuple[InterpolationMode, ...] = ("mci", "blend")
CAPTION_POSITIONS: tuple[CaptionPosition, ...] = ("bottom", "top")
UPSCALER_CHUNK = 8  # frames handed to a learned upscaler at once (bounds memory)
_PAD_SOURCE_FRAMES = 2  # clones of the last frame, so interpolation can reach the clip's end


@dataclass(frozen=True)
class PostProcessSpec:
    """What to do to one clip. The defaults do nothing (the clip is linked through unchanged).

    `upscale` is a factor (2.0 doubles both sides, rounded to even sizes) or an exact even
    (width, height). A size with another aspect ratio than the clip stretches it.
    """

    target_fps: int | None = None  # None: keep the clip's fps
    upscale: float | tuple[int, int] | None = None
    caption: str = ""  # the diary's words for the scene; blank: no caption
    caption_language: str = "en"  # "ko" wraps by syllable (also chosen when the text has Hangul)
    font_path: Path | None = None  # a font with Hangul; found automatically when unset
    caption_position: CaptionPosition = "bottom"
    interpolation: InterpolationMode = "mci"


@runtime_checkable
class Upscaler(Protocol):
    """A learned upscaler (e.g. Real-ESRGAN) plugged in instead of ffmpeg's lanczos."""

    name: str

    def upscale(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 frames in, (N, H', W', 3) uint8 frames out, same N for every call."""
        ...


@dataclass(frozen=True)
class PostProcessPlan:
    """The steps `spec` asks of one source clip, with no-ops already dropped."""

    source: VideoProbe
    fps: int | None  # interpolate to this fps; None: keep
    size: tuple[int, int] | None  # scale to this size; None: keep
    caption: str  # "" = no caption
    frames: int  # frames the output must have
    spec: PostProcessSpec

    @property
    def is_noop(self) -> bool:
        return self.fps is None and self.size is None and not self.caption

    @property
    def out_fps(self) -> float:
        return float(self.fps) if self.fps is not None else self.source.fps

    @property
    def out_size(self) -> tuple[int, int]:
        return self.size or (self.source.width, self.source.height)


def postprocess_clip(
    src: Path,
    out_path: Path,
    spec: PostProcessSpec,
    progress: ProgressFn | None = None,
    *,
    upscaler: Upscaler | None = None,
) -> ClipInfo:
    """Interpolate, upscale and caption the clip at `src` into an H.264 mp4 at `out_path`.

    `upscaler` replaces ffmpeg's lanczos for the upscaling step (its output is resized to the
    asked size if it differs). Returns what was written, probed from `out_path`. Raises
    GenerationError for an invalid spec, an unreadable source, a failed encode, or an output
    that does not have the expected frames or size.
    """
    src, out_path = Path(src), Path(out_path)
    check_spec(spec)
    plan = plan_postprocess(probe_video(src), spec)
    if plan.is_noop:
        _link_or_copy(src, out_path)
        if progress is not None:
            progress(1.0)
        logger.info("post-processing %s: nothing to do, linked", src.name)
        return ClipInfo(out_path, plan.frames, plan.source.fps, *plan.out_size, plan.source.duration)
    if out_path.resolve() == src.resolve():
        raise GenerationError(f"post-processing {src.name}: the output must be another file than the source")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dreamreel-post-") as tmp:
        overlay = _caption_image(plan, Path(tmp))
        if upscaler is not None and plan.size is not None:
            _encode_with_upscaler(src, out_path, plan, upscaler, overlay, progress)
        else:
            _encode_with_ffmpeg(src, out_path, plan, overlay, progress)
    info = _verify(out_path, plan)
    logger.info(
        "post-processed %s -> %s: %d frames at %g fps, %dx%d%s",
        src.name, out_path.name, info.frames, info.fps, info.width, info.height,
        " with caption" if plan.caption else "",
    )  # fmt: skip
    return info


def check_spec(spec: PostProcessSpec) -> None:
    """Refuse a spec ffmpeg could not honour, before any work is done."""
    if spec.target_fps is not None and not 1 <= spec.target_fps <= 240:
        raise GenerationError(f"target_fps must be between 1 and 240, got {spec.target_fps}")
    if spec.interpolation not in INTERPOLATION_MODES:
        raise GenerationError(
            f"interpolation must be one of {INTERPOLATION_MODES}, got {spec.interpolation!r}"
        )
    if spec.caption_position not in CAPTION_POSITIONS:
        raise GenerationError(
            f"caption_position must be one of {CAPTION_POSITIONS}, got {spec.caption_position!r}"
        )
    if isinstance(spec.upscale, tuple):
        check_even_size(*spec.upscale)
    elif spec.upscale is not None and not 0 < spec.upscale <= 8:
        raise GenerationError(f"upscale factor must be in (0, 8], got {spec.upscale}")


def plan_postprocess(source: VideoProbe, spec: PostProcessSpec) -> PostProcessPlan:
    """Resolve `spec` against the probed source: which steps change something, what comes out."""
    fps = spec.target_fps
    if fps is not None and abs(fps - source.fps) < 1e-3:
        fps = None
    size: tuple[int, int] | None
    if spec.upscale is None:
        size = None
    elif isinstance(spec.upscale, tuple):
        size = (int(spec.upscale[0]), int(spec.upscale[1]))
    else:
        size = (_even(source.width * spec.upscale), _even(source.height * spec.upscale))
    if size == (source.width, source.height):
        size = None
    elif size is not None and abs(size[0] / size[1] - source.width / source.height) > 0.01:
        logger.warning(
            "upscaling %dx%d to %dx%d changes the aspect ratio", source.width, source.height, *size
        )
    # the clip's duration is its frames at its fps (container durations may include padding)
    frames = source.frames if fps is None else max(1, round(source.frames / source.fps * fps))
    caption = " ".join(spec.caption.split())
    return PostProcessPlan(source=source, fps=fps, size=size, caption=caption, frames=frames, spec=spec)


# -- the ffmpeg pass ------------------------------------------------------------------------


def interpolation_filter(plan: PostProcessPlan) -> str:
    """The ffmpeg filters that bring the source to the plan's fps ("" when the fps is kept).

    The last frame is cloned a few times first: both filters only make frames between two
    inputs, so without it the clip would end early; `-frames:v` then cuts at the exact count.
    """
    if plan.fps is None:
        return ""
    pad = f"setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop={_PAD_SOURCE_FRAMES}"
    if plan.spec.interpolation == "blend":
        interpolate = f"framerate=fps={plan.fps}"
    else:
        interpolate = f"minterpolate=fps={plan.fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
    # a closing fps filter regularises timestamps: without it ffmpeg 9 duplicates framerate's
    # first frame at the encoder and gives the last frame a double duration
    return f"{pad},{interpolate},fps={plan.fps}"


def _encode_with_ffmpeg(
    src: Path, out_path: Path, plan: PostProcessPlan, overlay: Path | None, progress: ProgressFn | None
) -> None:
    chain = [f for f in (interpolation_filter(plan),) if f]
    if plan.size is not None:
        chain.append(f"scale={plan.size[0]}:{plan.size[1]}:flags=lanczos,setsar=1")
    graph = f"[0:v:0]{','.join(chain) or 'null'}[main]"
    inputs = ["-i", str(src)]
    if overlay is not None:
        inputs += ["-i", str(overlay)]
        graph += ";[main][1:v]overlay=0:0:format=auto:eof_action=repeat[out]"
    else:
        graph = graph.replace("[main]", "[out]")
    args = [
        *inputs,
        "-filter_complex", graph,
        "-map", "[out]",
        *(["-r", str(plan.fps)] if plan.fps is not None else []),  # constant rate to the last frame
        "-frames:v", str(plan.frames),
        "-an", "-sn",
        *h264_output_params(round(plan.out_fps)),
        "-f", "mp4", str(out_path),
    ]  # fmt: skip
    _run_with_progress(args, plan.frames, progress, what=f"post-processing {src.name}")


def _run_with_progress(args: list[str], total: int, progress: ProgressFn | None, *, what: str) -> None:
    """Run ffmpeg, reporting the frames it has written as a fraction of `total`."""
    cmd = ffmpeg_command(["-loglevel", "error", "-nostats", "-progress", "pipe:1", *args])
    logger.debug("ffmpeg: %s", " ".join(cmd))
    # stderr goes to a file: a pipe nobody reads while we read stdout could fill up and block
    with tempfile.TemporaryFile("w+", errors="replace") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if progress is not None and line.startswith("frame="):
                    done = int(line.split("=", 1)[1].strip() or 0)
                    progress(min(done / max(total, 1), 1.0))
            code = proc.wait()
        finally:  # the callback raised (e.g. the job was cancelled): leave no ffmpeg behind
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        if code != 0:
            err.seek(0)
            raise GenerationError(f"{what} failed (ffmpeg exit {code}):\n{stderr_tail(err.read())}")


# -- the learned-upscaler path --------------------------------------------------------------


def _encode_with_upscaler(
    src: Path,
    out_path: Path,
    plan: PostProcessPlan,
    upscaler: Upscaler,
    overlay: Path | None,
    progress: ProgressFn | None,
) -> None:
    """Decode (interpolated by ffmpeg), upscale in chunks, caption, encode with the shared writer."""
    imageio_ffmpeg = imageio_ffmpeg_lib()
    width, height = plan.out_size
    caption = np.asarray(Image.open(overlay).convert("RGBA")) if overlay is not None else None
    vf = interpolation_filter(plan)
    reader = imageio_ffmpeg.read_frames(
        str(src), output_params=[*(["-vf", vf] if vf else []), "-frames:v", str(plan.frames)]
    )
    writer = open_h264_writer(out_path, width, height, round(plan.out_fps))
    written = 0
    try:
        meta = next(reader)
        src_w, src_h = meta["size"]
        chunk: list[np.ndarray] = []
        for raw in reader:
            chunk.append(np.frombuffer(raw, np.uint8).reshape(src_h, src_w, 3))
            if len(chunk) == UPSCALER_CHUNK:
                written += _write_upscaled(writer, upscaler, chunk, (width, height), caption)
                chunk = []
                if progress is not None:
                    progress(min(written / plan.frames, 1.0))
        if chunk:
            written += _write_upscaled(writer, upscaler, chunk, (width, height), caption)
    except GenerationError:
        raise
    except (OSError, RuntimeError, StopIteration) as exc:  # ffmpeg read errors, the model's own
        raise GenerationError(
            f"post-processing {src.name} with upscaler {upscaler.name!r} failed: {exc}"
        ) from exc
    finally:
        reader.close()
        writer.close()
    if progress is not None:
        progress(1.0)


def _write_upscaled(
    writer: object,
    upscaler: Upscaler,
    chunk: list[np.ndarray],
    size: tuple[int, int],
    caption: np.ndarray | None,
) -> int:
    frames = upscaler.upscale(np.stack(chunk))
    if frames.ndim != 4 or len(frames) != len(chunk):
        raise GenerationError(
            f"upscaler {upscaler.name!r} returned shape {frames.shape} for {len(chunk)} frames"
        )
    for frame in frames:
        if (frame.shape[1], frame.shape[0]) != size:  # e.g. a fixed 4x model: fit to the asked size
            frame = np.asarray(
                Image.fromarray(np.asarray(frame, np.uint8)).resize(size, Image.Resampling.LANCZOS)
            )
        frame = as_uint8_frame(frame, *size)
        if caption is not None:
            frame = _composite(frame, caption)
        writer.send(frame)  # type: ignore[attr-defined]
    return len(frames)


def _composite(frame: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    mixed = frame.astype(np.float32) * (1.0 - alpha) + rgba[:, :, :3].astype(np.float32) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


# -- helpers --------------------------------------------------------------------------------


def _caption_image(plan: PostProcessPlan, folder: Path) -> Path | None:
    """The caption drawn once at the output size, as a transparent PNG ffmpeg overlays."""
    if not plan.caption:
        return None
    spec = plan.spec
    font = find_hangul_font(spec.font_path)
    image, _ = caption_overlay(
        plan.caption, *plan.out_size, font, language=spec.caption_language, position=spec.caption_position
    )
    path = folder / "caption.png"
    image.save(path)
    return path


def _verify(out_path: Path, plan: PostProcessPlan) -> ClipInfo:
    info = probe_video(out_path)
    want_w, want_h = plan.out_size
    if info.frames != plan.frames or (info.width, info.height) != (want_w, want_h):
        raise GenerationError(
            f"post-processed {out_path.name} has {info.frames} frames {info.width}x{info.height}, "
            f"expected {plan.frames} frames {want_w}x{want_h}"
        )
    if abs(info.fps - plan.out_fps) > 0.01:
        raise GenerationError(
            f"post-processed {out_path.name} runs at {info.fps} fps, expected {plan.out_fps}"
        )
    return info.as_clip_info()


def _link_or_copy(src: Path, out_path: Path) -> None:
    if out_path.resolve() == src.resolve():
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    try:
        os.link(src, out_path)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(src, out_path)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
