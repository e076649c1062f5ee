"""Does a long diary get refused more often than a short one for harmless text? (`make frontier`
prints it after the frontier; `python -m bench.sentence_count [--diaries 300] [--cap N]`.)

The meaning heads' anchors are set per benign sentence; a diary of n sentences has n chances to
cross them. `agent.safety.policy.sentence_count_shift` raises the anchors by log n (n up to the
policy's `allowance_cap`, 10 unless `--cap` sets another).
This checks that on text the policy never trained or calibrated on: the English everyday comments
that `agent.train.policy.everyday_split` leaves unused (about 19,000 GoEmotions training comments),
joined into diaries of 1, 3 and 10 comments. Per length it prints the diaries refused (review or
block) by the policy without meaning heads (rules and profanity; no toxicity classifier), and, with the heads,
without and with the allowance; "by the heads" counts the diaries only the heads refused. No
evaluation file is read.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from agent.safety.meaning import MeaningDetector
from agent.safety.policy import SafetyPolicy, checked_cap
from agent.text import has_hangul
from agent.train.policy import everyday_split

DATA = Path(__file__).resolve().parent.parent / "data" / "train"
LENGTHS = (1, 3, 10)


def add_cap_option(parser: argparse.ArgumentParser) -> None:
    """`--cap N`: the allowance's sentence cap for the run (default: the shipped one; 1: no
    allowance), refused before any model loads when it is not a whole number of at least 1."""

    def cap(text: str) -> int:
        try:
            return checked_cap(int(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"counts sentences: a whole number of at least 1, not {text!r}") from None

    parser.add_argument("--cap", type=cap, default=None, help="the allowance's sentence cap (default: the shipped one)")


def diaries(comments: list[str], per_diary: int, count: int, seed: int = 1) -> list[str]:
    """`count` diaries of `per_diary` comments each, drawn without replacement; each comment ends
    with a full stop, so that it stays a sentence of its own."""
    pool = comments[:]
    random.Random(seed).shuffle(pool)
    pool = [c.rstrip() if c.rstrip().endswith((".", "!", "?")) else f"{c.rstrip()}." for c in pool]
    return [" ".join(pool[i : i + per_diary]) for i in range(0, min(len(pool), count * per_diary), per_diary)]


def measure(count: int, data: Path = DATA, cap: int | None = None) -> list[dict[str, int]]:
    """Per diary length: refusals without heads, with heads and no allowance, and with the allowance
    capped at `cap` sentences (None: the shipped cap)."""
    _, _, unused = everyday_split(data)
    english = [c for c in unused if not has_hangul(c)]
    plain = SafetyPolicy(meaning=None)
    heads = SafetyPolicy(meaning=MeaningDetector.load())
    before_stop_27 = heads.with_allowance_cap(1)  # every diary judged at the anchors of one sentence
    allowed = heads if cap is None else heads.with_allowance_cap(cap)
    rows = []
    for n in LENGTHS:
        texts = diaries(english, n, count)
        base = [plain.check(t).decision != "allow" for t in texts]
        before = [before_stop_27.check(t).decision != "allow" for t in texts]
        after = [allowed.check(t).decision != "allow" for t in texts]
        rows.append({
            "comments": n,
            "diaries": len(texts),
            "without_heads": sum(base),
            "no_allowance": sum(before),
            "no_allowance_by_heads": sum(b and not r for b, r in zip(before, base, strict=True)),
            "allowance": sum(after),
            "allowance_by_heads": sum(a and not r for a, r in zip(after, base, strict=True)),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diaries", type=int, default=300)
    add_cap_option(parser)
    args = parser.parse_args(argv)
    print("| comments per diary | diaries | refused without heads | with heads, no allowance (by the heads) "
          "| with heads and the allowance (by the heads) |")
    print("|---|---|---|---|---|")
    for r in measure(args.diaries, cap=args.cap):
        print(f"| {r['comments']} | {r['diaries']} | {r['without_heads']} | {r['no_allowance']} "
              f"({r['no_allowance_by_heads']}) | {r['allowance']} ({r['allowance_by_heads']}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
