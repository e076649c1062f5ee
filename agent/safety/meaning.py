"""Meaning-level policy detectors: one logistic head per category over sentence-encoder vectors.

The rules know words; these heads know what a sentence says. A diary that avoids every listed
word ("I wanted to jump off the bridge so it would all stop", "그의 배를 갈라 안의 것을 꺼냈다")
lands near the labelled sentences of its category in the space of the multilingual sentence
encoder (`agent.encoder`, USE multilingual v3), in Korean and English alike.

Heads: self_harm, gore, sexual, minors, hate, override; each gives the probability that a
sentence belongs to its category. They are trained by `python -m agent.train --task policy`
(`agent.train.policy`) on the sentences of `data/policy/train/` plus collected hate-speech rows,
and ship as `agent/models/policy.npz` (float16 weights, 512 x 6, a few KB) with `policy.json`.
The policy (`agent.safety.policy`) reads each head's probability as one more piece of evidence in
its noisy-or, with the sentence as the span.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

CATEGORIES = ("self_harm", "gore", "sexual", "minors", "hate", "override")
DEFAULT_POLICY_MODEL = Path(__file__).resolve().parent.parent / "models" / "policy.npz"

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


class PolicyModelError(ValueError):
    """The detector artifact is missing or does not fit the encoder."""


@dataclass
class MeaningDetector:
    """Probabilities per category for sentences; `embed` maps texts to unit vectors (n, dim)."""

    weights: npt.NDArray[np.float32]  # (dim, categories)
    bias: npt.NDArray[np.float32]  # (categories,)
    categories: tuple[str, ...]
    embed: Embed
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "encoder"

    @classmethod
    def load(cls, path: Path | None = None, embed: Embed | None = None) -> MeaningDetector:
        """The shipped heads (default `agent/models/policy.npz`) over `embed` (default: the shared encoder)."""
        path = path or DEFAULT_POLICY_MODEL
        if not path.is_file():
            raise PolicyModelError(
                f"no policy detector at {path}; build it with: python -m agent.train --task policy"
            )
        with np.load(path) as npz:
            weights = npz["weights"].astype(np.float32)
            bias = npz["bias"].astype(np.float32)
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        categories = tuple(meta["categories"])
        if weights.shape != (meta["dim"], len(categories)) or bias.shape != (len(categories),):
            raise PolicyModelError(
                f"{path}: weights {weights.shape} do not match {meta['dim']} x {categories}"
            )
        if embed is None:
            from agent.encoder import embed as shared_embed

            embed = shared_embed
        return cls(weights=weights, bias=bias, categories=categories, embed=embed, meta=meta)

    def probabilities(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Per-category probabilities for already embedded sentences, shape (n, categories)."""
        logits = vectors @ self.weights + self.bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def evidence(self, category: str, p: float) -> float:
        """A head's probability as policy evidence: 0.5 (review) and 0.7 (block) at the anchors that
        training set on benign sentences (`meta["calibration"]`, see `agent.train.policy`: 0.03 % and
        0.015 % of them reach), linear between."""
        anchors = self.meta.get("calibration", {}).get(category)
        if not anchors:
            return p
        review_at, block_at = anchors["review_at"], anchors["block_at"]
        xs = [0.0, review_at, block_at, 1.0]
        ys = [0.0, 0.5, 0.7, 1.0]
        return float(np.interp(p, xs, ys))

    def score(self, sentences: Sequence[str]) -> list[dict[str, float]]:
        """One {category: evidence} per sentence, in order (see `evidence`)."""
        if not sentences:
            return []
        probs = self.probabilities(self.embed(list(sentences)))
        return [
            {c: self.evidence(c, float(p)) for c, p in zip(self.categories, row, strict=True)}
            for row in probs
        ]

    def save(self, path: Path) -> None:
        """Write `path` (.npz, float16) and its `.json` (categories, dim, training notes, metrics)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weights=self.weights.astype(np.float16), bias=self.bias.astype(np.float16))
        meta = {**self.meta, "categories": list(self.categories), "dim": int(self.weights.shape[0])}
        path.with_suffix(".json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
