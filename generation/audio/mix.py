"""The soundtrack: narration over a music bed, ducked, faded, loudness-normalised, muxed.

One ffmpeg pass turns the stitched (silent) video into the delivered one:

    narration   each scene's speech delayed to the scene's start, mixed into one voice track
    music       the bed (a library file, looped, or a generated ambient tone), faded in and out
    ducking     the bed is compressed by the voice (sidechaincompress): it dips while someone speaks
    loudness    EBU R128 normalisation of the mix (`loudnorm`, -16 LUFS integrated, -1.5 dBTP)
    mux         video stream-copied, AAC audio, the .srt as a soft `mov_text` track, language-tagged

The result is probed: the video keeps its frames, and the audio and subtitle streams are there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generation.audio.base import AudioError
from generation.audio.music import AmbientTone
from generation.base import GenerationError
from generation.ffmpeg import run_ffmpeg
from generation.probe import StreamInfo, probe_video

logger = logging.getLogger(__name__)

RATE = 48_000


def _format(layout: str) -> str:
    return f"aformat=sample_fmts=fltp:sample_rates={RATE}:channel_layouts={layout}"


@dataclass(frozen=True)
class Narration:
    """One scene's speech and where it starts on the video's timeline."""

    start: float
    path: Path


@dataclass(frozen=True)
class Soundtrack:
    """Everything that goes under one video."""

    duration: float  # the video's length; the audio is cut or padded to it
    music: Path | AmbientTone
    narrations: Sequence[Narration] = field(default_factory=tuple)
    subtitles: Path | None = None  # an .srt to carry as a soft track
    language: str = "und"  # ISO 639-2 tag of the audio and subtitle tracks
    music_gain_db: float = -10.0  # the bed under the voice, before ducking and normalisation
    duck: bool = True  # the bed dips while someone speaks
    fade: float = 1.5  # seconds of music fade-in and fade-out
    loudness_lufs: float = -16.0
    true_peak_db: float = -1.5


def add_soundtrack(video: Path, out_path: Path, track: Soundtrack, *, frames: int | None = None) -> list[StreamInfo]:
    """Write `video` with `track` mixed and muxed in to `out_path`; return the probed streams.

    `frames` is the video's frame count when the caller knows it (spares probing the source)."""
    if track.duration <= 0:
        raise AudioError(f"cannot score a video of {track.duration} s")
    args, graph, subtitle_input = _inputs_and_graph(video, track)
    args += ["-filter_complex", graph, "-map", "0:v:0", "-map", "[out]"]
    if subtitle_input is not None:
        args += ["-map", f"{subtitle_input}:0", "-c:s", "mov_text", "-metadata:s:s:0", f"language={track.language}"]
    args += ["-c:v", "copy", "-c:a", "aac", "-b:a", "128k", "-metadata:s:a:0", f"language={track.language}",
             "-movflags", "+faststart", "-f", "mp4", str(out_path)]  # fmt: skip
    run_ffmpeg(args, what=f"mixing the soundtrack of {video.name}")
    return verify_soundtrack(video, out_path, subtitles=subtitle_input is not None, frames=frames)


def _inputs_and_graph(video: Path, track: Soundtrack) -> tuple[list[str], str, int | None]:
    d = f"{track.duration:.3f}"
    # speech and the generated tone are mono: mixing (and loudnorm, the costly part) in mono halves
    # the work; a library track keeps its stereo
    layout = "mono" if isinstance(track.music, AmbientTone) else "stereo"
    fmt = _format(layout)
    args = ["-i", str(video)]
    parts: list[str] = []
    n = 1
    voices = []
    for narration in track.narrations:
        args += ["-i", str(narration.path)]
        delay = max(0, round(narration.start * 1000))
        parts.append(f"[{n}:a]{fmt},adelay=delays={delay}:all=1[n{n}]")
        voices.append(f"[n{n}]")
        n += 1
    if isinstance(track.music, AmbientTone):
        parts.append(f"aevalsrc=exprs='{track.music.expression()}':s={RATE}:d={d},{fmt}[music]")
    else:
        args += ["-stream_loop", "-1", "-i", str(track.music)]  # a short track repeats under a long video
        parts.append(f"[{n}:a]{fmt},atrim=end={d},asetpts=N/SR/TB[music]")
        n += 1
    fade_out = max(0.0, track.duration - track.fade)
    parts.append(
        f"[music]volume={track.music_gain_db}dB,afade=t=in:st=0:d={track.fade:.3f},"
        f"afade=t=out:st={fade_out:.3f}:d={track.fade:.3f}[bed]"
    )
    if voices:
        joined = "".join(voices) + (f"amix=inputs={len(voices)}:duration=longest:normalize=0," if len(voices) > 1 else "")
        parts.append(f"{joined}apad=whole_dur={d},atrim=end={d},asplit=2[voice][key]")
        if track.duck:
            parts.append("[bed][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[ducked]")
        else:
            parts.append("[key]anullsink;[bed]anull[ducked]")
        parts.append("[ducked][voice]amix=inputs=2:duration=first:normalize=0[mixed]")
    else:
        parts.append("[bed]anull[mixed]")
    parts.append(
        f"[mixed]loudnorm=I={track.loudness_lufs}:TP={track.true_peak_db}:LRA=11,"
        f"aresample={RATE},{fmt},atrim=end={d}[out]"
    )
    subtitle_input = None
    if track.subtitles is not None:
        args += ["-i", str(track.subtitles)]
        subtitle_input = n
    return args, ";".join(parts), subtitle_input


def verify_soundtrack(video: Path, out_path: Path, *, subtitles: bool, frames: int | None = None) -> list[StreamInfo]:
    """The result has the source's video frames, an audio stream and (when asked) a subtitle stream."""
    result = probe_video(out_path, decode=False)  # one run: its header lists the streams too
    streams = list(result.streams)
    kinds = [s.kind for s in streams]
    if "audio" not in kinds:
        raise AudioError(f"{out_path.name} came out without an audio stream")
    if subtitles and "subtitle" not in kinds:
        raise AudioError(f"{out_path.name} came out without its subtitle stream")
    before = frames if frames is not None else probe_video(video, decode=False).frames
    if before != result.frames:
        raise GenerationError(f"adding sound changed the video: {before} frames became {result.frames}")
    return streams
