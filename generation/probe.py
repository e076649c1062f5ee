"""What a video file really holds, measured with ffmpeg (there is no ffprobe here).

`probe_video` decodes the whole video stream and counts the frames that come out: a stream copy
of mismatched clips can "succeed" and still lose frames, and only decoding shows that. Decoding
the small clips this project makes is cheap (hundreds of frames per second on one core).
`media_header` is ffmpeg's listing alone (streams, duration: `probe_streams`, reading recordings).
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from generation.base import ClipInfo, GenerationError
from generation.ffmpeg import ffmpeg_command, run_ffmpeg, stderr_tail

logger = logging.getLogger(__name__)

_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+)(?: \((?P<profile>[^)]*)\))?.*")
_PIX_FMT = re.compile(r"Video: [^,]+, (?P<pix_fmt>[a-z0-9_]+)")
_SIZE = re.compile(r", (?P<w>\d{2,5})x(?P<h>\d{2,5})[, \[]")
_FPS = re.compile(r", (?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_FRAMES = re.compile(r"frame=\s*(?P<n>\d+)")
_SHOWINFO = re.compile(r"\] n:\s*(?P<n>\d+) .*?iskey:(?P<key>[01])")
_STREAM = re.compile(
    r"Stream #\d+:(?P<index>\d+)(?:\[0x[0-9a-f]+\])?(?:\((?P<lang>\w+)\))?: (?P<kind>Video|Audio|Subtitle|Data): "
    r"(?P<codec>[\w-]+)"
)


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a media file as ffmpeg lists it."""

    index: int
    kind: str  # video | audio | subtitle | data
    codec: str
    language: str | None  # ISO 639-2 tag, e.g. "kor"; None when untagged ("und")


@dataclass(frozen=True)
class VideoProbe(ClipInfo):
    """`ClipInfo` plus the stream parameters that decide whether clips can be stream-copied."""

    codec: str = ""
    profile: str = ""
    pix_fmt: str = ""
    keyframes: tuple[int, ...] = ()  # frame indices of keyframes (only when asked for)
    streams: tuple[StreamInfo, ...] = ()  # every stream of the file, from the same run's header

    @property
    def stream_key(self) -> tuple[str, str, str, int, int, float]:
        """Clips with equal keys can be concatenated by stream copy."""
        return (self.codec, self.profile, self.pix_fmt, self.width, self.height, round(self.fps, 3))

    def as_clip_info(self) -> ClipInfo:
        """The plain `ClipInfo` of the contract."""
        return ClipInfo(self.path, self.frames, self.fps, self.width, self.height, self.duration)


def probe_video(path: Path, *, keyframes: bool = False, decode: bool = True) -> VideoProbe:
    """Decode the first video stream of `path`; return frames, fps, size, duration, codec, pix_fmt.

    With `keyframes=True` the keyframe indices are listed too (used to cut without re-encoding).
    With `decode=False` (and no keyframes) packets are counted instead of decoded frames: about
    twice as fast, for files already verified when they were written.
    Raises GenerationError when the file is missing, unreadable or has no decodable video.
    """
    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"cannot probe {path}: no such file")
    how = ["-vf", "showinfo=checksum=0"] if keyframes else ([] if decode else ["-c", "copy"])
    stderr = run_ffmpeg(
        ["-loglevel", "info", "-i", str(path), "-map", "0:v:0", *how, "-f", "null", "-"],
        what=f"probing {path.name}",
    )
    return _parse(path, stderr, with_keyframes=keyframes)


def _parse(path: Path, stderr: str, *, with_keyframes: bool) -> VideoProbe:
    header, _, decoded = stderr.partition("Stream mapping:")
    stream_line = next((line for line in header.splitlines() if _VIDEO_STREAM.search(line)), None)
    if stream_line is None:
        raise GenerationError(f"{path.name} has no video stream")
    stream = _VIDEO_STREAM.search(stream_line)
    size = _SIZE.search(stream_line)
    fps_match = _FPS.search(stream_line)
    pix = _PIX_FMT.search(stream_line)
    if stream is None or size is None or fps_match is None:
        raise GenerationError(f"cannot read the video stream of {path.name}: {stream_line.strip()}")
    fps = float(fps_match["fps"]) * (1000 if fps_match["k"] else 1)
    counted = [int(m["n"]) for m in _FRAMES.finditer(decoded)]
    frames = counted[-1] if counted else 0
    if frames <= 0:
        raise GenerationError(f"{path.name} has no decodable video frames")
    duration = header_duration(header)
    if duration is None:  # raw streams have no container duration; fall back to what was decoded
        duration = frames / fps
    keys: tuple[int, ...] = ()
    if with_keyframes:
        keys = tuple(int(m["n"]) for m in _SHOWINFO.finditer(decoded) if m["key"] == "1")
    return VideoProbe(
        path=path,
        frames=frames,
        fps=fps,
        width=int(size["w"]),
        height=int(size["h"]),
        duration=duration,
        codec=stream["codec"],
        profile=stream["profile"] or "",
        pix_fmt=pix["pix_fmt"] if pix else "",
        keyframes=keys,
        streams=tuple(header_streams(header)),
    )


def probe_streams(path: Path) -> list[StreamInfo]:
    """The streams of `path` (kind, codec, language tag), read from ffmpeg's header listing."""
    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"cannot probe {path}: no such file")
    header = media_header(path)
    streams = header_streams(header)
    if not streams:
        raise GenerationError(f"{path.name} has no streams ffmpeg can read:\n{stderr_tail(header)}")
    return streams


def media_header(path: Path) -> str:
    """ffmpeg's listing of `path`: container, duration and streams, read without decoding anything."""
    # `ffmpeg -i FILE` with no output prints the listing and exits 1 ("an output must be given")
    proc = subprocess.run(ffmpeg_command(["-i", str(path)]), capture_output=True, text=True, errors="replace",
                          check=False)  # fmt: skip
    return proc.stderr


def header_duration(header: str) -> float | None:
    """The container's duration in an ffmpeg listing; None for "Duration: N/A" (raw or streamed formats)."""
    match = _DURATION.search(header)
    if match is None:
        return None
    return int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])


def header_streams(header: str) -> list[StreamInfo]:
    """The streams an ffmpeg listing names (only the input's: what follows "Stream mapping:" is output)."""
    header = header.partition("Stream mapping:")[0]
    return [
        StreamInfo(int(m["index"]), m["kind"].lower(), m["codec"], None if m["lang"] in (None, "und") else m["lang"])
        for m in _STREAM.finditer(header)
    ]
