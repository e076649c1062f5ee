"""Scoring a stitched video: each scene's narration at its start, its words as a subtitle cue,
a music bed under it all; and holding a clip's last frame when its narration runs longer.

`score_video` is what the job pipeline calls once the clips are stitched:

    scenes (text, span, narration wav or None) -> .srt + .vtt beside the video, then one ffmpeg
    pass (generation.audio.mix) writes the video with its soundtrack and a soft subtitle track.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generation.audio.mix import Narration, Soundtrack, add_soundtrack
from generation.audio.music import AmbientTone
from generation.audio.subtitles import TRACK_LANGUAGES, scene_cues, write_subtitles
from generation.base import ClipInfo, GenerationError
from generation.ffmpeg import h264_output_params, run_ffmpeg
from generation.probe import StreamInfo, probe_video

logger = logging.getLogger(__name__)

NARRATION_LEAD = 0.2  # seconds of picture before a scene's voice starts


@dataclass(frozen=True)
class SceneSound:
    """One scene on the stitched timeline: its words, where it plays, and its spoken narration."""

    text: str
    span: tuple[float, float]  # seconds
    narration: Path | None = None


def score_video(
    silent: Path,
    out_path: Path,
    scenes: Sequence[SceneSound],
    *,
    music: Path | AmbientTone,
    language: str,
    srt_path: Path,
    vtt_path: Path,
    music_gain_db: float = -10.0,
    loudness_lufs: float = -16.0,
    video: ClipInfo | None = None,
) -> list[StreamInfo]:
    """Write the subtitles, then `silent` with narration, music and a soft subtitle track to `out_path`.

    `video` is what the stitcher reported for `silent` (spares probing it again)."""
    cues = scene_cues([scene.span for scene in scenes], [scene.text for scene in scenes])
    write_subtitles(cues, srt_path, vtt_path)
    info = video or probe_video(silent, decode=False)
    narrations = [
        Narration(start=scene.span[0] + (NARRATION_LEAD if i else 0.0), path=scene.narration)
        for i, scene in enumerate(scenes)
        if scene.narration is not None
    ]
    track = Soundtrack(
        duration=info.duration, music=music, narrations=narrations, subtitles=srt_path if cues else None,
        language=TRACK_LANGUAGES.get(language, "und"), music_gain_db=music_gain_db, loudness_lufs=loudness_lufs,
    )  # fmt: skip
    return add_soundtrack(silent, out_path, track, frames=info.frames)


def frames_to_hold(frames: int, fps: float, min_seconds: float) -> int:
    """How many frames a clip of `frames` at `fps` must grow by to last `min_seconds` (0 if it does)."""
    return max(0, math.ceil(min_seconds * fps - 1e-6) - frames)


def hold_last_frame(clip: ClipInfo, out_path: Path, min_seconds: float) -> ClipInfo:
    """`clip` lengthened to at least `min_seconds` by holding its last frame. The clip's own frames
    are stream-copied (a model's output is not re-encoded); only the held tail is encoded, with the
    shared H.264 settings, and joined by the concat demuxer. Returns what was written (probed)."""
    extra = frames_to_hold(clip.frames, clip.fps, min_seconds)
    fps = round(clip.fps)
    with tempfile.TemporaryDirectory(prefix="dreamreel-hold-") as tmp:
        folder = Path(tmp)
        last = folder / "last.png"
        run_ffmpeg(["-sseof", f"-{max(2.0 / clip.fps, 0.5):.3f}", "-i", str(clip.path), "-map", "0:v:0",
                    "-update", "1", str(last)], what=f"taking the last frame of {clip.path.name}")  # fmt: skip
        tail = folder / "tail.mp4"
        run_ffmpeg(["-loop", "1", "-framerate", str(fps), "-i", str(last), "-frames:v", str(extra),
                    "-vf", f"scale={clip.width}:{clip.height}", *h264_output_params(fps), "-f", "mp4", str(tail)],
                   what=f"holding the last frame of {clip.path.name} for {extra} frames")  # fmt: skip
        listing = folder / "parts.txt"
        listing.write_text("".join(f"file '{_quote(p)}'\n" for p in (clip.path, tail)), encoding="utf-8")
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
                    "-movflags", "+faststart", "-f", "mp4", str(out_path)], what="joining a clip and its held frame")  # fmt: skip
    held = probe_video(out_path).as_clip_info()
    if held.frames != clip.frames + extra:
        raise GenerationError(f"holding the last frame made {held.frames} frames, expected {clip.frames + extra}")
    return held


def _quote(path: Path) -> str:
    # the concat demuxer's own quoting: ' closes, \' is a literal quote, ' reopens
    return str(path.resolve()).replace("'", "'\\''")
