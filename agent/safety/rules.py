"""Content-policy rules for Korean (on Kiwi morphemes) and English (word-bounded patterns).

Korean rules match dictionary forms, not raw substrings: 시발점 ("starting point") is one noun
and never the swear word 시발, and 찔러 / 찔렀다 / 찌르고 all reach the rule for 찌르다.
A rule is a sequence of slots (sets of forms or lemmas) that must appear in order within a
few morphemes of each other, inside one sentence.

Each `RuleMatch` carries a weight: how much this passage alone says about its category. The
policy (`agent.safety.policy`) combines weights per category; one "blood" is a nightmare,
"stabbed ... pool of blood ... corpse" is gore.

Categories: gore, sexual, minors, hate, override, self_harm, profanity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.safety.slang import ENGLISH_SLANG, KOREAN_SLANG
from agent.text import Morpheme, has_hangul, morphemes, split_sentences, word_span

MINOR_AGE_LIMIT = 18


@dataclass(frozen=True)
class RuleMatch:
    """One passage that raised a category: `text[start:end]` is the passage."""

    category: str
    weight: float
    start: int
    end: int
    rule: str
    booster: bool = False  # only counts when the category has another (non-booster) match
    source: str = "rules"  # rules | korcen | profanity_check | <toxicity classifier> | llm


@dataclass(frozen=True)
class KoreanRule:
    """Slots of forms/lemmas in order, at most `window` morphemes apart, within one sentence."""

    name: str
    category: str
    weight: float
    slots: tuple[frozenset[str], ...]
    window: int = 4
    booster: bool = False
    standalone: bool = False  # the first slot must not be glued to a following noun (시발역)
    # a match is dropped when its sentence (`agent.text.split_sentences`) holds one of these
    unless: frozenset[str] = frozenset()
    # only a match whose last slot is negated counts (살고 싶지 않다, 싶지는 않았다), the span holding the 않다
    negated: bool = False


@dataclass(frozen=True)
class EnglishRule:
    name: str
    category: str
    weight: float
    pattern: re.Pattern[str]
    booster: bool = False
    # a match is dropped when this is found in its sentence (`agent.text.split_sentences`)
    unless: re.Pattern[str] | None = None


def _ko(name: str, category: str, weight: float, *slots: str, unless: str = "", **options: int | bool) -> KoreanRule:
    """`slots` and `unless` are "|"-separated alternatives: _ko(..., "피", "흥건|낭자")."""
    return KoreanRule(
        name=name,
        category=category,
        weight=weight,
        slots=tuple(frozenset(slot.split("|")) for slot in slots),
        unless=frozenset(unless.split("|")) if unless else frozenset(),
        **options,  # type: ignore[arg-type]
    )


def _en(
    name: str, category: str, weight: float, pattern: str, *, booster: bool = False, unless: str | None = None
) -> EnglishRule:
    return EnglishRule(
        name,
        category,
        weight,
        # bounded by what is not an ASCII letter or digit: a Korean ending glued to an English phrase
        # ("I want to die라고 생각했다", code-switched) does not hide it, as \b would
        re.compile(rf"(?<![A-Za-z0-9_])(?:{pattern})(?![A-Za-z0-9_])", re.IGNORECASE),
        booster,
        re.compile(unless, re.IGNORECASE) if unless else None,
    )


# a sentence that tells an accident and says nothing of meaning it (for `EnglishRule.unless`): a fall,
# slip or trip joined by "and" to the hurt ("fell off the ladder and hurt myself", not "fell apart and
# I cut myself" or "tears falling down my face, I cut myself"), "accidentally", or the object the hurt
# came from ("cut myself on the glass", not "with a shard ... to feel something"); a sentence that
# names a wish, a repeat, a blade or says it was no accident is never excused
_ACCIDENT_EN = (
    r"^(?!.*\b(?:on purpose|deliberately|intentionally|again|want\w*|wish\w*|meant to|to feel|to punish"
    r"|razors?|blades?|knife|knives|scissors|lighter|no accident|not an accident)\b)"
    r".*\b(?:(?:(?:fell|slipped) (?:off|down|over|from|onto|on|out of|through|in)|tripped|stumbled|crashed)"
    r"(?: [\w'-]+){0,4} and (?:i )?(?:then )?(?:cut|hurt|harmed)"
    r"|accidentally (?:cut|hurt|harmed)|(?:cut|hurt|harmed) myself (?:by accident|accidentally)"
    r"|(?:myself|me) on (?:the |a |an |some )?(?:broken |sharp )?(?:glass|shards?|nails?|fence|wire|barbed wire|thorns?|rocks?))\b"
)
# endings of a wish or an intent before 싶다: 죽고 싶다, 자살할까 싶다, 죽었으면 싶다 (not 죽는구나 /
# 죽겠다 싶었다, "I thought I would die")
_WISH_ENDINGS_KO = "고|ᆯ까|을까|으면|면"
# ways of saying no before "want to" (en_not_want_to_live)
_NEGATION_EN = r"(?:\w+n't|\w+n’t|not|dont|didnt|doesnt|wouldnt|never|no longer)"
_FEAR_EN = (
    r"\b(?:thought|think|thinking|felt|feel|feeling|sure|afraid|scared|terrified|frightened|knew|know|realized|feared|fear"
    r"|panic\w*|believed|convinced|certain|worried|scream\w*|yell\w*|shout\w*|cried|crying|chas\w+|monsters?|falling|drown\w*)\b"
)
_EMBARRASSED_KO = "창피|창피하다|부끄럽다|부끄러움|민망|민망하다|쪽팔리다|망신|수치스럽다"
_BODY_PARTS_EN = (
    r"heads?|hands?|arms?|legs?|fingers?|thumbs?|toes?|limbs?|feet|foot|ears?|noses?|tongues?|necks?|torsos?|bod(?:y|ies)"
    r"|knees?|elbows?|wrists?|ankles?|waist|shoulders?|hips?|throats?|faces?|eyes?|jaws?|skulls?|spines?|arter(?:y|ies)|chests?"
)
_BODY_KO = "손가락|팔|다리|손|발|귀|혀|손목|발가락"  # not 머리: 머리를 자르다 is a haircut
_GROUPS_KO = "흑인|유대인|무슬림|이슬람|동성애자|게이|레즈비언|이민자|난민|장애인|중국인|일본인|조선족|성소수자|트랜스젠더"
_INSTRUCTIONS_KO = "지시|지침|명령|명령어|규칙|프롬프트|설정|제한|규정|정책|필터|검열|가이드라인"

KOREAN_RULES: tuple[KoreanRule, ...] = (
    # gore: graphic violence, not danger or death as such
    # a murder named is an event, not graphic violence (as "murder" in en_kill): evidence beside others
    _ko("ko_murder", "gore", 0.3, "살해|살해하다|살인|학살|몰살"),
    _ko("ko_behead", "gore", 0.7, "참수|난도질|토막살인|능지처참"),
    _ko("ko_dismember", "gore", 0.45, "토막|절단"),
    _ko("ko_torture", "gore", 0.5, "고문|고문하다"),
    _ko("ko_corpse", "gore", 0.3, "시체|시신|사체"),
    _ko("ko_organs", "gore", 0.45, "내장|창자|뇌수"),
    _ko("ko_blood_soaked", "gore", 0.6, "피범벅|피투성이|선혈|피바다"),
    _ko("ko_blood_pool", "gore", 0.5, "피", "흥건|낭자|솟구치다|쏟아지다|뿜다|튀다|흐르다|번지다", window=3),
    _ko("ko_blood", "gore", 0.15, "피"),
    _ko("ko_stab", "gore", 0.35, "찌르다|찔리다|난자|난자하다"),
    _ko("ko_knife_stab", "gore", 0.2, "칼|흉기|식칼|도끼", "찌르다|찔리다|베다|내려치다", window=6),
    _ko("ko_cut_body", "gore", 0.45, _BODY_KO, "자르다|잘리다|잘라내다|절단되다", window=3),
    _ko("ko_behead_neck", "gore", 0.6, "목", "자르다|잘리다|베다|베이다|날아가다", window=3),
    _ko("ko_kill", "gore", 0.2, "죽이다"),
    # sexual content
    _ko("ko_sex", "sexual", 0.8, "성관계|섹스|섹스하다|성행위|성교|정사"),
    _ko("ko_rape", "sexual", 0.9, "강간|강간하다|성폭행|성폭행하다|윤간"),
    _ko("ko_sexual_touch", "sexual", 0.6, "성추행|애무|애무하다|자위|자위하다|오르가즘|사정하다"),
    _ko("ko_genitals", "sexual", 0.7, "성기|음경|질내|젖꼭지|보지|자지"),
    _ko("ko_porn", "sexual", 0.7, "야동|포르노|음란물|음란"),
    _ko("ko_naked", "sexual", 0.3, "알몸|나체|누드|벌거벗다"),
    _ko("ko_lewd", "sexual", 0.4, "야하다|음탕하다|외설"),
    _ko("ko_detail", "sexual", 0.3, "자세|자세히|노골|적나라|생생하다", booster=True),
    # mentions of minors (only matter next to sexual content; see policy)
    _ko("ko_minor", "_minor", 1.0, "아이|어린이|아동|유아|아기|초등학생|중학생|고등학생|여중생|여고생|미성년자|미성년|소녀|소년|어린애|꼬마"),
    # hate against groups
    _ko("ko_slur", "hate", 0.8, "짱깨|쪽바리|깜둥이|똥남아|흑형|짱개|섬숭이|똥꼬충|틀딱|김치녀|된장녀|한남충"),
    _ko("ko_slur_insect", "hate", 0.7, "한남|급식|맘|틀딱|똥꼬|한녀", "충", window=0),
    _ko("ko_slur_women", "hate", 0.7, "김치|된장", "녀|년", window=0),
    _ko("ko_group_dehumanise", "hate", 0.6, _GROUPS_KO, "박멸|쓰레기|벌레|해충|몰살|몰살하다|없애다|추방하다|죽이다", window=5),
    # attempts to override the service's rules
    _ko("ko_override", "override", 0.9, "이전|앞|위|기존|모든|지금까지|시스템", _INSTRUCTIONS_KO, "무시|무시하다|잊다|어기다|해제|해제하다|우회|우회하다", window=4),
    _ko("ko_override_weak", "override", 0.4, _INSTRUCTIONS_KO, "무시하다|해제하다|우회하다|풀다|끄다", window=3),
    _ko("ko_system_prompt", "override", 0.6, "시스템", "프롬프트", window=1),
    _ko("ko_jailbreak", "override", 0.6, "탈옥"),
    _ko("ko_no_filter", "override", 0.4, "검열|필터|제한|안전장치", "없이|없다", window=1),
    # self-harm wishes (reviewed by a person, never blocked)
    # a wish is V-고 싶다 (죽고 싶다); 죽는구나 싶었다, 죽겠다 싶었다 is "I thought I would die", the
    # fear of a nightmare, as "I thought I was going to die" in English.
    # A wish denied (죽고 싶지 않았다, "I didn't want to die") still reads as the wish, here and in
    # en_want_to_die: stop 38 excused a denial said plainly in a nightmare's fear, and two evader
    # reviews found about 85 ideation and intent texts it let through (a danger word is also a method:
    # "I don't want to die in the war, I'll shoot myself first."; take-backs, double negatives, times).
    # A nightmare that says it goes to a person with the support message (tests/test_safety.py, xfail).
    _ko("ko_want_to_die", "self_harm", 0.8, "죽다|자살|자살하다|자해|자해하다|뛰어내리다|목매다|죽어버리다", _WISH_ENDINGS_KO, "싶다",
        window=3),
    # not wanting to live any more is a wish to die (as 살기 싫다 below): the speaker or a word of
    # giving up just before it (나는/더 이상/이제/차라리 살고 싶지 않다), not where or with whom
    # (서울 살고 싶지 않다, 이런 집에서는, 그 사람이랑 살고 싶지 않다)
    _ko("ko_not_want_to_live", "self_harm", 0.6, "나|저|더|더는|이제|이제는|차라리|그만|도저히|이렇게|그냥|정말|진짜", "살다", "고",
        "싶다", window=2, negated=True),
    # 사라지고 싶다 is a wish to die, unless the sentence tells embarrassment (창피해서 사라지고
    # 싶었다, as "I wanted to disappear")
    _ko("ko_vanish", "self_harm", 0.8, "사라지다", _WISH_ENDINGS_KO, "싶다", window=3, unless=_EMBARRASSED_KO),
    # ... but for good, from the world, quietly, it is a wish to die whatever else the sentence feels
    _ko("ko_vanish_for_good", "self_harm", 0.8, "영원히|영영|세상|완전히|조용히|이제|차라리|아예|흔적", "사라지다", _WISH_ENDINGS_KO,
        "싶다", window=3),
    _ko("ko_suicide", "self_harm", 0.45, "자살|자살하다|자해|자해하다|유서"),
    _ko("ko_wrist", "self_harm", 0.7, "손목", "긋다", window=3),
    _ko("ko_hang", "self_harm", 0.6, "목", "매다", window=2),
    _ko("ko_dont_want_live", "self_harm", 0.6, "살다", "싫다", window=2),
    _ko("ko_end_life", "self_harm", 0.7, "삶|인생|목숨", "끝내다|버리다|끊다", window=3),
    # profanity (a signal, never a verdict on its own)
    _ko("ko_swear", "profanity", 0.5, "씨발|시발|씨팔|시팔|씹|썅|좆|좆같다|존나|졸라|병신|지랄|염병|니미|개새끼|ㅅㅂ|ㅆㅂ|ㅂㅅ|ㅄ|ㅈㄹ", standalone=True),
    _ko("ko_swear_dog", "profanity", 0.5, "개", "새끼|놈|년", window=0),
    _ko("ko_crazy", "profanity", 0.3, "미치다", "놈|년|새끼", window=1),
)

_BODY_EN = r"fingers?|hands?|heads?|arms?|legs?|ears?|tongues?|toes?|feet|foot|nose|face"
_POSS_EN = r"(?:his|her|their|my|your|its|the|a|one'?s)"
_GROUPS_EN = (
    r"jews|muslims|blacks|gays|lesbians|immigrants|mexicans|asians|arabs|refugees|homosexuals"
    r"|trans people|transgender people|women|christians|hindus|chinese|koreans|japanese"
)
_INSTRUCTIONS_EN = r"instructions?|rules|prompts?|guidelines|polic(?:y|ies)|filters?|restrictions|directives"

ENGLISH_RULES: tuple[EnglishRule, ...] = (
    # gore
    _en("en_blood_pool", "gore", 0.5, r"pools? of blood|blood (?:everywhere|all over|gushing|spurting|pouring|splattered)"
        r"|(?:covered|soaked|drenched|bathed) in blood|blood[- ]soaked|blood[- ]spattered", unless=r"\bnose ?bleed|bloody nose|nose (?:was |started |began )?bleeding|nose bled"),
    _en("en_bleed_out", "gore", 0.6, r"bleed(?:s|ing)? out|bled out|bled to death|bleeding to death"),
    _en("en_blood", "gore", 0.15, r"blood|bloody|bleeding|bled"),
    _en("en_cut_off", "gore", 0.45, rf"(?:cut|cuts|cutting|chopped|chopping|chop|sawed|sawing|ripped|tore) off {_POSS_EN}? ?(?:\w+ )?(?:{_BODY_EN})"),
    _en("en_dismember", "gore", 0.45, r"(?:dismember|decapitat|behead|disembowel|mutilat|eviscerat|flay)\w*"),
    _en("en_torture", "gore", 0.5, r"tortur(?:e|ed|es|ing)"),
    _en("en_organs", "gore", 0.45, r"entrails|intestines|innards|guts (?:spill\w*|everywhere|hanging|out)|brains? (?:splatter\w*|spill\w*|everywhere)"),
    _en("en_throat", "gore", 0.6, rf"(?:slit|slitting|slits|cut|cutting) {_POSS_EN} throat"),
    _en("en_stab", "gore", 0.3, r"stab|stabs|stabbed|stabbing"),
    _en("en_kill", "gore", 0.2, r"murder(?:ed|ing|s)?|killed|slaughter(?:ed|ing)?|massacred?|butchered"),
    _en("en_corpse", "gore", 0.25, r"corpses?|dead bod(?:y|ies)|cadavers?"),
    # "severed" names gore with a body part (a rope or a phone line is severed too); Al Gore is a name
    _en("en_gore", "gore", 0.5, r"(?<!\bal )gore|gory|skinned alive|burned alive|torn flesh|flesh (?:torn|ripped|peeled|rotting)"
        rf"|severed,? (?:[\w'-]+,? ){{0,3}}(?:{_BODY_PARTS_EN})|(?:{_BODY_PARTS_EN}),? (?:[\w'-]+,? ){{0,3}}severed"),
    # sexual content
    _en("en_sex_act", "sexual", 0.8, r"(?:having|had|have|has) (?:explicit )?sex|explicit sex|sex (?:with|scene)|sexual intercourse|intercourse"
        r"|(?:make|made|making) love|blowjob|oral sex"),
    _en("en_sex", "sexual", 0.4, r"sex|sexual|sexually"),
    _en("en_rape", "sexual", 0.9, r"rape[ds]?|raping|molest\w*|sexual(?:ly)? assault\w*"),
    _en("en_explicit_terms", "sexual", 0.7, r"porn\w*|orgasm\w*|masturbat\w*|genitals?|penis|vagina|erection|ejaculat\w*"),
    _en("en_naked", "sexual", 0.3, r"naked|nude|nudity|undressed|topless"),
    _en("en_lewd", "sexual", 0.4, r"fondl\w*|grop(?:e|ed|ing)|aroused|horny|erotic"),
    _en("en_explicit", "sexual", 0.3, r"explicit|graphic|in detail", booster=True),
    # mentions of minors
    _en("en_minor", "_minor", 1.0, r"child|children|kids?|minors?|underage|little (?:girl|boy)s?|toddlers?|infants?"
        r"|schoolgirls?|schoolboys?|pre-?teens?|teens?|teenagers?|young (?:girl|boy)s?|loli"),
    # hate against groups
    _en("en_slur", "hate", 0.8, r"nigg(?:er|a)s?|faggots?|fags|kikes?|chinks?|spics?|wetbacks?|trann(?:y|ies)|gooks?|ragheads?|towelheads?"),
    _en("en_group_death", "hate", 0.8, rf"(?:all )?(?:the )?(?:{_GROUPS_EN})\b.{{0,30}}\b(?:should (?:all )?(?:die|be killed|be exterminated|burn)"
        r"|must die|deserve to die|are (?:vermin|animals|parasites|subhuman|cockroaches|trash))"),
    _en("en_kill_group", "hate", 0.8, rf"(?:kill|exterminate|gas|eradicate) (?:all )?(?:the )?(?:{_GROUPS_EN})"),
    _en("en_hate_group", "hate", 0.5, rf"i hate (?:all )?(?:the )?(?:{_GROUPS_EN})"),
    # attempts to override the service's rules
    _en("en_ignore_instructions", "override", 0.9, r"(?:ignore|disregard|forget|override|bypass)\b.{0,30}\b"
        rf"(?:previous|prior|above|earlier|all|your|the|system|these)\b.{{0,20}}\b(?:{_INSTRUCTIONS_EN})"),
    _en("en_you_are_now", "override", 0.8, r"you are now\b.{0,30}\b(?:unfiltered|uncensored|jailbroken|DAN|unrestricted|an? AI without)"),
    _en("en_pretend_no_rules", "override", 0.8, r"pretend (?:that )?(?:you|there) (?:are|have|is) no (?:rules|filters?|restrictions)"),
    _en("en_jailbreak", "override", 0.6, r"system prompt|developer mode|jailbreak\w*|do anything now|new instructions:"),
    _en("en_no_filter", "override", 0.4, r"(?:no|without) (?:content )?(?:filters?|restrictions|censorship|safety rules)|unfiltered|uncensored"),
    # self-harm wishes
    # "going to die" is the fear of a nightmare ("I thought I was going to die"), not a wish: wanting
    # or trying to die counts, and going to kill oneself or end it all
    _en("en_want_to_die", "self_harm", 0.8, r"(?:(?:want|wants|wanted|wanting|wish|wished|tried|trying) to|wanna) die"
        r"|(?:want|wanted|wanting|wish|wished|going|tried|trying) to (?:kill myself|end it all"
        r"|end my life|end everything|disappear forever|not (?:be alive|exist|wake up))|wish i (?:was|were) dead|better off dead"),
    # the writer not wanting to live (any more) is a wish to die; not wanting to live somewhere, or a
    # dream character's words ("the ghost didn't want to exist"), is not
    _en("en_not_want_to_live", "self_harm", 0.8,
        rf"i(?:'m| am)?(?:\s+(?:really|just|honestly|simply))?\s+(?:{_NEGATION_EN}|do not|did not)(?:\s+(?:really|even))?"
        r"\s+(?:want|wanted|wish|wished) to (?:live|be alive|exist)(?=\s*(?:any ?more|any longer|[.,;:!?]|$))"),
    # ... but "I'm going to die tonight, I have the pills ready" is an intent: "I'm going to die" counts
    # unless its sentence tells the fear of it ("we were all going to die" as the plane fell does not)
    _en("en_going_to_die", "self_harm", 0.6, r"i(?:'m| am) going to die", unless=_FEAR_EN),
    _en("en_kill_myself", "self_harm", 0.75, r"kill(?:ing|ed)? myself|end(?:ing|ed)? my (?:own )?life|take my (?:own )?life"),
    # an accident ("I fell and hurt myself") is not self-harm, unless the sentence also says it was meant
    _en("en_hurt_myself", "self_harm", 0.6, r"(?:cut|cutting|hurt|hurting|harm|harming) myself", unless=_ACCIDENT_EN),
    _en("en_suicide", "self_harm", 0.45, r"suicid(?:e|al)|self[- ]harm"),
    # profanity
    _en("en_swear", "profanity", 0.5, r"fuck\w*|motherfuck\w*|shit\w*|bullshit|bitch\w*|asshole\w*|cunt\w*|dickheads?|bastards?"),
    _en("en_mild_swear", "profanity", 0.2, r"damn|goddamn|crap|pissed"),
)

_KO_AGE_RE = re.compile(r"(\d{1,2})\s?살")
# Swear words spelled with Latin letters, digits or bare consonants (아c발): no Korean word
# contains these, so raw matching is safe here.
_KO_OBFUSCATED_SWEAR_RE = re.compile(r"(?<![A-Za-z])[cCㅅㅆ][1!]?발(?![표전견생])|[씨시][1!]발|ㅈ같|ㅈㄴ|ㅗ{1,}")
_EN_AGE_RE = re.compile(r"\b(\d{1,2})[- ]years?[- ]old\b", re.IGNORECASE)


_PREDICATE_SUFFIX_TAGS = frozenset({"XSV", "XSA"})  # and every V* tag (VV, VA, VX, VCP, VCN)


def _keys(m: Morpheme) -> set[str]:
    """What a slot may match: a verb or adjective by its dictionary form only (Kiwi's stem 피 of
    피다, "to bloom", is not the noun 피, "blood"), anything else by its form and lemma."""
    if m.tag.startswith("V") or m.tag in _PREDICATE_SUFFIX_TAGS:
        return {m.lemma}
    return {m.form, m.lemma}


def _sentence_ids(tokens: list[Morpheme]) -> list[int]:
    ids: list[int] = []
    current = 0
    for token in tokens:
        ids.append(current)
        if token.tag == "SF" or "\n" in token.form:
            current += 1
    return ids


def _next_slot(
    tokens: list[Morpheme], sentence: list[int], slot: frozenset[str], after: int, window: int
) -> int | None:
    """Index of the first token after `after` (within `window` morphemes, same sentence) in `slot`."""
    for j in range(after + 1, min(len(tokens), after + window + 2)):
        if sentence[j] != sentence[after]:
            return None
        if _keys(tokens[j]) & slot:
            return j
    return None


_NEGATING_VERBS = frozenset({"않다", "못하다"})


def _negation_after(tokens: list[Morpheme], sentence: list[int], last: int) -> int | None:
    """Index of the 않다/못하다 that negates the predicate at `last` (싶지 않다, 싶지는 않았다, 싶진 못했다), or None."""
    j = last + 1
    if j >= len(tokens) or sentence[j] != sentence[last] or not (tokens[j].form == "지" and tokens[j].tag == "EC"):
        return None
    j += 1
    if j < len(tokens) and tokens[j].tag in {"JX", "JKS"}:  # 싶지는, 싶지도, 싶진, 싶지가
        j += 1
    if not (j < len(tokens) and sentence[j] == sentence[last] and tokens[j].tag in {"VX", "VV"} and tokens[j].lemma in _NEGATING_VERBS):
        return None
    k = j + 1
    while k < len(tokens) and tokens[k].tag == "EP":
        k += 1
    if k < len(tokens) and tokens[k].tag == "ETM":
        return None  # 싶지 않은 (건 아니다, 날이 없다): a negation inside a phrase says nothing plain
    return j


def _match_korean_rule(
    rule: KoreanRule, tokens: list[Morpheme], sentence: list[int], text: str
) -> list[RuleMatch]:
    found: list[RuleMatch] = []
    for i, token in enumerate(tokens):
        if not _keys(token) & rule.slots[0]:
            continue
        if rule.standalone and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if nxt.start == token.end and nxt.tag in {"NNG", "NNP", "NNB", "XSN"}:
                continue  # 시발 + 역 is a starting station, not a swear word
        last: int | None = i
        for slot in rule.slots[1:]:
            last = _next_slot(tokens, sentence, slot, last, rule.window) if last is not None else None
        if last is None:
            continue
        if rule.negated:
            last = _negation_after(tokens, sentence, last)
            if last is None:
                continue
        if rule.unless:
            start, end = _sentence_around(text, token.start)
            if any(_keys(t) & rule.unless for t in tokens if start <= t.start < end):
                continue
        start, end = word_span(text, token.start, tokens[last].end)
        found.append(RuleMatch(rule.category, rule.weight, start, end, rule.name, rule.booster))
    return found


def korean_matches(text: str) -> list[RuleMatch]:
    """Matches of the Korean rules on Kiwi morphemes of `text` (nothing when there is no Hangul)."""
    if not has_hangul(text):
        return []
    tokens = morphemes(text)
    sentence = _sentence_ids(tokens)
    found: list[RuleMatch] = []
    for rule in KOREAN_RULES:
        found.extend(_match_korean_rule(rule, tokens, sentence, text))
    for age in _KO_AGE_RE.finditer(text):
        if int(age.group(1)) < MINOR_AGE_LIMIT:
            found.append(RuleMatch("_minor", 1.0, age.start(), age.end(), "ko_age"))
    for swear in _KO_OBFUSCATED_SWEAR_RE.finditer(text):
        found.append(RuleMatch("profanity", 0.5, swear.start(), swear.end(), "ko_swear_spelled"))
    return found


def _sentence_around(text: str, at: int) -> tuple[int, int]:
    """(start, end) of the sentence of `text` holding offset `at`, as the policy and the planner split
    it (`split_sentences`: line ends, . ! ? and Kiwi's sentence endings; cached per text): the scope
    of a rule's `unless`."""
    for sentence in split_sentences(text):
        if at < sentence.end:
            return sentence.start, sentence.end
    return 0, len(text)


def english_matches(text: str) -> list[RuleMatch]:
    """Matches of the English patterns (word-bounded, case-insensitive) anywhere in `text`."""
    found: list[RuleMatch] = []
    for rule in ENGLISH_RULES:
        for m in rule.pattern.finditer(text):
            if rule.unless is not None:
                start, end = _sentence_around(text, m.start())
                if rule.unless.search(text[start:end]):
                    continue
            found.append(RuleMatch(rule.category, rule.weight, m.start(), m.end(), rule.name, rule.booster))
    for age in _EN_AGE_RE.finditer(text):
        if int(age.group(1)) < MINOR_AGE_LIMIT:
            found.append(RuleMatch("_minor", 1.0, age.start(), age.end(), "en_age"))
    return found


_KOREAN_SLANG = tuple((name, cat, w, re.compile(rf"(?<![가-힣])(?:{p})")) for name, cat, w, p in KOREAN_SLANG)
_ENGLISH_SLANG = tuple(
    (name, cat, w, re.compile(rf"(?<![A-Za-z])(?:{p})(?![A-Za-z])", re.IGNORECASE)) for name, cat, w, p in ENGLISH_SLANG
)


def slang_matches(text: str) -> list[RuleMatch]:
    """Matches of the slang patterns (`agent.safety.slang`) on the characters of `text`."""
    found: list[RuleMatch] = []
    for name, category, weight, pattern in (*_KOREAN_SLANG, *_ENGLISH_SLANG):
        for m in pattern.finditer(text):
            start, end = word_span(text, m.start(), m.end()) if has_hangul(m.group(0)) else (m.start(), m.end())
            found.append(RuleMatch(category, weight, start, end, name))
    return found


def rule_matches(text: str) -> list[RuleMatch]:
    """All rule matches in `text` (Korean, English, slang), ordered by position.

    Call it on the canonical text (`agent.canonical`): the rules know words, not their disguises.
    """
    found = korean_matches(text) + english_matches(text) + slang_matches(text)
    return sorted(found, key=lambda m: (m.start, m.end, m.rule))
