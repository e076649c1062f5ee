"""Hashing text featurizer shared by the offline emotion and toxicity classifiers.

A text becomes a sparse, L2-normalised tf-idf vector over `2**bits` hashed buckets:

- word unigrams and bigrams (`w:` prefix), punctuation marks count as words;
- character n-grams inside each word, padded with spaces (`c:` prefix), which carry Korean
  stems through their particles and endings (먹었다 / 먹고 / 먹는 share `먹`-grams).

Buckets come from `zlib.crc32`, which is stable across processes and machines (Python's own
`hash()` is salted per process and would silently break a shipped model). The same code runs at
training time (wrapped in a scipy matrix) and at inference time (pure numpy), so the shipped
weights always see the features they were trained on.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d+")
_REPEAT = re.compile(r"(.)\1{3,}")  # "soooooo" -> "sooo", "ㅋㅋㅋㅋㅋ" -> "ㅋㅋㅋ"
_TOKEN = re.compile(r"[^\W_]+|[!?]+|[^\w\s]")  # words, runs of ! and ?, single other marks


@dataclass(frozen=True)
class FeatureParams:
    """What decides the feature space; stored with every artifact and checked on load."""

    bits: int = 18
    word_ngrams: int = 2
    char_min: int = 2
    char_max: int = 4
    sublinear_tf: bool = True
    version: int = 1

    @property
    def n_features(self) -> int:
        return 1 << self.bits

    def to_dict(self) -> dict[str, int | bool]:
        return asdict(self)


def normalize(text: str) -> str:
    """Canonical form of a text before tokenising: NFC, unescaped HTML, lower case, placeholders."""
    text = unicodedata.normalize("NFC", html.unescape(text)).lower()
    text = _URL.sub(" url ", text)
    text = _MENTION.sub(" @user ", text)
    text = _DIGITS.sub("0", text)
    return _REPEAT.sub(r"\1\1\1", text)


def tokens(text: str) -> list[str]:
    """Words and punctuation marks of a normalised text."""
    return _TOKEN.findall(text)


def terms(text: str, params: FeatureParams) -> list[str]:
    """Every feature string of one text (with repeats), before hashing."""
    words = tokens(normalize(text))
    out = [f"w:{w}" for w in words]
    for n in range(2, params.word_ngrams + 1):
        out.extend("w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    for word in words:
        if not word[0].isalnum():
            continue
        padded = f" {word} "
        for n in range(params.char_min, params.char_max + 1):
            out.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def bucket(term: str, bits: int) -> int:
    """The stable hash bucket of one feature string."""
    return zlib.crc32(term.encode("utf-8")) & ((1 << bits) - 1)


def term_counts(text: str, params: FeatureParams) -> Counter[int]:
    """Raw counts per hash bucket of one text."""
    return Counter(bucket(t, params.bits) for t in terms(text, params))


@dataclass
class SparseRows:
    """A batch of sparse rows in CSR layout (what scipy.sparse.csr_matrix takes)."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    data: npt.NDArray[np.float32]
    n_features: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1


def count_rows(texts: Iterable[str], params: FeatureParams) -> SparseRows:
    """Raw (possibly sublinear) term frequencies of each text, not yet idf-weighted or normalised."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for text in texts:
        counts = term_counts(text, params)
        keys = sorted(counts)
        indices.extend(keys)
        if params.sublinear_tf:
            data.extend(1.0 + math.log(counts[k]) for k in keys)
        else:
            data.extend(float(counts[k]) for k in keys)
        indptr.append(len(indices))
    return SparseRows(
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=np.asarray(indices, dtype=np.int32),
        data=np.asarray(data, dtype=np.float32),
        n_features=params.n_features,
    )


def document_frequency(rows: SparseRows) -> npt.NDArray[np.int64]:
    """How many rows use each bucket."""
    return np.bincount(rows.indices, minlength=rows.n_features).astype(np.int64)


def smooth_idf(df: npt.NDArray[np.int64], n_docs: int) -> npt.NDArray[np.float32]:
    """scikit-learn's smoothed idf: ln((1 + n) / (1 + df)) + 1; unseen buckets get the maximum."""
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


def weight_rows(rows: SparseRows, idf: npt.NDArray[np.floating]) -> SparseRows:
    """Multiply by idf and L2-normalise every row (in a copy)."""
    data = rows.data * idf[rows.indices].astype(np.float32)
    lengths = np.diff(rows.indptr)
    squares = np.bincount(
        np.repeat(np.arange(rows.n_rows), lengths), weights=data * data, minlength=rows.n_rows
    )
    norms = np.sqrt(squares)
    norms[norms == 0] = 1.0  # an empty text stays an all-zero row
    scaled = (data / np.repeat(norms, lengths)).astype(np.float32)
    return SparseRows(rows.indptr.copy(), rows.indices.copy(), scaled, rows.n_features)


def featurize(texts: Sequence[str], params: FeatureParams, idf: npt.NDArray[np.floating]) -> SparseRows:
    """tf-idf, L2-normalised feature rows of `texts` (the input every linear head takes)."""
    return weight_rows(count_rows(texts, params), idf)


def linear_scores(
    rows: SparseRows, weights: npt.NDArray[np.floating], bias: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """`rows @ weights + bias` for a dense `(n_features, n_outputs)` weight matrix, in numpy."""
    contrib = rows.data[:, None].astype(np.float64) * weights[rows.indices].astype(np.float64)
    out = np.zeros((rows.n_rows, weights.shape[1]), dtype=np.float64)
    row_of = np.repeat(np.arange(rows.n_rows), np.diff(rows.indptr))
    np.add.at(out, row_of, contrib)
    return out + bias.astype(np.float64)[None, :]


# --- shipped artifacts ------------------------------------------------------------------------


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MB blocks (model files are tens of MB): what an artifact
    records of the files it was built from or with, and of the encoder files it reads."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


ARTIFACT_FORMAT = "dreamreel-linear-text/1"


class ArtifactError(ValueError):
    """A model artifact is missing, malformed, or was built for another feature space."""


@dataclass
class LinearTextModel:
    """A linear head over the hashed tf-idf features: what `emotion.npz` / `toxicity.npz` hold.

    `weights` has one column per output (the classes of a softmax head, or one column for a
    sigmoid head); `meta` is the JSON sidecar (classes, feature params, data hashes, metrics).
    """

    params: FeatureParams
    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    meta: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    def decision(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Raw linear scores, shape `(len(texts), n_outputs)`."""
        return linear_scores(featurize(texts, self.params, self.idf), self.weights, self.bias)

    def save(self, npz_path: Path, *, prune_below: float = 0.0) -> None:
        """Write `<name>.npz` (float16, only rows with a weight above `prune_below`) and `<name>.json`."""
        weights = np.where(np.abs(self.weights) >= prune_below, self.weights, 0.0)
        rows = np.flatnonzero(np.any(weights != 0, axis=1)).astype(np.int32)
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        with npz_path.open("wb") as fh:  # a file object keeps numpy from appending ".npz" twice
            np.savez_compressed(
                fh,
                idf=self.idf.astype(np.float16),
                rows=rows,
                weights=weights[rows].astype(np.float16),
                bias=self.bias.astype(np.float32),
            )
        meta = {**self.meta, "format": ARTIFACT_FORMAT, "features": self.params.to_dict()}
        meta["nonzero_rows"] = len(rows)
        npz_path.with_suffix(".json").write_text(
            json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, npz_path: Path) -> LinearTextModel:
        """Read an artifact pair written by `save`; raises `ArtifactError` when it does not fit this code."""
        json_path = npz_path.with_suffix(".json")
        if not npz_path.is_file() or not json_path.is_file():
            raise ArtifactError(
                f"model artifact {npz_path} (+ .json) not found; rebuild it with `make train-classifiers`"
            )
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(f"{json_path}: format {meta.get('format')!r}, expected {ARTIFACT_FORMAT!r}")
        params = FeatureParams(**meta["features"])
        if params.version != FeatureParams().version:
            raise ArtifactError(
                f"{json_path}: built for feature version {params.version}, this code has "
                f"{FeatureParams().version}; rebuild with `make train-classifiers`"
            )
        with np.load(npz_path, allow_pickle=False) as arrays:
            rows, packed = arrays["rows"], arrays["weights"]
            idf = arrays["idf"].astype(np.float32)
            bias = arrays["bias"].astype(np.float32)
        if idf.shape != (params.n_features,) or packed.shape[0] != rows.shape[0]:
            raise ArtifactError(f"{npz_path}: arrays do not match the feature space of {json_path}")
        weights = np.zeros((params.n_features, packed.shape[1]), dtype=np.float32)
        weights[rows] = packed
        return cls(params=params, idf=idf, weights=weights, bias=bias, meta=meta)
