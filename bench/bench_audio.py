"""Benchmark: what sound costs, as a ratio of the stitch it follows.

    .venv/bin/python -m bench.bench_audio [--scenes 4] [--width 480 --height 270 --fps 12 --seconds 3]

On the same preview clips (the demo's size), best of --repeat, wall-clock:
    stitch     generation.stitch.stitch_clips (the reference)
    narrate    espeak-ng speaking every scene's words (Korean)
    mix        generation.audio.score.score_video: .srt/.vtt, narration + ambient tone, ducking,
               fades, loudnorm, AAC, mov_text, and the probe that checks the result
    mix, library music   the same with a looped music file instead of the generated tone
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import tempfile
from pathlib import Path

from bench.bench_postprocess import best_of
from bench.bench_stitch import render_clips
from generation.audio.music import ambient_tone
from generation.audio.score import SceneSound, score_video
from generation.audio.speech import EspeakSynth
from generation.ffmpeg import ffmpeg_command
from generation.probe import probe_video
from generation.stitch import stitch_clips, timeline_spans

SCENE_TEXT = "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 갑자기 큰 고래가 나타나 나를 삼켰다."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=270)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    frames = round(args.fps * args.seconds)
    with tempfile.TemporaryDirectory(prefix="dreamreel-bench-audio-") as tmp:
        folder = Path(tmp)
        clips = render_clips(folder, args.scenes, args.width, args.height, args.fps, frames)
        print(f"{args.scenes} scenes of {frames} frames at {args.width}x{args.height}, {args.fps} fps")
        silent = folder / "silent.mp4"
        stitch = best_of(args.repeat, lambda: stitch_clips(clips, silent))
        stitched = stitch_clips(clips, silent)
        synth = EspeakSynth()
        narrations = [folder / f"n{i}.wav" for i in range(args.scenes)]
        narrate = best_of(args.repeat, lambda: [synth.speak(SCENE_TEXT, "ko", n) for n in narrations])
        spans = timeline_spans([probe_video(c) for c in clips], 0.0)
        scenes = [SceneSound(SCENE_TEXT, span, n) for span, n in zip(spans, narrations, strict=True)]
        music = folder / "music.ogg"
        subprocess.run(ffmpeg_command(["-f", "lavfi", "-i", "sine=f=220:d=5", "-c:a", "libvorbis", str(music)]),
                       check=True, capture_output=True)  # fmt: skip

        def mix(bed: Path | object) -> None:
            score_video(silent, folder / "scored.mp4", scenes, music=bed, language="ko",  # type: ignore[arg-type]
                        srt_path=folder / "v.srt", vtt_path=folder / "v.vtt", video=stitched)  # fmt: skip

        tone = best_of(args.repeat, lambda: mix(ambient_tone("joy")))
        library = best_of(args.repeat, lambda: mix(music))
        print(f"  stitch                 {stitch:7.3f} s  1.00x (reference)")
        print(f"  narrate (espeak-ng)    {narrate:7.3f} s  {narrate / stitch:5.2f}x stitch")
        print(f"  mix, ambient tone      {tone:7.3f} s  {tone / stitch:5.2f}x stitch")
        print(f"  mix, library music     {library:7.3f} s  {library / stitch:5.2f}x stitch")
        print(f"  sound in all (narrate + mix) = {(narrate + tone) / stitch:.2f}x the stitch time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
