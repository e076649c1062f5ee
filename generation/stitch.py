"""Stitching scene clips into the final video, re-encoding only what has to change.

Three ways, picked per call and always verified by decoding the result:

- copy: every clip has the same codec, profile, size, fps and pixel format and there is no
  crossfade -> ffmpeg's concat demuxer with `-c copy` (no re-encode at all);
- windows: same stream parameters, with crossfades -> the parts of each clip between keyframes
  outside the transitions are stream-copied; only the transition windows (from the last
  keyframe before a crossfade to the first keyframe after it) are composed by moviepy and
  re-encoded with the same encoder settings, then everything is concatenated by stream copy;
- compose: clips differ (size, fps, codec...) -> the whole timeline is composed by moviepy
  (letterboxed to the first clip's size and fps) and encoded once.

The result's decoded frame count and duration are checked against the expected
(sum of frames minus the crossfade overlaps); a copy or windows result that fails the check is
redone by composing, and a composed result that fails it raises GenerationError.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.base import ClipInfo, GenerationError, ProgressFn
from generation.ffmpeg import as_uint8_frame, open_h264_writer, run_ffmpeg
from generation.probe import VideoProbe, probe_video

logger = logging.getLogger(__name__)

PROBE_WORKERS = 4


@dataclass(frozen=True)
class StitchPlan:
    """Where each clip lands on the output timeline, in output frames."""

    fps: float
    width: int
    height: int
    starts: tuple[int, ...]  # first output frame of each clip
    lengths: tuple[int, ...]  # frames each clip contributes at the output fps
    overlap: int  # frames shared by neighbouring clips (the crossfade)

    @property
    def total_frames(self) -> int:
        return self.starts[-1] + self.lengths[-1]

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps

    @property
    def spans(self) -> list[tuple[float, float]]:
        """Where each clip plays in the output, in seconds (neighbours share the crossfade)."""
        return [(start / self.fps, (start + length) / self.fps) for start, length in zip(self.starts, self.lengths, strict=True)]


@dataclass(frozen=True)
class _Piece:
    """A run of output frames: copied from one clip (`clip` set) or composed and re-encoded."""

    start: int  # output frame
    end: int
    clip: int | None = None
    src_start: int = 0  # first source frame of a copied piece (a keyframe)


def stitch_clips(
    clips: Sequence[Path], out_path: Path, *, crossfade: float = 0.0, progress: ProgressFn | None = None
) -> ClipInfo:
    """Join `clips` in order into `out_path` (H.264 mp4) and return what was written (probed).

    `crossfade` seconds of each pair of neighbours overlap and blend; it is shortened to half of
    the shortest clip when longer. Raises GenerationError when a clip cannot be read, ffmpeg
    fails, or the result does not have the expected frames and duration.
    """
    if not clips:
        raise GenerationError("nothing to stitch: no clips")
    if crossfade < 0:
        raise GenerationError(f"crossfade must be >= 0 seconds, got {crossfade}")
    paths = [Path(c) for c in clips]
    probes = probe_clips(paths, keyframes=crossfade > 0)
    plan = plan_timeline(probes, crossfade)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    uniform = len({p.stream_key for p in probes}) == 1
    method = "compose" if not uniform else ("copy" if plan.overlap == 0 else "windows")
    logger.info(
        "stitching %d clips -> %s by %s: %d frames, crossfade %d frames",
        len(paths), out_path.name, method, plan.total_frames, plan.overlap,
    )  # fmt: skip
    result: ClipInfo | None = None
    if method != "compose":
        try:
            if method == "copy":
                _concat_copy(paths, out_path)
            else:
                _stitch_windows(probes, plan, out_path, progress)
            result = verify_stitched(out_path, plan)
        except GenerationError as exc:
            logger.warning(
                "%s stitching did not hold up (%s); composing the whole video instead", method, exc
            )
    if result is None:
        _compose_range(probes, plan, 0, plan.total_frames, out_path, progress)
        result = verify_stitched(out_path, plan)
    if progress is not None:
        progress(1.0)
    return result


def timeline_spans(clips: Sequence[ClipInfo], crossfade: float) -> list[tuple[float, float]]:
    """Where `stitch_clips(clips, crossfade=...)` puts each clip, in seconds, from what was written
    (frames and fps); the soundtrack and subtitles are timed by it."""
    return plan_timeline(clips, crossfade).spans


def plan_timeline(probes: Sequence[ClipInfo], crossfade: float) -> StitchPlan:
    """Lay the clips on one timeline at the first clip's fps, neighbours overlapping by `crossfade`."""
    fps = probes[0].fps
    lengths = [p.frames if abs(p.fps - fps) < 1e-3 else max(1, round(p.frames / p.fps * fps)) for p in probes]
    overlap = round(crossfade * fps) if len(probes) > 1 else 0
    limit = min(lengths) // 2  # a middle clip overlaps both neighbours: its halves must not cross
    if overlap > limit:
        logger.warning("crossfade of %d frames is longer than half a clip; using %d", overlap, limit)
        overlap = limit
    starts = [0]
    for length in lengths[:-1]:
        starts.append(starts[-1] + length - overlap)
    return StitchPlan(
        fps=fps,
        width=probes[0].width,
        height=probes[0].height,
        starts=tuple(starts),
        lengths=tuple(lengths),
        overlap=overlap,
    )


def probe_clips(paths: Sequence[Path], *, keyframes: bool) -> list[VideoProbe]:
    """Probe the input clips in parallel (each probe is one ffmpeg process).

    Inputs are counted by packets, not decoded, unless keyframes are needed: they were verified
    when rendered, and the stitched result is decoded in full anyway.
    """

    def probe(path: Path) -> VideoProbe:
        try:
            return probe_video(path, keyframes=keyframes, decode=False)
        except GenerationError as exc:
            raise GenerationError(f"cannot stitch: clip {path} is not a readable video: {exc}") from exc

    with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1, PROBE_WORKERS)) as pool:
        return list(pool.map(probe, paths))


def verify_stitched(path: Path, plan: StitchPlan) -> ClipInfo:
    """Decode the result; its frames and duration must be what the plan says."""
    info = probe_video(path)
    tolerance = 1.0 / plan.fps + 0.02  # container durations are rounded to 10 ms
    if info.frames != plan.total_frames or abs(info.duration - plan.duration) > tolerance:
        raise GenerationError(
            f"stitched video {path.name} has {info.frames} frames / {info.duration:.3f} s, "
            f"expected {plan.total_frames} frames / {plan.duration:.3f} s"
        )
    if (info.width, info.height) != (plan.width, plan.height):
        raise GenerationError(
            f"stitched video is {info.width}x{info.height}, expected {plan.width}x{plan.height}"
        )
    return info.as_clip_info()


# -- stream copy ------------------------------------------------------------------------------


def _concat_copy(paths: Sequence[Path], out_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="dreamreel-stitch-") as tmp:
        listing = Path(tmp) / "clips.txt"
        listing.write_text("".join(f"file '{_concat_quote(p)}'\n" for p in paths), encoding="utf-8")
        run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
             "-movflags", "+faststart", "-f", "mp4", str(out_path)],
            what=f"joining {len(paths)} clips by stream copy",
        )  # fmt: skip


def _concat_quote(path: Path) -> str:
    # the concat demuxer's own quoting: ' closes, \' is a literal quote, ' reopens
    return str(path.resolve()).replace("'", "'\\''")


# -- copy the middles, re-encode the transition windows -------------------------------------


def plan_pieces(probes: Sequence[VideoProbe], plan: StitchPlan) -> list[_Piece]:
    """Split the output timeline into copied runs (keyframe to keyframe) and composed windows."""
    pieces: list[_Piece] = []
    cursor = 0  # output frames before this are covered
    last = len(probes) - 1
    for i, probe in enumerate(probes):
        head = plan.overlap if i > 0 else 0
        tail_start = probe.frames - (plan.overlap if i < last else 0)
        keys = sorted(k for k in probe.keyframes if head <= k <= tail_start)
        if i == last:
            keys.append(probe.frames)  # copying to the end of the last clip needs no keyframe there
        if len(keys) < 2 or keys[0] >= keys[-1]:
            continue
        src_start, src_end = keys[0], keys[-1]
        out_start = plan.starts[i] + src_start
        if out_start > cursor:
            pieces.append(_Piece(cursor, out_start))
        pieces.append(_Piece(out_start, plan.starts[i] + src_end, clip=i, src_start=src_start))
        cursor = plan.starts[i] + src_end
    if cursor < plan.total_frames:
        pieces.append(_Piece(cursor, plan.total_frames))
    return pieces


def _stitch_windows(
    probes: Sequence[VideoProbe], plan: StitchPlan, out_path: Path, progress: ProgressFn | None
) -> None:
    """Copy the keyframe-aligned middles, encode all transition windows in one pass, join."""
    pieces = plan_pieces(probes, plan)
    windows = [p for p in pieces if p.clip is None]
    copies = [p for p in pieces if p.clip is not None]
    encoded = sum(p.end - p.start for p in windows)
    logger.info(
        "re-encoding %d of %d frames (%d transition windows)", encoded, plan.total_frames, len(windows)
    )
    with tempfile.TemporaryDirectory(prefix="dreamreel-stitch-") as tmp:
        folder = Path(tmp)
        window_files = _encode_windows(probes, plan, windows, folder, progress)
        copy_files = _copy_ranges(probes, copies, folder)
        files = iter(window_files), iter(copy_files)
        ordered = [next(files[0] if piece.clip is None else files[1]) for piece in pieces]
        _concat_copy(ordered, out_path)


def _encode_windows(
    probes: Sequence[VideoProbe],
    plan: StitchPlan,
    windows: Sequence[_Piece],
    folder: Path,
    progress: ProgressFn | None,
) -> list[Path]:
    """Compose every window into one file with a keyframe at each window start, then split it.

    One encoder and one splitter instead of one encoder per window: at preview sizes the cost
    of starting processes is larger than the cost of encoding.
    """
    if not windows:
        return []
    starts = [0]
    for window in windows[:-1]:
        starts.append(starts[-1] + window.end - window.start)
    total = starts[-1] + windows[-1].end - windows[-1].start
    joined = folder / "windows.mp4"
    _compose_ranges(
        probes, plan, [(w.start, w.end) for w in windows], joined, progress, keyframes_at=starts[1:]
    )
    if len(windows) == 1:
        return [joined]
    run_ffmpeg(
        ["-i", str(joined), "-map", "0:v:0", "-c", "copy", "-f", "segment",
         "-segment_frames", ",".join(map(str, starts[1:])), "-reset_timestamps", "1",
         "-segment_format", "mp4", str(folder / "window%03d.mp4")],
        what=f"splitting {len(windows)} transition windows ({total} frames)",
    )  # fmt: skip
    files = [folder / f"window{n:03d}.mp4" for n in range(len(windows))]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise GenerationError(f"splitting the transition windows did not produce {missing}")
    return files


def _copy_ranges(probes: Sequence[VideoProbe], copies: Sequence[_Piece], folder: Path) -> list[Path]:
    """Cut every copied run out of its clip by stream copy, all in one ffmpeg process.

    Each run starts at a keyframe; with closed GOPs the packets from there up to the next cut
    keyframe, in decode order, are exactly the run's frames.
    """
    args: list[str] = []
    files: list[Path] = []
    for piece in copies:
        probe = probes[piece.clip or 0]
        if piece.src_start:
            args += ["-ss", f"{piece.src_start / probe.fps:.6f}"]
        args += ["-i", str(probe.path)]
    for n, piece in enumerate(copies):
        path = folder / f"copy{n:03d}.mp4"
        args += ["-map", f"{n}:v:0", "-c", "copy", "-frames:v", str(piece.end - piece.start),
                 "-avoid_negative_ts", "make_zero", str(path)]  # fmt: skip
        files.append(path)
    if copies:
        run_ffmpeg(args, what=f"copying {len(copies)} clip middles")
    return files


# -- moviepy composition --------------------------------------------------------------------


def _compose_range(
    probes: Sequence[VideoProbe],
    plan: StitchPlan,
    first: int,
    end: int,
    out_path: Path,
    progress: ProgressFn | None,
) -> None:
    """Compose output frames [first, end) of the timeline with moviepy and encode them."""
    _compose_ranges(probes, plan, [(first, end)], out_path, progress)


def _compose_ranges(
    probes: Sequence[VideoProbe],
    plan: StitchPlan,
    ranges: Sequence[tuple[int, int]],
    out_path: Path,
    progress: ProgressFn | None,
    *,
    keyframes_at: Sequence[int] = (),
) -> None:
    """Compose the output frame ranges with moviepy and encode them, back to back, into one file."""
    fps = round(plan.fps)
    if abs(plan.fps - fps) > 1e-3:
        raise GenerationError(f"cannot encode at a fractional frame rate {plan.fps}")
    total = sum(end - first for first, end in ranges)
    done = 0
    with _timeline(probes, plan, ranges) as timeline:
        writer = open_h264_writer(out_path, plan.width, plan.height, fps, keyframes_at=keyframes_at)
        try:
            for first, end in ranges:
                for k in range(first, end):
                    frame = timeline.get_frame(k / plan.fps)
                    writer.send(as_uint8_frame(frame, plan.width, plan.height))
                    done += 1
                    if progress is not None:
                        progress(0.9 * done / total)
        finally:
            writer.close()


@contextmanager
def _timeline(
    probes: Sequence[VideoProbe], plan: StitchPlan, ranges: Sequence[tuple[int, int]]
) -> Iterator[Any]:
    """A moviepy CompositeVideoClip of the clips that play in the output frame `ranges`."""
    from moviepy import CompositeVideoClip, VideoFileClip, vfx

    fade = plan.overlap / plan.fps
    opened: list[Any] = []
    layers: list[Any] = []
    try:
        for i, probe in enumerate(probes):
            start, length = plan.starts[i], plan.lengths[i]
            if not any(start < end and first < start + length for first, end in ranges):
                continue  # not on screen in these ranges: do not even open it
            source = VideoFileClip(str(probe.path), audio=False)
            opened.append(source)
            layer = _fit(source.with_duration(length / plan.fps), plan.width, plan.height)
            if i > 0 and plan.overlap:
                layer = layer.with_effects([vfx.CrossFadeIn(fade)])
            layers.append(layer.with_start(start / plan.fps))
        yield CompositeVideoClip(layers, size=(plan.width, plan.height), bg_color=(0, 0, 0))
    finally:
        for source in opened:
            source.close()


def _fit(clip: Any, width: int, height: int) -> Any:
    """Letterbox `clip` into width x height, keeping its aspect ratio."""
    from moviepy import CompositeVideoClip

    w, h = clip.size
    if (w, h) == (width, height):
        return clip
    scale = min(width / w, height / h)
    resized = clip.resized(new_size=(max(2, round(w * scale)), max(2, round(h * scale))))
    return CompositeVideoClip([resized.with_position("center")], size=(width, height), bg_color=(0, 0, 0))
