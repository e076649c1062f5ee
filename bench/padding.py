"""What does padding a harmful scene with plain sentences buy an evader? (`python -m bench.padding
[--cap N]`; `make frontier` runs it.)

The policy raises the meaning heads' anchors by log n for a diary of n sentences, n up to
`SafetyPolicy.allowance_cap` (`sentence_count_shift`), so that a long harmless diary
is not refused n times as often. An evader can use the same allowance: put a harmful sentence among
harmless ones. This takes every written harmful training scene (`data/policy/train/written.jsonl`,
one row per scene: its first frame), keeps those the policy refuses (review or block) alone, and
counts per category how many it allows once the scene stands between two plain sentences and once
nine plain sentences come first (`bench.policy_eval.PADDING`, the padding `make eval` uses for the
paraphrases). `--cap` sets the allowance's cap for the run (1: no allowance); the heads with a lower
cap of their own (`SafetyPolicy.category_caps`: self-harm, sexual and hate at 3) keep it. No evaluation file is
read; the scenes are training rows, so the heads read them better than unseen text. The policy is
`SafetyPolicy`'s defaults with the shipped heads and no toxicity classifier, as in
`bench.sentence_count`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from agent.safety.meaning import MeaningDetector
from agent.safety.policy import SafetyPolicy
from agent.train.policy import written_rows
from bench.policy_eval import PADDING, PADDING_SENTENCES
from bench.sentence_count import add_cap_option

# two of the padding's sentences, one before the scene and one after
AROUND = {lang: (sentences[1], sentences[3]) for lang, sentences in PADDING_SENTENCES.items()}


def scenes() -> list[tuple[str, str, str]]:
    """(category, language, text): the first row of every harmful written scene."""
    seen: set[str] = set()
    out = []
    for row in written_rows():
        if row.label != "none" and row.group not in seen:
            seen.add(row.group)
            out.append((row.label, "en" if row.lang == "en" else "ko", row.text))
    return out


def measure(
    policy: SafetyPolicy, cap: int | None = None, rows: list[tuple[str, str, str]] | None = None
) -> dict[str, Any]:
    """Refused alone, and of those, let through between two plain sentences and after nine, per
    category (of `rows`, default `scenes()`): allowed with some of the scene rendered (a scene the
    verdict leaves out of the video, `SafetyVerdict.withheld`, is not let through)."""
    alone: Counter[str] = Counter()
    between: Counter[str] = Counter()
    after: Counter[str] = Counter()
    total: Counter[str] = Counter()
    if cap is not None:  # a copy: the policy given keeps its own cap
        policy = policy.with_allowance_cap(cap)
    for category, lang, text in scenes() if rows is None else rows:
        total[category] += 1
        if policy.check(text).decision == "allow":
            continue
        alone[category] += 1
        before, behind = AROUND[lang]
        # let through: allowed with some of the scene rendered (a scene left out of the video is not)
        around = f"{before} {text} {behind}"
        between[category] += policy.check(around).renders(around, len(before) + 1, len(before) + 1 + len(text))
        padded = f"{PADDING[lang]} {text}"
        after[category] += policy.check(padded).renders(padded, len(PADDING[lang]) + 1)
    return {"scenes": total, "refused_alone": alone, "allowed_between_two": between, "allowed_after_nine": after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_cap_option(parser)
    args = parser.parse_args(argv)
    policy = SafetyPolicy(meaning=MeaningDetector.load())
    result = measure(policy, args.cap)
    cap = policy.allowance_cap if args.cap is None else args.cap
    own = ", ".join(f"{c} {min(cap, n)}" for c, n in sorted(policy.category_caps.items()))
    print(f"padding, allowance cap {cap}" + (f" (heads with their own: {own})" if own else "") + ":")
    print("| category | scenes | refused alone | allowed between two plain sentences | allowed after nine |")
    print("|---|---|---|---|---|")
    for category in sorted(result["scenes"]):
        print(f"| {category} | {result['scenes'][category]} | {result['refused_alone'][category]} "
              f"| {result['allowed_between_two'][category]} | {result['allowed_after_nine'][category]} |")
    print(f"| all | {sum(result['scenes'].values())} | {sum(result['refused_alone'].values())} "
          f"| {sum(result['allowed_between_two'].values())} | {sum(result['allowed_after_nine'].values())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
