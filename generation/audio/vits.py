"""A neural narrator: a VITS text-to-speech model (e.g. Meta's MMS-TTS) through transformers.

MMS ships one model per language, so the adapter takes a local folder per language. Weights are
never downloaded here: `from_pretrained` reads the folder (HF_HUB_OFFLINE=1 everywhere).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generation.audio.base import AudioError, Speech, write_wav

logger = logging.getLogger(__name__)


class VitsSynth:
    """`SpeechSynth` over `transformers.VitsModel` + `VitsTokenizer`, one local model per language."""

    name = "vits"

    def __init__(self, models: Mapping[str, Path], *, device: str = "cpu", seed: int = 0) -> None:
        if not models:
            raise AudioError("the VITS narrator needs at least one model folder (tts.models = {ko = ..., en = ...})")
        self.paths = {lang: Path(path) for lang, path in models.items()}
        self.device = device
        self.seed = seed
        self._loaded: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def _model(self, language: str) -> tuple[Any, Any]:
        path = self.paths.get(language) or self.paths.get("en") or next(iter(self.paths.values()))
        key = str(path)
        with self._lock:
            if key not in self._loaded:
                if not path.is_dir():
                    raise AudioError(f"no VITS model at {path}: put a saved model folder there (save_pretrained)")
                try:
                    from transformers import VitsModel, VitsTokenizer
                except ImportError as exc:
                    raise AudioError("the VITS narrator needs transformers: pip install 'dreamreel[ml]'") from exc
                model: Any = VitsModel.from_pretrained(path, local_files_only=True)
                model = model.to(self.device).eval()
                tokenizer = VitsTokenizer.from_pretrained(path, local_files_only=True)
                logger.info("loaded the VITS voice at %s (%d Hz)", path, model.config.sampling_rate)
                self._loaded[key] = (model, tokenizer)
            return self._loaded[key]

    def speak(self, text: str, language: str, out_path: Path) -> Speech:
        """Speak `text` with the model for `language` into a mono WAV at the model's sample rate."""
        import torch

        model, tokenizer = self._model(language)
        inputs = tokenizer(" ".join(text.split()), return_tensors="pt")
        if inputs["input_ids"].shape[-1] == 0:
            raise AudioError(
                f"the {language} VITS voice has no symbols for this text (MMS Korean expects romanised "
                "input; use a model whose vocabulary covers the script)"
            )
        torch.manual_seed(self.seed)  # VITS samples its durations and noise: same text, same audio
        with torch.no_grad():
            waveform = model(**{k: v.to(self.device) for k, v in inputs.items()}).waveform
        return write_wav(out_path, waveform[0].float().cpu().numpy(), model.config.sampling_rate)
