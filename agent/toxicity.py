"""The offline toxicity classifier that ships with DreamReel.

A logistic regression over hashed word and character n-grams (`agent.features`), trained by
`python -m agent.train` on Korean news comments (kocohub korean-hate-speech: offensive or hate
= toxic) and English tweets (Davidson et al.: hate speech or offensive language = toxic). The
artifact is `agent/models/toxicity.npz` plus `toxicity.json`. Inference is numpy only.

The score is a probability of "toxic" in the sense of those datasets: insults, slurs, abuse.
It is one signal for the safety policy, not a verdict; frightening dream content (monsters,
death, being chased) is not what it was trained to flag.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from agent.features import ArtifactError, LinearTextModel

log = logging.getLogger(__name__)

DEFAULT_TOXICITY_MODEL = Path(__file__).resolve().parent / "models" / "toxicity.npz"


class OfflineToxicityClassifier:
    """`ToxicityClassifier` over the shipped linear model; one score in 0..1 per text."""

    name = "offline-toxicity"

    def __init__(self, model: LinearTextModel) -> None:
        if model.classes != ["non_toxic", "toxic"] or model.weights.shape[1] != 1:
            raise ArtifactError(f"toxicity model must be a binary non_toxic/toxic head, got {model.classes}")
        self.model = model

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineToxicityClassifier:
        """Load `path` (default: the shipped `agent/models/toxicity.npz`)."""
        path = path or DEFAULT_TOXICITY_MODEL
        log.debug("loading toxicity model %s", path)
        return cls(LinearTextModel.load(path))

    def score(self, texts: list[str]) -> list[float]:
        """Probability that each text is toxic, in order."""
        if not texts:
            return []
        logits = self.model.decision(texts)[:, 0]
        return (1.0 / (1.0 + np.exp(-logits))).tolist()
