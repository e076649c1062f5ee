"""The transformers emotion adapter and the detoxify adapter, on tiny random BERTs built here.

Real transformers and detoxify code paths, HF_HUB_OFFLINE=1 (conftest): nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import transformers  # noqa: F401  (installed by the project: a missing one fails here, never skips)

from agent.interfaces import EmotionClassifier, ToxicityClassifier
from agent.schemas import EMOTIONS
from tests.tiny_models.bert import build_classifier, save_tokenizer, tiny_bert_config

GOEMO_LABELS = ["admiration", "anger", "fear", "joy", "sadness", "neutral", "curiosity", "confusion"]
LABEL_MAP = {
    "admiration": "joy",
    "anger": "anger",
    "fear": "fear",
    "joy": "joy",
    "sadness": "sadness",
    "neutral": "neutral",
    "curiosity": "surprise",
    # "confusion" left out on purpose: dropped, the rest renormalised
}
TEXTS = ["i was chased by a monster in the dark forest", "happy dream", "i flew over the sea and woke up"]


# --- transformers emotion ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emotion_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("emotion")
    model = build_classifier(directory, GOEMO_LABELS, seed=1)
    with torch.no_grad():  # make "curiosity" dominate so the mapped label is known
        model.classifier.bias.zero_()
        model.classifier.bias[GOEMO_LABELS.index("curiosity")] = 4.0
    model.save_pretrained(directory)
    return directory


def _reference_probs(directory: Path, texts: list[str]) -> Any:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    return torch.softmax(logits, dim=-1)


def test_emotion_scores_are_mapped_and_renormalised(emotion_model_dir: Path) -> None:
    from agent.adapters.hf_emotion import TransformersEmotionClassifier

    classifier = TransformersEmotionClassifier(str(emotion_model_dir), LABEL_MAP, batch_size=2)
    assert isinstance(classifier, EmotionClassifier)
    results = classifier.classify(TEXTS)
    probs = _reference_probs(emotion_model_dir, TEXTS)

    assert len(results) == len(TEXTS)
    for result, row in zip(results, probs.tolist(), strict=True):
        assert set(result.scores) == set(EMOTIONS)
        assert sum(result.scores.values()) == pytest.approx(1.0)
        kept = 1.0 - row[GOEMO_LABELS.index("confusion")]
        expected_joy = (row[GOEMO_LABELS.index("admiration")] + row[GOEMO_LABELS.index("joy")]) / kept
        assert result.scores["joy"] == pytest.approx(expected_joy, rel=1e-4)
        assert result.scores["surprise"] == pytest.approx(row[GOEMO_LABELS.index("curiosity")] / kept, rel=1e-4)
        assert result.scores["disgust"] == 0.0  # no model label maps to it
        assert result.label == "surprise"


def test_a_model_with_the_seven_emotions_needs_no_map(tmp_path: Path) -> None:
    from agent.adapters.hf_emotion import TransformersEmotionClassifier

    build_classifier(tmp_path, [e.upper() for e in EMOTIONS], seed=2)
    (result,) = TransformersEmotionClassifier(str(tmp_path)).classify(["a dark forest"])
    assert set(result.scores) == set(EMOTIONS)
    assert all(s > 0 for s in result.scores.values())


def test_bad_label_maps_are_refused_with_the_model_labels(emotion_model_dir: Path) -> None:
    from agent.adapters.hf_emotion import TransformersEmotionClassifier

    with pytest.raises(ValueError, match="does not have: \\['amusement'\\]"):
        TransformersEmotionClassifier(str(emotion_model_dir), {"amusement": "joy"})
    with pytest.raises(ValueError, match="unknown emotions"):
        TransformersEmotionClassifier(str(emotion_model_dir), {"joy": "bliss"})
    with pytest.raises(ValueError, match="give a label map"):
        TransformersEmotionClassifier(str(emotion_model_dir))


def test_a_missing_model_names_the_fetch_command() -> None:
    from agent.adapters.hf_emotion import TransformersEmotionClassifier

    with pytest.raises(FileNotFoundError, match="hf download j-hartmann/emotion-english-distilroberta-base"):
        TransformersEmotionClassifier("j-hartmann/emotion-english-distilroberta-base", {})


# --- detoxify ------------------------------------------------------------------------------------

CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


@pytest.fixture(scope="module")
def detoxify_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """A detoxify-format checkpoint naming the hub's `bert-base-uncased`, and a local config folder.

    The config folder is what a deployment saves from the base model: num_labels is the default 2,
    not the checkpoint's 6 classes.
    """
    from transformers import BertForSequenceClassification

    root = tmp_path_factory.mktemp("detoxify")
    torch.manual_seed(3)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=len(CLASSES))).eval()
    with torch.no_grad():
        model.classifier.bias.zero_()
        model.classifier.bias[0] = 3.0  # "toxic" high, so loading the state dict is visible
    checkpoint = root / "toxic_tiny.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        "model_type": "bert-base-uncased",
                        "model_name": "BertForSequenceClassification",
                        "tokenizer_name": "BertTokenizer",
                        "num_classes": len(CLASSES),
                    }
                },
                "dataset": {"args": {"classes": CLASSES}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    config_dir = root / "bert-base-uncased"
    tiny_bert_config().save_pretrained(config_dir)
    save_tokenizer(config_dir)
    return checkpoint, config_dir, model


def test_detoxify_loads_a_local_checkpoint_offline_and_scores(
    detoxify_files: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.adapters.detoxify_adapter import DetoxifyClassifier

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint, config_dir, model = detoxify_files
    classifier = DetoxifyClassifier(checkpoint, config_dir)
    assert isinstance(classifier, ToxicityClassifier)
    assert classifier.name == "detoxify"
    assert classifier.class_names == [
        "toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack",
    ]

    texts = ["you are stupid", "a nice dream about the sea"]
    rows = classifier.predict(texts)
    tokenizer = classifier._detoxify.tokenizer
    with torch.no_grad():
        expected = torch.sigmoid(model(**tokenizer(texts, padding=True, return_tensors="pt")).logits)
    for row, ref in zip(rows, expected.tolist(), strict=True):
        assert list(row.values()) == pytest.approx(ref, abs=1e-5)  # the checkpoint's weights, not random
    scores = classifier.score(texts)
    assert scores == pytest.approx([r["toxicity"] for r in rows])
    assert all(s > 0.9 for s in scores)  # the bias set above
    (single,) = classifier.score(["one text"])  # detoxify squeezes a batch of one
    assert 0.0 <= single <= 1.0
    assert classifier.score([]) == []


def test_plain_detoxify_falls_into_the_hub_trap(
    detoxify_files: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the adapter exists: detoxify with a local config folder still asks the hub."""
    from detoxify import Detoxify

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint, config_dir, _ = detoxify_files
    with pytest.raises(OSError):
        Detoxify(checkpoint=str(checkpoint), huggingface_config_path=str(config_dir))


def test_detoxify_missing_files_are_named(tmp_path: Path, detoxify_files: tuple[Path, Path, Any]) -> None:
    from agent.adapters.detoxify_adapter import DetoxifyClassifier

    checkpoint, config_dir, _ = detoxify_files
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        DetoxifyClassifier(tmp_path / "nope.ckpt", config_dir)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        DetoxifyClassifier(checkpoint, tmp_path)
    torch.save({"state_dict": {}}, tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="not a detoxify checkpoint"):
        DetoxifyClassifier(tmp_path / "bad.ckpt", config_dir)


# --- chosen by settings --------------------------------------------------------------------------


def test_settings_select_the_transformers_emotion_model(emotion_model_dir: Path) -> None:
    from pydantic import ValidationError

    from agent.adapters.hf_emotion import TransformersEmotionClassifier
    from dreamreel.settings import EmotionSettings, Settings
    from dreamreel.wiring import build_emotion

    settings = Settings(
        emotion=EmotionSettings(backend="transformers", model=str(emotion_model_dir), label_map=LABEL_MAP)
    )
    classifier = build_emotion(settings)
    assert isinstance(classifier, TransformersEmotionClassifier)
    assert classifier.classify(["a dark forest"])[0].label == "surprise"
    with pytest.raises(ValidationError, match=r"needs emotion\.model"):
        EmotionSettings(backend="transformers")


def test_settings_select_detoxify_and_the_policy_reports_it(detoxify_files: tuple[Path, Path, Any]) -> None:
    from agent.safety.policy import SafetyPolicy
    from dreamreel.settings import DetoxifySettings, Settings
    from dreamreel.wiring import build_toxicity

    checkpoint, config_dir, _ = detoxify_files
    settings = Settings(detoxify=DetoxifySettings(checkpoint=checkpoint, config_dir=config_dir))
    toxicity = build_toxicity(settings)
    assert toxicity is not None and toxicity.name == "detoxify"
    verdict = SafetyPolicy(toxicity=toxicity).check("I dreamt of a quiet lake.")
    (reason,) = [r for r in verdict.reasons if r.category == "toxicity"]
    assert reason.source == "detoxify"  # the random model's bias makes everything "toxic"
    assert reason.span is not None and reason.span.text == "I dreamt of a quiet lake."
