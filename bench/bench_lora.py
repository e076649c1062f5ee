"""Benchmark: switching an emotion LoRA vs rebuilding the pipeline and loading the LoRA.

    .venv/bin/python bench/bench_lora.py [--family wan|animatediff] [--switches 40] [--rebuilds 3]

All on tiny random pipelines built locally (no downloads), in one run:
  switch    LoraSwitcher.apply: set_adapters between two loaded adapters (what a segment costs)
  reload    unload_lora_weights + load_lora_weights of the next adapter into the same pipeline
  rebuild   a new pipeline from_pretrained + every LoRA loaded (what "rebuild per style" costs)
Tiny models load in milliseconds, so the rebuild ratio here is a floor: real checkpoints take
seconds to minutes to load while a switch stays the same size.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.diffusers_backend import Activation, DiffusersBackend
from tests.tiny_models.fixtures import TinyModels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--family", default="wan", choices=["wan", "animatediff", "ltx", "cogvideox"])
    parser.add_argument("--switches", type=int, default=40)
    parser.add_argument("--rebuilds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = TinyModels(Path(tmp))
        loras = {
            args.family: {
                "fear": {"path": str(tiny.lora(args.family, "fear", seed=1))},
                "sadness": {"path": str(tiny.lora(args.family, "sadness", seed=2))},
            }
        }
        presets = {"tiny": tiny.preset_table(args.family)}

        backend = DiffusersBackend.from_settings("tiny", presets, loras)
        backend.load()
        switcher = backend.switcher
        acts = [Activation(("fear",), (0.8,)), Activation(("sadness",), (0.8,))]
        switch_times = []
        for i in range(args.switches):
            started = time.perf_counter()
            switcher.apply(acts[i % 2])
            switch_times.append(time.perf_counter() - started)

        pipe = switcher.pipe
        reload_times = []
        for i in range(max(3, args.rebuilds)):
            name = ["fear", "sadness"][i % 2]
            started = time.perf_counter()
            pipe.unload_lora_weights()
            pipe.load_lora_weights(loras[args.family][name]["path"], adapter_name=name, local_files_only=True)
            reload_times.append(time.perf_counter() - started)

        rebuild_times = []
        for _ in range(args.rebuilds):
            started = time.perf_counter()
            fresh = DiffusersBackend.from_settings("tiny", presets, loras)
            fresh.load()
            fresh.switcher.apply(acts[0])
            rebuild_times.append(time.perf_counter() - started)

    switch = statistics.median(switch_times)
    reload = statistics.median(reload_times)
    rebuild = statistics.median(rebuild_times)
    print(f"family {args.family} (tiny random pipeline, 2 LoRAs of rank 4), medians:")
    print(f"  switch   {switch * 1e3:9.3f} ms  (set_adapters, n={len(switch_times)})")
    print(f"  reload   {reload * 1e3:9.3f} ms  (unload + load_lora_weights, n={len(reload_times)})")
    print(f"  rebuild  {rebuild * 1e3:9.3f} ms  (from_pretrained + load every LoRA, n={len(rebuild_times)})")
    print(f"  rebuild / switch = {rebuild / switch:.0f}x   reload / switch = {reload / switch:.0f}x")

    return 0


if __name__ == "__main__":
    sys.exit(main())
