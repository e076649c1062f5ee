"""Profanity filters from PyPI as *signals*: korcen (Korean) and alt-profanity-check (English).

They are blunt: alt-profanity-check scores "sex", "naked" and plain violence as profane, and
neither knows about gore. So they never decide anything alone; the policy reads them as the
`profanity` category, which can at most send a diary to review. Both come with the optional
`safety` extra and are imported lazily; when one is missing its signal is skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from agent.safety.rules import RuleMatch
from agent.text import Sentence, has_hangul

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dreamreel[safety]'"
PROFANITY_CHECK_MIN = 0.5  # probabilities below this are not reported at all
KORCEN_SCORE = 0.6
_LATIN_RE = re.compile(r"[A-Za-z]")


@cache
def _korcen() -> Any | None:
    try:
        from korcen import korcen
    except ImportError:
        logger.info("korcen not installed; Korean profanity signal skipped (%s)", INSTALL_HINT)
        return None
    return korcen


@cache
def _profanity_check() -> Callable[[list[str]], Sequence[float]] | None:
    try:
        from profanity_check import predict_prob
    except ImportError:
        logger.info("alt-profanity-check not installed; English profanity signal skipped (%s)", INSTALL_HINT)
        return None
    return predict_prob  # type: ignore[no-any-return]


def korcen_signals(text: str, sentences: list[Sentence]) -> list[RuleMatch]:
    """One signal per Korean sentence korcen flags; span is the flagged word when it can be found."""
    korcen = _korcen()
    if korcen is None:
        return []
    found: list[RuleMatch] = []
    for sentence in sentences:
        if not has_hangul(sentence.text) or not korcen.check(sentence.text):
            continue
        start, end = sentence.start, sentence.end
        reported = korcen.check_and_report_profanity_pattern(sentence.text, "general")
        if isinstance(reported, str) and reported and reported in sentence.text:
            start = sentence.start + sentence.text.index(reported)
            end = start + len(reported)
        found.append(RuleMatch("profanity", KORCEN_SCORE, start, end, "korcen", source="korcen"))
    return found


def profanity_check_signals(text: str, sentences: list[Sentence]) -> list[RuleMatch]:
    """alt-profanity-check probability per sentence with Latin letters, reported when >= 0.5."""
    predict_prob = _profanity_check()
    if predict_prob is None:
        return []
    english = [s for s in sentences if _LATIN_RE.search(s.text)]
    if not english:
        return []
    scores = predict_prob([s.text for s in english])
    return [
        RuleMatch("profanity", round(float(score), 3), s.start, s.end, "profanity_check", source="profanity_check")
        for s, score in zip(english, scores, strict=True)
        if float(score) >= PROFANITY_CHECK_MIN
    ]


def profanity_signals(text: str, sentences: list[Sentence]) -> list[RuleMatch]:
    """Signals of both filters (whichever are installed)."""
    return korcen_signals(text, sentences) + profanity_check_signals(text, sentences)
