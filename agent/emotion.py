"""The offline emotion classifier that ships with DreamReel, and the overall emotion of a diary.

Three sources of evidence, mixed in log space per language (`Mix`), then renormalised:

- the hashed head: a softmax (multinomial logistic regression) over hashed word and character
  n-grams (`agent.features`), trained by `python -m agent.train` on GoEmotions (English, Ekman
  level) and KOTE (Korean, mapped to the 7 emotions): `agent/models/emotion.npz` + `.json`;
- two small softmax heads over the multilingual sentence encoder's vectors (`agent.encoder`):
  `general`, trained on the same comments, and `scene`, trained on dream scenes written for the
  project (`data/train/dream_scenes.jsonl`), which reads the feeling of a situation that names
  no feeling ("a stranger followed me through every street"): `agent/models/emotion_encoder.npz`;
- the dream lexicon (`agent.emotion_lexicon`): words of dream narration as additive evidence.

`p(e) ∝ exp(hashed * log p_h(e) + general * log p_g(e) + scene * log p_s(e) + lexicon * evidence(e) + offset(e))`
with the weights of the text's language ("ko" when it has Hangul, else "en"), stored in
`emotion.json` under `mix` and chosen by cross-validation on the training rows
(`agent.train.mix`). `offset` is a per-class log offset of the mix (`mix_offsets`, also chosen on
training rows: a mix's argmax favours the classes its sources over-predict, and the comment
measure is macro-F1); without one it is 0. Last, a text read as a comment gets neutral's
probability raised to its language's `neutral_floor` (`with_neutral_floor`, scaled by the comment
share of the gate; also chosen on training rows): a comment none of whose emotions is sure reads
as neutral, as KOTE's labels call a comment whose annotators split. An artifact without `mix` uses its `lexicon.weights` alone (hashed head plus
lexicon, the older artifacts). The encoder loads only when a weight needs it. Inference is numpy
only: no scikit-learn, no download.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.emotion_lexicon import lexicon_evidence
from agent.encoder import DIM, E5_DIM, e5_text, warn_on_other_encoders
from agent.features import ArtifactError, LinearTextModel
from agent.schemas import EMOTIONS, EmotionResult
from agent.text import has_hangul

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_EMOTION_MODEL = MODELS_DIR / "emotion.npz"
ENCODER_HEADS_FILE = "emotion_encoder.npz"  # next to emotion.npz
HEADS = ("general", "scene")
# The gate's probability becomes the dream mix's share through a ramp: 0 below GATE_RAMP[0], 1
# above GATE_RAMP[1], linear between. Blending by the raw probability let the few comments the
# gate half-believes (0.1-0.3) take a share of the dream mix; on the 10 % comment hold-out and the
# dream scenes' 5-fold CV (agent.train.mix) the ramp gained 0.005 English macro-F1 and 2 points
# of Korean scene accuracy, and lost nothing elsewhere.
GATE_RAMP = (0.3, 0.7)


def dream_share(gate: np.ndarray) -> np.ndarray:
    """The dream mix's share of each text's weights, from the gate's probability (`GATE_RAMP`)."""
    low, high = GATE_RAMP
    return np.asarray(np.clip((np.asarray(gate, dtype=np.float64) - low) / (high - low), 0.0, 1.0))


def blend(comment: np.ndarray, dream: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Rows of the comment mix's and the dream mix's values (weights or offsets; one row or one per
    text) blended per text by the gate's probabilities: `(1 - s) * comment + s * dream`, `s` the
    `dream_share`."""
    s = dream_share(gate)[:, None]
    return np.asarray((1.0 - s) * comment + s * dream)


@dataclass(frozen=True)
class Mix:
    """Log-space weight of each source of evidence for one language (0 = not used)."""

    hashed: float = 1.0
    general: float = 0.0
    scene: float = 0.0
    lexicon: float = 0.0

    @property
    def needs_encoder(self) -> bool:
        return self.general > 0 or self.scene > 0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class EncoderHeads:
    """Softmax heads over encoder vectors: `weights[name]` is `(512, 7)`, `bias[name]` `(7,)`, classes in order.

    `gate` (`(512,)` weights and a bias) is a logistic head: the probability that a text reads like
    dream narration rather than an online comment; through `dream_share` it blends the two mixes
    of a language. With `e5_scale` > 0 the `scene` head reads `scene_features`: the USE vector and
    `e5_scale` times the multilingual-e5-small vector side by side (`(896, 7)` weights), e5
    reading the first `e5_chars[lang]` characters of a text (chosen and stored by training).
    """

    classes: list[str]
    weights: dict[str, np.ndarray]
    bias: dict[str, np.ndarray]
    gate: tuple[np.ndarray, float] | None = None
    e5_scale: float = 0.0
    e5_chars: dict[str, int] | None = None  # what the scene head's e5 reads per language (None: E5_MAX_CHARS)

    @property
    def scene_reads_e5(self) -> bool:
        return self.e5_scale > 0 and "scene" in self.weights

    def input_dim(self, name: str) -> int:
        return DIM + (E5_DIM if name == "scene" and self.e5_scale > 0 else 0)

    def scene_features(self, vectors: np.ndarray, e5_vectors: np.ndarray | None) -> np.ndarray:
        """The scene head's input for these encoder vectors (`scene_features` at this `e5_scale`)."""
        return scene_features(vectors, e5_vectors, self.e5_scale)

    def log_probs(self, name: str, vectors: np.ndarray) -> np.ndarray:
        return log_softmax(vectors.astype(np.float64) @ self.weights[name] + self.bias[name])

    def dreamlike(self, vectors: np.ndarray) -> np.ndarray:
        """The gate's probability per row that the text is dream narration (0 without a gate)."""
        if self.gate is None:
            return np.zeros(len(vectors))
        return np.asarray(1.0 / (1.0 + np.exp(-(vectors.astype(np.float64) @ self.gate[0] + self.gate[1]))))

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {f"{n}_weights": self.weights[n].astype(np.float16) for n in self.weights}
        arrays |= {f"{n}_bias": self.bias[n].astype(np.float32) for n in self.bias}
        if self.gate is not None:
            arrays |= {"gate_vector": self.gate[0].astype(np.float16), "gate_offset": np.float32(self.gate[1])}
        if self.e5_scale > 0:
            arrays["e5_scale"] = np.float32(self.e5_scale)
        for lang, chars in (self.e5_chars or {}).items():
            arrays[f"e5_chars_{lang}"] = np.int32(chars)
        with path.open("wb") as fh:
            np.savez_compressed(fh, classes=np.array(self.classes), **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> EncoderHeads:
        if not path.is_file():
            raise ArtifactError(f"{path} not found; rebuild it with `make train-classifiers`")
        with np.load(path, allow_pickle=False) as z:
            classes = [str(c) for c in z["classes"]]
            names = [k.removesuffix("_weights") for k in z.files if k.endswith("_weights")]
            weights = {n: z[f"{n}_weights"].astype(np.float64) for n in names}
            bias = {n: z[f"{n}_bias"].astype(np.float64) for n in names}
            gate = (z["gate_vector"].astype(np.float64), float(z["gate_offset"])) if "gate_vector" in z.files else None
            e5_scale = float(z["e5_scale"]) if "e5_scale" in z.files else 0.0
            e5_chars = {k.removeprefix("e5_chars_"): int(z[k]) for k in z.files if k.startswith("e5_chars_")} or None
        heads = cls(classes, weights, bias, gate, e5_scale, e5_chars)
        for name, w in weights.items():
            if w.shape != (heads.input_dim(name), len(classes)):
                raise ArtifactError(f"{path}: head {name} does not map {heads.input_dim(name)}-d vectors to {len(classes)} classes")
        return heads


def scene_features(vectors: np.ndarray, e5_vectors: np.ndarray | None, e5_scale: float) -> np.ndarray:
    """USE vectors, and `e5_scale` times the e5 vectors beside them when the scale is positive."""
    if not e5_scale > 0:
        return vectors
    if e5_vectors is None:
        raise ArtifactError("the scene head reads multilingual-e5 vectors but none were given")
    return np.hstack([vectors, e5_scale * np.asarray(e5_vectors, dtype=np.float64)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities of `logits` (n, classes), computed stably."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


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


def with_neutral_floor(probs: np.ndarray, floor: float | np.ndarray, classes: Sequence[str] = EMOTIONS) -> np.ndarray:
    """Probabilities `(n, k)` with neutral's raised to at least `floor` (one value or one per row),
    then renormalised: a row turns neutral exactly when its strongest emotion is below the floor;
    the order of the other emotions is kept."""
    out = np.array(probs, dtype=np.float64, copy=True).reshape(-1, len(classes))
    k = list(classes).index("neutral")
    out[:, k] = np.maximum(out[:, k], np.broadcast_to(np.asarray(floor, dtype=np.float64), (len(out),)))
    return np.asarray(out / out.sum(axis=1, keepdims=True))


def _result(scores: dict[str, float]) -> EmotionResult:
    label = max(EMOTIONS, key=lambda e: scores.get(e, 0.0))
    return EmotionResult(label=label, scores={e: float(scores.get(e, 0.0)) for e in EMOTIONS})


class OfflineEmotionClassifier:
    """`EmotionClassifier` over the shipped heads and lexicon; one result per text, same order."""

    name = "offline-emotion"

    def __init__(
        self,
        model: LinearTextModel,
        heads: EncoderHeads | None = None,
        mix: Mapping[str, Mix] | None = None,
        dream_mix: Mapping[str, Mix] | None = None,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        embed_e5: Callable[[Sequence[str]], np.ndarray] | None = None,
        offsets: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
        neutral_floor: Mapping[str, float] | None = None,
    ) -> None:
        """`mix` per language overrides the artifact's (`mix`, else `lexicon.weights`), and with it
        `dream_mix` (the mix for text the gate reads as dream narration; none: `mix` for all) and
        `offsets` (`{"mix" | "dream_mix": {lang: {emotion: log offset}}}`, the artifact's
        `mix_offsets`; none: no offsets) and `neutral_floor` (per language; the artifact's, none:
        no floor); `embed` and `embed_e5` replace the shared sentence encoders (tests)."""
        if sorted(model.classes) != sorted(EMOTIONS) or model.weights.shape[1] != len(EMOTIONS):
            raise ArtifactError(f"emotion model classes {model.classes} are not {list(EMOTIONS)}")
        self.model = model
        self.heads = heads
        self.mix = dict(mix) if mix is not None else stored_mix(model.meta)
        if mix is not None:
            self.dream_mix = dict(dream_mix or {})
        else:
            self.dream_mix = {k: Mix(**v) for k, v in model.meta.get("dream_mix", {}).items()}
        stored = offsets if offsets is not None or mix is not None else model.meta.get("mix_offsets", {})
        self.offsets = {
            kind: {lang: _offset_row(row, model.classes) for lang, row in (stored or {}).get(kind, {}).items()}
            for kind in ("mix", "dream_mix")
        }
        floors = neutral_floor if neutral_floor is not None or mix is not None else model.meta.get("neutral_floor", {})
        self.neutral_floor = {lang: float(f) for lang, f in (floors or {}).items()}
        if any(not 0.0 <= f < 1.0 for f in self.neutral_floor.values()):
            raise ArtifactError(f"a neutral floor must be in [0, 1): {self.neutral_floor}")
        if self.dream_mix and (heads is None or heads.gate is None):
            raise ArtifactError("a dream mix needs the encoder heads' gate")
        if any(m.needs_encoder for m in [*self.mix.values(), *self.dream_mix.values()]):
            if heads is None:
                raise ArtifactError("the emotion mix uses encoder heads but none were loaded")
            if heads.classes != model.classes:
                raise ArtifactError(f"encoder head classes {heads.classes} differ from {model.classes}")
        self._embed = embed
        self._embed_e5 = embed_e5

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineEmotionClassifier:
        """Load `path` (default: the shipped `agent/models/emotion.npz`) and its encoder heads."""
        path = path or DEFAULT_EMOTION_MODEL
        log.debug("loading emotion model %s", path)
        model = LinearTextModel.load(path)
        heads = None
        if "encoder_heads" in model.meta:
            heads = EncoderHeads.load(path.parent / model.meta["encoder_heads"])
            warn_on_other_encoders(path, model.meta, "emotion")
        return cls(model, heads)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed is None:
            from agent.encoder import embed  # lazy: loads the encoder on first use only

            self._embed = embed
        return self._embed(texts)

    def _e5_vectors(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed_e5 is None:
            from agent.encoder import embed_e5  # lazy, like the sentence encoder

            self._embed_e5 = embed_e5
        return self._embed_e5(texts)

    def classify(self, texts: list[str]) -> list[EmotionResult]:
        """Probabilities over all 7 emotions (summing to 1) and the most likely label, per text."""
        if not texts:
            return []
        classes = self.model.classes
        languages = [text_language(t) for t in texts]
        weights = np.array([astuple(self.mix.get(lang, Mix())) for lang in languages])  # (n, 4)
        # the encoder runs for a text whose language has a dream mix or an encoder weight
        needs = [i for i, lang in enumerate(languages) if lang in self.dream_mix or weights[i, 1:3].any()]
        vectors = self._vectors([texts[i] for i in needs]) if needs and self.heads is not None else None
        zero = np.zeros(len(classes))
        offsets = np.array([self.offsets["mix"].get(lang, zero) for lang in languages]).reshape(len(texts), len(classes))
        comment_share = np.ones(len(texts))  # how much of a text's reading is the comment mix's
        if vectors is not None and self.heads is not None and self.dream_mix:
            dream = np.array([astuple(self.dream_mix.get(languages[i], self.mix.get(languages[i], Mix()))) for i in needs])
            dream_offsets = np.array(
                [self.offsets["dream_mix"].get(languages[i], self.offsets["mix"].get(languages[i], zero)) for i in needs]
            )
            gate = self.heads.dreamlike(vectors)
            weights[needs] = blend(weights[needs], dream, gate)
            offsets[needs] = blend(offsets[needs], dream_offsets, gate)
            # a language without a dream mix blends its comment mix with itself: it reads as a comment
            comment_share[needs] = np.where([languages[i] in self.dream_mix for i in needs], 1.0 - dream_share(gate), 1.0)

        total = weights[:, [0]] * log_softmax(self.model.decision(texts)) + offsets
        if vectors is not None and self.heads is not None:
            heads = self.heads
            if "general" in heads.weights:
                total[needs] += weights[needs][:, [1]] * heads.log_probs("general", vectors)
            if "scene" in heads.weights:
                # the e5 encoder (the slow one) runs only for the texts whose scene weight is used
                scene = [k for k, i in enumerate(needs) if weights[i, 2] > 0]
                if scene:
                    rows = [needs[k] for k in scene]
                    e5 = (
                        self._e5_vectors([e5_text(texts[i], heads.e5_chars) for i in rows])
                        if heads.scene_reads_e5
                        else None
                    )
                    features = heads.scene_features(vectors[scene], e5)
                    total[rows] += weights[rows][:, [2]] * heads.log_probs("scene", features)
        lexical = np.flatnonzero(weights[:, 3] > 0)
        if len(lexical):
            total[lexical] += weights[lexical][:, [3]] * evidence_matrix([texts[i] for i in lexical], classes)
        probs = _softmax(total)
        if self.neutral_floor:
            floor = np.array([self.neutral_floor.get(lang, 0.0) for lang in languages]) * comment_share
            probs = with_neutral_floor(probs, floor, classes)
        return [_result(dict(zip(classes, row.tolist(), strict=True))) for row in probs]


def _offset_row(row: Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    if set(row) - set(classes):
        raise ArtifactError(f"emotion offsets name classes {sorted(set(row) - set(classes))} the model does not have")
    return np.array([float(row.get(c, 0.0)) for c in classes], dtype=np.float64)


def stored_mix(meta: Mapping[str, object]) -> dict[str, Mix]:
    """The per-language mix of an artifact's JSON: `mix`, else hashed head + `lexicon.weights`."""
    mix = meta.get("mix")
    if isinstance(mix, dict):
        return {lang: Mix(**weights) for lang, weights in mix.items()}
    lexicon = meta.get("lexicon")
    stored = lexicon.get("weights", {}) if isinstance(lexicon, dict) else {}
    return {lang: Mix(lexicon=float(w)) for lang, w in stored.items()}


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
