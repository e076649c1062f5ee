"""CLIP score, CLIPSIM and FVD with tiny random models saved at test time; Frechet vs scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generation.quality import Frames, score_clip
from generation.quality.clip_score import ClipScorer, clipsim
from generation.quality.fvd import VideoFeatures, feature_statistics, frechet_distance, fvd
from generation.quality.loading import QualityModelMissing
from tests.quality_clips import pan_frames, write_clip
from tests.tiny_models.quality import build_clip, build_videomae


def scipy_frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The reference implementation (pytorch-fid / the original FVD): scipy's sqrtm of S1 S2."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("dim", [2, 8, 64])
def test_frechet_distance_matches_scipy_on_random_gaussians(dim: int) -> None:
    rng = np.random.default_rng(dim)
    for _ in range(3):
        a = rng.normal(size=(dim * 4, dim))
        b = rng.normal(loc=rng.normal(size=dim), size=(dim * 4, dim)) @ rng.normal(size=(dim, dim))
        stats = (*feature_statistics(a), *feature_statistics(b))
        ours, reference = frechet_distance(*stats), scipy_frechet(*stats)
        assert ours == pytest.approx(reference, rel=1e-6, abs=1e-8)
        assert ours > 0.1


def test_frechet_distance_of_a_set_with_itself_is_zero_even_when_singular() -> None:
    feats = np.random.default_rng(0).normal(size=(5, 32))  # fewer samples than dimensions
    assert fvd(feats, feats) == pytest.approx(0.0, abs=1e-6)
    assert fvd(feats, feats + 1.0) == pytest.approx(32.0, rel=1e-6)  # only the means differ


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quality-models")
    return {"clip": build_clip(root), "videomae": build_videomae(root)}


@pytest.fixture(scope="module")
def pan() -> Frames:
    return Frames(pan_frames(frames=12)[:, :, :240], 12.0)


def test_clip_score_is_the_mean_frame_prompt_cosine_of_the_model(
    models: dict[str, Path], pan: Frames
) -> None:
    import torch
    from transformers import CLIPModel, CLIPProcessor

    scorer = ClipScorer(str(models["clip"]), frames=4)
    prompt = "an old photograph of a woman in uniform"
    score = scorer.score(pan, prompt)
    # the same number through transformers' own forward: logits_per_image = exp(logit_scale) * cosine
    model, processor = (
        CLIPModel.from_pretrained(models["clip"]),
        CLIPProcessor.from_pretrained(models["clip"]),
    )
    inputs = processor(
        text=[prompt], images=list(pan.sample(4)), return_tensors="pt", padding=True, truncation=True
    )
    with torch.no_grad():
        out = model(**inputs)
        cosines = (out.logits_per_image[:, 0] / model.logit_scale.exp()).numpy()
    assert len(cosines) == 4
    assert score == pytest.approx(float(cosines.mean()), abs=1e-5)
    assert -1.0 <= score <= 1.0
    # the clip file path gives the same score as the frames (decoding is lossless to the scorer)
    clip = write_clip(pan.pixels, models["clip"].parent / "pan.mp4")
    from_file = score_clip(clip, prompt=prompt, clip=scorer)
    assert from_file.clip_score is not None and abs(from_file.clip_score - score) < 0.05
    assert score_clip(clip).clip_score is None
    # a prompt far longer than the tokenizer's limit is cut, not an error
    assert np.isfinite(scorer.score(pan, "a dream " * 200))
    assert clipsim([0.2, 0.4]) == pytest.approx(0.3)


def test_fvd_on_videomae_features_is_zero_for_identical_sets_and_grows_with_a_shift(
    models: dict[str, Path], pan: Frames
) -> None:
    features = VideoFeatures(str(models["videomae"]))
    assert features.num_frames == 4
    clips = [Frames(np.roll(pan.pixels, shift * 17, axis=2), pan.fps) for shift in range(6)]
    shifted = [Frames((c.pixels * 0.4).astype(np.uint8), c.fps) for c in clips]
    generated = features.features(clips)
    assert generated.shape == (6, 32)
    same = fvd(generated, features.features(clips))
    far = fvd(generated, features.features(shifted))
    assert same < 1e-6
    assert far > 1e-2 and far > 1e4 * max(same, 1e-12)
    # a clip shorter than the model's frame count is padded with its last frame
    assert features.features([Frames(pan.pixels[:2], 12.0)]).shape == (1, 32)


def test_a_missing_model_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(QualityModelMissing, match="hf download"):
        ClipScorer(str(tmp_path / "no-clip-here"))
    with pytest.raises(QualityModelMissing, match=r"quality\.fvd_model"):
        VideoFeatures("someone/not-in-the-cache")
