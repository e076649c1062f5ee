"""`dreamreel models list|download` behind `generation.models_cli.models_main` (no network here)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from generation.models_cli import models_main
from tests.tiny_models.fixtures import TinyModels, tiny_models_fixture  # noqa: F401


def run(argv: list[str], presets: dict, loras: dict | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = models_main(argv, presets, loras, out=out)
    return code, out.getvalue()


def test_list_shows_presets_and_whether_weights_are_present(tiny_models: TinyModels, tmp_path: Path) -> None:
    presets = {
        "tiny-wan": tiny_models.preset_table("wan"),
        "big-wan": {
            "family": "wan",
            "model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "cache_dir": str(tmp_path / "hub"),
            "width": 832,
            "height": 480,
            "num_frames": 33,
        },
        "broken": {"family": "ltx", "model": "x/y", "num_frames": 10},
    }
    loras = {
        "wan": {"fear": {"path": str(tiny_models.lora("wan", "fear", seed=1))}, "joy": {"path": "/nope/joy"}}
    }
    code, text = run(["list"], presets, loras)
    assert code == 0
    assert "preview" in text
    tiny = text.split("tiny-wan")[1]
    assert "present" in tiny.splitlines()[1]
    assert "Wan2.1-T2V-1.3B-Diffusers  MISSING (dreamreel models download big-wan)" in text
    assert "broken  INVALID" in text and "8k+1" in text
    assert "fear ok, joy missing" in text


def test_download_refuses_unknown_presets_and_offline_machines(
    tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = run(["download", "nope"], {"a": tiny_models.preset_table("wan")})
    assert code == 2 and "no preset named 'nope'" in text
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = {
        "family": "wan",
        "model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        "width": 832,
        "height": 480,
        "num_frames": 33,
    }
    code, text = run(["download", "big"], {"big": hub})
    assert code == 1 and "HF_HUB_OFFLINE" in text


def test_download_of_a_local_preset_only_checks_paths(tiny_models: TinyModels) -> None:
    code, text = run(["download", "tiny"], {"tiny": tiny_models.preset_table("wan")})
    assert code == 0 and "nothing to download" in text
    missing = {**tiny_models.preset_table("wan"), "model": "/nowhere/wan"}
    code, text = run(["download", "gone"], {"gone": missing})
    assert code == 1 and "/nowhere/wan does not exist" in text


def test_download_plan_fetches_single_files_alone() -> None:
    from generation.diffusers_backend import LoraRegistry, parse_preset
    from generation.models_cli import Fetch, download_plan

    lightning = parse_preset(
        "lightning",
        {
            "family": "animatediff",
            "model": "emilianJR/epiCRealism",
            "motion_adapter": "ByteDance/AnimateDiff-Lightning",
            "motion_adapter_file": "animatediff_lightning_4step_diffusers.safetensors",
        },
    )
    loras = {"animatediff": {"fear": {"path": "someone/sd-loras", "weight_name": "fear.safetensors"}}}
    plan = download_plan(lightning, LoraRegistry.from_settings("animatediff", loras))
    assert plan == [
        Fetch("model", "emilianJR/epiCRealism"),
        Fetch("motion_adapter", "ByteDance/AnimateDiff-Lightning", None,
              ("animatediff_lightning_4step_diffusers.safetensors", "*.json")),
        Fetch("lora fear", "someone/sd-loras", None, ("fear.safetensors",)),
    ]  # fmt: skip
