"""The offline emotion and toxicity classifiers: featurizer, training script, shipped artifacts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agent.emotion import DEFAULT_EMOTION_MODEL, EncoderHeads, OfflineEmotionClassifier, overall_emotion
from agent.features import (
    ARTIFACT_FORMAT,
    ArtifactError,
    FeatureParams,
    LinearTextModel,
    bucket,
    featurize,
    terms,
)
from agent.interfaces import EmotionClassifier, ToxicityClassifier
from agent.safety.meaning import CATEGORIES, DEFAULT_POLICY_MODEL, MeaningDetector
from agent.schemas import EMOTIONS, EmotionResult
from agent.toxicity import DEFAULT_TOXICITY_MODEL, OfflineToxicityClassifier
from agent.train.data import KOTE_TO_EMOTION, files_digest, kote_emotion, train_dir
from dreamreel.settings import SafetySettings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def emotion() -> OfflineEmotionClassifier:
    return OfflineEmotionClassifier.load()


@pytest.fixture(scope="module")
def toxicity() -> OfflineToxicityClassifier:
    return OfflineToxicityClassifier.load()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline classifiers must not open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- featurizer ---------------------------------------------------------------------------


def test_buckets_are_stable_across_processes() -> None:
    # crc32, not hash(): these numbers must never change, or every shipped model breaks.
    assert bucket("w:hello", 18) == 17547
    assert bucket("c:무서", 18) == 223698


def test_terms_cover_words_bigrams_and_korean_char_ngrams() -> None:
    found = terms("너무 무서워서 소리를 질렀다!!!", FeatureParams())
    assert "w:무서워서" in found and "w:너무 무서워서" in found and "w:!!!" in found
    assert "c:무서" in found and "c: 무서워" in found  # the stem survives the ending


def test_text_normalisation_folds_case_repeats_urls_and_mentions() -> None:
    params = FeatureParams()
    assert terms("SOOOOOO happy", params) == terms("sooo happy", params)
    assert terms("@alice look http://x.co/a", params) == terms("@bob look https://y.org", params)


def test_featurized_rows_are_unit_length_and_empty_text_is_zero() -> None:
    params = FeatureParams(bits=12)
    rows = featurize(["a dream of falling", "", "꿈에서 떨어졌다"], params, np.ones(params.n_features))
    lengths = np.diff(rows.indptr)
    assert lengths[1] == 0 and lengths[0] > 0 and lengths[2] > 0
    norms = [
        float(np.linalg.norm(rows.data[a:b])) for a, b in zip(rows.indptr[:-1], rows.indptr[1:], strict=True)
    ]
    assert norms == pytest.approx([1.0, 0.0, 1.0], abs=1e-5)
    assert rows.indices.max() < params.n_features


# --- KOTE mapping ---------------------------------------------------------------------------


def test_kote_mapping_follows_the_readme() -> None:
    assert kote_emotion(["공포/무서움", "불안/걱정", "슬픔"]) == "fear"
    assert kote_emotion(["슬픔", "화남/분노"]) == "neutral"  # a tie
    assert kote_emotion(["비장함", "귀찮음"]) == "neutral"  # nothing mapped
    assert kote_emotion([]) == "neutral"
    assert set(KOTE_TO_EMOTION.values()) == set(EMOTIONS)


def test_kote_rarity_weights_let_a_rare_label_win() -> None:
    labels = ["공포/무서움", "불평/불만", "짜증"]
    assert kote_emotion(labels) == "anger"
    assert kote_emotion(labels, {"공포/무서움": 3.0}) == "fear"
    assert kote_emotion(["공포/무서움", "슬픔"], {"공포/무서움": 1.05}, tie_tolerance=0.1) == "neutral"


# --- training script ------------------------------------------------------------------------


# every task on 1,000 rows per file, e5 on one thread (the suite pins threads): within the suite's
# 600 s until stop 25, past it on stop 26's machine (its e5 engine ran at 2.5 ms per token)
@pytest.mark.timeout(1800)
def test_training_script_rebuilds_loadable_artifacts(repo_data: Path, tmp_path: Path) -> None:
    from agent.train.__main__ import main

    out = tmp_path / "models"
    assert main(["--data", str(repo_data / "train"), "--out", str(out), "--limit", "1000"]) == 0

    for task, classes in (("emotion", sorted(EMOTIONS)), ("toxicity", ["non_toxic", "toxic"])):
        meta = json.loads((out / f"{task}.json").read_text(encoding="utf-8"))
        assert meta["format"] == ARTIFACT_FORMAT and meta["task"] == task
        assert sorted(meta["classes"]) == classes
        assert meta["features"] == FeatureParams().to_dict()
        assert meta["training"]["limit"] == 1000
        assert all(len(digest) == 64 for digest in meta["training"]["files"].values())
        assert meta["metrics"], "evaluation numbers are stored with the artifact"
        with np.load(out / f"{task}.npz") as arrays:
            assert set(arrays.files) == {"idf", "rows", "weights", "bias"}
            assert arrays["weights"].dtype == np.float16
            assert arrays["idf"].shape == (FeatureParams().n_features,)
            assert arrays["weights"].shape == (len(arrays["rows"]), len(classes) if len(classes) > 2 else 1)

    emotion_meta = json.loads((out / "emotion.json").read_text(encoding="utf-8"))
    assert set(emotion_meta["mix"]) == set(emotion_meta["dream_mix"]) == {"en", "ko"}
    assert emotion_meta["mix_selection"]["ko"]["scene_rows"] > 0, "the dream scenes take part in the choice"
    heads = EncoderHeads.load(out / emotion_meta["encoder_heads"])
    assert set(heads.weights) == {"general", "scene"} and heads.gate is not None
    # the policy heads and their second reading, on a limited sample of every source
    policy = MeaningDetector.load(out / "policy.npz")
    assert policy.meta["training"]["limit"] == 1000 and policy.second is not None
    assert policy.meta["training"]["rows"] <= 3000
    assert set(policy.meta["calibration"]) == set(CATEGORIES)
    assert policy.words is not None and (out / "policy_words.npz").is_file(), "the word head ships beside the heads"
    assert policy.words_floor == 0.0, "the words count one-sided"
    assert all("beta" in head and "beta" in head["second_reading"] for head in policy.meta["training"]["heads"].values())
    readings = policy.score(["We had a picnic by the river.", "I cut my wrists so it would all stop."])
    assert all(0.0 <= p <= 1.0 for row in readings for p in row.values())
    results = OfflineEmotionClassifier.load(out / "emotion.npz").classify(["I am so happy today", ""])
    assert [sorted(r.scores) for r in results] == [sorted(EMOTIONS)] * 2
    assert all(sum(r.scores.values()) == pytest.approx(1.0, abs=1e-6) for r in results)
    scores = OfflineToxicityClassifier.load(out / "toxicity.npz").score(["you stupid idiot", "hello"])
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_shipped_artifacts_were_trained_on_the_repo_data(repo_data: Path) -> None:
    """The shipped files name the exact training files they came from; retrain when these change."""
    for npz in (DEFAULT_EMOTION_MODEL, DEFAULT_TOXICITY_MODEL):
        meta = json.loads(npz.with_suffix(".json").read_text(encoding="utf-8"))
        files = meta["training"]["files"]
        assert meta["training"]["limit"] is None
        assert files == files_digest(train_dir(repo_data), tuple(files)), "run `make train-classifiers`"
    policy = json.loads(DEFAULT_POLICY_MODEL.with_suffix(".json").read_text(encoding="utf-8"))["training"]
    assert policy["written"] == files_digest(repo_data / "policy" / "train", ("written.jsonl",)), (
        "run `make train-classifiers`"
    )
    assert policy["collected"] == files_digest(train_dir(repo_data), tuple(policy["collected"]))


# --- shipped artifacts ----------------------------------------------------------------------


def test_shipped_artifacts_are_small() -> None:
    for npz in (DEFAULT_EMOTION_MODEL, DEFAULT_TOXICITY_MODEL):
        assert npz.stat().st_size < 5_000_000
        assert json.loads(npz.with_suffix(".json").read_text(encoding="utf-8"))["metrics"]
    heads = DEFAULT_EMOTION_MODEL.parent / "emotion_encoder.npz"
    assert heads.stat().st_size < 100_000  # two 512x7 heads and the gate, float16


def test_classifiers_load_fast_without_network(no_network: None) -> None:
    start = time.perf_counter()
    emotion = OfflineEmotionClassifier.load()
    toxicity = OfflineToxicityClassifier.load()
    assert time.perf_counter() - start < 1.0
    assert emotion.classify(["a quiet dream"])[0].label in EMOTIONS
    assert 0.0 <= toxicity.score(["a quiet dream"])[0] <= 1.0


def test_inference_needs_neither_sklearn_nor_scipy() -> None:
    code = (
        "import sys\n"
        "from agent.emotion import OfflineEmotionClassifier\n"
        "from agent.toxicity import OfflineToxicityClassifier\n"
        "OfflineEmotionClassifier.load().classify(['I am so happy today'])\n"
        "OfflineToxicityClassifier.load().score(['you idiot'])\n"
        "bad = [m for m in ('sklearn', 'scipy', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_they_implement_the_agent_interfaces(
    emotion: OfflineEmotionClassifier, toxicity: OfflineToxicityClassifier
) -> None:
    assert isinstance(emotion, EmotionClassifier)
    assert isinstance(toxicity, ToxicityClassifier)
    assert toxicity.name == "offline-toxicity"
    assert emotion.classify([]) == [] and toxicity.score([]) == []


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I am so happy today", "joy"),
        ("너무 무서워서 소리를 질렀다", "fear"),
        ("I was terrified, something was chasing me in the dark", "fear"),
        ("He died and I cried all night", "sadness"),
        ("엄마가 돌아가셔서 펑펑 울었다", "sadness"),
        ("That is disgusting, gross", "disgust"),
    ],
)
def test_clear_emotions(emotion: OfflineEmotionClassifier, text: str, label: str) -> None:
    (result,) = emotion.classify([text])
    assert result.label == label, result.scores
    assert set(result.scores) == set(EMOTIONS)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-6)
    assert result.scores[label] == max(result.scores.values())


def test_results_keep_input_order(emotion: OfflineEmotionClassifier) -> None:
    texts = ["I am so happy today", "너무 무서워서 소리를 질렀다", "I am so happy today"]
    batch = emotion.classify(texts)
    one_by_one = [emotion.classify([t])[0] for t in texts]
    assert [r.label for r in batch] == [r.label for r in one_by_one]
    assert batch[0].scores == pytest.approx(batch[2].scores)


@pytest.mark.parametrize(
    ("insult", "neutral"),
    [
        ("You are a stupid idiot and I hate you", "I went to the park with my friend"),
        ("shut up you worthless bitch", "The weather was nice so we walked by the river"),
        ("이 병신 같은 새끼야 꺼져", "오늘 날씨가 좋아서 산책했다"),
        ("미친놈아 닥쳐 진짜 역겹다", "친구와 함께 맛있는 저녁을 먹었다"),
    ],
)
def test_insults_score_higher_than_neutral_sentences(
    toxicity: OfflineToxicityClassifier, insult: str, neutral: str
) -> None:
    bad, fine = toxicity.score([insult, neutral])
    assert bad > 0.5 > fine


@pytest.mark.parametrize(
    "text",
    [
        # Words that only contain a slur's or a swear word's letters (the Scunthorpe problem): "bigger"
        # scored 0.90-0.94, over the signal threshold, so a plain DreamBank report went to review.
        "The waves got bigger and bigger.",
        "The house got bigger.",
        "The house in my dream kept getting bigger.",
        "My sister swore the spider was bigger than her hand.",
        "그 역이 이 노선의 시발점이었다.",
        "밤새 한숨도 자지 못했다.",
    ],
)
def test_harmless_words_holding_an_insults_letters_stay_under_the_review_signal(
    toxicity: OfflineToxicityClassifier, text: str
) -> None:
    # The service reviews a diary on the toxicity signal alone at this score.
    assert toxicity.score([text])[0] < SafetySettings().signal_review_threshold


# --- overall emotion ------------------------------------------------------------------------


def _result(**scores: float) -> EmotionResult:
    full: dict[str, float] = {e: scores.get(e, 0.0) for e in EMOTIONS}
    return EmotionResult(label=max(EMOTIONS, key=lambda e: full[e]), scores=full)


def test_overall_emotion_is_the_score_weighted_mean() -> None:
    fear, joy = _result(fear=0.8, neutral=0.2), _result(joy=0.9, neutral=0.1)
    overall = overall_emotion([fear, joy], [3.0, 1.0])
    assert overall.label == "fear"
    assert overall.scores["fear"] == pytest.approx(0.6)
    assert overall.scores["joy"] == pytest.approx(0.225)
    assert sum(overall.scores.values()) == pytest.approx(1.0)
    assert overall_emotion([fear, joy], [1.0, 3.0]).label == "joy"


def test_overall_emotion_edge_cases() -> None:
    assert overall_emotion([]).label == "neutral"
    fear, joy = _result(fear=0.8, neutral=0.2), _result(joy=0.9, neutral=0.1)
    assert overall_emotion([fear, joy], [0.0, 0.0]).scores == overall_emotion([fear, joy]).scores
    with pytest.raises(ValueError):
        overall_emotion([fear, joy], [1.0])


# --- artifact errors ------------------------------------------------------------------------


def test_missing_or_foreign_artifacts_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="train-classifiers"):
        OfflineEmotionClassifier.load(tmp_path / "nothing.npz")

    params = FeatureParams(bits=8)
    model = LinearTextModel(
        params=params,
        idf=np.ones(params.n_features, dtype=np.float32),
        weights=np.zeros((params.n_features, 1), dtype=np.float32),
        bias=np.zeros(1, dtype=np.float32),
        meta={"classes": ["non_toxic", "toxic"]},
    )
    model.save(tmp_path / "tox.npz")
    assert OfflineToxicityClassifier.load(tmp_path / "tox.npz").score(["x"]) == [pytest.approx(0.5)]
    with pytest.raises(ArtifactError, match="classes"):
        OfflineEmotionClassifier.load(tmp_path / "tox.npz")

    meta = json.loads((tmp_path / "tox.json").read_text(encoding="utf-8"))
    meta["features"]["version"] = 999
    (tmp_path / "tox.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArtifactError, match="feature version"):
        OfflineToxicityClassifier.load(tmp_path / "tox.npz")
