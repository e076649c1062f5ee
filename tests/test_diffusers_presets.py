"""Presets and the LoRA registry: validated from plain settings tables before any job starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from generation.diffusers_backend import (
    FAMILY_RULES,
    LoraError,
    LoraRegistry,
    PresetError,
    backend_from_settings,
    parse_preset,
    parse_presets,
)

REPO = Path(__file__).resolve().parent.parent
WAN = {"family": "wan", "model": "/models/wan-1.3b", "width": 832, "height": 480, "num_frames": 33, "fps": 16}


def test_the_issue_example_parses_from_a_toml_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dreamreel.settings import load_settings

    config = tmp_path / "dreamreel.toml"
    config.write_text(
        """
[video]
preset = "my-wan"

[presets.my-wan]
family = "wan"
model = "/models/wan-1.3b"
width = 832
height = 480
num_frames = 33
fps = 16
steps = 30
guidance = 5.0

[loras.wan.fear]
path = "/loras/wan-fear"
weight = 0.8
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("DREAMREEL_CONFIG", str(config))
    settings = load_settings()
    presets = parse_presets(settings.presets)
    wan = presets[settings.video.preset]
    assert (wan.family, wan.width, wan.height, wan.num_frames, wan.steps, wan.guidance) == ("wan", 832, 480, 33, 30, 5.0)
    registry = LoraRegistry.from_settings(wan.family, settings.loras)
    assert registry.activation("fear").names == ("fear",)
    assert registry.activation("fear").weights == (0.8,)
    assert registry.activation("joy").names == ()


@pytest.mark.parametrize(
    ("family", "frames", "rule"),
    [("wan", 32, "4k+1"), ("ltx", 35, "8k+1"), ("cogvideox", 48, "4k+1"), ("animatediff", 40, "between 1 and 32")],
)
def test_frame_counts_the_model_cannot_take_are_refused_with_the_rule(family: str, frames: int, rule: str) -> None:
    table = {"family": family, "model": "org/model", "width": 512, "height": 512, "num_frames": frames}
    if family == "animatediff":
        table["motion_adapter"] = "org/adapter"
    with pytest.raises(PresetError) as err:
        parse_preset("p", table)
    assert rule in str(err.value)
    assert f"num_frames {frames}" in str(err.value)


@pytest.mark.parametrize(("family", "good"), [("wan", 33), ("ltx", 97), ("cogvideox", 49), ("svd", 14)])
def test_frame_counts_of_the_family_rule_are_accepted(family: str, good: int) -> None:
    table = {"family": family, "model": "org/model", "width": 512, "height": 512, "num_frames": good}
    if family == "svd":
        table["keyframe_model"] = "org/sd"
    assert parse_preset("p", table).num_frames == good


def test_sizes_must_be_multiples_the_family_needs_and_the_message_suggests_sizes() -> None:
    with pytest.raises(PresetError) as err:
        parse_preset("p", {**WAN, "width": 830})
    msg = str(err.value)
    assert "width 830 is not a multiple of 16" in msg and "816" in msg and "832" in msg
    assert "Known good: 832x480" in msg
    with pytest.raises(PresetError, match="height 500 is not a multiple of 32"):
        parse_preset("p", {"family": "ltx", "model": "x/y", "width": 704, "height": 500, "num_frames": 97})
    assert FAMILY_RULES["ltx"].size_multiple == 32


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("guidance", -1.0, "guidance"),
        ("steps", 0, "steps"),
        ("motion_bucket_id", 300, "motion_bucket_id"),
        ("noise_aug_strength", 1.5, "noise_aug_strength"),
        ("dtype", "float8", "dtype"),
        ("colour", "red", "colour"),  # unknown keys are typos, not silently ignored
    ],
)
def test_values_out_of_range_are_refused_naming_the_field(key: str, value: object, needle: str) -> None:
    with pytest.raises(PresetError) as err:
        parse_preset("p", {**WAN, key: value})
    assert needle in str(err.value)
    assert "invalid preset 'p'" in str(err.value)


def test_family_specific_models_are_required() -> None:
    with pytest.raises(PresetError, match="motion_adapter"):
        parse_preset("a", {"family": "animatediff", "model": "x/sd15"})
    with pytest.raises(PresetError, match="keyframe_model"):
        parse_preset("s", {"family": "svd", "model": "x/svd", "width": 1024, "height": 576, "num_frames": 14})
    with pytest.raises(PresetError, match="animatediff, wan, ltx, cogvideox, svd"):
        parse_preset("z", {"family": "sora", "model": "x/y"})


def test_batch_size_is_capped_by_the_memory_budget() -> None:
    p = parse_preset("p", {**WAN, "max_batch": 4, "segment_memory_mb": 3000, "memory_budget_mb": 10000})
    assert p.batch_size() == 3
    assert parse_preset("p", {**WAN, "max_batch": 4}).batch_size() == 4  # no budget: max_batch
    tight = parse_preset("p", {**WAN, "max_batch": 4, "memory_budget_mb": 1})
    assert tight.batch_size() == 1  # never below one segment


def test_overrides_are_validated_again() -> None:
    p = parse_preset("p", WAN)
    assert p.with_overrides({"guidance": 3.0}).guidance == 3.0
    with pytest.raises(PresetError, match="guidance"):
        p.with_overrides({"guidance": -2})


def test_lora_entries_are_validated() -> None:
    with pytest.raises(LoraError, match="overrides may change only"):
        LoraRegistry.from_settings("wan", {"wan": {"fear": {"path": "/l", "overrides": {"width": 64}}}})
    with pytest.raises(LoraError, match="not both"):
        LoraRegistry.from_settings("wan", {"wan": {"fear": {"path": "/l", "mix": {"joy": 1.0}}}})
    with pytest.raises(LoraError, match="has no LoRA path"):
        LoraRegistry.from_settings("wan", {"wan": {"dread": {"mix": {"fear": 0.5}}}})
    with pytest.raises(LoraError, match=r"loras\.wan\.fear"):
        LoraRegistry.from_settings("wan", {"wan": {"fear": {"path": "/l", "weigth": 0.5}}})


def test_mix_activation_and_other_families_ignored() -> None:
    table: dict[str, dict[str, dict[str, Any]]] = {
        "wan": {
            "fear": {"path": "/l/fear", "weight": 0.7},
            "sadness": {"path": "/l/sad"},
            "surprise": {"mix": {"fear": 0.6, "sadness": 0.4}},
            "neutral": {"prompt_suffix": "calm"},
        },
        "ltx": {"joy": {"path": "/l/joy"}},
    }
    reg = LoraRegistry.from_settings("wan", table)
    assert set(reg.adapters()) == {"fear", "sadness"}
    mix = reg.activation("surprise")
    assert (mix.names, mix.weights, mix.label) == (("fear", "sadness"), (0.6, 0.4), "fear+sadness")
    assert reg.activation("neutral").label is None
    assert reg.get("joy") is None


def test_backend_from_settings_validates_without_importing_torch() -> None:
    backend, params = backend_from_settings("my-wan", {"my-wan": WAN}, {"wan": {"fear": {"path": "/l/fear"}}})
    assert params == {"width": 832, "height": 480, "num_frames": 33, "fps": 16}
    assert backend.lora_for("fear") == ("fear", 0.8)
    assert backend.lora_for("joy") is None
    with pytest.raises(PresetError, match="no preset named 'other'"):
        backend_from_settings("other", {"my-wan": WAN})
    # in a fresh interpreter: building and validating the backend imports no torch/diffusers
    code = (
        "import sys; from generation.diffusers_backend import backend_from_settings; "
        f"b, _ = backend_from_settings('w', {{'w': {WAN!r}}}); b.lora_for('fear'); "
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'heavy import'"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
