"""A small emotion lexicon for dream narration, Korean and English, used as evidence next to the
learned classifier (`agent.emotion`).

Why: the shipped head learned from Reddit comments and Korean news comments, where a dream's
plain words of fear (귀신, 쫓기다, "chased by a monster") are rare or mean something else. The
lexicon names such words once, from general knowledge of the two languages (not from any
evaluation file), and `lexicon_evidence` counts them per emotion. The classifier adds the counts
to its log-probabilities with a weight chosen on held-out training rows and renormalises, so the
words shift the odds and never override the model.

Korean is matched on Kiwi lemmas (`agent.text.morphemes`: 무서워서 -> 무섭다, 행복해서 -> 행복하다),
English on lower-case words with a few regular endings stripped (chased -> chase, screaming ->
scream). A negation next to a word (안 무섭다, 무섭지 않았다, "wasn't scared") cancels it, and
similes like 귀신같이 ("uncannily") do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.schemas import EMOTIONS
from agent.text import has_hangul, morphemes

STRONG = 1.0
WEAK = 0.5
# Evidence per emotion saturates: a scene listing five monsters is not five times as frightening.
EVIDENCE_CAP = 2.0


def _table(groups: dict[str, tuple[str, str]]) -> dict[str, tuple[str, float]]:
    """{emotion: (strong words, weak words)} -> {word: (emotion, strength)}."""
    out: dict[str, tuple[str, float]] = {}
    for emotion, (strong, weak) in groups.items():
        for strength, words in ((STRONG, strong), (WEAK, weak)):
            for word in words.split():
                out[word] = (emotion, strength)
    return out


# Korean dictionary forms (Kiwi lemmas; noun + 하다 comes out as one lemma, e.g. 행복하다).
KOREAN = _table(
    {
        "fear": (
            "무섭다 두렵다 공포 공포스럽다 겁 겁나다 소름 소름끼치다 귀신 유령 괴물 좀비 악마 "
            "살인자 쫓기다 쫓아오다 도망치다 도망가다 비명 악몽 식은땀 오싹하다 섬뜩하다 "
            "무시무시하다 끔찍하다 겁먹다 두려움 무서움 공포감 불안하다 불안 괴한",
            "떨다 숨다 떨어지다 위험하다 당황하다 어둡다 캄캄하다 삼키다 갇히다 조마조마하다 걱정되다 걱정",
        ),
        "sadness": (
            "슬프다 슬픔 울다 눈물 그립다 외롭다 서럽다 우울하다 쓸쓸하다 흐느끼다 통곡 "
            "이별 장례식 절망 절망하다 서글프다 울음 눈물겹다 비통하다",
            "허전하다 아프다 죽다 돌아가시다 헤어지다 잃어버리다 후회하다 미안하다 그리움 아쉽다 "
            "보고싶다 떠나다 상실",
        ),
        "joy": (
            "기쁘다 기쁨 행복하다 행복 웃다 웃음 신나다 설레다 즐겁다 재밌다 재미있다 "
            "평화롭다 편안하다 반갑다 뿌듯하다 상쾌하다 황홀하다 감동 감동하다 환호하다 기분좋다",
            "좋다 사랑 사랑하다 따뜻하다 아름답다 예쁘다 날다 자유롭다 환하다 포근하다 웃기다 축하하다",
        ),
        "surprise": (
            "놀라다 깜짝 신기하다 어리둥절하다 경악 경악하다 놀랍다 놀라움",
            "갑자기 이상하다 황당하다 믿기다 뜻밖 난데없이 느닷없이",
        ),
        "anger": (
            "화나다 분노 분노하다 짜증 짜증나다 열받다 빡치다 분하다 원망하다 격분하다 성나다",
            "억울하다 싸우다 소리치다 욕하다 따지다 싸움 미워하다",
        ),
        "disgust": (
            "역겹다 징그럽다 더럽다 구역질 혐오 혐오스럽다 토하다 구더기 바퀴벌레 메스껍다",
            "벌레 썩다 끈적하다 악취 불쾌하다",
        ),
    }
)
# Two lemmas in a row that mean one thing (화가 났다, 가위에 눌렸다).
KOREAN_PAIRS: dict[tuple[str, str], tuple[str, float]] = {
    ("화", "나다"): ("anger", STRONG),
    ("화", "내다"): ("anger", STRONG),
    ("가위", "눌리다"): ("fear", STRONG),
    ("숨", "막히다"): ("fear", WEAK),
    ("눈물", "나다"): ("sadness", STRONG),
}
# Words that are similes or idioms when the next lemma is one of these: 귀신같이 = "uncannily".
KOREAN_IDIOMS: dict[str, frozenset[str]] = {
    "귀신": frozenset({"같이", "같다", "처럼"}),
    "죽다": frozenset({"겠"}),  # 좋아 죽겠다, 배고파 죽겠다: intensifier, not death
}
_KOREAN_NEGATION_BEFORE = frozenset({"안", "못"})
_KOREAN_NEGATION_AFTER = frozenset({"않다", "없다", "못하다"})
_CONTENT_TAG = re.compile(r"^(NN|NR|NP|V|MA|XR|IC)")

ENGLISH = _table(
    {
        "fear": (
            "scared scary scare afraid terrified terrifying terror fear fearful frightened frighten "
            "frightening horror horrified horrible panic panicked chase chasing monster ghost demon "
            "zombie murderer killer scream nightmare dread dreadful creepy spooky petrified haunted "
            "hunted hide hiding flee fled escape trapped menacing anxious anxiety nervous",
            "dark darkness run ran fall fell falling danger dangerous worried worry tremble shaking strange",
        ),
        "sadness": (
            "sad sadness cry cried crying tears tear weep wept sob sobbing lonely loneliness grief "
            "grieve mourn funeral heartbroken miserable depressed sorrow unhappy",
            "miss missed died dead death lost lose goodbye regret sorry alone hurt",
        ),
        "joy": (
            "happy happiness joy joyful glad laugh laughed laughing delighted excited excitement "
            "wonderful fun enjoy enjoyed love loved beautiful peaceful thrilled cheerful",
            "smile smiled smiling fly flying flew free warm nice good great calm hug celebrate",
        ),
        "surprise": (
            "surprised surprise surprising shocked shock amazed amazing astonished astonishing "
            "startled unexpected unexpectedly stunned",
            "suddenly sudden weird odd bizarre wow realize realized",
        ),
        "anger": (
            "angry anger furious rage mad annoyed annoying irritated frustrated hate hated yell yelled "
            "yelling outraged",
            "argue argued argument fight fought shout shouted unfair",
        ),
        "disgust": (
            "disgusting disgusted gross vomit vomited puke nauseous nasty revolting filthy maggots "
            "cockroach cockroaches",
            "dirty rotten rotting slimy smell stink stinking bugs worms",
        ),
    }
)
_ENGLISH_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ENGLISH_NEGATION = frozenset({"not", "never", "no", "without", "nothing"})


def _english_forms(word: str) -> Iterable[str]:
    """The word and its guesses at a dictionary form (chased -> chase, screams -> scream)."""
    yield word
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("d", ""),
        ("ing", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + repl
            yield stem
            if suffix == "ing":
                yield stem + "e"  # chasing -> chase
            if suffix in ("ed", "ing") and len(stem) > 3 and stem[-1] == stem[-2]:
                yield stem[:-1]  # stopped -> stop


def _english_hits(text: str) -> list[tuple[str, float]]:
    words = _ENGLISH_WORD.findall(text.lower())
    hits: list[tuple[str, float]] = []
    for i, word in enumerate(words):
        entry = next((ENGLISH[f] for f in _english_forms(word) if f in ENGLISH), None)
        if entry is None:
            continue
        before = words[max(0, i - 3) : i]
        if any(w in _ENGLISH_NEGATION or w.endswith("n't") for w in before):
            continue
        hits.append(entry)
    return hits


def _korean_hits(text: str) -> list[tuple[str, float]]:
    tokens = morphemes(text)
    content = [i for i, m in enumerate(tokens) if _CONTENT_TAG.match(m.tag)]
    hits: list[tuple[str, float]] = []
    for k, i in enumerate(content):
        lemma = tokens[i].lemma
        following = [m.lemma for m in tokens[i + 1 : i + 4]]
        next_content = tokens[content[k + 1]].lemma if k + 1 < len(content) else ""
        entry = KOREAN_PAIRS.get((lemma, next_content)) or KOREAN.get(lemma)
        if entry is None:
            continue
        if following and following[0] in KOREAN_IDIOMS.get(lemma, frozenset()):
            continue
        before = tokens[content[k - 1]].lemma if k > 0 and content[k - 1] == i - 1 else ""
        if before in _KOREAN_NEGATION_BEFORE or any(f in _KOREAN_NEGATION_AFTER for f in following[:3]):
            continue
        hits.append(entry)
    return hits


def lexicon_evidence(text: str) -> dict[str, float]:
    """Evidence per emotion (0 .. EVIDENCE_CAP) from the lexicon words in `text`; all 7 keys.

    Korean words are read only when the text has Hangul (Kiwi is loaded then); English words
    are read in every text, since Korean diaries quote English and the reverse.
    """
    hits = _english_hits(text)
    if has_hangul(text):
        hits += _korean_hits(text)
    evidence: dict[str, float] = dict.fromkeys(EMOTIONS, 0.0)
    for emotion, strength in hits:
        evidence[emotion] += strength
    return {e: min(v, EVIDENCE_CAP) for e, v in evidence.items()}
