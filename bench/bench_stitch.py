"""Benchmark: stitching 20 preview clips, the project's stitcher against its floor and moviepy.

    .venv/bin/python bench/bench_stitch.py [--clips 20] [--width 480 --height 270 --fps 12 --seconds 3]

Compared, all in one run on the same clips (times are wall-clock, best of --repeat):
  without crossfade
    floor      ffmpeg -f concat -c copy (no checks)
    stitcher   generation.stitch.stitch_clips (stream copy + decode-verify of the result)
    moviepy    concatenate_videoclips + write_videofile (re-encodes everything)
  with crossfade
    floor      ffmpeg xfade filter chain, one full re-encode (no checks)
    stitcher   stitch_clips(crossfade=...) (copies GOPs, re-encodes only transition windows, verifies)
    compose    the stitcher's whole-timeline moviepy composition (what it falls back to)
    moviepy    concatenate_videoclips(padding=-crossfade) with CrossFadeIn + write_videofile
Every re-encode uses the same x264 settings (preset veryfast, crf 20). Each result's frames are
counted by decoding, so a fast but wrong method shows up.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from generation.base import ClipSpec, ClipStyle
from generation.ffmpeg import CRF, X264_PRESET, h264_output_params, run_ffmpeg
from generation.preview import MOTIONS, PreviewRenderer
from generation.probe import probe_video
from generation.stitch import _compose_range, plan_timeline, stitch_clips

PALETTES = [
    ("#ffb703", "#fb8500", "#ffd6a5"),
    ("#1b263b", "#415a77", "#778da9"),
    ("#3a0ca3", "#7209b7", "#4cc9f0"),
]


def render_clips(folder: Path, count: int, width: int, height: int, fps: int, frames: int) -> list[Path]:
    renderer = PreviewRenderer()
    paths = []
    for i in range(count):
        spec = ClipSpec(
            index=i, prompt="", caption=f"장면 {i + 1}: 꿈속에서 하늘을 날았다", emotion="joy", seed=i,
            width=width, height=height, num_frames=frames, fps=fps, language="ko",
            style=ClipStyle(palette=PALETTES[i % 3], motion=MOTIONS[i % len(MOTIONS)]),
        )  # fmt: skip
        path = folder / f"clip{i:02d}.mp4"
        renderer.render_clip(spec, path)
        paths.append(path)
    return paths


def ffmpeg_concat_copy(clips: list[Path], out: Path, crossfade: float) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{c}'\n" for c in clips))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)], what="concat copy")


def ffmpeg_xfade(clips: list[Path], out: Path, crossfade: float) -> None:
    durations = [probe_video(c).duration for c in clips]
    inputs = [arg for c in clips for arg in ("-i", str(c))]
    chain, label, offset = [], "[0:v]", 0.0
    for i in range(1, len(clips)):
        offset += durations[i - 1] - crossfade
        chain.append(f"{label}[{i}:v]xfade=transition=fade:duration={crossfade}:offset={offset:.6f}[x{i}]")
        label = f"[x{i}]"
    fps = round(probe_video(clips[0]).fps)
    run_ffmpeg(
        [*inputs, "-filter_complex", ";".join(chain), "-map", label, *h264_output_params(fps), str(out)],
        what="xfade",
    )


def moviepy_plain(clips: list[Path], out: Path, crossfade: float) -> None:
    from moviepy import VideoFileClip, concatenate_videoclips, vfx

    sources = [VideoFileClip(str(c), audio=False) for c in clips]
    try:
        if crossfade:
            parts = [sources[0]] + [s.with_effects([vfx.CrossFadeIn(crossfade)]) for s in sources[1:]]
            final = concatenate_videoclips(parts, method="compose", padding=-crossfade)
        else:
            final = concatenate_videoclips(sources)
        final.write_videofile(
            str(out), fps=sources[0].fps, codec="libx264", preset=X264_PRESET,
            ffmpeg_params=["-crf", str(CRF)], audio=False, logger=None,
        )  # fmt: skip
    finally:
        for s in sources:
            s.close()


def stitcher(clips: list[Path], out: Path, crossfade: float) -> None:
    stitch_clips(clips, out, crossfade=crossfade)


def compose_everything(clips: list[Path], out: Path, crossfade: float) -> None:
    probes = [probe_video(c) for c in clips]
    plan = plan_timeline(probes, crossfade)
    _compose_range(probes, plan, 0, plan.total_frames, out, None)


def timed(fn: Callable[[list[Path], Path, float], None], clips: list[Path], out: Path, crossfade: float,
          repeat: int) -> tuple[float, int]:  # fmt: skip
    best = float("inf")
    for _ in range(repeat):
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        fn(clips, out, crossfade)
        best = min(best, time.perf_counter() - start)
    return best, probe_video(out).frames


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=270)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--crossfade", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    frames = round(args.fps * args.seconds)
    with tempfile.TemporaryDirectory(prefix="bench-stitch-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        clips = render_clips(folder, args.clips, args.width, args.height, args.fps, frames)
        print(f"{args.clips} clips of {frames} frames at {args.width}x{args.height}, {args.fps} fps "
              f"(rendered in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        overlap = round(args.crossfade * args.fps)
        cases: list[tuple[str, float, int, list[tuple[str, Callable[[list[Path], Path, float], None]]]]] = [
            ("no crossfade", 0.0, args.clips * frames,
             [("floor", ffmpeg_concat_copy), ("stitcher", stitcher), ("moviepy", moviepy_plain)]),
            (f"crossfade {args.crossfade} s", args.crossfade, args.clips * frames - (args.clips - 1) * overlap,
             [("floor", ffmpeg_xfade), ("stitcher", stitcher), ("compose", compose_everything),
              ("moviepy", moviepy_plain)]),
        ]  # fmt: skip
        for title, crossfade, expected, methods in cases:
            print(f"\n{title}: expected {expected} frames")
            results = {
                name: timed(fn, clips, folder / f"{name}.mp4", crossfade, args.repeat) for name, fn in methods
            }
            floor = results["floor"][0]
            for name, (seconds, got) in results.items():
                mark = "ok" if got == expected else f"WRONG ({got} frames)"
                print(f"  {name:9s} {seconds:7.3f} s  {seconds / floor:6.2f}x floor  frames {mark}")
            ours = results["stitcher"][0]
            print(f"  moviepy / stitcher = {results['moviepy'][0] / ours:.2f}x")


if __name__ == "__main__":
    main()
