"""Set-level realism: Frechet Video Distance between generated and reference clips.

FVD = ||mu_g - mu_r||^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2)), the Frechet distance between
Gaussians fitted to video features of the two sets (Unterthiner et al. 2018).

Features here come from VideoMAE (`transformers` VideoMAEModel, e.g.
`MCG-NJU/videomae-base-finetuned-kinetics`, a Kinetics-400 classifier like the I3D of the
original FVD): the mean of the last hidden state over all tokens of `num_frames` evenly sampled
frames (16 for the base models), resized and normalised by the checkpoint's own
VideoMAEImageProcessor. FVD numbers are comparable only with the same feature model and frame
sampling: these are NOT the I3D numbers papers report (e.g. the 1140 bar), and a set needs many
more clips than feature dimensions for a stable covariance; small sets give biased, large values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from generation.base import GenerationError
from generation.quality.frames import Frames
from generation.quality.loading import load_local, require_torch

logger = logging.getLogger(__name__)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Tr((S1 S2)^(1/2)) is computed as the sum of the square roots of the eigenvalues of the
    symmetric A S2 A with A = S1^(1/2): the same value as scipy's sqrtm of S1 S2 for covariance
    matrices, but with symmetric eigen-decompositions only, so singular covariances (fewer clips
    than features) give no complex parts. Tiny negative eigenvalues from rounding count as 0.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise GenerationError(f"mismatched Gaussians: {mu1.shape} {s1.shape} vs {mu2.shape} {s2.shape}")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt, 0.0))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (N - 1 denominator) of N x D features; needs N >= 2."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise GenerationError(f"FVD needs at least 2 clips per set, got features of shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fvd(generated: np.ndarray, reference: np.ndarray) -> float:
    """FVD between two feature sets (N x D and M x D from the same `VideoFeatures`)."""
    return frechet_distance(*feature_statistics(generated), *feature_statistics(reference))


class VideoFeatures:
    """VideoMAE features of clips, for FVD (loaded once, from a local folder or the HF cache)."""

    def __init__(self, model: str, *, device: str = "cpu") -> None:
        self._torch = require_torch()
        from transformers import VideoMAEImageProcessor, VideoMAEModel

        self.model_name = model
        self.device = device
        setting = "quality.fvd_model"
        self._processor: Any = load_local(
            VideoMAEImageProcessor.from_pretrained, model, what="VideoMAE model", setting=setting
        )
        self._model: Any = load_local(
            VideoMAEModel.from_pretrained, model, what="VideoMAE model", setting=setting
        )
        self._model.to(device).eval()
        self.num_frames = int(self._model.config.num_frames)

    def features(self, clips: Iterable[Frames]) -> np.ndarray:
        """One feature vector per clip (N x hidden_size); `clips` may be a generator (one decoded at a time)."""
        torch = self._torch
        rows = []
        for clip in clips:
            pixels = clip.sample(self.num_frames)
            if len(pixels) < self.num_frames:  # short clip: repeat the last frame
                pad = np.repeat(pixels[-1:], self.num_frames - len(pixels), axis=0)
                pixels = np.concatenate([pixels, pad])
            inputs = self._processor(list(pixels), return_tensors="pt").to(self.device)
            with torch.no_grad():
                hidden = self._model(pixel_values=inputs["pixel_values"]).last_hidden_state
            rows.append(hidden.mean(dim=1)[0].float().cpu().numpy())
        return np.stack(rows).astype(np.float64)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
