"""Reading a recording someone sent (a Telegram voice note, an uploaded file) for transcription.

`read_recording` checks before it decodes, cheapest first, and says what is wrong in a way the
channels can translate (`AudioRejected.reason`):

    not_audio          no audio stream ffmpeg can open (a text file, a picture, a broken upload)
    unsupported_codec  an audio stream in a codec outside `ACCEPTED_CODECS` (or one ffmpeg lacks)
    too_long           longer than the limit (from the header when it has one, else while decoding)
    silent             nothing louder than `SILENCE_DBFS` anywhere: no speech to transcribe

It returns 16 kHz mono float32 samples, what speech-to-text models take.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generation.audio.base import AudioRejected
from generation.ffmpeg import ffmpeg_command, stderr_tail
from generation.probe import header_duration, header_streams, media_header

if TYPE_CHECKING:
    import numpy as np  # imported when a recording is decoded: the bot and API import this module

logger = logging.getLogger(__name__)

SPEECH_RATE = 16_000
SILENCE_DBFS = -45.0  # the loudest 30 ms window below this: silence (room noise sits around -60)
_WINDOW = SPEECH_RATE * 30 // 1000
ACCEPTED_CODECS = frozenset({
    "opus", "vorbis", "aac", "mp3", "flac", "alac", "amr_nb", "amr_wb", "speex",
    "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_alaw", "pcm_mulaw",
})  # fmt: skip


@dataclass(frozen=True)
class Recording:
    """A checked recording: its codec, its length, and its samples (16 kHz mono float32)."""

    path: Path
    codec: str
    duration: float
    samples: np.ndarray


def read_recording(path: Path, *, max_seconds: float) -> Recording:
    """Check and decode `path`; raise AudioRejected (with a reason) when it cannot be transcribed."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise AudioRejected("not_audio", f"{path.name} is empty or missing")
    header = media_header(path)
    stream = next((s for s in header_streams(header) if s.kind == "audio"), None)
    if stream is None:
        raise AudioRejected("not_audio", f"{path.name} has no audio ffmpeg can read")
    codec = stream.codec
    if codec not in ACCEPTED_CODECS:
        raise AudioRejected("unsupported_codec", f"{path.name} is encoded as {codec!r}, which is not supported",
                            codec=codec)  # fmt: skip
    duration = header_duration(header)  # None for raw or streamed formats: measured while decoding
    if duration is not None and duration > max_seconds:
        raise AudioRejected("too_long", f"{path.name} lasts {duration:.0f} s, longer than {max_seconds:.0f} s",
                            seconds=duration)  # fmt: skip
    samples = _decode(path, max_seconds)
    measured = samples.size / SPEECH_RATE
    if measured > max_seconds:
        raise AudioRejected("too_long", f"{path.name} lasts more than {max_seconds:.0f} s", seconds=max_seconds)
    if samples.size == 0:
        raise AudioRejected("not_audio", f"{path.name} holds no decodable audio")
    if loudest_dbfs(samples) < SILENCE_DBFS:
        raise AudioRejected("silent", f"{path.name} is silent: nothing louder than {SILENCE_DBFS:.0f} dBFS")
    return Recording(path=path, codec=codec, duration=measured, samples=samples)


def loudest_dbfs(samples: np.ndarray) -> float:
    """The RMS level of the loudest 30 ms window, in dB below full scale (-inf for digital silence)."""
    import numpy as np

    usable = samples[: samples.size - samples.size % _WINDOW] if samples.size >= _WINDOW else samples
    windows = usable.reshape(-1, min(_WINDOW, max(1, usable.size)))
    rms = float(np.sqrt(np.mean(np.square(windows.astype(np.float64)), axis=1)).max()) if usable.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def _decode(path: Path, max_seconds: float) -> np.ndarray:
    import numpy as np

    # one second past the limit is enough to know it is too long, without decoding hours
    args = ["-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SPEECH_RATE),
            "-t", f"{max_seconds + 1:.3f}", "-f", "f32le", "-"]  # fmt: skip
    proc = subprocess.run(ffmpeg_command(["-loglevel", "error", *args]), capture_output=True, check=False)
    if proc.returncode != 0:
        tail = stderr_tail(proc.stderr.decode("utf-8", "replace"))
        if "decoder" in tail.lower():
            raise AudioRejected("unsupported_codec", f"{path.name}: no decoder for its audio ({tail})")
        raise AudioRejected("not_audio", f"{path.name} could not be decoded: {tail}")
    return np.frombuffer(proc.stdout, dtype="<f4").copy()
