"""Keywords of a scene: Korean nouns from Kiwi, English phrases from YAKE, both for mixed text."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import TYPE_CHECKING

from agent.schemas import Language
from agent.text import has_hangul, morphemes

if TYPE_CHECKING:
    from yake import KeywordExtractor

logger = logging.getLogger(__name__)

NOUN_TAGS = frozenset({"NNG", "NNP"})
# Nouns that are in almost every diary and say nothing about the picture.
KOREAN_STOPWORDS = frozenset(
    {
        "꿈", "꿈속", "것", "수", "때", "속", "생각", "말", "적", "번", "중", "앞", "뒤", "위", "아래", "안",
        "밖", "곳", "데", "줄", "등", "뭐", "거", "정도", "느낌", "기분", "순간", "자신", "자기", "어젯밤",
        "오늘", "어제", "내일", "다음", "이후", "이전", "갑자기", "대신", "전부", "이미", "한참", "사실",
        "시작", "복판", "장면", "모습", "하나", "누군가", "무엇", "자리", "쪽", "마음", "상황",
    }
)
_LATIN_RUN_RE = re.compile(r"[A-Za-z][A-Za-z' -]*[A-Za-z]")

_extractor: KeywordExtractor | None = None


def _yake() -> KeywordExtractor:
    global _extractor
    if _extractor is None:
        from yake import KeywordExtractor

        _extractor = KeywordExtractor(lan="en", n=2, top=12, dedupLim=0.7)
    return _extractor


def korean_keywords(text: str, limit: int = 6) -> list[str]:
    """Nouns (NNG/NNP lemmas) by frequency, ties in order of first appearance."""
    nouns = [m.form for m in morphemes(text) if m.tag in NOUN_TAGS and m.form not in KOREAN_STOPWORDS]
    counts = Counter(nouns)
    first = {noun: i for i, noun in reversed(list(enumerate(nouns)))}
    return sorted(counts, key=lambda noun: (-counts[noun], first[noun]))[:limit]


def english_keywords(text: str, limit: int = 6) -> list[str]:
    """YAKE key phrases (up to two words), dropping single words already inside a phrase."""
    latin = " ".join(_LATIN_RUN_RE.findall(text)) if has_hangul(text) else text
    if not latin.strip():
        return []
    phrases = [phrase for phrase, _ in _yake().extract_keywords(latin)]
    kept: list[str] = []
    for phrase in phrases:
        lowered = phrase.lower()
        if any(lowered in other.lower().split() for other in kept):
            continue
        kept.append(phrase)
        if len(kept) == limit:
            break
    return kept


def extract_keywords(text: str, language: Language, limit: int = 6) -> list[str]:
    """Keywords of one scene: Kiwi nouns for "ko", YAKE for "en", both (Korean first) for "mixed"."""
    if language == "ko":
        return korean_keywords(text, limit)
    if language == "en":
        return english_keywords(text, limit)
    korean = korean_keywords(text, limit)
    english = english_keywords(text, limit)
    half = max(1, limit // 2)
    merged = korean[:half] + english[: limit - min(half, len(korean))]
    return merged[:limit]
