"""`make demo`: a real Korean dream through the whole pipeline on the embedded defaults.

Prints where the stitched video (narrated, with music and a subtitle track), its .srt/.vtt and
the separate clips are. Nothing is downloaded; narration needs espeak-ng (`make demo` installs it).
"""

from __future__ import annotations

import os
import sys
import time

from dreamreel.cli import ProgressPrinter
from dreamreel.settings import load_settings
from dreamreel.views import JobOptions
from dreamreel.wiring import build_service

SAMPLE_DREAM = (
    "어젯밤 꿈에서 나는 바다 위를 날고 있었다. 발아래로 은빛 물고기 떼가 반짝였다. "
    "갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다. "
    "고래 뱃속에는 어릴 적 살던 집이 있었고, 엄마가 저녁을 차리고 계셨다."
)


def main() -> int:
    settings = load_settings()
    started = time.monotonic()
    service = build_service(settings)
    service.subscribe(ProgressPrinter())
    job = service.submit_diary(SAMPLE_DREAM, channel="cli", user="demo", options=JobOptions(segments=3), run=False)
    view = service.run_job(job.job_id)
    elapsed = time.monotonic() - started
    if view.status != "done" or not view.video:
        print(f"demo: the job ended {view.status}: {view.error or view.verdict}", file=sys.stderr)
        return 1
    print()
    print(f"Dream (ko): {SAMPLE_DREAM}")
    for seg in view.segments:
        print(f"  scene {seg.index + 1} [{seg.emotion}]: {seg.text}\n      -> {seg.prompt}")
        if seg.quality is not None:
            renders = len(seg.attempts)
            print(f"      quality {seg.quality.overall:.2f} ({renders} render{'s' if renders != 1 else ''})")
    print(f"\nclips: {len(view.clips)} in {view.clips[0].rsplit('/', 1)[0]}/")
    print(f"video: {view.video}")
    for path in view.subtitles:  # the same words as the mp4's soft subtitle track
        print(f"subtitles: {path}")
    # the demo's DREAMREEL_HOME is not the default ./var: the hint names it, so it works as printed
    home = os.environ.get("DREAMREEL_HOME")
    where = f"DREAMREEL_HOME={home} " if home else ""
    print(f"(job {view.job_id}, {elapsed:.1f} s; `{where}.venv/bin/dreamreel jobs show {view.job_id}` shows every step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
