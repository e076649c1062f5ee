"""Slang and euphemisms the morpheme rules cannot see, as raw patterns on the canonical text.

Kiwi does not know most internet slang (야스 becomes a proper noun, 중딩 falls apart into 중 + 딩,
여고생 into 여고 + 생), so these are matched on characters. Korean patterns must start a word
(no Hangul right before them: 칼로리 is not 로리) and may carry any particle or ending after.
Weights follow `agent.safety.rules`: what the passage alone says about its category.

`SPACED_PAIR_WORDS` are two-syllable words that `agent.canonical` joins back when they are
written apart (섹 스): only words of this list, because most spaced pairs are ordinary prose.
"""

from __future__ import annotations

# (name, category, weight, pattern) with a Korean pattern anchored at a word start by the matcher.
KOREAN_SLANG: tuple[tuple[str, str, float, str], ...] = (
    # sexual acts and organs in slang
    (
        "ko_slang_sex",
        "sexual",
        0.8,
        r"야스|ㅅㅅ(?:하|했|함|중|각|영상)|ㅅㅅ\s?(?:을|를)?\s?(?:했|하(?:는|고|자|려|면|기|다|던)|해(?:서|요|라|줘|봤|버)?(?![가-힣]))|섹스|쎅스|섹쓰|떡\s?(?:치|쳤|칠)|붕가|따먹|몸\s?(?:을\s?)?섞|응응\s?(?:하|했)"
        r"|보빨|자빨|69\s?(?:자세|했)|섹파|원나잇|떡방|씹질|봊",
    ),
    (
        "ko_slang_explicit",
        "sexual",
        0.7,
        r"야짤|야설|야겜|야애니|19금\s?(?:영상|장면|행위)|딸딸이|딸(?:치|쳤|잡)|자위(?!대|권)|꼬추|빨통|젖꼭지|가슴을\s?(?:빨|주무르)"
        r"|야동|포르노|성기(?!사|능)|음부|사타구니를\s?(?:만지|빨)",
    ),
    # minors (only matter next to sexual content; see the policy)
    (
        "ko_slang_minor",
        "_minor",
        1.0,
        r"초딩|중딩|고딩|잼민|급식이|로리|쇼타|여중생|여고생|남중생|남고생|여초딩|유치원생|초등생|중학생|고등학생|초등학생"
        r"|어린\s?(?:여자|남자)?\s?(?:애|아이|소녀|소년)|미자(?:랑|와|한테|를)|어린것|애기(?:랑|와|한테|를)|꼬마",
    ),
    # hate: slurs and dehumanising group words
    (
        "ko_slang_slur",
        "hate",
        0.8,
        r"짱깨|짱개|쪽바리|깜둥이|흑형|똥남아|섬숭이|개슬람|조선족\s?(?:놈|새끼|들은\s?다)|게이\s?새끼|똥꼬충|메갈년|한남충|김치녀|틀딱충|급식충|장애인\s?새끼",
    ),
    # self-harm said sideways
    (
        "ko_slang_self_harm",
        "self_harm",
        0.7,
        r"자살각|자살\s?(?:하고|할까)|극단적\s?(?:선택|인\s?선택)|스스로\s?목숨|생을\s?마감|손목을\s?긋|번개탄|유서를\s?(?:썼|쓰)|투신",
    ),
    # attempts to switch the filter off, in slang
    (
        "ko_slang_override",
        "override",
        0.7,
        r"탈옥\s?모드|필터\s?(?:끄|꺼|해제)|검열\s?(?:없이|해제|풀)|제한\s?(?:없이|해제)",
    ),
)

# (name, category, weight, pattern), word-bounded and case-insensitive by the matcher.
ENGLISH_SLANG: tuple[tuple[str, str, float, str], ...] = (
    (
        "en_slang_sex",
        "sexual",
        0.8,
        r"(?:had|have|having|did|do|doing) (?:the )?(?:deed|nasty|dirty)|hook(?:ed|ing)? up with|f[u*]ck(?:ed|ing)? (?:him|her|them|me)"
        r"|bang(?:ed|ing)? (?:him|her|them)|smash(?:ed|ing)? (?:him|her)|shag(?:ged|ging)?|bonk(?:ed|ing)?|humping|screw(?:ed|ing) (?:him|her)"
        r"|nsfw|hentai|nudes|lewd(?:s)?|blow ?job|hand ?job|deepthroat\w*|cum(?:ming|med|shot)?|jerk(?:ed|ing)? off|jack(?:ed|ing)? off",
    ),
    ("en_slang_explicit", "sexual", 0.6, r"boobs|tits|titties|pussy|clit\w*|dildo\w*|xxx|onlyfans|pornhub"),
    ("en_slang_dick", "sexual", 0.4, r"dicks?"),  # also a name: alone it is not enough
    (
        "en_slang_minor",
        "_minor",
        1.0,
        r"loli\w*|shota\w*|jailbait|cp|pedo\w*|paedo\w*|preteens?|tweens?|kiddies|kiddos?|middle ?schoolers?|grade ?schoolers?|schoolkids?",
    ),
    (
        "en_slang_minor_sexual",
        "minors",
        0.9,
        r"child porn\w*|kiddie porn|cp (?:video|pics|links)|pedo(?:phile)? (?:porn|content)",
    ),
    # verbs that are slang for sex only with a person as object: a minor as that object is enough
    (
        "en_slang_verb_minor",
        "minors",
        0.9,
        r"(?:bang|smash|screw|nail|bone|shag)(?:ed|ing|s)? (?:a |an |the |this |that |my |some )?"
        r"(?:little |young |cute )?(?:preteen|tween|kid|child|schoolgirl|schoolboy|middle schooler|minor"
        r"|\d{1,2}[- ]?(?:yo|year[- ]old))s?",
    ),
    (
        "en_slang_slur",
        "hate",
        0.8,
        r"sand ?niggers?|porch ?monkeys?|jungle ?bunn(?:y|ies)|zipper ?heads?|mud ?people",
    ),
    (
        "en_slang_self_harm",
        "self_harm",
        0.7,
        r"kms|unalive (?:myself|me)|end it all|off myself|rope myself|catch the bus to heaven|sewer ?slide",
    ),
    ("en_slang_override", "override", 0.7, r"dan mode|jail ?break mode|no ?filter mode|god ?mode prompt"),
)

SPACED_PAIR_WORDS = frozenset(
    {
        "섹스",
        "야스",
        "ㅅㅅ",
        "강간",
        "윤간",
        "야동",
        "자위",
        "성기",
        "보지",
        "자지",
        "알몸",
        "나체",
        "음란",
        "애무",
        "살해",
        "살인",
        "학살",
        "시체",
        "사체",
        "내장",
        "참수",
        "고문",
        "자살",
        "자해",
        "투신",
        "로리",
        "쇼타",
        "초딩",
        "중딩",
        "고딩",
        "잼민",
        "떡쳐",
        "짱깨",
        "쪽바리",
        "탈옥",
        "성교",
        "정사",
        "야짤",
        "야설",
    }
)

# English words the rules need, found again inside letters spaced apart across words ("r a p e d a
# c h i l d" joins to "rapedachild"; these give back "raped a child"). See `agent.canonical`.
SEGMENT_WORDS = frozenset(
    [
        "sex",
        "sexual",
        "rape",
        "raped",
        "raping",
        "rapist",
        "naked",
        "nude",
        "nudity",
        "porn",
        "genitals",
        "penis",
        "vagina",
        "molest",
        "molested",
        "child",
        "children",
        "kid",
        "kids",
        "girl",
        "girls",
        "boy",
        "boys",
        "minor",
        "minors",
        "teen",
        "teens",
        "loli",
        "underage",
        "kill",
        "killed",
        "killing",
        "murder",
        "murdered",
        "torture",
        "tortured",
        "blood",
        "bleed",
        "bleeding",
        "corpse",
        "dismember",
        "jews",
        "muslims",
        "blacks",
        "gays",
        "immigrants",
        "refugees",
        "vermin",
        "die",
        "dead",
        "suicide",
        "myself",
        "ignore",
        "previous",
        "instructions",
        "rules",
        "filter",
        "filters",
        "unfiltered",
        "explicit",
        "fuck",
        "fucked",
    ]
)
