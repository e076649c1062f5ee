"""Latents and text embeddings, computed once per dataset and model and reused by every run.

    DATASET/cache/<key>/000000.pt   {"latents": Tensor, "text": {"embeds": Tensor, ...}}
    DATASET/cache/<key>/manifest.json   written last: a cache without it is rebuilt

`key` hashes what changes the tensors (model, family, clip shape, text length, dtype, the clips
and their captions), so a dataset trained against two presets keeps two caches. The VAE and text
encoder run here only; training then needs just the denoiser in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.quality.frames import read_frames
from generation.training.dataset import ClipRecord, DatasetInfo
from generation.training.objectives import FamilyObjective

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatentCache:
    """Where one dataset's encoded samples live for one model."""

    root: Path
    count: int

    def load(self, index: int) -> dict[str, Any]:
        import torch

        loaded: dict[str, Any] = torch.load(self.root / f"{index:06d}.pt", map_location="cpu", weights_only=True)
        return loaded


def cache_key(
    model_path: Path, family: str, info: DatasetInfo, records: list[ClipRecord], text_length: int | None, dtype: str
) -> str:
    """A hash of everything the cached tensors depend on (clips and captions included)."""
    raw = json.dumps(
        [str(model_path.resolve()), family, info.width, info.height, info.frames, text_length, dtype,
         [(r.file, r.caption) for r in records]]
    )  # fmt: skip
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def build_cache(
    pipe: Any,
    objective: FamilyObjective,
    dataset: Path,
    records: list[ClipRecord],
    key: str,
    text_length: int | None,
    device: Any,
) -> LatentCache:
    """Encode every clip and caption (or reuse a complete cache with the same key)."""
    import torch

    root = dataset / "cache" / key
    manifest = root / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["count"] == len(records):
        return LatentCache(root, len(records))
    root.mkdir(parents=True, exist_ok=True)
    logger.info("encoding %d clips into %s", len(records), root)
    pipe.vae.to(device, dtype=torch.float32)  # latents are the target: encode them at full precision
    pipe.text_encoder.to(device)
    captions = sorted({r.caption for r in records})
    with torch.no_grad():
        by_caption = dict(zip(captions, objective.encode_text(pipe, captions, text_length), strict=True))
        for i, record in enumerate(records):
            frames = torch.from_numpy(read_frames(dataset / record.file).pixels).float()
            video = (frames / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)  # (1, 3, F, H, W)
            latents = objective.encode_video(pipe, video)[0]
            text = {k: v.detach().cpu().clone() for k, v in by_caption[record.caption].items()}
            torch.save({"latents": latents.float().cpu(), "text": text}, root / f"{i:06d}.pt")
    manifest.write_text(json.dumps({"count": len(records)}))
    pipe.vae.to("cpu")  # training needs only the denoiser on the device
    pipe.text_encoder.to("cpu")
    return LatentCache(root, len(records))
