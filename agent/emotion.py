"""The offline emotion classifier that ships with DreamReel, and the overall emotion of a diary.

`OfflineEmotionClassifier` is a softmax (multinomial logistic regression) head over hashed
word and character n-grams (`agent.features`), trained by `python -m agent.train` on GoEmotions
(English, Ekman level) and KOTE (Korean, mapped to the 7 emotions). The artifact is
`agent/models/emotion.npz` plus `emotion.json` (classes, feature parameters, training data
hashes, evaluation metrics). Inference is numpy only: no scikit-learn, no download, loads in a
few tens of milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.features import ArtifactError, LinearTextModel
from agent.schemas import EMOTIONS, EmotionResult

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_EMOTION_MODEL = MODELS_DIR / "emotion.npz"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def _result(scores: dict[str, float]) -> EmotionResult:
    label = max(EMOTIONS, key=lambda e: scores.get(e, 0.0))
    return EmotionResult(label=label, scores={e: float(scores.get(e, 0.0)) for e in EMOTIONS})


class OfflineEmotionClassifier:
    """`EmotionClassifier` over the shipped linear model; one result per text, same order."""

    name = "offline-emotion"

    def __init__(self, model: LinearTextModel) -> None:
        if sorted(model.classes) != sorted(EMOTIONS) or model.weights.shape[1] != len(EMOTIONS):
            raise ArtifactError(f"emotion model classes {model.classes} are not {list(EMOTIONS)}")
        self.model = model

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineEmotionClassifier:
        """Load `path` (default: the shipped `agent/models/emotion.npz`)."""
        path = path or DEFAULT_EMOTION_MODEL
        log.debug("loading emotion model %s", path)
        return cls(LinearTextModel.load(path))

    def classify(self, texts: list[str]) -> list[EmotionResult]:
        """Probabilities over all 7 emotions (summing to 1) and the most likely label, per text."""
        if not texts:
            return []
        probs = _softmax(self.model.decision(texts))
        classes = self.model.classes
        return [_result(dict(zip(classes, row.tolist(), strict=True))) for row in probs]


def overall_emotion(
    results: Sequence[EmotionResult], weights: Sequence[float] | None = None
) -> EmotionResult:
    """The diary's emotion: the weighted mean of its scenes' scores (weights e.g. scene lengths).

    Missing or non-positive weights count as equal weights; no results at all is neutral.
    """
    if not results:
        return _result({"neutral": 1.0})
    w = np.ones(len(results)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(results),):
        raise ValueError(f"{len(results)} results but {w.shape[0]} weights")
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    if w.sum() <= 0:
        w = np.ones(len(results))
    matrix = np.array([[r.scores.get(e, 0.0) for e in EMOTIONS] for r in results], dtype=np.float64)
    mean = (w[:, None] * matrix).sum(axis=0) / w.sum()
    total = mean.sum()
    if total > 0:
        mean = mean / total
    return _result(dict(zip(EMOTIONS, mean.tolist(), strict=True)))
