"""Emotion from a transformers text-classification model, mapped onto DreamReel's 7 emotions.

The model is named by a hub id or a local folder. Its labels (``config.id2label``) are mapped
with `label_map` (model label -> anger/disgust/fear/joy/neutral/sadness/surprise); labels
without a mapping are dropped, the remaining probability is summed per emotion and renormalised.
A model whose labels already are the 7 emotions needs no map.

Nothing is downloaded when ``HF_HUB_OFFLINE=1`` or the model is a local folder
(``local_files_only``); a missing model fails with the command that fetches it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.schemas import EMOTIONS, EmotionResult

log = logging.getLogger(__name__)

_INSTALL_HINT = "the transformers emotion classifier needs torch and transformers: pip install 'dreamreel[ml]'"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


class TransformersEmotionClassifier:
    """`EmotionClassifier` over a transformers sequence-classification model."""

    def __init__(
        self,
        model: str,
        label_map: Mapping[str, str] | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int = 256,
    ) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as e:
            raise ImportError(_INSTALL_HINT) from e

        self.model_name = model
        self.name = f"transformers:{model}"
        self.device = device
        self.batch_size = max(1, batch_size)
        self.max_length = max_length
        local_only = _offline() or Path(model).is_dir()
        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(model, local_files_only=local_only)
            self._model: Any = AutoModelForSequenceClassification.from_pretrained(
                model, local_files_only=local_only
            )
        except OSError as e:
            raise FileNotFoundError(
                f"emotion model {model!r} is not available locally; fetch it once with "
                f"`hf download {model}` (or point the setting at a local folder)"
            ) from e
        self._model.to(device).eval()
        labels = [str(self._model.config.id2label[i]) for i in range(self._model.config.num_labels)]
        self._columns = _map_labels(labels, label_map)
        self._multi_label = self._model.config.problem_type == "multi_label_classification"

    def classify(self, texts: list[str]) -> list[EmotionResult]:
        """One `EmotionResult` per text, in order; scores cover all 7 emotions and sum to 1."""
        import torch

        results: list[EmotionResult] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            inputs = self._tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            with torch.no_grad():
                logits = self._model(**inputs).logits
            probs = torch.sigmoid(logits) if self._multi_label else torch.softmax(logits, dim=-1)
            results.extend(self._to_result(row) for row in probs.cpu().tolist())
        return results

    def _to_result(self, probs: list[float]) -> EmotionResult:
        scores: dict[str, float] = dict.fromkeys(EMOTIONS, 0.0)
        for column, emotion in self._columns.items():
            scores[emotion] += probs[column]
        total = sum(scores.values())
        if total <= 0:
            scores = {e: 1.0 if e == "neutral" else 0.0 for e in EMOTIONS}
        else:
            scores = {e: s / total for e, s in scores.items()}
        label = max(EMOTIONS, key=lambda e: scores[e])
        return EmotionResult(label=label, scores=scores)


def _map_labels(labels: list[str], label_map: Mapping[str, str] | None) -> dict[int, str]:
    """Column index -> emotion; raises when the map names labels or emotions that do not exist."""
    if not label_map:
        unknown = [label for label in labels if label.lower() not in EMOTIONS]
        if unknown:
            raise ValueError(
                f"the model's labels {unknown} are not DreamReel emotions; give a label map "
                f"(model label -> one of {list(EMOTIONS)})"
            )
        label_map = {label: label.lower() for label in labels}
    bad = {k: v for k, v in label_map.items() if v not in EMOTIONS}
    if bad:
        raise ValueError(f"label map targets unknown emotions {bad}; known: {list(EMOTIONS)}")
    by_lower = {label.lower(): i for i, label in enumerate(labels)}
    missing = [k for k in label_map if k.lower() not in by_lower]
    if missing:
        raise ValueError(f"label map names labels the model does not have: {missing}; it has {labels}")
    columns = {by_lower[k.lower()]: v for k, v in label_map.items()}
    dropped = [labels[i] for i in range(len(labels)) if i not in columns]
    if dropped:
        log.info("emotion model labels without a mapping are ignored: %s", dropped)
    return columns
