"""Text utilities shared by the planner and the safety rules: sentences and Korean morphemes.

Everything here keeps exact character offsets into the original diary, so a scene or a safety
reason can always point back at the user's own words (`text[start:end]`).

Kiwi (kiwipiepy) ships its model inside the wheel; loading it takes about a second, so one
instance is built lazily per process and shared (`get_kiwi`).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

logger = logging.getLogger(__name__)

HANGUL_RE = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")

_kiwi: Kiwi | None = None
# Kiwi does not document thread safety; analyses are milliseconds, so they take turns.
_kiwi_lock = threading.RLock()


def get_kiwi() -> Kiwi:
    """Return the process-wide Kiwi analyser, building it on first use (~1 s).

    Calls from this module hold a lock, since threads of one worker share the instance.
    """
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                logger.debug("loading Kiwi morphological analyser")
                kiwi = Kiwi(num_workers=0)  # single-threaded: the service runs its own workers
                kiwi.tokenize("")  # Kiwi finishes loading lazily on the first call
                _kiwi = kiwi
    return _kiwi


def has_hangul(text: str) -> bool:
    return HANGUL_RE.search(text) is not None


@dataclass(frozen=True)
class Sentence:
    """One sentence of the diary: `text == diary[start:end]`, without edge whitespace."""

    start: int
    end: int
    text: str
    paragraph_start: bool = False  # first sentence after a blank line (a strong scene boundary)


@dataclass(frozen=True)
class Morpheme:
    """A Kiwi token with offsets into the analysed text and its dictionary form."""

    form: str
    tag: str
    lemma: str
    start: int
    end: int


# Sentence ends: terminal punctuation (plus closing quotes/brackets) followed by space or the end.
_END_RE = re.compile(r"[.!?…。！？]+[\"'”’)\]」』]*(?=\s|$)")
_NEWLINE_RE = re.compile(r"\n")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "prof", "mt", "no", "approx"}
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_abbreviation(text: str, dot_at: int) -> bool:
    if text[dot_at] != ".":
        return False
    match = _WORD_BEFORE_RE.search(text[:dot_at])
    if match is None:
        return False
    word = match.group(1).lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and text[dot_at - 1].isupper())


def _cut_positions(text: str) -> set[int]:
    """Offsets where a new sentence may start (before stripping whitespace)."""
    cuts: set[int] = set()
    for match in _NEWLINE_RE.finditer(text):
        cuts.add(match.end())
    for match in _END_RE.finditer(text):
        if match.group(0) == "." and _is_abbreviation(text, match.start()):
            continue
        cuts.add(match.end())
    return cuts


def _kiwi_cuts(text: str, start: int, end: int) -> set[int]:
    """Extra sentence ends inside a Korean stretch without punctuation (…했다 그리고 …)."""
    piece = text[start:end]
    if len(piece) < 20 or not has_hangul(piece):
        return set()
    kiwi = get_kiwi()
    with _kiwi_lock:
        sentences = kiwi.split_into_sents(piece)
    return {start + sent.end for sent in sentences[:-1]}


def split_sentences(text: str) -> list[Sentence]:
    """Split a diary into sentences that together cover every non-space character, in order.

    Boundaries: newlines, terminal punctuation (not after abbreviations like "Dr."), and for
    Korean, Kiwi's sentence splitter (which finds endings like -다/-요 without a full stop).
    """
    # The planner and the policy both split the diary (the policy its canonical form, the same
    # text unless a disguise was undone): Kiwi reads it once, as `morphemes` does.
    return list(_cached_sentences(text))


@functools.lru_cache(maxsize=64)
def _cached_sentences(text: str) -> tuple[Sentence, ...]:
    cuts = sorted(_cut_positions(text) | {0, len(text)})
    refined: set[int] = set(cuts)
    for left, right in pairwise(cuts):
        refined |= _kiwi_cuts(text, left, right)
    bounds = sorted(refined)

    sentences: list[Sentence] = []
    for left, right in pairwise(bounds):
        chunk = text[left:right]
        stripped = chunk.strip()
        if not stripped:
            continue
        start = left + (len(chunk) - len(chunk.lstrip()))
        end = start + len(stripped)
        gap = text[sentences[-1].end : start] if sentences else ""
        paragraph = gap.count("\n") >= 2
        sentences.append(Sentence(start=start, end=end, text=text[start:end], paragraph_start=paragraph))
    return tuple(sentences)


def morphemes(text: str) -> list[Morpheme]:
    """Kiwi tokens of `text` with offsets into `text` and lemmas (찔러 -> 찌르다).

    A noun followed by the verb suffix 하/되/당하 (살해 + 했다) also gets the compound lemma
    (`살해하다`) as its lemma, so rules can name verbs the way a dictionary does.
    """
    # The planner, keywords, lexicon and safety rules all read the same scenes: Kiwi runs once per
    # text (the analysis of a 2,000-character diary spent most of its time here).
    return list(_cached_morphemes(text))


@functools.lru_cache(maxsize=512)
def _cached_morphemes(text: str) -> tuple[Morpheme, ...]:
    return tuple(_analyse(text))


def _analyse(text: str) -> list[Morpheme]:
    kiwi = get_kiwi()
    with _kiwi_lock:
        tokens = kiwi.tokenize(text)
    result: list[Morpheme] = []
    for i, token in enumerate(tokens):
        lemma = token.lemma or token.form
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.tag.startswith("NN") and nxt is not None and nxt.tag in {"XSV", "XSA"}:
            lemma = token.form + (nxt.lemma if nxt.lemma.endswith("다") else nxt.form + "다")
        result.append(
            Morpheme(
                form=token.form,
                tag=token.tag,
                lemma=lemma,
                start=token.start,
                end=token.start + token.len,
            )
        )
    return result


def word_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen `[start, end)` to the whole space-separated word(s), minus edge punctuation."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    while end > start and not (text[end - 1].isalnum()):
        end -= 1
    while start < end and not (text[start].isalnum()):
        start += 1
    return start, end
