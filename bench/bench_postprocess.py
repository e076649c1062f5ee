"""Benchmark: post-processing one model-sized clip, each step against a plain re-encode.

    .venv/bin/python bench/bench_postprocess.py [--width 512 --height 320 --fps 8 --frames 16]
                                                [--target-fps 24] [--repeat 3]

A scene-card clip at a diffusion model's output size and rate stands in for a model clip.
Compared, all in one run on the same clip (wall-clock, best of --repeat):
    re-encode   ffmpeg decode + encode with the shared x264 settings (the floor every step pays)
    blend       postprocess_clip to --target-fps with the `framerate` cross-fade
    mci         postprocess_clip to --target-fps with motion-compensated `minterpolate`
    upscale     postprocess_clip 2x lanczos (source fps)
    caption     postprocess_clip Korean caption only
    all         mci + 2x upscale + caption in one pass
Each result is verified by postprocess_clip itself (decoded frame count, size, fps).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from generation.base import ClipSpec, ClipStyle
from generation.ffmpeg import h264_output_params, run_ffmpeg
from generation.postprocess import PostProcessSpec, postprocess_clip
from generation.preview import PreviewRenderer
from generation.probe import probe_video

CAPTION = "꿈속에서 하늘을 날다가 유리로 된 도시 위에 내려앉았다"


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--target-fps", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-post-") as tmp:
        folder = Path(tmp)
        src = folder / "src.mp4"
        PreviewRenderer().render_clip(
            ClipSpec(index=0, prompt="", caption="", emotion="joy", seed=3, width=args.width,
                     height=args.height, num_frames=args.frames, fps=args.fps,
                     style=ClipStyle(motion="drift")),
            src,
        )  # fmt: skip
        source = probe_video(src)
        out = folder / "out.mp4"

        def reencode() -> None:
            run_ffmpeg(
                ["-i", str(src), *h264_output_params(args.fps), "-f", "mp4", str(out)], what="re-encode"
            )

        def post(spec: PostProcessSpec) -> Callable[[], object]:
            return lambda: postprocess_clip(src, out, spec)

        target = args.target_fps
        cases: list[tuple[str, Callable[[], object]]] = [
            ("re-encode", reencode),
            (
                f"blend {args.fps}->{target} fps",
                post(PostProcessSpec(target_fps=target, interpolation="blend")),
            ),
            (f"mci {args.fps}->{target} fps", post(PostProcessSpec(target_fps=target, interpolation="mci"))),
            ("upscale 2x lanczos", post(PostProcessSpec(upscale=2.0))),
            ("caption (Korean)", post(PostProcessSpec(caption=CAPTION, caption_language="ko"))),
            (
                "all: mci + 2x + caption",
                post(PostProcessSpec(target_fps=target, upscale=2.0, caption=CAPTION)),
            ),
        ]
        print(
            f"clip {source.width}x{source.height}, {source.frames} frames at {source.fps:g} fps "
            f"({source.duration:.2f} s); best of {args.repeat}"
        )
        floor = None
        for name, run in cases:
            seconds = best_of(args.repeat, run)
            floor = floor or seconds
            frames = probe_video(out, decode=False).frames
            print(f"  {name:26s} {seconds * 1000:8.1f} ms  x{seconds / floor:5.2f}  {frames:4d} frames out")


if __name__ == "__main__":
    main()
