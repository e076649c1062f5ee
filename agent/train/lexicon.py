"""Choose the dream lexicon's weight per language on held-out training rows (never the eval files).

The emotion head is fitted again on 90 % of the training rows (every tenth row of each file is
held out), the held-out rows are scored with `log p + w * lexicon evidence` for each `w` of
`WEIGHT_GRID`, and each language keeps the `w` with the best macro-F1 over the 7 emotions (ties:
the smaller `w`). Korean hold-out rows are scored with the README's one-vote KOTE mapping, like
the evaluation split. The hold-out is Reddit and news comments, not dreams: it can show that the
lexicon does no harm in general text and how strong it may be, not how much it helps dreams
(tests/test_emotion_dreams.py measures that).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agent.emotion import combine_with_lexicon, evidence_matrix
from agent.schemas import EMOTIONS
from agent.train import data as datasets
from agent.train.evaluate import f1_per_class
from agent.train.fit import FitConfig, fit_linear

log = logging.getLogger(__name__)

HOLDOUT_EVERY = 10
WEIGHT_GRID = tuple(i / 4 for i in range(17))  # 0, 0.25, ..., 4


def _scores(gold: Sequence[str], probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    pred = [classes[k] for k in probs.argmax(axis=1)]
    per_class = f1_per_class(gold, pred, EMOTIONS)
    return {
        "macro_f1_7": round(float(np.mean(list(per_class.values()))), 4),
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])), 4),
    }


def choose_lexicon_weights(
    data: Path, limit: int | None, config: FitConfig, kote_rarity: float, kote_tie: float
) -> dict[str, Any]:
    """`{"weights": {lang: w}, "holdout": {lang: {"rows", "best", "plain"}}}` from a 90/10 split."""
    fit_rows = datasets.emotion_examples(data, limit, kote_rarity=kote_rarity, kote_tie=kote_tie)
    plain_rows = datasets.emotion_examples(data, limit)  # same rows, same order, one-vote labels
    train = [e for i, e in enumerate(fit_rows) if i % HOLDOUT_EVERY]
    held = [e for i, e in enumerate(plain_rows) if not i % HOLDOUT_EVERY]
    model = fit_linear(train, EMOTIONS, config, {})
    logits = model.decision([e.text for e in held])
    evidence = evidence_matrix([e.text for e in held], model.classes)

    weights: dict[str, float] = {}
    report: dict[str, Any] = {}
    for lang in ("en", "ko"):
        idx = [i for i, e in enumerate(held) if e.lang == lang]
        if not idx:
            continue
        gold = [held[i].label for i in idx]
        table = {
            w: _scores(
                gold,
                combine_with_lexicon(logits[idx], evidence[idx], [lang] * len(idx), {lang: w}),
                model.classes,
            )
            for w in WEIGHT_GRID
        }
        best = max(WEIGHT_GRID, key=lambda w: (table[w]["macro_f1_7"], -w))
        weights[lang] = best
        report[lang] = {"rows": len(idx), "best": table[best], "plain": table[0.0]}
        log.info(
            "lexicon %s: weight %.2f, hold-out macro-F1 %.3f (plain %.3f), accuracy %.3f (plain %.3f)",
            lang, best, table[best]["macro_f1_7"], table[0.0]["macro_f1_7"],
            table[best]["accuracy"], table[0.0]["accuracy"],
        )  # fmt: skip
    return {"weights": weights, "holdout": report, "holdout_every": HOLDOUT_EVERY}
