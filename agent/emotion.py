"""The offline emotion classifier that ships with DreamReel, and the overall emotion of a diary.

`OfflineEmotionClassifier` is a softmax (multinomial logistic regression) head over hashed
word and character n-grams (`agent.features`), trained by `python -m agent.train` on GoEmotions
(English, Ekman level) and KOTE (Korean, mapped to the 7 emotions). The artifact is
`agent/models/emotion.npz` plus `emotion.json` (classes, feature parameters, training data
hashes, evaluation metrics). Inference is numpy only: no scikit-learn, no download, loads in a
few tens of milliseconds.

On top of the learned scores, words of the dream lexicon (`agent.emotion_lexicon`) add evidence
in log space: `log p(e) + w[lang] * evidence(e)`, renormalised. `w` per language ("en", "ko"; a
text with Hangul counts as Korean) is stored in `emotion.json` under `lexicon.weights` and was
chosen on held-out training rows (`agent.train.lexicon`); an artifact without it, or weight 0,
gives the plain classifier.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from agent.emotion_lexicon import lexicon_evidence
from agent.features import ArtifactError, LinearTextModel
from agent.schemas import EMOTIONS, EmotionResult
from agent.text import has_hangul

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_EMOTION_MODEL = MODELS_DIR / "emotion.npz"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def text_language(text: str) -> str:
    """The language whose lexicon weight applies: "ko" for a text with Hangul, else "en"."""
    return "ko" if has_hangul(text) else "en"


def evidence_matrix(texts: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Lexicon evidence of each text, shape `(len(texts), len(classes))`, columns in `classes` order."""
    rows = [lexicon_evidence(t) for t in texts]
    return np.array([[row[c] for c in classes] for row in rows], dtype=np.float64).reshape(
        len(texts), len(classes)
    )


def combine_with_lexicon(
    logits: np.ndarray, evidence: np.ndarray, languages: Sequence[str], weights: Mapping[str, float]
) -> np.ndarray:
    """Probabilities from the head's logits plus `weights[language] * evidence` (log space)."""
    w = np.array([weights.get(lang, 0.0) for lang in languages], dtype=np.float64)
    return _softmax(logits + w[:, None] * evidence)


def _result(scores: dict[str, float]) -> EmotionResult:
    label = max(EMOTIONS, key=lambda e: scores.get(e, 0.0))
    return EmotionResult(label=label, scores={e: float(scores.get(e, 0.0)) for e in EMOTIONS})


class OfflineEmotionClassifier:
    """`EmotionClassifier` over the shipped linear model; one result per text, same order."""

    name = "offline-emotion"

    def __init__(self, model: LinearTextModel, lexicon_weights: Mapping[str, float] | None = None) -> None:
        """`lexicon_weights` per language override the artifact's `lexicon.weights` (0 = off)."""
        if sorted(model.classes) != sorted(EMOTIONS) or model.weights.shape[1] != len(EMOTIONS):
            raise ArtifactError(f"emotion model classes {model.classes} are not {list(EMOTIONS)}")
        self.model = model
        stored = model.meta.get("lexicon", {}).get("weights", {})
        self.lexicon_weights = {
            k: float(v) for k, v in (stored if lexicon_weights is None else lexicon_weights).items()
        }

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
        logits = self.model.decision(texts)
        classes = self.model.classes
        if any(w > 0 for w in self.lexicon_weights.values()):
            languages = [text_language(t) for t in texts]
            needed = [i for i, lang in enumerate(languages) if self.lexicon_weights.get(lang, 0.0) > 0]
            evidence = np.zeros_like(logits)
            evidence[needed] = evidence_matrix([texts[i] for i in needed], classes)
            probs = combine_with_lexicon(logits, evidence, languages, self.lexicon_weights)
        else:
            probs = _softmax(logits)
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
