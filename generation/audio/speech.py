"""The embedded narrator: espeak-ng (a Debian package, `make system-deps` installs it).

espeak-ng is small, offline and speaks Korean and English; it sounds synthetic, which suits a
preview. A neural voice (`generation.audio.vits`) is chosen by settings where quality matters.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from generation.audio.base import AudioError, Speech, wav_speech

logger = logging.getLogger(__name__)

DEFAULT_VOICES: dict[str, str] = {"ko": "ko", "en": "en-us", "mixed": "ko"}
INSTALL_HINT = "install the Debian package espeak-ng (`make system-deps`, or apt-get install espeak-ng)"


class EspeakSynth:
    """`SpeechSynth` through the espeak-ng command line."""

    name = "espeak-ng"

    def __init__(self, voices: Mapping[str, str] | None = None, words_per_minute: int = 160) -> None:
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        self.words_per_minute = words_per_minute

    def executable(self) -> str:
        found = shutil.which("espeak-ng")
        if found is None:
            raise AudioError(f"espeak-ng is not installed: {INSTALL_HINT}")
        return found

    def speak(self, text: str, language: str, out_path: Path) -> Speech:
        """Speak `text` with the voice for `language` into a 22 kHz mono WAV at `out_path`."""
        words = " ".join(text.split())
        if not words:
            raise AudioError("nothing to speak: the text is blank")
        voice = self.voices.get(language) or self.voices["en"]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        # the text goes through a file: no argument-length limit, and a leading "-" is not an option
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
            handle.write(words)
            text_file = Path(handle.name)
        try:
            cmd = [self.executable(), "-v", voice, "-s", str(self.words_per_minute), "-b", "1",
                   "-f", str(text_file), "-w", str(out_path)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
        finally:
            text_file.unlink(missing_ok=True)
        if proc.returncode != 0 or not out_path.is_file():
            raise AudioError(f"espeak-ng could not speak with voice {voice!r}: {proc.stderr.strip()[-300:]}")
        return wav_speech(out_path)
