"""Quality of generated clips: weight-free per-clip metrics, CLIP score, set-level FVD and CLIPSIM.

- `metrics`: sharpness, temporal consistency, colour and overall, numpy only, each in [0, 1];
- `clip_score`: text-video CLIP score per clip and CLIPSIM per set (transformers CLIP);
- `fvd`: Frechet Video Distance on VideoMAE features (transformers VideoMAE);
- `frames`: decoding a clip once into the frames every scorer takes.
torch and transformers are imported only when a model-based scorer is built.
"""

from generation.quality.frames import Frames, read_frames, sample_indices
from generation.quality.gate import QualityGate, Thresholds, best_attempt
from generation.quality.metrics import (
    ClipQuality,
    color_quality,
    overall_score,
    score_frames,
    sharpness,
    temporal_consistency,
)
from generation.quality.scoring import TextAlignment, score_clip

__all__ = [
    "ClipQuality",
    "Frames",
    "QualityGate",
    "TextAlignment",
    "Thresholds",
    "best_attempt",
    "color_quality",
    "overall_score",
    "read_frames",
    "sample_indices",
    "score_clip",
    "score_frames",
    "sharpness",
    "temporal_consistency",
]
