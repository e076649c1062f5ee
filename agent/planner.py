"""The offline planner: split a diary into scenes by rules and write an English prompt per scene.

Steps, in order: `split_sentences` (every character of the diary lands in one sentence),
`choose_cuts` (where scenes start: paragraph breaks and markers like "갑자기" / "suddenly",
with balanced lengths), then per scene `extract_keywords` and `scene_prompt`. Nothing is
downloaded; Kiwi's model ships inside its wheel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from itertools import pairwise

from agent.canonical import canonical
from agent.interfaces import Planner
from agent.keywords import extract_keywords
from agent.language import detect_language
from agent.safety.rewrite import soften_prompt
from agent.schemas import MAX_SEGMENTS, MIN_SEGMENTS, DreamPlan, Language, Segment, Span
from agent.text import Morpheme, Sentence, has_hangul, morphemes, split_sentences
from agent.translate import translate_noun, translate_predicate

logger = logging.getLogger(__name__)

PROMPT_PREFIX = "A dreamlike scene: "
PROMPT_SUFFIX = "cinematic, surreal dream atmosphere, soft volumetric light"
MAX_PROMPT_WORDS = 40

# Words that open a new scene in dream reports ("then", "갑자기"...), matched at sentence start.
SCENE_MARKERS_EN = re.compile(
    r"^[\"'“‘(]*(?:then|suddenly|all of a sudden|later|afterwards?|after that|next|the next thing"
    r"|meanwhile|soon|eventually|finally|at that moment|at some point|in the next|the scene"
    r"|when i woke|i woke|now)\b",
    re.IGNORECASE,
)
SCENE_MARKERS_KO = re.compile(
    r"^[\"'“‘(]*(?:갑자기|그러다|그러더니|그런데|그\s?다음|다음\s?장면|이후|나중에|어느새|잠시\s?후|한참\s?후"
    r"|문득|그때|그\s?순간|순간|눈을\s?떠|정신을\s?차려|장면이|깨어나|깨고|그리고\s?나서|그\s?뒤)"
)
PARAGRAPH_BONUS = 0.6
MARKER_BONUS = 0.3


def scene_bonus(sentence: Sentence) -> float:
    """How strongly a scene wants to start at this sentence (0 = no preference)."""
    bonus = PARAGRAPH_BONUS if sentence.paragraph_start else 0.0
    if SCENE_MARKERS_EN.match(sentence.text) or SCENE_MARKERS_KO.match(sentence.text):
        bonus += MARKER_BONUS
    return bonus


def choose_cuts(sentences: list[Sentence], scenes: int) -> list[int]:
    """Indices of the sentences that start scenes 2..k, minimising imbalance minus boundary bonuses.

    Dynamic programming over contiguous groups: cost of a group is its squared relative
    deviation from the mean scene length; a cut before sentence i earns `scene_bonus`.
    """
    n = len(sentences)
    k = min(scenes, n)
    if k <= 1:
        return []
    lengths = [len(s.text) for s in sentences]
    prefix = [0]
    for length in lengths:
        prefix.append(prefix[-1] + length)
    target = prefix[-1] / k
    bonuses = [scene_bonus(s) for s in sentences]

    def group_cost(i: int, j: int) -> float:  # sentences i..j-1
        return ((prefix[j] - prefix[i] - target) / target) ** 2

    inf = float("inf")
    # best[g][j]: best cost of splitting sentences[:j] into g groups; back[g][j]: start of last group.
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0.0
    for g in range(1, k + 1):
        for j in range(g, n - (k - g) + 1):
            for i in range(g - 1, j):
                if best[g - 1][i] == inf:
                    continue
                cost = best[g - 1][i] + group_cost(i, j) - (bonuses[i] if i > 0 else 0.0)
                if cost < best[g][j]:
                    best[g][j], back[g][j] = cost, i
    cuts: list[int] = []
    j = n
    for g in range(k, 1, -1):
        j = back[g][j]
        cuts.append(j)
    return sorted(cuts)


def _korean_terms(text: str) -> tuple[list[str], list[str]]:
    """English things and actions of a Korean scene, in order of appearance, via the glossary."""
    things: list[str] = []
    actions: list[str] = []
    for m in morphemes(text):
        action: str | None = None
        if m.tag in {"NNG", "NNP"}:
            if m.lemma != m.form:  # 추락 + 했다 -> 추락하다 (see agent.text.morphemes): an action
                action = translate_predicate(m.lemma)
            elif _stands_alone(text, m):
                english = translate_noun(m.form, proper=m.tag == "NNP")
                if english and english not in things:
                    things.append(english)
        elif m.tag.startswith(("VV", "VA")) or m.tag == "XR":
            action = translate_predicate(m.lemma) or translate_predicate(m.form + "다")
        if action and action not in actions:
            actions.append(action)
    return things, actions


def _stands_alone(text: str, m: Morpheme) -> bool:
    # One-syllable nouns are often a piece of a word Kiwi did not know (재용 -> 재 + 용 "dragon"):
    # trust them only at the start of a word.
    return len(m.form) > 1 or m.start == 0 or text[m.start - 1].isspace() or not text[m.start - 1].isalnum()


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    clipped = " ".join(words[:limit]).rstrip(" ,;:.")
    return re.sub(r"\s+(?:and|but|or|so)$", "", clipped, flags=re.IGNORECASE)


# The camera sees the dreamer from outside: first person becomes "the dreamer".
_FIRST_PERSON = (
    (re.compile(r"\b(?:I|me|myself)\b"), "the dreamer"),
    (re.compile(r"\b(?:my|My|mine)\b"), "the dreamer's"),
    (re.compile(r"\bI(?:'m| am)\b"), "the dreamer is"),
    (re.compile(r"\bI'd\b"), "the dreamer had"),
    (re.compile(r"\bI've\b"), "the dreamer has"),
)


def third_person(text: str) -> str:
    """Replace first-person pronouns so the prompt describes a visible person."""
    for pattern, replacement in _FIRST_PERSON[2:] + _FIRST_PERSON[:2]:
        text = pattern.sub(replacement, text)
    return text


_LATIN_RUN_RE = re.compile(r"[A-Za-z][A-Za-z0-9' ,.-]*[A-Za-z.]")


def scene_prompt(text: str, language: Language, keywords: list[str]) -> str:
    """An English visual prompt for one scene, always starting "A dreamlike scene: ", gore softened.

    English scenes keep their own words (clipped); Korean scenes become a list of translated
    things and actions; mixed scenes get both.
    """
    parts: list[str] = []
    if has_hangul(text):
        things, actions = _korean_terms(text)
        if things:
            parts.append(", ".join(things[:10]))
        if actions:
            parts.append(", ".join(actions[:6]))
    if language != "ko":
        english = " ".join(_LATIN_RUN_RE.findall(text)) if has_hangul(text) else text
        english = english.strip()
        if english:
            parts.append(third_person(_clip_words(english, MAX_PROMPT_WORDS // (2 if parts else 1))))
    if not parts:
        # Nothing translatable: keep only keywords an English model can read.
        readable = [k for k in keywords if not has_hangul(k)]
        if readable:
            parts.append(", ".join(readable))
    body = "; ".join(parts) if parts else "drifting shapes in a misty void"
    return soften_prompt(f"{PROMPT_PREFIX}{body}. {PROMPT_SUFFIX}")


class RulePlanner:
    """Offline planner: deterministic, no model download, keeps every word of the diary."""

    name = "rules"

    def plan(self, text: str, *, segments: int, language: Language | None = None) -> DreamPlan:
        """Split `text` into min(segments, sentences) scenes (at least one) covering it in order."""
        if not MIN_SEGMENTS <= segments <= MAX_SEGMENTS:
            raise ValueError(f"segments must be between {MIN_SEGMENTS} and {MAX_SEGMENTS}, got {segments}")
        sentences = split_sentences(text)
        if not sentences:
            raise ValueError("the diary has no text to plan")
        language = language or detect_language(text)
        cuts = choose_cuts(sentences, segments)
        bounds = [0, *cuts, len(sentences)]
        result: list[Segment] = []
        for index, (first, stop) in enumerate(pairwise(bounds)):
            start, end = sentences[first].start, sentences[stop - 1].end
            scene_text = text[start:end]
            # What a model reads is written from the canonical text: a disguise never reaches it.
            seen = canonical(scene_text)
            scene_language = _scene_language(seen, language)
            keywords = extract_keywords(seen, scene_language)
            result.append(
                Segment(
                    index=index,
                    text=scene_text,
                    span=Span(start=start, end=end, text=scene_text),
                    prompt=scene_prompt(seen, scene_language, keywords),
                    keywords=keywords,
                )
            )
        logger.debug("planned %d scenes from %d sentences", len(result), len(sentences))
        return DreamPlan(language=language, segments=result, planner=self.name)


def _scene_language(scene_text: str, diary_language: Language) -> Language:
    # A mixed diary can have a purely Korean or purely English scene.
    return detect_language(scene_text) if diary_language == "mixed" else diary_language


def plan_leaving_out(
    planner: Planner, text: str, left_out: Sequence[Span], *, segments: int, language: Language | None = None
) -> DreamPlan:
    """A plan of `text` without the `left_out` spans (the sentences a safety verdict withheld).

    The planner reads the rest of the diary only, so no scene text, prompt or keyword is written from
    a left-out sentence; each scene's span is mapped back onto `text` (a scene may stretch over a
    left-out sentence: its span, `text[start:end]`, then holds it, the scene's `text` never does). LLM
    flags of this reduced plan are dropped: the verdict was reached on the whole diary."""
    pieces: list[tuple[int, int]] = []  # (start, end) of the kept parts of `text`
    at = 0
    for span in sorted(left_out, key=lambda s: s.start):
        if span.start > at:
            pieces.append((at, span.start))
        at = max(at, span.end)
    if at < len(text):
        pieces.append((at, len(text)))
    kept = "".join(text[a:b] for a, b in pieces)

    def in_text(offset: int, *, end: bool) -> int:
        base = 0
        for a, b in pieces:
            if offset < base + (b - a) or (end and offset == base + (b - a)):
                return a + offset - base
            base += b - a
        return pieces[-1][1] if pieces else 0

    plan = planner.plan(kept, segments=segments, language=language)
    scenes = []
    for seg in plan.segments:
        start, end = in_text(seg.span.start, end=False), in_text(seg.span.end, end=True)
        end = max(start, end)
        scenes.append(seg.model_copy(update={"span": Span(start=start, end=end, text=text[start:end])}))
    return plan.model_copy(update={"segments": scenes, "safety_flags": []})
