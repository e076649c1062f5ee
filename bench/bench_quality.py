"""Benchmark: what judging a clip costs, as a share of rendering it.

    .venv/bin/python -m bench.bench_quality [--clips 5]

In one run, per clip, median over `--clips` clips of different seeds:
  render    the backend writes the clip (the preview renderer at its default 480x270, 36 frames;
            a tiny random Wan pipeline from tests/tiny_models, 9 frames, 2 steps)
  score     generation.quality.score_clip on the file: decode + sharpness + temporal + colour
            (the weight-free metrics the quality gate runs on every clip)
and prints score / render. The tiny model renders in well under a second, so its ratio is a
ceiling: a real model takes seconds to minutes per clip while scoring stays the same size.
Target: weight-free scoring <= 10 % of a tiny-model render.

Also the memory `quality eval` holds per clip once the clip is scored (Python allocations,
tracemalloc), as a share of one decoded clip: a run of hundreds of prompts must not keep every
decoded video. Target: <= 10 % of a decoded clip.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation.base import ClipSpec, ClipStyle, VideoBackend
from generation.quality import read_frames, score_clip
from generation.quality.evaluate import render_and_score
from generation.quality.gate import Thresholds

TARGET = 0.10
EVAL_MEMORY_TARGET = 0.10


def measure(
    backend: VideoBackend, make_spec: Callable[[int], ClipSpec], folder: Path, clips: int
) -> tuple[float, float]:
    """Median render and score seconds per clip (one warm-up clip first, not counted)."""
    renders, scores = [], []
    for i in range(clips + 1):
        path = folder / f"{backend.name}-{i}.mp4"
        started = time.perf_counter()
        backend.render_clip(make_spec(i), path)
        rendered = time.perf_counter()
        score_clip(path)
        scored = time.perf_counter()
        if i:  # the first clip pays for loading (model, font, imports)
            renders.append(rendered - started)
            scores.append(scored - rendered)
    return statistics.median(renders), statistics.median(scores)


def eval_memory(
    backend: VideoBackend, make_spec: Callable[[int], ClipSpec], folder: Path, clips: int
) -> tuple[float, float]:
    """Bytes an eval set still holds per clip after `render_and_score`, and one decoded clip's bytes."""
    specs = [make_spec(i) for i in range(clips)]
    render_and_score("warm-up", backend, specs[:1], folder / "warm", thresholds=Thresholds())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = render_and_score("memory", backend, specs, folder / "memory", thresholds=Thresholds())
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    decoded = read_frames(kept.clips[0].path).pixels.nbytes
    return held / clips, float(decoded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=5)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    import torch

    from generation.diffusers_backend import DiffusersBackend
    from generation.preview import PreviewRenderer
    from tests.tiny_models.fixtures import TinyModels

    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def preview_spec(i: int) -> ClipSpec:
            return ClipSpec(
                index=i, prompt="a whale in the sky", caption="어젯밤 꿈에서 나는 바다 위를 날고 있었다",
                emotion="fear", seed=100 + i, width=480, height=270, num_frames=36, fps=12,
                style=ClipStyle(motion="shake"), language="ko",
            )  # fmt: skip

        rows.append(
            ("preview 480x270, 36 frames", *measure(PreviewRenderer(), preview_spec, folder, args.clips))
        )
        held, decoded = eval_memory(PreviewRenderer(), preview_spec, folder, args.clips)

        tiny = TinyModels(folder / "models")
        backend = DiffusersBackend.from_settings("tiny-wan", {"tiny-wan": tiny.preset_table("wan")})
        p = backend.preset

        def tiny_spec(i: int) -> ClipSpec:
            return ClipSpec(
                index=i, prompt="a whale in the sky", caption="", emotion="neutral", seed=100 + i,
                width=p.width, height=p.height, num_frames=p.num_frames, fps=p.fps, preset="tiny-wan",
            )  # fmt: skip

        label = f"tiny wan {p.width}x{p.height}, {p.num_frames} frames, {p.steps} steps"
        rows.append((label, *measure(backend, tiny_spec, folder, args.clips)))

    print(f"{'clip':42} {'render s':>9} {'score s':>9} {'score/render':>13}")
    for label, render, score in rows:
        print(f"{label:42} {render:9.3f} {score:9.3f} {score / render:12.1%}")
    tiny_ratio = rows[-1][2] / rows[-1][1]
    verdict = "met" if tiny_ratio <= TARGET else "NOT met"
    print(f"weight-free scoring vs a tiny-model render: {tiny_ratio:.1%} (target <= {TARGET:.0%}: {verdict})")
    kept = held / decoded
    verdict = "met" if kept <= EVAL_MEMORY_TARGET else "NOT met"
    print(
        f"quality eval holds {held / 1024:.0f} KiB per scored preview clip, {kept:.1%} of one decoded clip "
        f"({decoded / 2**20:.1f} MiB; target <= {EVAL_MEMORY_TARGET:.0%}: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
