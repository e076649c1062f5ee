"""The quality gate: thresholds a clip must meet, how a weak clip is rendered again, and which
of a scene's attempts is kept.

Attempt 1 renders the scene as planned. Each retry takes a new seed (derived from the scene's
seed, so a job is reproducible) and, if configured, more denoising steps; from the second retry
on (attempt 3) the prompt is also simplified (fewer subjects, less action). The best attempt
is kept: the one failing the fewest thresholds, then the higher CLIP score, then overall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from generation.base import ClipSpec
from generation.quality.metrics import ClipQuality
from generation.quality.scoring import TextAlignment, score_clip

SEED_MODULUS = 2**31 - 1
RETRY_SEED_STRIDE = 1_000_003  # a prime: retries of neighbouring scenes never share a seed
SIMPLIFY_FROM_ATTEMPT = 3  # the second retry


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


@dataclass(frozen=True)
class QualityGate:
    """What the job pipeline needs to judge clips and render weak ones again."""

    thresholds: Thresholds
    max_attempts: int = 3
    retry_steps_factor: float = 1.0
    clip: TextAlignment | None = None  # the CLIP scorer, when a CLIP model is configured

    def judge(self, path: Path, prompt: str) -> tuple[ClipQuality, list[str]]:
        """The clip's scores and the names of the thresholds it misses."""
        quality = score_clip(path, prompt=prompt, clip=self.clip)
        return quality, self.thresholds.failures(quality)

    def retry_spec(self, spec: ClipSpec, attempt: int, simplify: Callable[[str], str]) -> ClipSpec:
        """The spec of attempt `attempt` (2, 3, ...) at the scene `spec` (its attempt 1)."""
        if attempt < 2:
            return spec
        seed = (spec.seed + RETRY_SEED_STRIDE * (attempt - 1)) % SEED_MODULUS
        prompt = simplify(spec.prompt) if attempt >= SIMPLIFY_FROM_ATTEMPT else spec.prompt
        return replace(
            spec, seed=seed, prompt=prompt, steps_factor=spec.steps_factor * self.retry_steps_factor
        )
