"""The policy combiner: signals in, one `SafetyVerdict` (allow / review / block) out.

Signals come from the rules (`agent.safety.rules`), the meaning-level heads on the sentence
encoder (`agent.safety.meaning`, one per category, per sentence), the profanity filters, an
optional toxicity classifier and the LLM planner's own `safety_flags`. Rules and classifiers
read the canonical text (`agent.canonical`), so disguised words count as the words they are. Per category they combine
like independent evidence (noisy-or: 1 - prod(1 - w)), so one "blood" in a nightmare stays
allowed while "stabbed ... pool of blood ... corpse" is blocked.

Decisions (content policy in ARCHITECTURE.md):
- gore, sexual, minors, hate, override: block at `block_threshold`, review at `review_threshold`
- self_harm: review (never block) with `support_message=True`
- profanity, toxicity and unknown categories: signals only; at most review, when very high
- a meaning head is evidence like a rule: alone it can block (a paraphrase avoids every word); its
  anchors rise with the diary's sentence count (`sentence_count_shift`), so that a long diary is
  not refused more often than a short one for a harmless sentence misread
- an LLM flag alone can at most send a diary to review; next to a rule match it adds evidence
- a sexual or gory moment in an otherwise ordinary dream is left out of the video and the rest is
  allowed (`SafetyPolicy.withheld_sentences`: a quarter of the sentences at most, three others kept,
  no minor named, no sexual violence, nothing else refusing); a diary about such content stays refused

Every reason has the category's combined score, a span into the diary and its source.
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import replace

from agent.canonical import CanonicalText, canonical, canonicalize
from agent.interfaces import ToxicityClassifier
from agent.safety.meaning import MeaningDetector
from agent.safety.profanity import profanity_signals
from agent.safety.rules import RuleMatch, rule_matches
from agent.schemas import Decision, DreamPlan, Reason, SafetyVerdict, Span
from agent.text import Sentence, split_sentences

logger = logging.getLogger(__name__)

BLOCKING = ("minors", "sexual", "gore", "hate", "override")
REVIEW_ONLY = ("self_harm",)
SIGNALS_ONLY = ("profanity", "toxicity")
MINOR_BONUS = 0.3  # sexual content next to a minor: minors score = sexual score + this
MEANING_MIN = 0.3  # meaning-head evidence below this is not reported
MEANING_SOURCE = "encoder"  # the source of every meaning-head signal (category_scores weighs it as evidence)
# A diary of n sentences gives the meaning heads n chances to misread a harmless one: their anchors
# were set per benign sentence (review where 0.03 % of them reach), so a long diary was refused n
# times as often as a one-line one. Each head's anchors (hint, review, block) move up by log(n) in
# log-odds for the diary's sentences (the log of a Bonferroni correction for an exponential benign
# tail in log-odds; the heads' tails are mostly heavier, so it corrects less than their anchors'
# spacing would), n counting the sentences with a letter or digit, up to the policy's
# `allowance_cap` (default `MEANING_SENTENCES_CAP`):
# padding a harmful sentence with harmless ones buys an evader at most log(10) = 2.3. Rules, LLM
# flags and the other signals are not moved; a rule's evidence next to a head's hint in a long
# diary needs a stronger hint. Measured (the DreamBank reports, paraphrases, padding): README.
MEANING_SENTENCES_CAP = 10
# Heads whose allowance stops sooner (`SafetyPolicy(category_caps=...)`; a head's cap is the lower of
# its own and `allowance_cap`). Stop 30's heads read the written scenes less surely, so padding
# bought more: `bench.padding`, of the scenes refused alone, allowed after nine plain sentences at
# cap 10 / 3: sexual 75 / 35 of 244, self_harm 63 / 28 of 223, hate 27 / 17 of 230; harmless
# diaries of ten unused everyday comments refused by the heads alone (`bench.sentence_count`) 4 / 5
# of 300, of three 1 / 1. Chosen on those two benches (no evaluation file). Stop 32's heads keep none:
# chosen on `bench.long_dreams` (120 long ordinary reports, a validation set) by a rule stated
# before they were read, 1 refused without caps against 2 with stop 30's (README).
MEANING_CATEGORY_CAPS: dict[str, int] = {}

# A sexual or gory moment in an otherwise ordinary dream is left out of the video instead of refusing
# the dream (`SafetyPolicy.withheld_sentences`): such sentences may be at most this share of the
# diary's sentences, and at least this many others must remain. Chosen by the product rule "a moment,
# not the dream" before the validation reports were read with it (README, stop 37).
WITHHOLDABLE = ("sexual", "gore")
WITHHOLD_MAX_SHARE = 0.25
WITHHOLD_MIN_KEPT = 3
SEXUAL_VIOLENCE_RULES = frozenset({"en_rape", "ko_rape"})  # a person should read these: never left out
# Young people the minors rules do not count, and words that put a child near the scene (a daughter,
# a niece, babysitting, a school grade: "I was babysitting my neighbour's daughter ... Later I touched
# her ..."), read only to keep a diary with sexual or gory content refused as a whole instead of
# allowed with its moment left out: a person should read those. Wide on purpose (an adult's
# daughter or a college student counts too): the cost is a refusal the policy made before anyway.
YOUNG_WORDS = re.compile(
    r"\b(?:bab(?:y|ies)|newborns?|infants?|teens?|teenagers?|adolescents?|youngsters?|lads?"
    r"|(?:step|grand)?(?:daughters?|sons?)|grandchild(?:ren)?|nieces?|nephews?|cousins?|babysit\w*|sleepovers?"
    r"|nann(?:y|ies)|nursery|kindergarten\w*|pupils?|students?|classmates?|(?:\d{1,2}(?:st|nd|rd|th)|first|second"
    r"|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth) grade(?:rs?)?|grade school"
    r"|primary school|elementary|middle school|junior high|high school|school ?(?:girls?|boys?)|puberty"
    r"|young (?:girls?|boys?)|little (?:sisters?|brothers?|ones?)|boys?|girls?"
    r"|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|\d{1,2})[- ]years?[- ]olds?|(?:aged?|only|just) (?:\d{1,2}|one|two|three|four|five|six|seven|eight"
    r"|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b"
    r"|when i was (?:little|young|small|a (?:kid|child|boy|girl)))\b"
    r"|갓난|애기|애들|청소년|십대|\d{1,2} ?대|딸(?!기)|아들|조카|사촌|동생|손녀|손자|제자|학생|학년|초등|중학|고등학|유치원|어린|교복|소녀"
    r"|소년|(?:그|저|이|옆집|우리|남의) ?애(?![인정])|(?:\d{1,2}|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|열한|열두|열세|열네|열다섯"
    r"|열여섯|열일곱) ?살",
    re.IGNORECASE,
)
# Text direction controls: an override opened in a kept sentence and closed inside a cut one runs on
# over what follows once the cut is made, and reversed text hidden there reads forwards (an evader's
# review: "...\u202eolleh. \u202cWe had sex... <a child, reversed>"). No diary is partly rendered with them.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Words that tell coercion, abuse or a family member beside sexual content, or violence done to the
# dreamer by someone close, in a moment or the sentence before or after it: a person reads such a
# diary whole (it may be a disclosure), so nothing of it is left out instead (an evader's review found
# each of these allowed with the moment left out).
PERSON_SHOULD_READ = re.compile(
    r"\b(?:grop\w*|forc(?:e|ed|es|ing)|drugg?\w*|unconscious|passed out|asleep|against my will|(?:said|saying|say) no"
    r"|consent\w*|secret|threat\w*|blackmail\w*|unless|abus\w*|beat(?:s|en)? me|hit(?:s)? me|every (?:night|week|day)"
    r"|for years|(?:step)?(?:father|dad|daddy|mother|mom|brother|sister)|uncle|aunt|grand(?:pa|father|ma|mother)"
    r"|husband|wife|priest|coach|teacher|boss)\b"
    r"|성추행|성희롱|추행|억지로|강제로|강요|약을 ?타|몰카|몰래 ?카메라|협박|비밀|때렸|폭행|학대|아빠|아버지|새아빠|계부|엄마|어머니|삼촌|이모부"
    r"|고모부|오빠|형부|할아버지|남편|선생님|사장님|상사",
    re.IGNORECASE,
)
# Category names other planners (LLMs) use for the same things.
CATEGORY_ALIASES = {
    "violence": "gore", "graphic_violence": "gore", "blood": "gore",
    "sexual_content": "sexual", "nsfw": "sexual", "nudity": "sexual",
    "sexual_minors": "minors", "child_safety": "minors", "csam": "minors",
    "hate_speech": "hate", "harassment": "hate",
    "prompt_injection": "override", "injection": "override", "jailbreak": "override",
    "self-harm": "self_harm", "selfharm": "self_harm", "suicide": "self_harm",
    "toxic": "toxicity", "swearing": "profanity",
}


def noisy_or(weights: list[float]) -> float:
    """Combine independent evidence: 1 - prod(1 - w)."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - max(0.0, min(1.0, weight))
    return 1.0 - remaining


def checked_cap(cap: int) -> int:
    """`cap` as an int if it can cap the sentence-count allowance (a whole number of sentences, at
    least 1: numpy integers too); a ValueError otherwise."""
    if isinstance(cap, bool) or not isinstance(cap, numbers.Integral) or cap < 1:
        raise ValueError(f"an allowance cap counts sentences: a whole number of at least 1, not {cap!r}")
    return int(cap)


def sentence_count_shift(sentences: int, cap: int = MEANING_SENTENCES_CAP) -> float:
    """How far the meaning heads' anchors move up (log-odds) for a diary of so many sentences
    (those with a letter or digit: a line of emoji or dots is not one): log(n), n at most `cap`
    (0 for one sentence; a cap of 1 is no allowance)."""
    return math.log(min(max(sentences, 1), checked_cap(cap)))


def _dedupe(matches: list[RuleMatch]) -> list[RuleMatch]:
    """Within a category and source keep the strongest of overlapping passages ("pool of blood" > "blood")."""
    kept: list[RuleMatch] = []
    for match in sorted(matches, key=lambda m: -m.weight):
        overlaps = any(
            k.category == match.category and k.source == match.source and k.start < match.end and match.start < k.end
            for k in kept
        )
        if not overlaps:
            kept.append(match)
    return kept


def _rule_weights(matches: list[RuleMatch], *, repeat: bool) -> list[float]:
    """Weights of word-level matches (rules, korcen); boosters only next to a primary match."""
    word_level = [m for m in matches if m.source in {"rules", "korcen"}]
    if not any(not m.booster for m in word_level):
        return []
    if repeat:
        return [m.weight for m in word_level]
    best: dict[str, float] = {}
    for m in word_level:
        best[m.rule] = max(best.get(m.rule, 0.0), m.weight)
    return list(best.values())


def _minor_matches(matches: list[RuleMatch], sentences: list[Sentence], meaning_from: float) -> list[RuleMatch]:
    """`minors` signals: a minor mentioned in the same sentence as sexual content.

    A meaning head's sexual reading counts from `meaning_from` (the block threshold): only a reading
    that would block on its own. Bathing a child is not one; neither is an unsure 0.6 for "the girl
    and I built a fort out of the couches like I used to when I was a little kid", which the review
    threshold turned into a minors block."""
    found: list[RuleMatch] = []
    for sentence in sentences:
        inside = [m for m in matches if sentence.start <= m.start < sentence.end]
        sexual = [
            m.weight
            for m in inside
            if m.category == "sexual" and not m.booster and (m.source != MEANING_SOURCE or m.weight >= meaning_from)
        ]
        if not sexual:
            continue
        score = min(1.0, noisy_or(sexual) + MINOR_BONUS)
        for minor in (m for m in inside if m.category == "_minor"):
            found.append(RuleMatch("minors", score, minor.start, minor.end, "sexual_with_minor"))
    return found


def _minors_readings_beside_sexual_evidence(found: list[RuleMatch], sexual_hint: bool) -> list[RuleMatch]:
    """`found` without the minors head's readings when nothing in the diary reads as sexual
    (`sexual_hint`: a sentence the sexual head reads from `MEANING_MIN` without the diary's
    sentence-count allowance, so that plain sentences padded around abuse do not open the gate).

    `minors` is sexual content involving a minor, and the `sexual` head counts every minors row as
    its own positive; the minors head alone fired on children named in ordinary sentences of real
    dream reports ("a little girl came up and stole a chick", 1.0: a block for sexual content with
    minors). Its reading counts when a sexual rule (not a booster) is anywhere in the diary or
    `sexual_hint` holds (which any sexual head reading in `found` implies: the allowance only raises
    anchors); the rules' own minors signals are not touched.
    Abuse told without a listed word kept its sexual reading (0.39 to 1.0) on the sentences written
    to test this (`tests/test_meaning.py`), so those stay blocked."""
    if sexual_hint or any(m.category == "sexual" and not m.booster for m in found):
        return found
    return [m for m in found if not (m.category == "minors" and m.source == MEANING_SOURCE)]


def _to_original(match: RuleMatch, canon: CanonicalText) -> RuleMatch:
    """The same signal with its span in the diary as written (canonical offsets mapped back)."""
    if not canon.changed:
        return match
    start, end = canon.original_span(match.start, match.end)
    return replace(match, start=start, end=end)


def _locate(text: str, span: Span | None) -> tuple[int, int]:
    """A span from an outside planner, checked against the diary (relocated or widened if wrong)."""
    if span is not None:
        if span.end <= len(text) and text[span.start : span.end] == span.text:
            return span.start, span.end
        if span.text and span.text in text:
            start = text.index(span.text)
            return start, start + len(span.text)
    stripped = text.strip()
    start = text.index(stripped) if stripped else 0
    return start, start + len(stripped)


class SafetyPolicy:
    """Decides allow / review / block for a diary (and optionally its plan)."""

    def __init__(
        self,
        block_threshold: float = 0.7,
        review_threshold: float = 0.5,
        toxicity: ToxicityClassifier | None = None,
        use_profanity_filters: bool = True,
        signal_review_threshold: float = 0.9,
        meaning: MeaningDetector | None = None,
        allowance_cap: int = MEANING_SENTENCES_CAP,
        category_caps: Mapping[str, int] | None = None,
    ) -> None:
        if not 0.0 <= review_threshold <= block_threshold <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= review_threshold <= block_threshold <= 1")
        self.block_threshold = block_threshold
        self.review_threshold = review_threshold
        self.signal_review_threshold = max(signal_review_threshold, review_threshold)
        self.toxicity = toxicity
        self.use_profanity_filters = use_profanity_filters
        self.meaning = meaning
        self.allowance_cap = allowance_cap  # validated by the property: refused here, not mid-check
        # heads with a lower cap of their own (default `MEANING_CATEGORY_CAPS`; {}: none), validated here too
        caps = MEANING_CATEGORY_CAPS if category_caps is None else category_caps
        self.category_caps = {category: checked_cap(cap) for category, cap in caps.items()}

    @property
    def allowance_cap(self) -> int:
        """The sentence-count allowance's cap in sentences (1: no allowance); a cap below 1 is
        refused when set."""
        return self._allowance_cap

    @allowance_cap.setter
    def allowance_cap(self, cap: int) -> None:
        self._allowance_cap = checked_cap(cap)

    def with_allowance_cap(self, cap: int) -> SafetyPolicy:
        """A copy of this policy with the allowance capped at `cap` sentences for every head (a head's
        own lower cap in `category_caps` stays); this one is unchanged."""
        out = copy.copy(self)
        out.allowance_cap = cap
        return out

    def signals(self, text: str, plan: DreamPlan | None = None) -> list[RuleMatch]:
        """Every signal about `text`: rules, profanity filters, toxicity classifier, LLM flags.

        Rules and classifiers read the canonical text (`agent.canonical`: disguises undone);
        every span is mapped back onto `text` as written.
        """
        return self._signals(text, plan)[0]

    def _signals(self, text: str, plan: DreamPlan | None) -> tuple[list[RuleMatch], bool]:
        """`signals`, and whether the diary names a minor anywhere (a minors rule's mention or `YOUNG_WORDS`)."""
        canon = canonicalize(text)
        canonical_found, minor_named = self._canonical_signals(canon.text)
        found = [_to_original(m, canon) for m in canonical_found]
        if plan is not None:
            for flag in plan.safety_flags:
                category = CATEGORY_ALIASES.get(flag.category.lower(), flag.category.lower())
                start, end = _locate(text, flag.span)
                found.append(RuleMatch(category, flag.score, start, end, "llm_flag", source="llm"))
        return _dedupe(found), minor_named

    def _canonical_signals(self, text: str) -> tuple[list[RuleMatch], bool]:
        sentences = split_sentences(text)
        found = rule_matches(text)
        minor_named = any(m.category == "_minor" for m in found) or YOUNG_WORDS.search(text) is not None
        sexual_hint = False
        if self.meaning is not None and sentences:
            readings, sexual_hint = self._meaning_signals(sentences)
            found += readings
        found += _minor_matches(found, sentences, self.block_threshold)
        found = _minors_readings_beside_sexual_evidence([m for m in found if m.category != "_minor"], sexual_hint)
        if self.use_profanity_filters:
            found += profanity_signals(text, sentences)
        if self.toxicity is not None and sentences:
            scores = self.toxicity.score([s.text for s in sentences])
            found += [
                RuleMatch("toxicity", float(score), s.start, s.end, self.toxicity.name, source=self.toxicity.name)
                for s, score in zip(sentences, scores, strict=True)
                if score >= self.review_threshold
            ]
        return found, minor_named

    def _meaning_signals(self, sentences: list[Sentence]) -> tuple[list[RuleMatch], bool]:
        """One signal per sentence and category whose head is at least `MEANING_MIN` sure, the
        heads' anchors raised for the diary's length (`sentence_count_shift`, up to `allowance_cap`
        or a head's lower cap in `category_caps`); and whether any sentence reads as sexual from
        `MEANING_MIN` at the sexual head's own anchors, without that allowance (the minors gate's
        question: padding a diary must not open it)."""
        assert self.meaning is not None
        found: list[RuleMatch] = []
        counted = sum(any(ch.isalnum() for ch in s.text) for s in sentences)
        # a head's cap is the lower of its own and the policy's
        shift = {
            c: sentence_count_shift(counted, min(self.allowance_cap, self.category_caps.get(c, self.allowance_cap)))
            for c in self.meaning.categories
        }
        logits = self.meaning.read([s.text for s in sentences])
        # heads without a sexual one cannot say that nothing reads as sexual: their minors head counts
        categories = list(self.meaning.categories)
        sexual_hint = "sexual" not in categories or any(
            self.meaning.evidence("sexual", float(z)) >= MEANING_MIN for z in logits[:, categories.index("sexual")]
        )
        for sentence, probs in zip(sentences, self.meaning.evidences(logits, shift), strict=True):
            for category, p in probs.items():
                if p >= MEANING_MIN:
                    found.append(
                        RuleMatch(category, round(p, 4), sentence.start, sentence.end, f"{self.meaning.name}_{category}",
                                  source=MEANING_SOURCE)
                    )
        return found, sexual_hint

    def category_scores(self, found: list[RuleMatch]) -> dict[str, float]:
        """Combined score per category (see the module docstring for how sources combine).

        A rule counts once per category however often it matches (two "naked" are not more
        sexual than one), except profanity, where the amount of swearing is the signal.
        Sentence-level classifiers alone (profanity_check, LLM flags) stay below the level
        at which their category would change the decision.
        """
        scores: dict[str, float] = {}
        for category in sorted({m.category for m in found}):
            mine = [m for m in found if m.category == category]
            rules = _rule_weights(mine, repeat=category == "profanity")
            llm = max((m.weight for m in mine if m.source == "llm"), default=0.0)
            meaning = noisy_or([m.weight for m in mine if m.source == MEANING_SOURCE])
            others = max(
                (m.weight for m in mine if m.source not in {"rules", "llm", "korcen", MEANING_SOURCE}), default=0.0
            )
            if category == "profanity":
                cap = self.signal_review_threshold - 0.01
                score = max(noisy_or(rules), min(max(llm, others), cap))
            elif category in SIGNALS_ONLY or category not in BLOCKING + REVIEW_ONLY:
                score = max(noisy_or(rules), llm, others)
            elif rules or meaning:
                # The meaning head reads the whole sentence: evidence of its own, next to the rules;
                # two sentences that each hint at a category say more than one (noisy-or over them).
                score = noisy_or([*rules, meaning, llm])
            else:
                # An LLM flag alone is an opinion: enough for a person to look, not to block.
                score = min(llm, max(self.review_threshold, self.block_threshold - 0.01))
            scores[category] = round(score, 4)
        return scores

    def decide(self, scores: dict[str, float]) -> tuple[Decision, bool]:
        """(decision, support_message) from combined category scores."""
        blocking = [scores.get(c, 0.0) for c in BLOCKING]
        self_harm = max((scores.get(c, 0.0) for c in REVIEW_ONLY), default=0.0)
        signals = [s for c, s in scores.items() if c not in BLOCKING + REVIEW_ONLY]
        support = self_harm >= self.review_threshold
        if any(s >= self.block_threshold for s in blocking):
            return "block", support
        if (
            any(s >= self.review_threshold for s in blocking)
            or support
            or any(s >= self.signal_review_threshold for s in signals)
        ):
            return "review", support
        return "allow", support

    def withheld_sentences(
        self, text: str, found: list[RuleMatch], scores: dict[str, float], *, minor_named: bool
    ) -> list[Sentence]:
        """The sentences to leave out of the video so that the rest of a refused diary may be
        rendered; [] when the diary stays refused (content policy, docs/architecture.md).

        A sexual or gory moment in an otherwise ordinary dream is left out, not the dream: every
        category at or over its threshold is one of `WITHHOLDABLE` and no other signal refuses; no
        minor is named anywhere in the diary (`YOUNG_WORDS` too) and no minors signal exists; no
        sexual-violence rule matched; the sentences holding any signal of those categories (boosters
        included) are at most `WITHHOLD_MAX_SHARE` of the diary's sentences with a letter or digit;
        each goes with the sentence before and after it (a continuation may carry no signal), at least
        `WITHHOLD_MIN_KEPT` sentences remain, and none of those left out names coercion, abuse or
        someone close (`PERSON_SHOULD_READ`). A diary that is about such content (a short one, or
        one where it takes more than a quarter) stays refused, and the sentences left out are never
        planned, prompted or captioned (`agent.planner.plan_leaving_out`; the pipeline checks the
        rest again, `dreamreel.pipeline.understand_diary`)."""
        refusing = {c for c, s in scores.items() if c in BLOCKING + REVIEW_ONLY and s >= self.review_threshold}
        if not refusing or not refusing <= set(WITHHOLDABLE):
            return []
        if any(s >= self.signal_review_threshold for c, s in scores.items() if c not in BLOCKING + REVIEW_ONLY):
            return []
        if minor_named or scores.get("minors", 0.0) > 0.0 or any(m.rule in SEXUAL_VIOLENCE_RULES for m in found):
            return []
        if BIDI_CONTROLS.search(text):
            return []  # cutting a sentence out could change the order the rest is read in (a review probe)
        counted = [s for s in split_sentences(text) if any(ch.isalnum() for ch in s.text)]
        marked = [m for m in found if m.category in WITHHOLDABLE]
        flagged = {i for i, s in enumerate(counted) if any(m.start < s.end and s.start < m.end for m in marked)}
        if any(not any(m.start < counted[i].end and counted[i].start < m.end for i in flagged) for m in marked):
            return []  # a signal outside every counted sentence: nothing safe to leave out
        # a moment's neighbours go with it: a continuation ("He came on my face.") may carry no signal
        left_out = sorted({j for i in flagged for j in (i - 1, i, i + 1) if 0 <= j < len(counted)})
        if len(counted) - len(left_out) < WITHHOLD_MIN_KEPT or len(flagged) > WITHHOLD_MAX_SHARE * len(counted):
            return []
        if any(PERSON_SHOULD_READ.search(canonical(counted[j].text)) for j in left_out):
            return []  # coercion, abuse or someone close in the moment: a person reads it
        return [counted[j] for j in left_out]

    def check(self, text: str, plan: DreamPlan | None = None, *, withhold: bool = True) -> SafetyVerdict:
        """Verdict on a diary: decision, reasons (category, combined score, span, source), support
        flag, and the sentences left out of an allowed diary's video (`withheld_sentences`; with
        `withhold=False` a diary is allowed whole or refused whole)."""
        found, minor_named = self._signals(text, plan)
        scores = self.category_scores(found)
        decision, support = self.decide(scores)
        withheld: list[Sentence] = []
        if decision != "allow" and withhold:
            withheld = self.withheld_sentences(text, found, scores, minor_named=minor_named)
            if withheld:
                decision = "allow"
        reasons = [
            Reason(
                category=m.category,
                score=scores[m.category],
                span=Span(start=m.start, end=m.end, text=text[m.start : m.end]),
                source=m.source,
            )
            for m in found
            if not (m.booster and scores[m.category] == 0.0)
        ]
        reasons.sort(key=lambda r: (-r.score, r.span.start if r.span else 0))
        logger.info(
            "safety decision %s (%s)%s",
            decision,
            {c: s for c, s in scores.items() if s >= 0.3},
            f", {len(withheld)} sentences left out" if withheld else "",
        )
        return SafetyVerdict(
            decision=decision,
            reasons=reasons,
            support_message=support,
            withheld=[Span(start=s.start, end=s.end, text=text[s.start : s.end]) for s in withheld],
        )
