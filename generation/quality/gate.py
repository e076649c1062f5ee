"""Thresholds a clip must meet, and which of several attempts at a scene is the best."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from generation.quality.metrics import ClipQuality


@dataclass(frozen=True)
class Thresholds:
    """Minimum scores; `min_clip_score` applies only to clips that have a CLIP score."""

    min_clip_score: float = 0.3
    min_sharpness: float = 0.2
    min_temporal: float = 0.5
    min_color: float = 0.2

    def failures(self, quality: ClipQuality) -> list[str]:
        """Names of the scores under their threshold (empty: the clip passes)."""
        failed = [
            name
            for name, value, floor in (
                ("sharpness", quality.sharpness, self.min_sharpness),
                ("temporal", quality.temporal, self.min_temporal),
                ("color", quality.color, self.min_color),
            )
            if value < floor
        ]
        if quality.clip_score is not None and quality.clip_score < self.min_clip_score:
            failed.insert(0, "clip_score")
        return failed

    def passes(self, quality: ClipQuality) -> bool:
        return not self.failures(quality)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def best_attempt(attempts: Sequence[ClipQuality], thresholds: Thresholds) -> int:
    """Index of the best attempt: fewest failed thresholds, then the highest CLIP score, then overall.

    Ties keep the earliest attempt (the one rendered with the scene's own seed and prompt).
    """
    if not attempts:
        raise ValueError("no attempts to choose from")

    def rank(i: int) -> tuple[int, float, float, int]:
        q = attempts[i]
        return (
            -len(thresholds.failures(q)),
            q.clip_score if q.clip_score is not None else 0.0,
            q.overall,
            -i,
        )

    return max(range(len(attempts)), key=rank)
