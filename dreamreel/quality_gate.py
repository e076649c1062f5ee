"""The quality gate inside the render step: every clip is judged, weak ones are rendered again,
the best attempt of each scene becomes its clip.

`dreamreel.pipeline`'s render step tells the story (render, judge, retry, keep); this module holds
the bookkeeping: where attempt files go, what a retry is called in the progress feed, which
attempt is kept and how its file becomes the clip. The judging itself is
`generation.quality.QualityGate` (docs/quality.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from generation.base import ClipInfo, ClipSpec
from generation.quality import ClipQuality, QualityGate, best_attempt
from generation.quality.gate import SIMPLIFY_FROM_ATTEMPT
from storage.media import MediaStore, job_dir


@dataclass(frozen=True)
class Attempt:
    """One render of a scene and its verdict."""

    number: int  # 1 = the scene as planned
    spec: ClipSpec  # what was rendered (seed, prompt, steps factor of this attempt)
    rel: str  # its file, relative to the media store
    info: ClipInfo
    quality: ClipQuality
    failures: list[str]  # the scores under their threshold
    end_frame: str | None = None  # its last frame (chain continuity: the next scene's start frame)

    def scores(self) -> dict[str, object]:
        """The kept clip's `quality` record: the scores plus pass/fail."""
        return {**self.quality.as_dict(), "passed": not self.failures, "failures": list(self.failures)}


def attempt_path(job_id: int, index: int, number: int, suffix: str = "mp4") -> str:
    """Where attempt `number` at scene `index` is written before one of them becomes the clip
    (`suffix` "png": the attempt's last frame, for chained scenes)."""
    return f"{job_dir(job_id)}/clip-{index:03d}.attempt-{number}.{suffix}"


def forget_attempt_files(media: MediaStore, job_id: int, index: int) -> None:
    """Remove attempt files a render cut short left behind (the scene is rendered afresh)."""
    folder = media.path_for(job_dir(job_id))
    if folder.is_dir():
        for path in folder.glob(f"clip-{index:03d}.attempt-*"):
            path.unlink(missing_ok=True)


def retry_note(number: int, gate: QualityGate, failures: Sequence[str]) -> str:
    """How the progress feed names attempt `number` (empty for the first)."""
    if number < 2:
        return ""
    changes = ["new seed"]
    if number >= SIMPLIFY_FROM_ATTEMPT:
        changes.append("simpler prompt")
    if gate.retry_steps_factor != 1.0:
        changes.append("more steps")
    under = f" ({', '.join(failures)} under the bar)" if failures else ""
    return f", attempt {number} of {gate.max_attempts}{under}: {', '.join(changes)}"


def keep_best(
    media: MediaStore, attempts: Sequence[Attempt], gate: QualityGate, clip_rel: str, end_rel: str | None = None
) -> Attempt:
    """Move the best attempt's file to `clip_rel` (and its last frame to `end_rel`), atomically;
    delete the other attempts' files."""
    best = attempts[best_attempt([a.quality for a in attempts], gate.thresholds)]
    os.replace(media.path_for(best.rel), media.path_for(clip_rel))
    if best.end_frame and end_rel:
        os.replace(media.path_for(best.end_frame), media.path_for(end_rel))
    for attempt in attempts:
        if attempt is not best:
            media.remove(attempt.rel)
        if attempt.end_frame and media.exists(attempt.end_frame):
            media.remove(attempt.end_frame)
    return best


def quality_message(scene: int, total: int, best: Attempt, tries: int) -> str:
    """What the feed says about the clip a scene keeps (a job never fails for quality alone)."""
    renders = f"{tries} render{'s' if tries != 1 else ''}"
    head = f"scene {scene + 1} of {total}: quality {best.quality.overall:.2f}"
    if not best.failures:
        return f"{head} ({renders})"
    return f"{head}, kept the best of {renders}; under the bar for {', '.join(best.failures)}"
