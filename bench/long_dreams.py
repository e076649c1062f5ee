"""How often do the meaning heads refuse a long, ordinary dream report? (`python -m bench.long_dreams
[--model PATH] [--caps SPEC] [--shift S] [--data PATH]`, part of `make frontier`.)

The DreamBank reports in `make eval` are the only long benign dreams the policy was measured on, and
they are an evaluation set: nothing may be chosen on them. Stop 30's caps per head cost 2 of them
while the training-side bench of harmless diaries (`bench.sentence_count`, everyday comments) moved
by 1 in 300, so comments stand in badly for dream reports. `data/policy/long_dreams.jsonl` (120 long
reports, 60 per language, written at stop 31 by a helper that read no data file, never trained on)
is the validation set for such choices: anchors, caps, the sentence-count allowance. This prints, per
language, how many the service's policy (`dreamreel.wiring.build_safety`: rules, profanity filters,
toxicity classifier, heads) refuses with the heads of `--model` (default: the shipped ones) and
without any heads, and which reports and categories. Stop 31 read it for the shipped heads and for
heads trained on stop 31's rows (not shipped), and chose on it that those heads keep no caps per head;
stop 32 chose its heads' caps on it by a rule stated before they were read (README).

`--shift S` moves every head's anchors by S log-odds, as `bench.frontier` does on the evaluation
sets, so an operating point can be chosen on a validation set instead; `--data PATH` reads another
set of reports. Written reports are too easy to choose on (these long dreams: 0-2 of 120 refused
with any heads measured so far; `data/policy/archive_dreams.jsonl`, written at stop 34 in the manner
of real dream archives: 1 of 200 with every head and shift). `data/policy/dreambank_val.jsonl`, 307
real DreamBank reports that `make eval` does not read, is: stop 34 chose its heads' anchor shift on
it (`data/policy/train/anchor_shift.json`; README).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from agent.safety.meaning import CATEGORIES, MeaningDetector
from agent.safety.policy import SafetyPolicy, checked_cap
from agent.train.data import read_jsonl
from bench.frontier import shifted_anchors
from dreamreel.settings import load_settings
from dreamreel.wiring import build_safety

LONG_DREAMS = Path(__file__).resolve().parent.parent / "data" / "policy" / "long_dreams.jsonl"


def refusals(policy: SafetyPolicy, path: Path = LONG_DREAMS) -> list[tuple[str, str, str, list[str]]]:
    """(id, language, decision, categories of its reasons) of every report `policy` refuses."""
    out = []
    for row in read_jsonl(path):
        verdict = policy.check(str(row["text"]))
        if verdict.decision != "allow":
            categories = sorted({r.category for r in verdict.reasons if r.score >= policy.review_threshold})
            out.append((str(row["id"]), str(row["lang"]), verdict.decision, categories))
    return out


def parse_caps(spec: str) -> dict[str, int]:
    """Caps per head from "self_harm=3,sexual=3" ("none" or "": no head has a cap of its own); a
    ValueError for an unknown head, a repeated one or a cap that is no whole number of at least 1."""
    caps: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part == "none":
            continue
        category, sep, value = part.partition("=")
        category = category.strip()
        if not sep or category not in CATEGORIES or category in caps:
            raise ValueError(f"{part!r}: give each head once as HEAD=N, a head one of {', '.join(CATEGORIES)}")
        if not value.strip().isdigit():
            raise ValueError(f"{part!r}: a cap counts sentences (a whole number of at least 1)")
        caps[category] = checked_cap(int(value))
    return caps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.long_dreams", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="policy.npz (default: the shipped heads)")
    parser.add_argument(
        "--caps",
        default=None,
        metavar="SPEC",
        help='caps per head, e.g. "self_harm=3,sexual=3,hate=3" (stop 30\'s) or "none" (default: the shipped ones)',
    )
    parser.add_argument("--shift", type=float, default=0.0, help="move every head's anchors by S log-odds (default 0)")
    parser.add_argument("--data", type=Path, default=LONG_DREAMS, help=f"the reports (default: {LONG_DREAMS.name})")
    args = parser.parse_args(argv)
    try:
        caps = None if args.caps is None else parse_caps(args.caps)
    except ValueError as error:
        parser.error(f"--caps: {error}")
    rows = list(read_jsonl(args.data))
    heads = build_safety(load_settings())  # the service's policy, its classifiers loaded once
    plain = copy.copy(heads)
    plain.meaning = None
    if args.model is not None:
        heads.meaning = MeaningDetector.load(args.model)
    if caps is not None:
        heads.category_caps = caps
    if args.shift and heads.meaning is None:
        parser.error("--shift moves the meaning heads' anchors, and the settings load no heads (safety.meaning)")
    if args.shift:  # heads are loaded: a shift without them was refused above
        with shifted_anchors(heads.meaning, args.shift):
            found = refusals(heads, args.data)
    else:
        found = refusals(heads, args.data)
    plain_found = refusals(plain, args.data)
    shifted = f", anchors shifted by {args.shift:+g}" if args.shift else ""
    print(f"\nLong ordinary dream reports ({args.data.name}), refused (review or block){shifted}\n")
    print("| language | reports | refused | without the heads |")
    print("|---|---|---|---|")
    for lang in sorted({str(r["lang"]) for r in rows}):
        n = sum(r["lang"] == lang for r in rows)
        print(f"| {lang} | {n} | {sum(f[1] == lang for f in found)} | {sum(f[1] == lang for f in plain_found)} |")
    print(f"refused {len(found)}/{len(rows)}")
    for report, _, decision, categories in found:
        print(f"  {report}: {decision} ({', '.join(categories) or 'signals'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
