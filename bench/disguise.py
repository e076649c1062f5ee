"""Disguised variants of every block case, the way an evader types them (`make eval`'s disguise set).

Each base case (`data/policy/disguise_base.jsonl`) names the words to disguise; every disguise
that applies to its language gives one variant, with the disguised words it wrote (the eval checks
that none of them reaches a prompt). Deterministic: the same cases give the same variants.

    python -m bench.disguise [--data data]   # prints the variants as JSON lines
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.train.data import read_jsonl

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data"

_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]
_CYRILLIC = str.maketrans("aceopxyiskABCEHKMOPTX", "асеорхуіѕкАВСЕНКМОРТХ")
_LEET = str.maketrans("aeiost", "4310$7")


@dataclass(frozen=True)
class Variant:
    id: str
    base_id: str
    lang: str
    category: str
    disguise: str
    text: str
    disguised_words: tuple[str, ...]


def _compat_jamo(word: str) -> str:
    out = []
    for ch in word:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out += [_INITIALS[code // 588], _VOWELS[(code % 588) // 28], _FINALS[code % 28]]
        else:
            out.append(ch)
    return "".join(out)


def _between(sep: str) -> Callable[[str], str]:
    return lambda word: sep.join(word)


def _fullwidth(word: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)


def _math_bold(word: str) -> str:
    def bold(c: str) -> str:
        if "a" <= c <= "z":
            return chr(0x1D41A + ord(c) - ord("a"))
        if "A" <= c <= "Z":
            return chr(0x1D400 + ord(c) - ord("A"))
        return c

    return "".join(bold(c) for c in word)


def _small_caps(word: str) -> str:
    """Latin small capitals where Unicode has one (ꜱᴇx); other letters as they are."""

    def cap(c: str) -> str:
        try:
            return unicodedata.lookup(f"LATIN LETTER SMALL CAPITAL {c.upper()}") if c.isascii() and c.isalpha() else c
        except KeyError:
            return c

    return "".join(cap(c) for c in word)


def _right_to_left(word: str) -> str:
    """Stored backwards under a right-to-left override, so it shows as written."""
    return "\u202e" + word[::-1] + "\u202c"


# name -> (languages it applies to, how one word is disguised)
DISGUISES: dict[str, tuple[frozenset[str], Callable[[str], str]]] = {
    "nfd": (frozenset({"ko"}), lambda w: unicodedata.normalize("NFD", w)),
    "compat_jamo": (frozenset({"ko"}), _compat_jamo),
    "zero_width_space": (frozenset({"ko", "en"}), _between("\u200b")),
    "zero_width_joiner": (frozenset({"ko", "en"}), _between("\u200d")),
    "soft_hyphen": (frozenset({"ko", "en"}), _between("\u00ad")),
    "spaced": (frozenset({"ko", "en"}), _between(" ")),
    "dotted": (frozenset({"ko", "en"}), _between(".")),
    "cyrillic": (frozenset({"en"}), lambda w: w.translate(_CYRILLIC)),
    "fullwidth": (frozenset({"en"}), _fullwidth),
    "math_bold": (frozenset({"en"}), _math_bold),
    "leetspeak": (frozenset({"en"}), lambda w: w.translate(_LEET)),
    "cyrillic_zero_width": (frozenset({"en"}), lambda w: "\u200b".join(w.translate(_CYRILLIC))),
    "jamo_zero_width": (frozenset({"ko"}), lambda w: "\u200b".join(_compat_jamo(w))),
    # stop 21
    "diacritics": (frozenset({"en"}), lambda w: "".join(c + "\u0308" for c in w)),
    "strikethrough": (frozenset({"en"}), lambda w: "".join(c + "\u0336" for c in w)),
    "small_caps": (frozenset({"en"}), _small_caps),
    "stretched": (frozenset({"en"}), lambda w: "".join(c * 3 for c in w)),
    "right_to_left": (frozenset({"ko", "en"}), _right_to_left),
    "eu_dash": (frozenset({"ko"}), _between("ㅡ")),
}


def variants(base_cases: list[dict[str, object]]) -> Iterator[Variant]:
    """Every applicable disguise of every base case, in a fixed order."""
    for case in base_cases:
        lang = str(case["lang"])
        words = [str(w) for w in case["disguise"]]  # type: ignore[attr-defined]
        for name, (languages, disguise) in DISGUISES.items():
            if lang not in languages:
                continue
            text = str(case["text"])
            written = []
            if name == "nfd":
                text = unicodedata.normalize("NFD", text)
                written = [unicodedata.normalize("NFD", w) for w in words]
            else:
                for word in words:
                    fake = disguise(word)
                    text = text.replace(word, fake)
                    written.append(fake)
            yield Variant(
                id=f"{case['id']}-{name}",
                base_id=str(case["id"]),
                lang=lang,
                category=str(case["category"]),
                disguise=name,
                text=text,
                disguised_words=tuple(w for w in written if w not in words),
            )


def disguise_set(data: Path) -> list[Variant]:
    """The generated variants of `data/policy/disguise_base.jsonl`."""
    return list(variants(list(read_jsonl(data / "policy" / "disguise_base.jsonl"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.disguise", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    for v in disguise_set(args.data):
        print(json.dumps(v.__dict__, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
