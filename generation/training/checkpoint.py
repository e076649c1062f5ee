"""Checkpoints that a run resumes from exactly.

    OUT/checkpoints/step-000015/
      pytorch_lora_weights.safetensors   the LoRA so far, diffusers format (loadable as a style too)
      optimizer.pt  scheduler.pt         AdamW moments and the lr schedule's position
      rng.pt                             the step RNG (noise, timesteps) and torch/numpy/python states
      state.json                         step, data position, first probe loss, the run's settings

A checkpoint is written to `step-N.tmp` and renamed when complete, so a run killed while saving
leaves the previous checkpoint as the latest. Only the newest `KEEP` are kept.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.training.base import TrainingError

KEEP = 3
LORA_FILE = "pytorch_lora_weights.safetensors"


@dataclass
class Checkpoint:
    """What `load_checkpoint` gives back to the trainer."""

    path: Path
    lora: dict[str, Any]  # peft state dict (keys without the denoiser prefix)
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]
    state: dict[str, Any]


def rng_state(step_generator: Any) -> dict[str, Any]:
    import numpy as np
    import torch

    state = {
        "step": step_generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], step_generator: Any) -> None:
    import numpy as np
    import torch

    step_generator.set_state(state["step"])
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step-{step:06d}"


def save_checkpoint(
    path: Path,
    *,
    write_lora: Any,  # callable(dir) writing LORA_FILE
    optimizer: Any,
    scheduler: Any,
    rng: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_lora(tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    for old in _complete(path.parent)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _complete(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp") and (p / "state.json").is_file())


def latest_checkpoint(out: Path) -> Path | None:
    found = _complete(out / "checkpoints")
    return found[-1] if found else None


def load_checkpoint(path: Path, denoiser_prefix: str) -> Checkpoint:
    import torch
    from safetensors.torch import load_file

    try:
        saved = load_file(str(path / LORA_FILE))
        prefix = denoiser_prefix + "."
        lora = {k[len(prefix) :]: v for k, v in saved.items() if k.startswith(prefix)}
        return Checkpoint(
            path=path,
            lora=lora,
            optimizer=torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True),
            scheduler=torch.load(path / "scheduler.pt", map_location="cpu", weights_only=True),
            # our own file: numpy and python RNG states are plain tuples, not tensors
            rng=torch.load(path / "rng.pt", map_location="cpu", weights_only=False),
            state=json.loads((path / "state.json").read_text(encoding="utf-8")),
        )
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise TrainingError(f"checkpoint {path} is unreadable ({err}); delete it to resume from an earlier one") from err
