"""Speech-to-text with Whisper through transformers, from a local model folder.

A voice diary is Korean or English, so the language is chosen between those two only (the
decoder's first step scores `<|ko|>` against `<|en|>`), then each 30 s window is transcribed in
that language and the pieces are joined. Weights are read from the folder, never downloaded.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from generation.audio.base import AudioError, Transcript
from generation.audio.listen import SPEECH_RATE

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 30  # Whisper's encoder sees 30 s at a time
LANGUAGES = ("ko", "en")
PROMPT_TOKENS = 4


class WhisperRecognizer:
    """`SpeechRecognizer` over `WhisperForConditionalGeneration` + `WhisperProcessor`."""

    name = "whisper"

    def __init__(self, model_path: Path, *, device: str = "cpu", max_new_tokens: int = 200) -> None:
        self.model_path = Path(model_path)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                if not self.model_path.is_dir():
                    raise AudioError(f"no Whisper model at {self.model_path}: put a saved model folder there")
                try:
                    from transformers import WhisperForConditionalGeneration, WhisperProcessor
                except ImportError as exc:
                    raise AudioError("speech-to-text needs transformers: pip install 'dreamreel[ml]'") from exc
                model: Any = WhisperForConditionalGeneration.from_pretrained(self.model_path, local_files_only=True)
                processor = WhisperProcessor.from_pretrained(self.model_path, local_files_only=True)
                self._loaded = (model.to(self.device).eval(), processor)
                logger.info("loaded the Whisper model at %s", self.model_path)
            return self._loaded

    def transcribe(self, samples: object, language: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 `samples`; `language` "ko"/"en", or None to choose one."""
        import torch

        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            raise AudioError("no audio to transcribe")
        model, processor = self._load()
        step = WINDOW_SECONDS * SPEECH_RATE
        windows = [audio[i : i + step] for i in range(0, audio.size, step)]
        features = processor.feature_extractor(windows, sampling_rate=SPEECH_RATE, return_tensors="pt")
        inputs = features.input_features.to(self.device)
        with torch.no_grad():
            lang = language if language in LANGUAGES else self._choose_language(model, inputs[:1])
            # the prompt (start, language, task, no-timestamps) shares the decoder's positions
            budget = min(self.max_new_tokens, model.config.max_target_positions - PROMPT_TOKENS)
            tokens = model.generate(inputs, language=lang, task="transcribe", max_new_tokens=budget)
        pieces = processor.batch_decode(tokens, skip_special_tokens=True)
        text = " ".join(" ".join(piece.split()) for piece in pieces if piece.strip())
        return Transcript(text=text, language=lang, duration=audio.size / SPEECH_RATE)

    @staticmethod
    def _choose_language(model: Any, features: Any) -> str:
        """Korean or English, whichever language token the decoder's first step scores higher."""
        import torch

        config = model.generation_config
        lang_ids = {lang: config.lang_to_id[f"<|{lang}|>"] for lang in LANGUAGES if f"<|{lang}|>" in config.lang_to_id}
        if not lang_ids:
            raise AudioError("the Whisper model knows neither <|ko|> nor <|en|>; use a multilingual model")
        start = torch.tensor([[config.decoder_start_token_id]], device=features.device)
        logits = model(input_features=features, decoder_input_ids=start).logits[0, -1]
        return max(lang_ids, key=lambda lang: float(logits[lang_ids[lang]]))
