"""Fit the linear heads of the offline classifiers (scikit-learn, training only).

Both tasks share one recipe: hashed tf-idf features (`agent.features`), idf from the training
rows, a logistic regression with sample weights that balance the classes within each language
(so the rare Korean classes are not drowned by English ones, and neither language's label mix
decides the other's). The regularisation strengths were chosen on a 10 % hold-out of the
training files, not on the evaluation split (emotion: C=4 beat C=2 by 0.01 macro-F1 in both
languages there, although the 100-row English evaluation file liked C=2 better); counting Korean rows twice (`korean_weight=2`) moved
that hold-out by less than its noise, so both languages count once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.features import (
    FeatureParams,
    LinearTextModel,
    SparseRows,
    count_rows,
    document_frequency,
    smooth_idf,
    weight_rows,
)
from agent.train.data import Example

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of one head."""

    C: float
    max_iter: int = 1000
    korean_weight: float = 1.0
    params: FeatureParams = field(default_factory=FeatureParams)

    def to_dict(self) -> dict[str, Any]:
        return {"C": self.C, "max_iter": self.max_iter, "korean_weight": self.korean_weight}


EMOTION_CONFIG = FitConfig(C=4.0)
TOXICITY_CONFIG = FitConfig(C=4.0)


def to_csr(rows: SparseRows) -> Any:
    """`rows` as a scipy CSR matrix (what scikit-learn fits on)."""
    from scipy.sparse import csr_matrix

    return csr_matrix((rows.data, rows.indices, rows.indptr), shape=(rows.n_rows, rows.n_features))


def tfidf_rows(texts: Sequence[str], params: FeatureParams) -> tuple[np.ndarray, SparseRows]:
    """(idf from `texts`, their tf-idf rows): the features a linear head trains on."""
    counts = count_rows(texts, params)
    idf = smooth_idf(document_frequency(counts), counts.n_rows)
    return idf, weight_rows(counts, idf)


def balanced_weights(examples: Sequence[Example], korean_weight: float) -> np.ndarray:
    """Per-row weights: classes balanced within each language, Korean rows scaled by `korean_weight`."""
    per_class = Counter((e.lang, e.label) for e in examples)
    per_lang = Counter(e.lang for e in examples)
    classes_in = Counter(lang for lang, _ in per_class)
    return np.array(
        [
            per_lang[e.lang]
            / (classes_in[e.lang] * per_class[(e.lang, e.label)])
            * (korean_weight if e.lang == "ko" else 1.0)
            for e in examples
        ]
    )


def fit_linear(
    examples: Sequence[Example], classes: Sequence[str], config: FitConfig, meta: dict[str, Any]
) -> LinearTextModel:
    """Train one head on `examples`; two classes give a sigmoid head (one column), more a softmax."""
    from sklearn.linear_model import LogisticRegression

    start = time.monotonic()
    idf, rows = tfidf_rows([e.text for e in examples], config.params)
    features = to_csr(rows)
    labels = np.array([e.label for e in examples])
    present = sorted(set(labels.tolist()))
    if present != sorted(classes):
        raise ValueError(f"training rows cover {present}, need every class of {list(classes)}")
    log.info(
        "features: %d rows, %d non-zeros (%.1fs)", rows.n_rows, len(rows.data), time.monotonic() - start
    )

    model = LogisticRegression(C=config.C, max_iter=config.max_iter)
    model.fit(features, labels, sample_weight=balanced_weights(examples, config.korean_weight))
    log.info("fit: %d iterations (%.1fs)", int(np.max(model.n_iter_)), time.monotonic() - start)

    order = [list(model.classes_).index(c) for c in classes]
    if len(classes) == 2:
        # scikit-learn's binary head scores classes_[1]; make the column mean classes[1].
        sign = 1.0 if list(model.classes_) == list(classes) else -1.0
        weights = sign * model.coef_.T
        bias = sign * model.intercept_
    else:
        weights = model.coef_[order].T
        bias = model.intercept_[order]
    info = {
        **meta,
        "classes": list(classes),
        "training": {
            **meta.get("training", {}),
            **config.to_dict(),
            "rows": len(examples),
            "rows_per_label": dict(sorted(Counter(f"{e.lang}:{e.label}" for e in examples).items())),
        },
    }
    return LinearTextModel(
        params=config.params,
        idf=idf,
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        meta=info,
    )
