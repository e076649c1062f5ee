"""Benchmark: seconds per LoRA training step and peak memory, against rendering in the same run.

    .venv/bin/python -m bench.bench_lora_train [--family wan|cogvideox|ltx|animatediff] [--steps 20]

On a tiny random pipeline built locally (no downloads), 9 frames at the tiny preset's size:
  render   a fresh process loads the pipeline and renders one clip: seconds per denoising step
           of the whole pipeline call (text encoding, guidance's two passes, VAE decode included)
           and its peak RSS: the serving reference;
  train    a fresh process runs `lora train` for --steps steps (batch 1, rank 16, latents cached
           beforehand): seconds per optimizer step, seconds per forward-only pass of the
           denoiser on the same micro-batch (the reference of the step), and its peak RSS.
Each side runs in its own process so the peak resident memory is that job's alone; on the tiny
model it is mostly the libraries (torch, diffusers), so the memory ratio only means something
on real weights. On a GPU `torch.cuda.max_memory_allocated` is printed too. A step is a forward
plus a backward through the denoiser with LoRA: expect about 2-3x a forward pass.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cuda_peak_mib() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def _child_render(root: Path, family: str) -> dict[str, Any]:
    from generation.base import ClipSpec
    from generation.diffusers_backend import DiffusersBackend
    from tests.tiny_models.fixtures import TinyModels

    table = TinyModels(root / "models").preset_table(family)
    backend = DiffusersBackend.from_settings("tiny", {"tiny": table})
    backend.load()
    spec = ClipSpec(index=0, prompt="a red corridor", caption="", emotion="fear", seed=1,
                    width=table["width"], height=table["height"], num_frames=9, fps=8)  # fmt: skip
    backend.render_frames(spec)  # warm-up
    started = time.perf_counter()
    runs = 5
    for _ in range(runs):
        backend.render_frames(spec)
    per_step = (time.perf_counter() - started) / (runs * table["steps"])
    return {"seconds_per_step": per_step, "peak_mib": _peak_mib(), "cuda_peak_mib": _cuda_peak_mib()}


def _child_train(root: Path, family: str, steps: int) -> dict[str, Any]:
    from generation.diffusers_backend import parse_preset
    from generation.training.trainer import TrainConfig, train_lora
    from tests.tiny_models.fixtures import TinyModels

    preset = parse_preset("tiny", TinyModels(root / "models").preset_table(family))
    common = {"preset": preset, "emotion": "fear", "data": root / "data", "rank": 16, "lr": 1e-3, "progress": False}
    train_lora(TrainConfig(out=root / "warm", steps=2, **common))  # builds the latent cache, warms up
    result = train_lora(TrainConfig(out=root / "run", steps=steps, **common))
    return {"seconds_per_step": result.seconds_per_step, "seconds_per_forward": result.seconds_per_forward,
            "peak_mib": _peak_mib(), "cuda_peak_mib": _cuda_peak_mib(),
            "first_loss": result.first_loss, "last_loss": result.last_loss}  # fmt: skip


def _setup(root: Path, family: str) -> None:
    """Build the tiny pipeline and a prepared dataset once (shared by both children)."""
    from generation.training.dataset import prepare_dataset
    from tests.lora_training_helpers import make_sources
    from tests.tiny_models.fixtures import TinyModels

    table = TinyModels(root / "models").preset_table(family)
    prepare_dataset(make_sources(root), root / "data", family=family, width=table["width"],
                    height=table["height"], frames=9, fps=8)  # fmt: skip


def _run_child(kind: str, root: Path, family: str, steps: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_lora_train", "--child", kind, "--root", str(root),
           "--family", family, "--steps", str(steps)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="wan", choices=["wan", "cogvideox", "ltx", "animatediff"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child", choices=["render", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    if args.child:
        import torch

        torch.set_num_threads(1)
        if args.child == "render":
            out = _child_render(args.root, args.family)
        else:
            out = _child_train(args.root, args.family, args.steps)
        print(json.dumps(out))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        import torch

        torch.set_num_threads(1)
        _setup(root, args.family)
        render = _run_child("render", root, args.family, args.steps)
        train = _run_child("train", root, args.family, args.steps)

    print(f"family {args.family} (tiny random pipeline, 9 frames, rank 16, batch 1, one CPU thread):")
    print(f"  render  {render['seconds_per_step'] * 1e3:8.1f} ms per denoising step   peak RSS {render['peak_mib']:7.1f} MiB")
    print(f"  train   {train['seconds_per_step'] * 1e3:8.1f} ms per optimizer step    peak RSS {train['peak_mib']:7.1f} MiB")
    print(f"  forward {train['seconds_per_forward'] * 1e3:8.1f} ms per denoiser forward (no grad, same micro-batch)")
    print(f"  train step / forward = {train['seconds_per_step'] / train['seconds_per_forward']:.1f}x   "
          f"train step / render step = {train['seconds_per_step'] / render['seconds_per_step']:.2f}x   "
          f"train peak / render peak = {train['peak_mib'] / render['peak_mib']:.2f}x")  # fmt: skip
    if train["cuda_peak_mib"] is not None:
        print(f"  CUDA peak: train {train['cuda_peak_mib']:.1f} MiB, render {render['cuda_peak_mib']:.1f} MiB")
    print(f"  probe loss {train['first_loss']:.4f} -> {train['last_loss']:.4f} over {args.steps} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
