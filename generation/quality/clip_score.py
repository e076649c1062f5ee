"""Text-video alignment with CLIP: the CLIP score of a clip and CLIPSIM of a set of clips.

CLIP score of a clip and its prompt = the mean, over up to `frames` evenly sampled frames, of
the cosine between CLIP's image embedding of the frame and its text embedding of the prompt.
This is the raw cosine (not x100, not x2.5 as in CLIPScore), the scale on which 0.3 is the
usual "the video shows the prompt" bar for ViT-L/14 and ViT-B/32. CLIPSIM of a set (Wu et al.,
GODIVA / NUWA) is the mean CLIP score over its clips. Numbers are comparable only between runs
of the same CLIP checkpoint.

The model is `transformers`' CLIPModel + CLIPProcessor from a local folder or the Hugging Face
cache (e.g. `openai/clip-vit-base-patch32` fetched once); nothing is downloaded while scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from generation.quality.frames import Frames
from generation.quality.loading import load_local, require_torch

logger = logging.getLogger(__name__)

CLIP_FRAMES = 8


class ClipScorer:
    """Embeds frames and prompts with one CLIP checkpoint (loaded once, reused per clip)."""

    def __init__(self, model: str, *, device: str = "cpu", frames: int = CLIP_FRAMES) -> None:
        self._torch = require_torch()
        from transformers import CLIPModel, CLIPProcessor

        self.model_name = model
        self.device = device
        self.frames = max(1, frames)
        setting = "quality.clip_model"
        self._processor: Any = load_local(
            CLIPProcessor.from_pretrained, model, what="CLIP model", setting=setting
        )
        self._model: Any = load_local(CLIPModel.from_pretrained, model, what="CLIP model", setting=setting)
        self._model.to(device).eval()

    def score(self, frames: Frames, prompt: str) -> float:
        """The CLIP score of `frames` for `prompt`: mean frame-prompt cosine, in [-1, 1]."""
        images = self.image_embeddings(frames.sample(self.frames))
        text = self.text_embeddings([prompt])[0]
        return float((images @ text).mean())

    def image_embeddings(self, pixels: np.ndarray) -> np.ndarray:
        """Unit-length CLIP embeddings (N x D) of N uint8 RGB frames."""
        torch = self._torch
        inputs = self._processor(images=list(pixels), return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self._model.get_image_features(pixel_values=inputs["pixel_values"])
        return _unit(_pooled(out))

    def text_embeddings(self, prompts: Sequence[str]) -> np.ndarray:
        """Unit-length CLIP embeddings (N x D) of prompts (cut at CLIP's token limit)."""
        torch = self._torch
        inputs = self._processor(text=list(prompts), padding=True, truncation=True, return_tensors="pt")
        inputs = inputs.to(self.device)
        with torch.no_grad():
            out = self._model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")
            )
        return _unit(_pooled(out))


def clipsim(scores: Sequence[float]) -> float:
    """CLIPSIM of a set: the mean of its clips' CLIP scores (NaN for an empty set)."""
    return float(np.mean(scores)) if len(scores) else float("nan")


def _pooled(out: Any) -> np.ndarray:
    # transformers 5 returns a model output whose pooler_output is the projected embedding;
    # 4.x returned the tensor itself.
    tensor = out if hasattr(out, "detach") else out.pooler_output
    return np.asarray(tensor.detach().float().cpu().numpy(), dtype=np.float64)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
