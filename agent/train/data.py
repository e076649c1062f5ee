"""Labelled rows for the offline classifiers, read from the training and evaluation files in `data/`.

Training (`<data>/train/` or a directory holding the four files directly):
- `goemotions_ekman_train.jsonl`: English, already over the 7 emotions, sometimes several labels;
- `kote_ko.jsonl`: Korean, KOTE's 44 emotions, mapped to the 7 with `KOTE_TO_EMOTION`;
- `korean_hate_speech_train.jsonl`: Korean, hate none/offensive/hate;
- `davidson_tweets_en.jsonl`: English tweets, hate_speech/offensive_language/neither;
- `dream_scenes.jsonl`: Korean and English dream scenes written for the project, one of the 7
  emotions each (the encoder's scene head and the choice of the emotion mix).

Evaluation files (`emotion_en.jsonl`, `narratives_ko.jsonl`, `toxic_en.jsonl`, `toxic_ko.jsonl`)
are read the same way so that the reported numbers use the same label mapping.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.features import file_digest
from agent.schemas import EMOTIONS

GOEMOTIONS = "goemotions_ekman_train.jsonl"
KOTE = "kote_ko.jsonl"
KOREAN_HATE = "korean_hate_speech_train.jsonl"
GROUP_BIASES = frozenset({"gender", "others"})  # kocohub bias labels that name a group (the other is "none")
DAVIDSON = "davidson_tweets_en.jsonl"
LOOKALIKES = "toxicity_lookalikes.jsonl"  # harmless words holding an insult's letters ("bigger", "시발점")
DREAM_SCENES = "dream_scenes.jsonl"
DREAM_SCENES_EVAL = "dream_scenes_eval.jsonl"  # next to the evaluation files, never trained on
EMOTION_FILES = (GOEMOTIONS, KOTE, DREAM_SCENES)
TOXICITY_FILES = (KOREAN_HATE, DAVIDSON, LOOKALIKES, GOEMOTIONS, KOTE)  # the last two: calm_examples

# The mapping of data/README.md. "neutral" counts only 없음; the README's weak
# labels (비장함, 의심/불신, 귀찮음, 부담/안_내킴, 재미없음) are neutral anyway because they map
# to nothing and a row with nothing mapped is neutral.
_KOTE_GROUPS = {
    "anger": "불평/불만 화남/분노 짜증 어이없음 지긋지긋",
    "disgust": "역겨움/징그러움 한심함 증오/혐오 우쭐댐/무시함",
    "fear": "공포/무서움 불안/걱정 당황/난처",
    "joy": "환영/호의 감동/감탄 고마움 존경 기대감 뿌듯함 편안/쾌적 아껴주는 즐거움/신남 "
    "흐뭇함(귀여움/예쁨) 행복 기쁨 안심/신뢰",
    "sadness": "슬픔 안타까움/실망 절망 패배/자기혐오 힘듦/지침 서러움 불쌍함/연민 죄책감 부끄러움",
    "surprise": "신기함/관심 놀람 경악 깨달음",
    "neutral": "없음",
}
KOTE_TO_EMOTION: dict[str, str] = {
    label: emotion for emotion, labels in _KOTE_GROUPS.items() for label in labels.split()
}


@dataclass(frozen=True)
class Example:
    """One labelled text; `lang` is "en" or "ko", `label` a class name of the task."""

    text: str
    label: str
    lang: str


def kote_emotion(
    labels: list[str], label_weight: dict[str, float] | None = None, tie_tolerance: float = 0.0
) -> str:
    """One of the 7 emotions for a KOTE row: the emotion its labels vote for most; ties -> neutral.

    Without `label_weight` every label is one vote (the README's mapping, used for evaluation).
    A runner-up within `tie_tolerance` (a fraction of the top vote) also counts as a tie.
    """
    votes: dict[str, float] = {}
    for label in labels:
        if label in KOTE_TO_EMOTION:
            emotion = KOTE_TO_EMOTION[label]
            votes[emotion] = votes.get(emotion, 0.0) + (label_weight or {}).get(label, 1.0)
    ranked = sorted(votes.values(), reverse=True)
    if not ranked or (
        len(ranked) > 1
        and (math.isclose(ranked[0], ranked[1]) or ranked[1] >= ranked[0] * (1.0 - tie_tolerance))
    ):
        return "neutral"
    return max(votes, key=lambda e: votes[e])


def kote_rarity_weights(rows: list[dict[str, Any]], exponent: float) -> dict[str, float]:
    """A vote weight per KOTE label: (median label frequency / its frequency) ** exponent.

    KOTE rows carry the union of five annotators' labels, often ten or more, and the broad
    complaint/disappointment labels outvote rare, specific ones: with one vote per label only
    96 of 9,700 rows come out as fear, although 286 carry 공포/무서움. Weighting a label by its
    rarity lets the specific label decide. Exponent 0 gives one vote per label.
    """
    freq = Counter(label for row in rows for label in row["labels"])
    if not freq or exponent == 0:
        return {}
    median = float(np.median(list(freq.values())))
    return {label: (median / n) ** exponent for label, n in freq.items()}


def train_dir(data: Path) -> Path:
    """The directory holding the training files: `data/train` when it exists, else `data`."""
    return data / "train" if (data / "train").is_dir() else data


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, one per non-blank line."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _spread(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """All rows of a file, or `limit` rows spread evenly over it (some files are sorted)."""
    return _spread_list(list(read_jsonl(path)), limit)


def _spread_list(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    if limit is None or limit >= len(rows):
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def emotion_examples(
    data: Path, limit: int | None = None, kote_rarity: float = 0.0, kote_tie: float = 0.0
) -> list[Example]:
    """GoEmotions (first label of each row) and KOTE rows; `limit` caps each file.

    KOTE rows are mapped with `kote_emotion`, each label's vote weighted by
    `kote_rarity_weights(rows, kote_rarity)`, runner-ups within `kote_tie` counting as ties
    (both 0: the README's mapping).
    """
    folder = train_dir(data)
    out = [
        Example(r["text"], r["labels"][0], "en")
        for r in _spread(folder / GOEMOTIONS, limit)
        if r["labels"] and r["labels"][0] in EMOTIONS
    ]
    kote = _spread(folder / KOTE, limit)
    weights = kote_rarity_weights(kote, kote_rarity)
    out += [Example(r["text"], kote_emotion(r["labels"], weights, kote_tie), "ko") for r in kote]
    return out


def dream_scene_examples(data: Path) -> list[Example]:
    """The dream scenes of the training folder (all of them: about a thousand rows, too few to cap)."""
    return [Example(r["text"], r["label"], r["lang"]) for r in read_jsonl(train_dir(data) / DREAM_SCENES)]


def dream_scenes_eval(data: Path) -> dict[str, list[Example]]:
    """The FIXED evaluation part of the dream scenes, per language: `dream_scenes_en`, `dream_scenes_ko`."""
    path = eval_dir(data) / DREAM_SCENES_EVAL
    if not path.exists():
        return {}
    rows = [Example(r["text"], r["label"], r["lang"]) for r in read_jsonl(path)]
    return {f"dream_scenes_{lang}": [r for r in rows if r.lang == lang] for lang in ("en", "ko")}


def toxicity_examples(
    data: Path, limit: int | None = None, calm: tuple[int, int] = (0, 0), lookalikes: int = 1
) -> list[Example]:
    """Korean hate speech and Davidson tweets as toxic / non_toxic, and harmless look-alike words
    (`LOOKALIKES`, each `lookalikes` times) as non_toxic; `limit` caps each file.

    `calm = (n_en, n_ko)` adds that many weakly labelled non_toxic rows from the emotion files
    (`calm_examples`), capped by `limit` too.
    """
    folder = train_dir(data)
    out = [
        Example(r["text"], "non_toxic" if r["hate"] == "none" else "toxic", "ko")
        for r in _spread(folder / KOREAN_HATE, limit)
    ]
    out += [
        Example(r["text"], "non_toxic" if r["class"] == "neither" else "toxic", "en")
        for r in _spread(folder / DAVIDSON, limit)
    ]
    # Character n-grams read "bigger" as a slur and "시발점" as a swear word: these teach them apart.
    out += [Example(r["text"], "non_toxic", r["lang"]) for r in _spread(folder / LOOKALIKES, limit)] * lookalikes
    n_en, n_ko = (min(n, limit) if limit is not None else n for n in calm)
    return out + calm_examples(data, n_en, n_ko)


_CALM_EMOTIONS = {"joy", "neutral", "sadness", "fear", "surprise"}


def calm_examples(data: Path, n_en: int, n_ko: int) -> list[Example]:
    """Everyday sentences as weak non_toxic rows: GoEmotions/KOTE rows with no anger or disgust label.

    The toxicity files' clean class is tweets and news comments, so a model trained on them
    alone calls 12 % of plain dream-report sentences toxic ("Red and white." 0.85); these rows
    teach it what ordinary narration looks like. At most `n_en` / `n_ko` rows, spread evenly.
    """
    folder = train_dir(data)
    english = [r for r in read_jsonl(folder / GOEMOTIONS) if r["labels"] and set(r["labels"]) <= _CALM_EMOTIONS]
    korean = [
        r
        for r in read_jsonl(folder / KOTE)
        if not any(KOTE_TO_EMOTION.get(label) in {"anger", "disgust"} for label in r["labels"])
    ]
    return [Example(r["text"], "non_toxic", "en") for r in _spread_list(english, n_en)] + [
        Example(r["text"], "non_toxic", "ko") for r in _spread_list(korean, n_ko)
    ]


def eval_dir(data: Path) -> Path:
    """The directory holding the evaluation files: `data`, or its parent when `data` is `train/`."""
    if not (data / "emotion_en.jsonl").exists() and (data.parent / "emotion_en.jsonl").exists():
        return data.parent
    return data


def emotion_eval(data: Path) -> dict[str, list[Example]]:
    """The evaluation split for emotion: `emotion_en` (GoEmotions test) and `narratives_ko` (KOTE)."""
    data = eval_dir(data)
    out: dict[str, list[Example]] = {}
    if (data / "emotion_en.jsonl").exists():
        out["emotion_en"] = [Example(r["text"], r["label"], "en") for r in read_jsonl(data / "emotion_en.jsonl")]
    if (data / "narratives_ko.jsonl").exists():
        out["narratives_ko"] = [
            Example(r["text"], kote_emotion(r["emotions"]), "ko") for r in read_jsonl(data / "narratives_ko.jsonl")
        ]
    return out


def toxicity_eval(data: Path) -> dict[str, list[Example]]:
    """The evaluation split for toxicity: `toxic_en` and `toxic_ko`."""
    data = eval_dir(data)
    out: dict[str, list[Example]] = {}
    for name, lang in (("toxic_en", "en"), ("toxic_ko", "ko")):
        path = data / f"{name}.jsonl"
        if path.exists():
            out[name] = [Example(r["text"], r["label"], lang) for r in read_jsonl(path)]
    return out


def files_digest(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """sha256 of each training file, stored in the artifact so a rebuild can be traced to its data."""
    return {name: file_digest(folder / name) for name in names}
