"""Session-scoped tiny pipelines and LoRAs, built once per test run (import the fixtures you use).

    from tests.tiny_models.fixtures import TinyModels, tiny_models_fixture  # noqa: F401

and take `tiny_models: TinyModels` as a test argument.

`tiny_models` builds lazily: a family's pipeline is only made when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tiny_models import builders

# Small enough for one CPU thread in well under a second per clip.
TINY_PRESET: dict[str, dict[str, Any]] = {
    "animatediff": {"width": 32, "height": 32},
    "wan": {"width": 16, "height": 16, "max_sequence_length": 16},
    "ltx": {"width": 32, "height": 32, "max_sequence_length": 16},
    "cogvideox": {"width": 16, "height": 16, "max_sequence_length": 16},
    "svd": {"width": 32, "height": 32, "decode_chunk_size": 3},
}
# Which denoiser a family's LoRAs are made for (AnimateDiff and SVD key frames take SD LoRAs).
LORA_KIND = {"animatediff": "sd", "svd": "sd", "wan": "wan", "ltx": "ltx", "cogvideox": "cogvideox"}


class TinyModels:
    """Builds tiny pipelines and LoRAs on first use and remembers their directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    def _once(self, key: str, make: Callable[[], Path]) -> Path:
        if key not in self._built:
            self._built[key] = make()
        return self._built[key]

    def sd(self) -> Path:
        return self._once("sd", lambda: builders.build_sd(self.root))

    def motion_adapter(self) -> Path:
        return self._once("motion_adapter", lambda: builders.build_motion_adapter(self.root))

    def model(self, family: str) -> Path:
        """The saved pipeline directory of `family` (the SD base for AnimateDiff)."""
        if family == "animatediff":
            return self.sd()
        make = {
            "wan": builders.build_wan,
            "ltx": builders.build_ltx,
            "cogvideox": builders.build_cogvideox,
            "svd": builders.build_svd,
        }[family]
        return self._once(family, lambda: make(self.root))

    def i2v_model(self, family: str) -> Path:
        """The saved image-to-video pipeline of `family` (wan, cogvideox; LTX and SVD use `model`)."""
        make = {"wan": builders.build_wan_i2v, "cogvideox": builders.build_cogvideox_i2v}[family]
        return self._once(f"{family}_i2v", lambda: make(self.root))

    def lora(self, family: str, name: str, seed: int) -> Path:
        """A random LoRA for the family's denoiser (different seeds, different adapters)."""
        kind = LORA_KIND[family]
        base = self.sd() if kind == "sd" else self.model(family)
        out = self.root / "loras" / f"{kind}-{name}"
        return self._once(f"lora-{kind}-{name}", lambda: builders.save_tiny_lora(kind, base, out, seed))

    def preset_table(self, family: str, **overrides: Any) -> dict[str, Any]:
        """A `[presets.X]` table pointing at the tiny pipeline: 9 frames, 2 steps."""
        table: dict[str, Any] = {
            "family": family,
            "model": str(self.model(family)),
            "num_frames": 9,
            "fps": 8,
            "steps": 2,
            "guidance": 2.0,
            **TINY_PRESET[family],
        }
        if family == "animatediff":
            table["motion_adapter"] = str(self.motion_adapter())
        if family == "svd":
            table["keyframe_model"] = str(self.sd())
        table.update(overrides)
        return table


@pytest.fixture(scope="session", name="tiny_models")
def tiny_models_fixture(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pytest.skip("torch is not installed (pip install 'dreamreel[ml]')")
    return TinyModels(tmp_path_factory.mktemp("tiny_models"))


def read_frames(path: Path) -> np.ndarray:
    """Decode an mp4 into uint8 frames (F, H, W, 3), as the quality scores decode it."""
    from generation.quality import read_frames as decode

    return decode(path).pixels


class PipeSpy:
    """Wraps a real pipeline: every call goes through unchanged and its arguments are kept."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[Any] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        out = self.pipe(**kwargs)
        self.outputs.append(out)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)
