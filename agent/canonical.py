"""One canonical form of a diary for rules, classifiers and prompt writing, with an offset map.

People who want a forbidden video disguise the words the filters know: decomposed Hangul (NFD)
or compatibility jamo typed one by one (ㅅㅓㅇㄱㅘㄴㄱㅖ), zero-width characters and soft hyphens
inside a word, Cyrillic or Greek look-alikes (ѕех), full-width or mathematical letters (ｓｅｘ),
letters spaced or dotted apart (s e x, 성.관.계) and digits for letters (s3x, r4pe). `canonicalize`
undoes all of these, in this order:

1. put text under a right-to-left override (U+202E, up to a U+202C or U+2069 or the line's end) in
   the order it is shown ("\u202exes" shows as "sex"), then drop invisible format characters
   (Unicode category Cf: zero-width spaces and joiners, soft hyphens, BOM, word joiners, bidi
   controls), variation selectors, the combining grapheme joiner and Hangul fillers;
2. compose Hangul: conjoining jamo (NFD) by NFC, runs of compatibility jamo by the syllable
   rules of the Korean keyboard (ㅅㅓㅇ -> 성); lone consonants stay as they are (ㅋㅋ, ㅅㅅ);
3. NFKC every other character with its combining marks (full-width, circled, math letters); a
   Latin letter (or a Cyrillic/Greek look-alike) loses the marks above, below or through it (s̈ëẍ,
   s̶e̶x̶, café -> cafe), and small capitals become letters (ꜱᴇx);
4. fold Cyrillic and Greek look-alikes to Latin letters inside words that are not wholly
   Cyrillic/Greek words of their own;
5. join letters spaced or dotted apart inside a word: three or more single letters or
   syllables, or any chunks of at most two letters glued by dots/hyphens/stars/underscores,
   and two spaced syllables when together they are a word the rules know (섹 스);
   the Korean vowel ㅡ typed as a dash between syllables (성ㅡ관ㅡ계) goes too;
6. map digits and symbols used as letters (3->e, 4->a, 1->i, 0->o, 5->s, 7->t, @->a, $->s) in
   words that mix them with Latin letters, never in numbers (2nd, 3pm, 10km, mp4, 1.5);
7. shorten Latin letters stretched three or more times (seeexxx -> sex, killll -> kill) when that
   spells a word the rules know, or to one letter each in a word stretched throughout; a word with
   one stretched run stays as written (goooood, Zzz, xxx).

`CanonicalText.original_span(start, end)` maps a span of the canonical text back to the diary
as written, so a safety reason still points at the user's own characters.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# --- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanonicalText:
    """`text` is the canonical form; canonical character i came from `original[starts[i]:ends[i]]`."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original diary that canonical `[start, end)` was made from."""
        if not self.text:
            return 0, 0
        start = max(0, min(start, len(self.text) - 1))
        end = max(start + 1, min(end, len(self.text)))
        # the smallest span covering them all: under a right-to-left override canonical
        # characters run backwards over the diary
        return min(self.starts[start:end]), max(self.ends[start:end])

    def canonical_span(self, start: int, end: int) -> tuple[int, int]:
        """The canonical span made from original `[start, end)` (characters dropped from it excluded)."""
        first = next((i for i, s in enumerate(self.starts) if s >= start), len(self.text))
        last = next((i for i in range(len(self.ends) - 1, -1, -1) if self.ends[i] <= end), -1)
        return first, max(first, last + 1)


class _Builder:
    """Canonical characters with the original span each came from."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, piece: str, start: int, end: int) -> None:
        for ch in piece:
            self.chars.append(ch)
            self.starts.append(start)
            self.ends.append(end)


@dataclass(frozen=True)
class _Chars:
    """A string as characters with original spans (the input of each step)."""

    chars: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, b: _Builder) -> _Chars:
        return cls(tuple(b.chars), tuple(b.starts), tuple(b.ends))

    @property
    def text(self) -> str:
        return "".join(self.chars)


# --- 1. invisible characters ---------------------------------------------------------------------

# Hangul fillers (U+3164, U+115F, U+1160, U+FFA0) are letters to Unicode but draw nothing.
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u3164\uffa0\u180e\u2800")


def _invisible(ch: str) -> bool:
    if ch in "\n\r\t":
        return False
    return (
        unicodedata.category(ch) == "Cf"
        or ch in _INVISIBLE_EXTRA
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U000e0100" <= ch <= "\U000e01ef"
    )


# --- 2. Hangul composition -----------------------------------------------------------------------

_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # index 0: no final
_COMPOUND_VOWELS = {
    "ㅗㅏ": "ㅘ",
    "ㅗㅐ": "ㅙ",
    "ㅗㅣ": "ㅚ",
    "ㅜㅓ": "ㅝ",
    "ㅜㅔ": "ㅞ",
    "ㅜㅣ": "ㅟ",
    "ㅡㅣ": "ㅢ",
}
_COMPOUND_FINALS = {
    "ㄱㅅ": "ㄳ",
    "ㄴㅈ": "ㄵ",
    "ㄴㅎ": "ㄶ",
    "ㄹㄱ": "ㄺ",
    "ㄹㅁ": "ㄻ",
    "ㄹㅂ": "ㄼ",
    "ㄹㅅ": "ㄽ",
    "ㄹㅌ": "ㄾ",
    "ㄹㅍ": "ㄿ",
    "ㄹㅎ": "ㅀ",
    "ㅂㅅ": "ㅄ",
}
_CONJOINING = ("\u1100", "\u11ff")


def _is_compat_jamo(ch: str) -> bool:
    return "\u3131" <= ch <= "\u3163"


def _is_conjoining(ch: str) -> bool:
    return _CONJOINING[0] <= ch <= _CONJOINING[1] or "\ua960" <= ch <= "\ua97f" or "\ud7b0" <= ch <= "\ud7ff"


def _syllable(initial: str, vowel: str, final: str = " ") -> str:
    code = 0xAC00 + (_INITIALS.index(initial) * 21 + _VOWELS.index(vowel)) * 28 + _FINALS.index(final)
    return chr(code)


def _compose_compat_run(chars: list[tuple[str, int, int]], out: _Builder) -> None:
    """Assemble a run of compatibility jamo as a Korean keyboard does; lone consonants stay."""
    i, n = 0, len(chars)

    def jamo(k: int) -> str:
        return chars[k][0] if k < n else ""

    while i < n:
        ch, start, _ = chars[i]
        if ch in _INITIALS and jamo(i + 1) in _VOWELS and jamo(i + 1):
            vowel, j = jamo(i + 1), i + 2
            if jamo(j) and vowel + jamo(j) in _COMPOUND_VOWELS:
                vowel, j = _COMPOUND_VOWELS[vowel + jamo(j)], j + 1
            final = " "
            # A consonant is this syllable's final unless a vowel follows it (then it starts the next).
            if jamo(j) and jamo(j) in _FINALS[1:] and not (jamo(j + 1) and jamo(j + 1) in _VOWELS):
                pair = jamo(j) + jamo(j + 1)
                if jamo(j + 1) and pair in _COMPOUND_FINALS and not (jamo(j + 2) and jamo(j + 2) in _VOWELS):
                    final, j = _COMPOUND_FINALS[pair], j + 2
                else:
                    final, j = jamo(j), j + 1
            # under a right-to-left override the jamo of one syllable may run backwards over the diary
            out.add(_syllable(ch, vowel, final), min(c[1] for c in chars[i:j]), max(c[2] for c in chars[i:j]))
            i = j
        else:
            out.add(ch, start, chars[i][2])
            i += 1


def _to_compat(ch: str) -> str:
    """A lone conjoining jamo as its compatibility letter (ᄏ -> ㅋ); NFKC does not do this."""
    code = ord(ch)
    if 0x1100 <= code <= 0x1112:
        return _INITIALS[code - 0x1100]
    if 0x1161 <= code <= 0x1175:
        return _VOWELS[code - 0x1161]
    if 0x11A8 <= code <= 0x11C2:
        return _FINALS[code - 0x11A8 + 1]
    return ch


# Half-width jamo (U+FFA1..) as compatibility jamo; NFKC alone would make them conjoining ones.
_HALFWIDTH_JAMO = {
    chr(c): _to_compat(unicodedata.normalize("NFKC", chr(c)))
    for c in range(0xFFA1, 0xFFDD)
    if unicodedata.name(chr(c), "").startswith("HALFWIDTH HANGUL LETTER")
}


# --- 3/4. NFKC and look-alikes ---------------------------------------------------------------------

# Cyrillic and Greek letters that look like Latin ones (lower and upper case).
_CONFUSABLES = dict(
    zip(
        "аеорсухіјѕԁԛԝкмнтвгпьАЕОРСУХІЈЅКМНТВαοερτυχικνωΑΒΕΗΙΚΜΝΟΡΤΥΧΖ",
        "aeopcyxijsdqwkmhtbrnbAEOPCYXIJSKMHTBaoeptuxikvwABEHIKMNOPTYXZ",
        strict=True,
    )
)
_CYRILLIC_GREEK_RE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff]")


def _fold_lookalikes(chars: _Chars) -> _Chars:
    """Fold look-alikes in words that mix scripts or are spelled only with look-alike letters."""
    out = _Builder()
    text = chars.text
    for m in re.finditer(r"\w+|\W+", text):
        word = m.group(0)
        if _CYRILLIC_GREEK_RE.search(word):
            foreign = [ch for ch in word if _CYRILLIC_GREEK_RE.match(ch)]
            mixed = any("a" <= ch.lower() <= "z" for ch in word)
            if mixed or all(ch in _CONFUSABLES for ch in foreign):
                word = "".join(_CONFUSABLES.get(ch, ch) for ch in word)
        for k, ch in enumerate(word):
            out.add(ch, chars.starts[m.start() + k], chars.ends[m.start() + k])
    return _Chars.of(out)


# --- 5. letters spaced or dotted apart -----------------------------------------------------------

_LETTER = r"[^\W_]"  # letters and digits (s 3 x); runs need more letters than digits, see _mostly_letters
# Chunks of 1-2 letters glued by one symbol each: s.e.x, r-a-p-e, 성.관.계, 야*스
_GLUED_RE = re.compile(
    rf"(?<![\w.\-*_·•/|~+^]){_LETTER}{{1,2}}(?:[.\-*_·•/|~+^]{_LETTER}{{1,2}})+(?![\w*_·•/|~+^])"
)
# Single letters or syllables separated by spaces: s e x, 성 관 계
_SPACED_RE = re.compile(
    rf"(?<!\S){_LETTER}(?:[ \t]{{1,3}}{_LETTER})*(?:[ \t]{{1,3}}{_LETTER}[가-힣]{{1,3}})?(?=[\s.,!?;:…'\")\]]|$)"
)


@lru_cache(maxsize=1)
def _joinable_pairs() -> frozenset[str]:
    """Two-syllable words worth joining when spaced apart (섹 스, 살 해했다): the rules' vocabulary.

    The first two syllables of every Korean rule form of the policy's categories, plus the slang
    list; profanity is left out (its forms are short everyday words too).
    """
    from agent.safety.rules import KOREAN_RULES
    from agent.safety.slang import SPACED_PAIR_WORDS

    forms = {
        form[:2]
        for rule in KOREAN_RULES
        if rule.category != "profanity"
        for slot in rule.slots
        for form in slot
        if len(form) >= 2 and all(_is_hangul_syllable(ch) for ch in form[:2])
    }
    return frozenset((forms - _EVERYDAY_PAIRS) | SPACED_PAIR_WORDS)


# Context words of multi-slot rules (모든 ... 무시, 날아 ...) that say nothing on their own.
_EVERYDAY_PAIRS = frozenset(
    [
        "모든",
        "지금",
        "이전",
        "없이",
        "없다",
        "어린",
        "일본",
        "중국",
        "다리",
        "날아",
        "내려",
        "버리",
        "자세",
        "생생",
        "사라",
        "설정",
        "기존",
        "규칙",
        "명령",
        "시스",
        "안전",
        "흐르",
        "번지",
        "쏟아",
        "뛰어",
        "오르",
        "살다",
        "싶다",
        "끄다",
        "풀다",
        "매다",
        "베다",
        "튀다",
        "뿜다",
        "긋다",
        "끊다",
        "잊다",
        "싫다",
        "끝내",
        "어기",
        "잘라",
        "잘리",
        "자르",
        "죽어",
        "발가",
        "가이",
    ]
)


# Single syllables glued by the vowel ㅡ typed as a dash (성ㅡ관ㅡ계를, 아ㅡ이와; the last piece may
# carry a particle). Between syllables of one word it is a disguise or a drawn-out sound (그ㅡ러니까):
# joined, the word is the same either way. Words of two syllables or more around a dash (나는ㅡ정말로),
# a dash with a space (아ㅡ 진짜) and the face ㅡㅡ stay.
_EU_GLUED_RE = re.compile(r"(?<![가-힣ㅡ])[가-힣](?:ㅡ[가-힣])*ㅡ[가-힣]+")


def _join_apart(chars: _Chars) -> _Chars:
    text = chars.text
    keep = [True] * len(text)
    for m in _EU_GLUED_RE.finditer(text):
        for k in range(m.start(), m.end()):
            if text[k] == "ㅡ":
                keep[k] = False
    for m in _GLUED_RE.finditer(text):
        # Abbreviations with dots (e.g., U.S.) lose their dots only: harmless for every reader.
        pieces = re.split(r"[.\-*_·•/|~+^]", m.group(0))
        if not _mostly_letters("".join(pieces)):
            continue  # 1.5, 3-4, 10.2.3: numbers
        if len(pieces) == 2 and all(len(p) == 2 for p in pieces) and not _is_sensitive("".join(pieces)):
            continue  # well-being, 오-오: a real compound, not a disguise
        for k in range(m.start(), m.end()):
            if not text[k].isalpha():
                keep[k] = False
    for m in _SPACED_RE.finditer(text):
        chunks = m.group(0).split()
        letters = [ch for chunk in chunks for ch in chunk]
        tail = len(chunks[-1]) > 1
        singles = chunks[:-1] if tail else chunks
        if len(chunks) < 2 or not _mostly_letters("".join(letters)):
            continue
        if tail and not all(_is_hangul_syllable(ch) for ch in chunks[-1]):
            continue  # a tail after spaced letters only as a Korean particle (성 관 계를)
        known = "".join(letters[:2]) in _joinable_pairs()
        hangul = all(_is_hangul_syllable(ch) for ch in letters)
        # two Korean syllables and a word after them are prose more often than not (내 방 안에서,
        # 텅 빈 교실에): only a pair the rules know joins them
        many = len(singles) >= 3 or (len(singles) == 2 and tail and not hangul)
        if not known and not (many and not _looks_like_words(singles)):
            continue
        boundaries = _word_boundaries("".join(letters).lower())
        index = 0
        for k in range(m.start(), m.end()):
            if text[k].isspace():
                if index not in boundaries:
                    keep[k] = False
            elif k + 1 < len(text) and text[k + 1].isspace():
                index += 1
            else:
                index += 1
    return _kept(chars, keep)


def _kept(chars: _Chars, keep: list[bool]) -> _Chars:
    """`chars` without the characters whose `keep` is False (steps 5 and 7 drop, never add)."""
    if all(keep):
        return chars
    out = _Builder()
    for k, ch in enumerate(chars.chars):
        if keep[k]:
            out.add(ch, chars.starts[k], chars.ends[k])
    return _Chars.of(out)


def _word_boundaries(joined: str) -> set[int]:
    """Where words the rules know start or end inside letters joined back (rapedachild -> raped|a|child).

    Spaced letters lose the spaces between words too; keeping a space around every known word
    found in the run gives the rules their words back. Ordinary words are never split: only runs
    that were spaced apart reach this.
    """
    from agent.safety.slang import SEGMENT_WORDS

    taken = [False] * len(joined)
    cuts: set[int] = set()
    for word in sorted(SEGMENT_WORDS, key=len, reverse=True):
        start = joined.find(word)
        while start != -1:
            end = start + len(word)
            if not any(taken[start:end]):
                taken[start:end] = [True] * len(word)
                cuts |= {start, end}
            start = joined.find(word, start + 1)
    return {c for c in cuts if 0 < c < len(joined)}


def _mostly_letters(word: str) -> bool:
    alpha = sum(ch.isalpha() for ch in word)
    return alpha >= 2 and alpha > len(word) - alpha


def _is_sensitive(word: str) -> bool:
    return word in _joinable_pairs()


def _looks_like_words(letters: list[str]) -> bool:
    """'I a m' is letters apart; 'a I a' is rare prose; Korean runs of 3+ single syllables
    (그 날 밤) are prose only when they are common one-syllable words."""
    if all(_is_hangul_syllable(ch) for ch in letters):
        return all(ch in _ONE_SYLLABLE_WORDS for ch in letters)
    return False


def _is_hangul_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


# Korean words of one syllable that often stand side by side in prose (그 날 밤, 또 한 번).
_ONE_SYLLABLE_WORDS = frozenset(
    "강개건걸것게곧곳그길꼭꽉꽤꿈나난날낮내너넌네눈늘다더두뒤등딱때또막말몸못문물뭐뭘밖발밤밥배번불비산새세속손수쑥안앞옆온옷왜위윙이잘저전제좀집쫙쭉차참책첫쾅쿵큰탁툭팍퍽펑한헌확후휙"
    # and more prose from the training dream scenes (텅 빈 것, 해 질 녘, 몇 주 된, 줄 맨 앞, 석 달 치)
    "꺅녘달된둘맨몇방벽볼봐빈석써주줄질치텅해"
    # and common words of time, count and going (다 간 뒤, 세 시 반, 할 수 있을 때; stop 25)
    "간갈올온본분년월일개명할될시반"
)


# --- 6. digits and symbols used as letters ---------------------------------------------------------

_LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
}
_LEET_TABLE = str.maketrans(_LEET)
_TOKEN_RE = re.compile(r"[A-Za-z0-9@$!|]+")
# Numbers with a unit or an ordinal (2nd, 3pm, 10km, 4k, 3d, 25yr), names ending in digits (mp4,
# h264), scores and sizes (1v1, 2x4).
_NUMBER_LIKE_RE = re.compile(
    r"^\d+(?:st|nd|rd|th|s|am|pm|k|m|km|kg|g|cm|mm|ml|l|h|hr|hrs|min|mins|sec|x|d|p|fps|gb|mb|ft|lb|lbs|yo"
    r"|yr|yrs|wk|wks|mo|mos|day|days|b|bn)?$"
    r"|^\d+[vx]\d+$"
    r"|^[A-Za-z]+\d+$|^[!|]+$|^[A-Za-z]+[!]+$",
    re.IGNORECASE,
)


def _unleet(chars: _Chars) -> _Chars:
    text = chars.text
    mapped = list(chars.chars)
    for chunk in re.finditer(r"\S+", text):
        if _NOT_PROSE_RE.search(chunk.group(0)):
            continue  # links, @mentions, #tags and e-mail addresses are names, not words
        for m in _TOKEN_RE.finditer(chunk.group(0)):
            # "!" and "|" count as letters only inside a word ("help!!" keeps its marks); "$5" has no letters.
            token = m.group(0).strip("!|")
            offset = chunk.start() + m.start() + m.group(0).index(token) if token else 0
            if not _is_leet(token):
                continue
            for k, ch in enumerate(token):
                if ch in _LEET:
                    mapped[offset + k] = _LEET[ch]
    return _Chars(tuple(mapped), chars.starts, chars.ends)


_NOT_PROSE_RE = re.compile(r"://|^www\.|^[@#]|\w@\w+\.")


def _segment_words() -> frozenset[str]:
    from agent.safety.slang import SEGMENT_WORDS  # here: the rules import this module

    return SEGMENT_WORDS


def _is_leet(token: str) -> bool:
    letters = sum(ch.isalpha() for ch in token)
    if letters < 1 or letters == len(token) or len(token) > 12:
        return False
    if _NUMBER_LIKE_RE.match(token) or re.fullmatch(r"[A-Z]{1,3}\$[\d.,]*", token):
        return False  # numbers with units, currencies (US$, S$50)
    if re.fullmatch(r"\d{2,}[A-Za-z]+", token):
        # two or more digits before letters are a number in front of a word (30yrs, 100th), unless
        # read as letters they spell a word the rules know (00zing stays a number; 55ex would not)
        spelled = token.lower().translate(_LEET_TABLE)
        return any(word in spelled for word in _segment_words())
    # Random ids (nX2tqImO2a) mix cases; leetspeak words do not need to.
    return not (any(ch.isupper() for ch in token[1:]) and any(ch.islower() for ch in token))


# --- 7. letters stretched out -------------------------------------------------------------------

_STRETCHED_RE = re.compile(r"([A-Za-z])\1{2,}", re.IGNORECASE)
# runs up to which every one-or-two-letters shape is tried (64 shapes; a word with more tries all
# ones and all twos): a 20,000-character diary of stretched words stays well under a second
_STRETCH_SEARCH = 6


def _unstretch(chars: _Chars) -> _Chars:
    """Shorten letters stretched three times or more: each run to one or two letters where that
    spells a word the rules know (`SEGMENT_WORDS`: seeexxx -> sex, killll -> kill); in a word with
    two or more such runs that spells none (tttooorrrnnn), every run to one letter, since a word
    stretched throughout is a disguise; a word with one run stays as written (goooood, Zzz, xxx,
    Part iii: the prompt keeps what the diary said)."""
    from agent.safety.slang import SEGMENT_WORDS

    text = chars.text
    if not _STRETCHED_RE.search(text):
        return chars  # most diaries: nothing stretched
    keep = [True] * len(text)
    for chunk in re.finditer(r"\S+", text):
        if _NOT_PROSE_RE.search(chunk.group(0)):
            continue
        for word in re.finditer(r"[A-Za-z]+", chunk.group(0)):
            runs = list(_STRETCHED_RE.finditer(word.group(0)))
            if not runs:
                continue
            drop: set[int] = set()
            shapes = (
                itertools.product((1, 2), repeat=len(runs))
                if len(runs) <= _STRETCH_SEARCH
                else iter([(1,) * len(runs), (2,) * len(runs)])
            )
            for lengths in shapes:
                trial = {k for m, n in zip(runs, lengths, strict=True) for k in range(m.start() + n, m.end())}
                if "".join(ch for k, ch in enumerate(word.group(0)) if k not in trial).lower() in SEGMENT_WORDS:
                    drop = trial
                    break
            else:
                if len(runs) >= 2:
                    drop = {k for m in runs for k in range(m.start() + 1, m.end())}
            for k in drop:
                keep[chunk.start() + word.start() + k] = False
    return _kept(chars, keep)


# --- the whole ------------------------------------------------------------------------------------


_RLO = "\u202e"
_OVERRIDE_ENDS = frozenset("\u202c\u2069\n\r")  # pop directional formatting, pop isolate, a line end


def _display_order(text: str) -> list[tuple[str, int, int]]:
    """The characters of `text` with their offsets, runs under a right-to-left override reversed
    (as shown: base letter and its combining marks stay together), invisible ones dropped."""
    out: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != _RLO:
            if not _invisible(text[i]):
                out.append((text[i], i, i + 1))
            i += 1
            continue
        end = i + 1
        while end < n and text[end] not in _OVERRIDE_ENDS:
            end += 1
        clusters: list[list[tuple[str, int, int]]] = []
        for k in range(i + 1, end):
            if _invisible(text[k]):
                continue
            if clusters and unicodedata.combining(text[k]):
                clusters[-1].append((text[k], k, k + 1))
            else:
                clusters.append([(text[k], k, k + 1)])
        out += [c for cluster in reversed(clusters) for c in cluster]
        i = end  # the closing control is dropped as invisible, a line end kept
    return out


def _strip_and_compose(text: str) -> _Chars:
    """Steps 1-3: display order, drop invisible characters, compose Hangul, NFKC the rest."""
    visible = _display_order(text)
    out = _Builder()
    i, n = 0, len(visible)
    while i < n:
        ch = visible[i][0]
        if _is_compat_jamo(ch) or ("\uffa1" <= ch <= "\uffdc"):
            j = i
            run: list[tuple[str, int, int]] = []
            while j < n and (_is_compat_jamo(visible[j][0]) or "\uffa1" <= visible[j][0] <= "\uffdc"):
                c = _HALFWIDTH_JAMO.get(visible[j][0], visible[j][0])
                run.append((c, visible[j][1], visible[j][2]))
                j += 1
            _compose_compat_run(run, out)
            i = j
            continue
        # A unit: a starter with what composes onto it (combining marks, Hangul vowels and finals).
        j = i + 1
        while j < n and (
            unicodedata.combining(visible[j][0]) or _joins_previous(visible[j - 1][0], visible[j][0])
        ):
            j += 1
        unit = "".join(c for c, _, _ in visible[i:j])
        normal = unicodedata.normalize("NFKC", unit)
        if any(_is_conjoining(c) for c in normal):
            normal = "".join(_to_compat(c) for c in normal)
        normal = _plain_letters(normal)
        out.add(normal, min(v[1] for v in visible[i:j]), max(v[2] for v in visible[i:j]))
        i = j
    return _Chars.of(out)


@lru_cache(maxsize=4096)
def _plain_letters(unit: str) -> str:
    """A Latin letter (or a look-alike) without its marks, a small capital as its letter (step 3)."""
    decomposed = unicodedata.normalize("NFD", unit)
    base = decomposed[:1]
    if base in _SMALL_CAPITALS:
        return _SMALL_CAPITALS[base]
    if not ("a" <= base.lower() <= "z" or base in _CONFUSABLES) or len(decomposed) == 1:
        return unit
    return base + "".join(c for c in decomposed[1:] if not unicodedata.combining(c))


def _small_capitals() -> dict[str, str]:
    """LATIN LETTER SMALL CAPITAL X (ꜱ, ᴇ, ʀ) -> x, and the dotless i and j, from Unicode's names."""
    table = {"\u0131": "i", "\u0237": "j"}
    for code in [*range(0x0250, 0x02B0), *range(0x1D00, 0x1D80), *range(0xA720, 0xA800), *range(0xAB30, 0xAB70)]:
        m = re.fullmatch(r"LATIN LETTER SMALL CAPITAL ([A-Z])", unicodedata.name(chr(code), ""))
        if m:
            table[chr(code)] = m.group(1).lower()
    return table


_SMALL_CAPITALS = _small_capitals()


def _joins_previous(prev: str, ch: str) -> bool:
    """Conjoining jamo that NFC merges into what comes before (ᄉ+ᅥ, 서+ᆼ)."""
    code = ord(ch)
    vowel = 0x1161 <= code <= 0x1175
    final = 0x11A8 <= code <= 0x11C2
    p = ord(prev)
    if vowel:
        return 0x1100 <= p <= 0x1112
    if final:
        if 0x1161 <= p <= 0x1175:
            return True
        return 0xAC00 <= p <= 0xD7A3 and (p - 0xAC00) % 28 == 0
    return False


@lru_cache(maxsize=64)
def canonicalize(text: str) -> CanonicalText:
    """The canonical form of `text` with the original span of every character (see the module doc).

    Cached: one diary is checked, language-detected, planned and screened, each reading its
    canonical form (the result is frozen, so readers share it)."""
    chars = _strip_and_compose(text)
    chars = _fold_lookalikes(chars)
    chars = _join_apart(chars)
    chars = _unleet(chars)
    chars = _unstretch(chars)
    return CanonicalText(original=text, text=chars.text, starts=chars.starts, ends=chars.ends)


def canonical(text: str) -> str:
    """Just the canonical string (for prompts and classifiers), from the cached `canonicalize`."""
    return canonicalize(text).text
