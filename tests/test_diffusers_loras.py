"""Emotion LoRAs through the registry: loaded once, switched per segment, reproducible.

Adapters are random (`LoraConfig(init_lora_weights=False)`) and saved in the diffusers LoRA format,
so loading them exercises the same path as a downloaded style LoRA.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generation.base import ClipSpec, ClipStyle
from generation.diffusers_backend import DiffusersBackend, LoraError
from tests.tiny_models.fixtures import TinyModels, tiny_models_fixture  # noqa: F401

FAMILIES = ["animatediff", "wan"]
SPEC = ClipSpec(
    index=0,
    prompt="a staircase that never ends",
    caption="",
    emotion="fear",
    seed=11,
    width=16,
    height=16,
    num_frames=9,
    fps=8,
    style=ClipStyle(name="fear", prompt_suffix="style table suffix", negative_prompt="gore"),
)


def lora_table(tiny: TinyModels, family: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        family: {
            "fear": {
                "path": str(tiny.lora(family, "fear", seed=1)),
                "weight": 1.0,
                "trigger_words": ["fearstyle"],
                "prompt_suffix": "eerie fog",
                "negative_prompt": "bright",
            },
            # a .safetensors file path works as well as a directory
            "sadness": {
                "path": str(tiny.lora(family, "sadness", seed=2) / "pytorch_lora_weights.safetensors")
            },
            "surprise": {"mix": {"fear": 0.5, "sadness": 0.5}},
            "neutral": {"prompt_suffix": "calm morning"},  # no LoRA: adapters disabled
        }
    }


@pytest.fixture(scope="module", params=FAMILIES)
def styled(
    request: pytest.FixtureRequest, tiny_models: TinyModels
) -> tuple[DiffusersBackend, DiffusersBackend]:
    """A backend with every emotion LoRA loaded, and one of the same model without any."""
    family = request.param
    table = {"tiny": tiny_models.preset_table(family)}
    with_loras = DiffusersBackend.from_settings("tiny", table, lora_table(tiny_models, family))
    plain = DiffusersBackend.from_settings("tiny", table)
    return with_loras, plain


def frames(backend: DiffusersBackend, emotion: str, seed: int = 11) -> np.ndarray:
    return np.asarray(backend.render_frames(dataclasses.replace(SPEC, emotion=emotion, seed=seed)))


def test_every_adapter_is_loaded_once_under_its_emotion(
    styled: tuple[DiffusersBackend, DiffusersBackend],
) -> None:
    backend, _ = styled
    backend.load()
    pipe = backend.switcher.pipe
    adapters = {name for names in pipe.get_list_adapters().values() for name in names}
    assert adapters == {"fear", "sadness"}
    assert backend.switcher.loaded == ["fear", "sadness"]


def test_different_adapters_give_different_frames(styled: tuple[DiffusersBackend, DiffusersBackend]) -> None:
    backend, _ = styled
    fear, sadness, mixed = frames(backend, "fear"), frames(backend, "sadness"), frames(backend, "surprise")
    assert np.abs(fear - sadness).max() > 1e-3
    assert np.abs(mixed - fear).max() > 1e-4 and np.abs(mixed - sadness).max() > 1e-4


def test_same_adapter_and_seed_give_identical_frames(
    styled: tuple[DiffusersBackend, DiffusersBackend],
) -> None:
    backend, _ = styled
    assert np.array_equal(frames(backend, "fear"), frames(backend, "fear"))


def test_switching_a_b_a_returns_to_a_exactly_without_reloading(
    styled: tuple[DiffusersBackend, DiffusersBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, _ = styled
    first = frames(backend, "fear")
    pipe = backend.switcher.pipe

    def no_reload(*args: object, **kwargs: object) -> None:
        raise AssertionError("switching must not load weights again")

    monkeypatch.setattr(pipe, "load_lora_weights", no_reload)
    frames(backend, "sadness")
    frames(backend, "neutral")
    assert np.array_equal(frames(backend, "fear"), first)
    assert backend.switcher.pipe is pipe


def test_emotion_without_lora_equals_the_base_model(
    styled: tuple[DiffusersBackend, DiffusersBackend],
) -> None:
    backend, plain = styled
    frames(backend, "fear")  # an adapter was active before
    # joy has no registry entry: adapters disabled and the same prompt as the plain model
    assert backend.plan(dataclasses.replace(SPEC, emotion="joy")).prompt == plain.plan(SPEC).prompt
    assert np.array_equal(frames(backend, "joy"), frames(plain, "joy"))
    assert np.abs(frames(backend, "fear") - frames(plain, "fear")).max() > 1e-3


def test_prompt_gets_trigger_words_and_suffix_and_lora_for_reports_it(
    styled: tuple[DiffusersBackend, DiffusersBackend],
) -> None:
    backend, plain = styled
    fear = backend.plan(SPEC)
    assert fear.prompt == "fearstyle, a staircase that never ends, eerie fog"
    assert fear.negative_prompt == "bright"
    neutral = backend.plan(dataclasses.replace(SPEC, emotion="neutral"))
    assert neutral.prompt.endswith("calm morning") and neutral.activation.names == ()
    # without a registry entry the style table's suffix and negative prompt apply
    assert plain.plan(SPEC).prompt == "a staircase that never ends, style table suffix"
    assert plain.plan(SPEC).negative_prompt == "gore"
    assert backend.lora_for("fear") == ("fear", 1.0)
    assert backend.lora_for("sadness") == ("sadness", 0.8)
    assert backend.lora_for("surprise") == ("fear@0.5+sadness@0.5", 1.0)
    assert backend.lora_for("neutral") is None


def test_overrides_change_the_segment_preset(tiny_models: TinyModels, tmp_path: Path) -> None:
    loras = {
        "wan": {"fear": {"path": str(tiny_models.lora("wan", "fear", seed=1)), "overrides": {"steps": 3}}}
    }
    backend = DiffusersBackend.from_settings("tiny", {"tiny": tiny_models.preset_table("wan")}, loras)
    seen: list[float] = []
    backend.render_clip(SPEC, tmp_path / "fear.mp4", seen.append)
    assert len(seen) == 3  # the override's step count, not the preset's 2


def test_a_lora_for_another_model_fails_with_a_clear_error(tiny_models: TinyModels) -> None:
    loras = {"wan": {"fear": {"path": str(tiny_models.lora("ltx", "fear", seed=1))}}}
    backend = DiffusersBackend.from_settings("tiny", {"tiny": tiny_models.preset_table("wan")}, loras)
    with pytest.raises(LoraError, match="cannot load LoRA for wan/fear"):
        backend.load()
