"""One contract, every implementation that runs here: the shipped offline classifiers and the real
adapters (transformers, detoxify) on tiny random models built at test time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.emotion import OfflineEmotionClassifier
from agent.interfaces import EmotionClassifier, ToxicityClassifier
from agent.schemas import EMOTIONS
from agent.toxicity import OfflineToxicityClassifier

TEXTS = [
    "I was chased by a monster through a dark forest.",
    "꿈에서 엄마를 다시 만나서 너무 행복했다.",
    "you are stupid",
    "!",
]


def _offline_emotion(tmp: Path) -> EmotionClassifier:
    return OfflineEmotionClassifier.load()  # the shipped artifact: a load failure is a failure


def _transformers_emotion(tmp: Path) -> EmotionClassifier:
    from agent.adapters.hf_emotion import TransformersEmotionClassifier
    from tests.tiny_models.bert import build_classifier

    build_classifier(tmp, ["sad", "happy", "scared", "other"], seed=7)
    return TransformersEmotionClassifier(
        str(tmp), {"sad": "sadness", "happy": "joy", "scared": "fear", "other": "neutral"}, batch_size=3
    )


def _offline_toxicity(tmp: Path) -> ToxicityClassifier:
    return OfflineToxicityClassifier.load()


def _detoxify(tmp: Path) -> ToxicityClassifier:
    import torch
    from transformers import BertForSequenceClassification

    from agent.adapters.detoxify_adapter import DetoxifyClassifier
    from tests.tiny_models.bert import save_tokenizer, tiny_bert_config

    torch.manual_seed(11)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    args = {"model_type": "bert-base-uncased", "model_name": "BertForSequenceClassification",
            "tokenizer_name": "BertTokenizer", "num_classes": 2}
    checkpoint = tmp / "tiny.ckpt"
    torch.save({"config": {"arch": {"args": args}, "dataset": {"args": {"classes": ["toxic", "insult"]}}},
                "state_dict": model.state_dict()}, checkpoint)
    save_tokenizer(tmp / "config")
    tiny_bert_config().save_pretrained(tmp / "config")
    return DetoxifyClassifier(checkpoint, tmp / "config")


EMOTION_IMPLS: dict[str, Callable[[Path], EmotionClassifier]] = {
    "offline": _offline_emotion,
    "transformers": _transformers_emotion,
}
TOXICITY_IMPLS: dict[str, Callable[[Path], ToxicityClassifier]] = {
    "offline": _offline_toxicity,
    "detoxify": _detoxify,
}


@pytest.fixture(params=list(EMOTION_IMPLS))
def emotion(request: Any, tmp_path: Path) -> EmotionClassifier:
    return EMOTION_IMPLS[request.param](tmp_path)


@pytest.fixture(params=list(TOXICITY_IMPLS))
def toxicity(request: Any, tmp_path: Path) -> ToxicityClassifier:
    return TOXICITY_IMPLS[request.param](tmp_path)


def test_emotion_contract(emotion: EmotionClassifier) -> None:
    assert isinstance(emotion, EmotionClassifier)
    assert emotion.classify([]) == []
    results = emotion.classify(TEXTS)
    assert len(results) == len(TEXTS)
    for result in results:
        assert set(result.scores) == set(EMOTIONS)
        assert all(0.0 <= s <= 1.0 for s in result.scores.values())
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-6)
        assert result.scores[result.label] == max(result.scores.values())
    # one text alone gets the same answer as inside a batch (order kept, no cross-talk)
    alone = emotion.classify([TEXTS[1]])[0]
    assert alone.label == results[1].label
    assert alone.scores == pytest.approx(results[1].scores, abs=1e-4)


def test_toxicity_contract(toxicity: ToxicityClassifier) -> None:
    assert isinstance(toxicity, ToxicityClassifier)
    assert toxicity.name
    assert toxicity.score([]) == []
    scores = toxicity.score(TEXTS)
    assert len(scores) == len(TEXTS)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert toxicity.score([TEXTS[2]])[0] == pytest.approx(scores[2], abs=1e-4)
