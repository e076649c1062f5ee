"""Loading the feature models of the model-based scorers: local folders or the HF cache only."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from generation.base import GenerationError

INSTALL_HINT = "install the ml extra: pip install 'dreamreel[ml]' (torch first, see the README)"


class QualityModelMissing(GenerationError, FileNotFoundError):
    """A scorer's model is not on this machine; the message says how to fetch it."""


def require_torch() -> ModuleType:
    """Import torch (transformers is imported by the caller), or fail with an install hint."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as err:  # pragma: no cover - the test env has them
        raise GenerationError(
            f"model-based quality scores need torch and transformers ({err}); {INSTALL_HINT}"
        ) from err
    return torch


def load_local(loader: Callable[..., Any], ref: str, *, what: str, setting: str) -> Any:
    """`loader.from_pretrained(ref)` without network access (local folder or Hugging Face cache).

    Raises QualityModelMissing naming the command that fetches `ref` and the setting to change.
    """
    try:
        return loader(ref, local_files_only=True)
    except (OSError, ValueError) as err:  # huggingface_hub's HFValidationError is a ValueError
        raise QualityModelMissing(
            f"{what} {ref!r} is not available locally; fetch it once with `hf download {ref}` "
            f"on a machine with internet, or point `{setting}` at a local folder ({err})"
        ) from err
