"""Which language a diary is in, and whether it is text the service can work with at all.

`check_text` refuses what no planner could use (empty, binary junk, a script we do not
support); `detect_language` then says "ko", "en" or "mixed". The service maps
`TextRejected.reason_code` to its own errors and user messages.
"""

from __future__ import annotations

import re
import unicodedata

from agent.canonical import canonical
from agent.schemas import Language
from agent.text import HANGUL_RE

_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD_RE = re.compile(r"\S+")

# Share of words containing Hangul at or above which a diary is Korean (and at or below
# which, with 1 - this, it is English); anything between is mixed.
KOREAN_WORD_SHARE = 0.85
ENGLISH_WORD_SHARE = 0.15
MIN_LETTER_SHARE = 0.5  # letters among non-space characters, below this it is not prose
MIN_SUPPORTED_SHARE = 0.6  # Hangul + Latin among letters


class TextRejected(ValueError):
    """The text cannot be planned. `reason_code`: empty | binary | not_text | unsupported_script."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(f"{reason_code}: {detail}")
        self.reason_code = reason_code
        self.detail = detail


def check_text(text: str) -> None:
    """Raise `TextRejected` unless `text` is Korean/English prose; return None when it is fine."""
    if not text or not text.strip():
        raise TextRejected("empty", "the diary is empty")
    if "\ufffd" in text or "\x00" in text:
        raise TextRejected("binary", "the text contains replacement or NUL characters (binary data?)")
    control = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    if control:
        raise TextRejected("binary", f"the text contains {control} control characters")
    text = canonical(text)  # full-width or Cyrillic look-alike English is still English
    visible = [ch for ch in text if not ch.isspace()]
    letters = [ch for ch in visible if ch.isalpha()]
    if len(letters) < MIN_LETTER_SHARE * len(visible):
        raise TextRejected(
            "not_text", f"only {len(letters)} of {len(visible)} visible characters are letters"
        )
    supported = sum(1 for ch in letters if HANGUL_RE.match(ch) or _LATIN_RE.match(ch))
    if supported < MIN_SUPPORTED_SHARE * len(letters):
        raise TextRejected(
            "unsupported_script",
            "the diary must be written in Korean or English "
            f"({supported} of {len(letters)} letters are Hangul or Latin)",
        )


def detect_language(text: str) -> Language:
    """Return "ko", "en" or "mixed" from the share of words that contain Hangul vs Latin letters.

    Words are counted rather than characters because one Hangul syllable carries as much as
    two or three Latin letters. Text with neither script is reported as "en".
    """
    korean = english = 0
    for word in _WORD_RE.findall(canonical(text)):
        if HANGUL_RE.search(word):
            korean += 1
        elif _LATIN_RE.search(word):
            english += 1
    total = korean + english
    if total == 0:
        return "en"
    share = korean / total
    if share >= KOREAN_WORD_SHARE:
        return "ko"
    if share <= ENGLISH_WORD_SHARE:
        return "en"
    return "mixed"
