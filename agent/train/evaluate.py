"""Scores of the shipped classifiers on the evaluation split (never the training files).

Emotion: macro-F1 over the 7 emotions (a class absent from both gold and predictions counts
as F1 0, like scikit-learn's default) and over the classes present in the gold labels, plus
accuracy. Toxicity: balanced accuracy at 0.5, plus ROC AUC (threshold-free).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.emotion import OfflineEmotionClassifier
from agent.schemas import EMOTIONS
from agent.toxicity import OfflineToxicityClassifier
from agent.train.data import Example


def f1_per_class(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (0 when it has neither gold rows nor predictions)."""
    out: dict[str, float] = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        out[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return out


def balanced_accuracy(gold: Sequence[bool], pred: Sequence[bool]) -> float:
    """Mean recall of the positive and the negative class."""
    g, p = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    recalls = [float(np.mean(p[g == cls] == cls)) for cls in (True, False) if np.any(g == cls)]
    return float(np.mean(recalls))


def roc_auc(gold: Sequence[bool], scores: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    g, s = np.asarray(gold, dtype=bool), np.asarray(scores, dtype=np.float64)
    pos, neg = s[g], s[~g]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def emotion_metrics(classifier: OfflineEmotionClassifier, rows: Sequence[Example]) -> dict[str, object]:
    """Macro-F1 (7 classes and present classes), accuracy and per-class F1 on `rows`."""
    gold = [r.label for r in rows]
    pred = [r.label for r in classifier.classify([r.text for r in rows])]
    per_class = f1_per_class(gold, pred, EMOTIONS)
    present = sorted(set(gold))
    return {
        "rows": len(rows),
        "macro_f1_7": round(float(np.mean(list(per_class.values()))), 4),
        "macro_f1_present": round(float(np.mean([per_class[c] for c in present])), 4),
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])), 4),
        "f1": {k: round(v, 4) for k, v in per_class.items()},
        "gold_counts": {c: gold.count(c) for c in present},
    }


def toxicity_metrics(classifier: OfflineToxicityClassifier, rows: Sequence[Example]) -> dict[str, object]:
    """Balanced accuracy at 0.5 and ROC AUC on `rows` (label "toxic" is positive)."""
    gold = [r.label == "toxic" for r in rows]
    scores = classifier.score([r.text for r in rows])
    return {
        "rows": len(rows),
        "balanced_accuracy": round(balanced_accuracy(gold, [s >= 0.5 for s in scores]), 4),
        "roc_auc": round(roc_auc(gold, scores), 4),
    }
