"""The audio contracts: text-to-speech and speech-to-text backends, and their errors.

    GenerationError
     └── AudioError            synthesis, mixing or recognition failed
          └── AudioRejected    a recording we will not transcribe; `reason` says why
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from generation.base import GenerationError

RejectReason = Literal["not_audio", "too_long", "silent", "unsupported_codec", "too_large"]


class AudioError(GenerationError):
    """Speech synthesis, mixing or recognition failed; the message says what and how to fix it."""


class AudioRejected(AudioError):
    """A recording that cannot be transcribed: not audio, too long, silent, or an unsupported codec.
    `seconds` (too long: its length, or the limit it passed) and `codec` are for the person's message."""

    def __init__(
        self, reason: RejectReason, message: str, *, seconds: float | None = None, codec: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.seconds = seconds
        self.codec = codec


@dataclass(frozen=True)
class Speech:
    """One spoken text: a mono WAV file and how long it plays."""

    path: Path
    duration: float
    sample_rate: int


@dataclass(frozen=True)
class Transcript:
    """What a speech-to-text backend heard."""

    text: str
    language: str | None  # "ko" / "en" when the backend detected or was told it
    duration: float  # seconds of audio transcribed


@runtime_checkable
class SpeechSynth(Protocol):
    """Text-to-speech: speaks `text` in `language` ("ko", "en") into a WAV file."""

    name: str

    def speak(self, text: str, language: str, out_path: Path) -> Speech:
        """Write the spoken `text` as a mono WAV at `out_path`; return its duration."""
        ...


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Speech-to-text: transcribes 16 kHz mono float32 samples."""

    name: str

    def transcribe(self, samples: object, language: str | None = None) -> Transcript:
        """`samples` is a 1-D float32 numpy array at 16 kHz; `language` None means detect it."""
        ...


def wav_speech(path: Path) -> Speech:
    """A `Speech` for a WAV file written by a synth (duration from its header)."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioError(f"the speech file {path.name} is not a readable WAV: {exc}") from exc
    if frames == 0:
        raise AudioError(f"the speech file {path.name} holds no samples")
    return Speech(path=path, duration=frames / rate, sample_rate=rate)


def write_wav(path: Path, samples: object, sample_rate: int) -> Speech:
    """Write float samples in -1..1 (a 1-D numpy array) as a 16-bit mono WAV."""
    import numpy as np

    data = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if data.size == 0:
        raise AudioError("no samples to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes((data * 32767.0).astype("<i2").tobytes())
    return Speech(path=path, duration=data.size / sample_rate, sample_rate=int(sample_rate))
