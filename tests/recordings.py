"""Recordings made at test time: a spoken voice note (espeak-ng -> OGG/Opus) and the bad ones.

    voice_note(path, text)   speech in an OGG/Opus file, as Telegram sends voice messages
    silent_note(path)        OGG/Opus of digital silence
    two_hours(path)          a valid 2-hour WAV (1 kHz, 8-bit: 7 MB, written in a blink)
    odd_codec(path)          a WAV whose format tag names no codec ffmpeg knows
    not_audio(path)          text with an .ogg name
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from pathlib import Path

from generation.audio.speech import EspeakSynth
from generation.ffmpeg import ffmpeg_command


def _opus(source_args: list[str], path: Path) -> Path:
    cmd = ffmpeg_command([*source_args, "-ac", "1", "-c:a", "libopus", "-b:a", "24k", "-f", "ogg", str(path)])
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def voice_note(path: Path, text: str, language: str = "ko") -> Path:
    """`text` spoken by espeak-ng, encoded as OGG/Opus (a Telegram voice message)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = EspeakSynth().speak(text, language, Path(tmp) / "speech.wav").path
        return _opus(["-i", str(wav)], path)


def silent_note(path: Path, seconds: float = 3.0) -> Path:
    return _opus(["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=mono:d={seconds}"], path)


def _wav(path: Path, format_tag: int, rate: int, data: bytes) -> Path:
    fmt = struct.pack("<HHIIHH", format_tag, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def two_hours(path: Path) -> Path:
    """A real 2-hour recording: unsigned 8-bit PCM at 1 kHz, a quiet square wave."""
    second = bytes([128 + 20] * 2 + [128 - 20] * 2) * 250
    return _wav(path, 1, 1000, second * 7200)


def odd_codec(path: Path) -> Path:
    return _wav(path, 0x5A5A, 8000, bytes(range(256)) * 64)


def not_audio(path: Path) -> Path:
    path.write_text("This is a dream diary saved as text, not a recording.\n" * 50, encoding="utf-8")
    return path
