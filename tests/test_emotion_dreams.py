"""The emotion of dream narration (Korean and English) with the shipped emotion model.

The sentences below were written for this test (none comes from the evaluation files), each with
the emotion a reader would give it; 30 name their feeling in plain words, 6 leave it to the
situation (an exam with a blank sheet, teeth falling out). They were written after the lexicon,
by its author. The hashed head alone (trained on Reddit and news comments) gets 20 of 36; the
model before issue 9 (hashed head + lexicon) 31; the shipped model (with the sentence encoder's
heads and the dream/comment gate, `agent.emotion`) 33. The threshold, 75 %, is far above the
hashed head alone and leaves a few sentences of room, since a retrained model may move a
borderline sentence.
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.emotion import Mix, OfflineEmotionClassifier
from agent.emotion_lexicon import EVIDENCE_CAP, lexicon_evidence
from agent.features import FeatureParams, LinearTextModel
from agent.schemas import EMOTIONS

DREAMS: list[tuple[str, str]] = [
    # Korean
    ("꿈에서 귀신에게 쫓기다가 절벽에서 떨어졌다", "fear"),
    ("어두운 복도에서 누가 내 이름을 불러서 너무 무서웠다", "fear"),
    ("괴물이 문을 두드려서 옷장 안에 숨어 숨을 죽였다", "fear"),
    ("좀비들이 학교를 덮쳐서 친구들과 비명을 지르며 도망쳤다", "fear"),
    ("엘리베이터가 멈추지 않고 계속 떨어져서 식은땀이 났다", "fear"),
    ("돌아가신 할머니가 나와서 손을 잡아 주셨는데 깨어나니 눈물이 났다", "sadness"),
    ("꿈속에서 혼자 텅 빈 집에 남겨져서 너무 외롭고 슬펐다", "sadness"),
    ("헤어진 친구를 다시 만났는데 말을 걸 수 없어서 울었다", "sadness"),
    ("하늘을 자유롭게 날아다니며 웃었고 정말 행복했다", "joy"),
    ("바닷가에서 가족들과 맛있는 것을 먹으며 즐겁게 놀았다", "joy"),
    ("좋아하는 가수와 무대에 올라 함께 노래해서 너무 신났다", "joy"),
    ("문을 열었더니 방이 바다로 바뀌어 있어서 깜짝 놀랐다", "surprise"),
    ("고양이가 사람처럼 말을 해서 정말 신기했다", "surprise"),
    ("동생이 내 일기를 몰래 읽어서 꿈에서 크게 화를 냈다", "anger"),
    ("상사가 내 잘못도 아닌데 소리를 질러서 짜증나고 화가 났다", "anger"),
    ("방바닥에 구더기가 가득해서 역겹고 징그러웠다", "disgust"),
    ("썩은 음식 냄새 때문에 토할 것 같았다", "disgust"),
    # implicit: the feeling is in the situation, few or no emotion words
    ("시험장에 들어갔는데 답안지가 전부 백지였고 종료 종이 울렸다", "fear"),
    ("갑자기 하늘이 어두워지고 큰 고래가 나타나 나를 삼켰다", "fear"),
    ("이가 하나씩 흔들리더니 손바닥 위로 모두 빠져 버렸다", "fear"),
    # English
    ("I was chased through a dark forest by a monster and woke up screaming.", "fear"),
    ("Someone was standing at the foot of my bed and I was too terrified to move.", "fear"),
    ("I was trapped in an elevator that kept falling and I panicked.", "fear"),
    ("My late grandfather hugged me and I woke up crying.", "sadness"),
    ("I dreamt my dog died and I felt so lonely and sad.", "sadness"),
    ("I was flying over the city, laughing, and felt completely happy.", "joy"),
    ("We had a wonderful party on the beach and everyone was dancing.", "joy"),
    ("I opened the fridge and there was a whole ocean inside; I was amazed.", "surprise"),
    ("My teacher turned into a giant owl, which shocked me.", "surprise"),
    ("My brother broke my guitar and I was furious and yelled at him.", "anger"),
    ("The bathroom floor was covered with cockroaches and it was disgusting.", "disgust"),
    ("The food was rotten and full of maggots, so gross I wanted to vomit.", "disgust"),
    ("I got on the bus to school like any other day.", "neutral"),
    # implicit
    ("I showed up to the final exam and had never been to a single class.", "fear"),
    ("My teeth crumbled one by one into my hands.", "fear"),
    (
        "My mother, who passed away last year, was cooking in the kitchen as if nothing had happened.",
        "sadness",
    ),
]
MIN_ACCURACY = 0.75


@pytest.fixture(scope="module")
def emotion() -> OfflineEmotionClassifier:
    return OfflineEmotionClassifier.load()


def _accuracy(classifier: OfflineEmotionClassifier) -> float:
    results = classifier.classify([text for text, _ in DREAMS])
    return float(np.mean([r.label == want for r, (_, want) in zip(results, DREAMS, strict=True)]))


def test_dream_sentences_reach_the_threshold(emotion: OfflineEmotionClassifier) -> None:
    plain = OfflineEmotionClassifier(emotion.model, None, {"en": Mix(), "ko": Mix()})
    shipped, hashed_only = _accuracy(emotion), _accuracy(plain)
    assert shipped >= MIN_ACCURACY, (shipped, hashed_only)
    assert shipped > hashed_only + 0.2  # the lexicon and the encoder heads are what get it there


@pytest.mark.parametrize(
    ("text", "emotion_name"),
    [
        ("너무 무서워서 소리를 질렀다", "fear"),
        ("엄마가 그리워서 눈물이 났다", "sadness"),
        ("행복해서 웃었다", "joy"),
        ("화가 났다", "anger"),
        ("I was chased by a monster", "fear"),
        ("she cried at the funeral", "sadness"),
    ],
)
def test_lexicon_reads_lemmas_and_word_forms(text: str, emotion_name: str) -> None:
    evidence = lexicon_evidence(text)
    assert max(evidence, key=lambda e: evidence[e]) == emotion_name
    assert set(evidence) == set(EMOTIONS)


@pytest.mark.parametrize(
    "text",
    [
        "안 무서웠다",
        "무섭지는 않았다",
        "겁이 없다",
        "그는 귀신같이 알아챘다",
        "I wasn't scared at all",
        "never afraid",
    ],
)
def test_negations_and_idioms_give_no_evidence(text: str) -> None:
    assert not any(lexicon_evidence(text).values())


def test_evidence_saturates() -> None:
    many = "무섭다 귀신 괴물 좀비 악마 비명 공포"
    assert lexicon_evidence(many)["fear"] == EVIDENCE_CAP


def test_lexicon_is_a_prior_not_an_override() -> None:
    """A head very sure of joy keeps joy next to one fear word; the word only raises fear."""
    classes = list(EMOTIONS)
    joy, fear = classes.index("joy"), classes.index("fear")
    params = FeatureParams(bits=4)
    bias = np.zeros(len(classes), dtype=np.float32)
    bias[joy] = 8.0  # the model is very sure of joy, whatever the text
    sure_of_joy = LinearTextModel(
        params,
        idf=np.ones(params.n_features, dtype=np.float32),
        weights=np.zeros((params.n_features, len(classes)), dtype=np.float32),
        bias=bias,
        meta={"classes": classes},
    )
    text = "귀신"
    assert lexicon_evidence(text)["fear"] == 1.0  # one fear word

    def probs(lexicon: float) -> np.ndarray:
        result = OfflineEmotionClassifier(sure_of_joy, None, {"ko": Mix(lexicon=lexicon)}).classify([text])[0]
        return np.array([result.scores[c] for c in classes])

    with_lexicon = probs(1.0)
    assert with_lexicon.argmax() == joy and with_lexicon[fear] > probs(0.0)[fear]
    assert np.isclose(with_lexicon.sum(), 1.0)


def test_zero_weight_is_the_plain_classifier(emotion: OfflineEmotionClassifier) -> None:
    plain = OfflineEmotionClassifier(emotion.model, None, {"en": Mix(lexicon=0.0), "ko": Mix(lexicon=0.0)})
    texts = ["꿈에서 귀신에게 쫓기다가 절벽에서 떨어졌다", "a monster chased me"]
    expected = np.exp(emotion.model.decision(texts))
    expected /= expected.sum(axis=1, keepdims=True)
    got = np.array([[r.scores[c] for c in emotion.model.classes] for r in plain.classify(texts)])
    assert np.allclose(got, expected)
