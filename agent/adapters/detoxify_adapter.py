"""Toxicity from a detoxify checkpoint, loaded from local files only.

detoxify's own loader has a trap: whatever `huggingface_config_path` says, it first calls
``<Config>.from_pretrained(model_type)`` with the checkpoint's ``config.arch.args.model_type``
(``bert-base-uncased``, ``unitary/...``), which reaches the Hugging Face hub. So this adapter reads
the checkpoint itself, rewrites ``model_type`` to the local config folder, and hands the rewritten
arguments to detoxify's `get_model_and_tokenizer`; the number of classes comes from the checkpoint,
so a config folder saved from the base model (``num_labels=2``) still fits. Prediction is
detoxify's own `Detoxify.predict`.

`config_dir` holds the base model's ``config.json`` and tokenizer files, e.g. saved once with
``AutoConfig/AutoTokenizer.from_pretrained("bert-base-uncased").save_pretrained(dir)``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_INSTALL_HINT = "the detoxify classifier needs torch, transformers and detoxify: pip install 'dreamreel[ml]'"
# detoxify's own renaming, so every checkpoint reports the same class names
_CLASS_NAMES = {"toxic": "toxicity", "identity_hate": "identity_attack", "severe_toxic": "severe_toxicity"}


class DetoxifyClassifier:
    """`ToxicityClassifier` over a local detoxify checkpoint; `score` is its `toxicity` class."""

    name = "detoxify"

    def __init__(self, checkpoint: Path, config_dir: Path, device: str = "cpu") -> None:
        try:
            import torch
            from detoxify import Detoxify
            from detoxify.detoxify import get_model_and_tokenizer
        except ImportError as e:
            raise ImportError(_INSTALL_HINT) from e

        checkpoint, config_dir = Path(checkpoint), Path(config_dir)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"detoxify checkpoint not found: {checkpoint}")
        if not (config_dir / "config.json").is_file():
            raise FileNotFoundError(f"detoxify config folder {config_dir} has no config.json")
        loaded = torch.load(checkpoint, map_location=device, weights_only=False)
        if "config" not in loaded or "state_dict" not in loaded:
            raise ValueError(f"{checkpoint} is not a detoxify checkpoint (needs 'config' and 'state_dict')")
        args: dict[str, Any] = dict(loaded["config"]["arch"]["args"])
        log.info("detoxify: loading %s with %s from %s", args.get("model_name"), args.get("model_type"), config_dir)
        args["model_type"] = str(config_dir)  # the trap: never let detoxify look this up on the hub
        model, tokenizer = get_model_and_tokenizer(**args, state_dict=loaded["state_dict"])

        # A Detoxify without its loader (which would read the checkpoint again, from the hub's names).
        self._detoxify: Any = Detoxify.__new__(Detoxify)
        self._detoxify.model = model.to(device)
        self._detoxify.tokenizer = tokenizer
        self._detoxify.class_names = [
            _CLASS_NAMES.get(c, c) for c in loaded["config"]["dataset"]["args"]["classes"]
        ]
        self._detoxify.device = device

    @property
    def class_names(self) -> list[str]:
        return list(self._detoxify.class_names)

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        """Every class's score (sigmoid, 0..1) for each text, in order."""
        if not texts:
            return []
        raw = self._detoxify.predict(list(texts))
        # detoxify squeezes a batch of one into plain floats
        columns = {k: v if isinstance(v, list) else [v] for k, v in raw.items()}
        return [{k: float(v[i]) for k, v in columns.items()} for i in range(len(texts))]

    def score(self, texts: list[str]) -> list[float]:
        """Probability that each text is toxic: the `toxicity` class, else the highest class."""
        return [row.get("toxicity", max(row.values())) for row in self.predict(texts)]
