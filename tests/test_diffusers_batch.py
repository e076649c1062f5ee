"""Segments sharing preset and adapter render in one pipeline call, within the memory budget."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from generation.base import ClipSpec
from generation.diffusers_backend import DiffusersBackend
from tests.tiny_models.fixtures import TinyModels, read_frames, tiny_models_fixture  # noqa: F401

BASE = ClipSpec(index=0, prompt="", caption="", emotion="fear", seed=0, width=16, height=16, num_frames=9, fps=8)
SCENES = [("a red door", "fear", 1), ("a long corridor", "fear", 2), ("a quiet lake", "neutral", 3), ("a shadow", "fear", 4)]


def specs() -> list[ClipSpec]:
    return [dataclasses.replace(BASE, index=i, prompt=p, emotion=e, seed=s) for i, (p, e, s) in enumerate(SCENES)]


def backend(tiny: TinyModels, **preset: object) -> DiffusersBackend:
    loras = {"wan": {"fear": {"path": str(tiny.lora("wan", "fear", seed=1))}}}
    return DiffusersBackend.from_settings("tiny", {"tiny": tiny.preset_table("wan", **preset)}, loras)


def test_batched_segments_match_one_by_one_and_keep_their_order(tiny_models: TinyModels, tmp_path: Path) -> None:
    batched = backend(tiny_models, max_batch=4)
    seen: list[float] = []
    outs = [tmp_path / f"b{i}.mp4" for i in range(4)]
    infos = batched.render_batch(specs(), outs, seen.append)
    assert batched.batch_sizes == [3, 1]  # the three fear scenes together, the neutral one alone
    assert [i.path for i in infos] == outs
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 4  # 2 steps x 2 calls

    single = backend(tiny_models, max_batch=1)
    for i, spec in enumerate(specs()):
        single.render_clip(spec, tmp_path / f"s{i}.mp4")
    assert single.batch_sizes == [1, 1, 1, 1]
    for i in range(4):
        a = read_frames(tmp_path / f"b{i}.mp4").astype(int)
        b = read_frames(tmp_path / f"s{i}.mp4").astype(int)
        assert np.abs(a - b).mean() < 0.5, f"scene {i} differs batched vs alone"
    # and the scenes are not all the same clip
    assert np.abs(read_frames(outs[0]).astype(int) - read_frames(outs[1]).astype(int)).mean() > 1


def test_memory_budget_limits_the_batch(tiny_models: TinyModels, tmp_path: Path) -> None:
    tight = backend(tiny_models, max_batch=4, segment_memory_mb=100, memory_budget_mb=250)
    tight.render_batch(specs(), [tmp_path / f"{i}.mp4" for i in range(4)])
    assert tight.batch_sizes == [2, 1, 1]  # fear: 2 + 1 (budget fits two), neutral: 1
