"""Finding and loading model weights: local directories or the Hugging Face cache, never the network.

Rendering never downloads. A model that is neither a local directory nor in the hub cache fails
fast with `ModelNotFoundError`, whose message names the command that fetches it
(`dreamreel models download PRESET`). Downloading is an explicit, separate step (models_cli).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from generation.base import GenerationError
from generation.diffusers_backend.presets import Preset

logger = logging.getLogger(__name__)

INSTALL_HINT = "install the ml extra: pip install 'dreamreel[ml]' (torch first, see the README)"


class ModelNotFoundError(GenerationError, FileNotFoundError):
    """Weights are not on this machine; the message names the command that fetches them."""


def require_torch() -> tuple[ModuleType, ModuleType]:
    """Import torch and diffusers, or fail with an install hint."""
    try:
        import diffusers
        import torch
    except ImportError as err:  # pragma: no cover - the test env has them
        raise GenerationError(
            f"the diffusers backend needs torch and diffusers ({err}); {INSTALL_HINT}"
        ) from err
    return torch, diffusers


def _looks_local(ref: str) -> bool:
    """Hub ids are `org/name`; anything else with path syntax is meant as a local directory."""
    return ref.startswith(("/", ".", "~")) or ref.count("/") > 1


def resolve_model(
    ref: str,
    *,
    preset_name: str,
    revision: str | None = None,
    cache_dir: str | None = None,
    what: str = "model",
    allow_file: bool = False,
) -> Path:
    """Return the local directory holding `ref` (a directory or hub id) without any network access.

    `allow_file` also accepts an existing local file (a single-file motion adapter).

    Raises `ModelNotFoundError` naming `dreamreel models download PRESET` when it is missing.
    """
    path = Path(ref).expanduser()
    if path.is_dir() or (allow_file and path.is_file()):
        return path
    fetch = f"run `dreamreel models download {preset_name}` on a machine with internet"
    if path.exists() or _looks_local(ref):
        raise ModelNotFoundError(
            f"{what} {ref!r} of preset {preset_name!r} is not a directory; {fetch} or fix the path"
        )
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as err:  # pragma: no cover
        raise GenerationError(f"huggingface_hub is missing; {INSTALL_HINT}") from err
    try:
        return Path(snapshot_download(ref, revision=revision, cache_dir=cache_dir, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as err:
        raise ModelNotFoundError(
            f"{what} {ref!r} of preset {preset_name!r} is not in the Hugging Face cache "
            f"({cache_dir or os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME', '~/.cache/huggingface')}); {fetch}"
        ) from err


def model_refs(preset: Preset) -> dict[str, str]:
    """Every model a preset needs, by role (model, motion_adapter, keyframe_model, i2v_model)."""
    refs = {"model": preset.model}
    if preset.motion_adapter:
        refs["motion_adapter"] = preset.motion_adapter
    if preset.keyframe_model:
        refs["keyframe_model"] = preset.keyframe_model
    if preset.i2v_model and preset.i2v_model != preset.model:
        refs["i2v_model"] = preset.i2v_model
    return refs


def weights_present(preset: Preset) -> dict[str, bool]:
    """Which of the preset's models are on this machine (no network)."""
    present: dict[str, bool] = {}
    for role, ref in model_refs(preset).items():
        try:
            resolve_model(
                ref, preset_name=preset.name, revision=preset.revision, cache_dir=preset.cache_dir, what=role
            )
            present[role] = True
        except ModelNotFoundError:
            present[role] = False
    return present


def pick_device(preset: Preset) -> str:
    """`auto` means the first CUDA device when there is one, else CPU."""
    if preset.device != "auto":
        return preset.device
    torch, _ = require_torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(preset: Preset, device: str) -> Any:
    """`auto`: float16 on GPU (bfloat16 for Wan/LTX/CogVideoX transformers), float32 on CPU."""
    torch, _ = require_torch()
    if preset.dtype != "auto":
        return getattr(torch, preset.dtype)
    if device.startswith("cpu"):
        return torch.float32
    return torch.float16 if preset.family in ("animatediff", "svd") else torch.bfloat16


def apply_memory_options(pipe: Any, preset: Preset, device: str) -> Any:
    """Move to the device or offload, and enable VAE slicing/tiling as the preset asks."""
    vae = getattr(pipe, "vae", None)
    if preset.vae_slicing and vae is not None and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    if preset.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if preset.cpu_offload and not device.startswith("cpu"):
        pipe.enable_model_cpu_offload(device=device)
    else:
        if preset.cpu_offload:
            logger.warning("preset %s: cpu_offload ignored on %s", preset.name, device)
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
