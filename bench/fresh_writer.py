"""How do the meaning heads read harmful scenes written by a hand they never learned from?
(`python -m bench.fresh_writer [--model PATH] [--writer NAME ...]`.)

Stop 28 added scenes written by another hand, in longer narrative sentences than the earlier
training scenes (`data/policy/train/cores_stop28_harm.json`: 30 per language for gore, sexual,
self_harm and hate; `cores_stop28_benign.json`: 60 hard negatives per language). This reads the
odd-numbered half of them, each in one dream frame, and prints per category and language how many
the policy refuses (review or block) with the heads of `--model` and without any heads (rules and
profanity), and how many of the benign half it refuses.

The numbers mean "text never trained on" only for heads trained without that half: compose the
even half in a scratch clone (`python data/policy/train/compose_written.py --stop28 even`), train
there (`python -m agent.train --data data/train --out /tmp/even --task policy`) and pass
`--model /tmp/even/policy.npz`. The shipped heads (the default) were trained on both halves, so
for them it is an in-sample reading.

Stop 29 added scenes by a third hand that the shipped heads never trained on (`data/policy/fresh/`,
read by no training code; `tests/test_data.py` keeps the training rows from copying them): 30 per
language for gore, sexual, self_harm and hate and 60 hard negatives per language, in a casual diary
voice (fragments, 반말, lowercase, "lol"), as written, without a frame. Their table is text never
trained on for the shipped heads. Stop 29 read it to decide (its rule to ship the heads
retrained with a fourth hand's scenes, and, with other readings, to drop that hand's self-harm
twins), so it is now a validation set, not an untouched test. Stop 30 added a sixth writer
(`fresh/stop30.jsonl`, six voices from a formal retiree to voice dictation), read once after that
stop's heads were final: a test reading (stop 31 read it again for heads trained on it, not
shipped: an in-sample reading for those); stop 32 moved it into the training rows
(`train/writer_stop30.jsonl`). Stop 31 added an eighth (`fresh/stop31.jsonl`: a teenager
texting, a grandmother in dialect, a learner, mixed Korean and English, a dream as a game review, a
terse list), read once after that stop's heads were final. Stop 32 added a ninth
(`fresh/stop32.jsonl`: a sleepy voice message, a poem, a news anchor, an adult imitating a child, one
run-on sentence, a dream told as a prophecy), read once after that stop's decision. Each file gets
its own table; `--writer` reads only the named ones (a validation writer while the test writer
stays unread). A later writer's file should likewise stay unread until a model is final. No evaluation file of `make eval`
is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agent.safety.meaning import MeaningDetector
from agent.safety.policy import SafetyPolicy
from agent.train.data import read_jsonl

CORES = Path(__file__).resolve().parent.parent / "data" / "policy" / "train"
FRESH = CORES.parent / "fresh"
FRAMES = {"ko": "꿈에서 {}", "en": "In the dream {}"}


def framed(lang: str, scene: str, frame: str | None = None) -> str:
    """A scene in `frame` (its language's first dream frame by default), ended like the training
    rows (`compose_written.py`: a full stop where it has none)."""
    text = (frame or FRAMES[lang]).format(scene).strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def held_half(cores: Path = CORES) -> list[tuple[str, str, str]]:
    """(category, language, framed text) of the odd-numbered stop 28 scenes; "none" for benign."""
    harm = json.loads((cores / "cores_stop28_harm.json").read_text(encoding="utf-8"))
    benign = json.loads((cores / "cores_stop28_benign.json").read_text(encoding="utf-8"))
    by_category: dict[str, Any] = harm | {"none": benign}
    return [
        (category, lang, framed(lang, text))
        for category, by_lang in by_category.items()
        for lang, items in by_lang.items()
        for text in items[1::2]
    ]


def held_out(path: Path) -> list[tuple[str, str, str]]:
    """(category, language, text as written) of every scene of one writer's file in `fresh/`;
    "none" for benign."""
    return [(str(row["category"]), str(row["lang"]), str(row["text"])) for row in read_jsonl(path)]


def writers(fresh: Path = FRESH) -> list[Path]:
    """The held-out writers' files, oldest first."""
    return sorted(fresh.glob("*.jsonl"))


def chosen_writers(names: list[str] | None, fresh: Path = FRESH) -> list[Path]:
    """The writers named (file names in `fresh`, oldest first), or all of them when `names` is empty;
    ValueError names the ones that are not there."""
    found = writers(fresh)
    if not names:
        return found
    unknown = sorted(set(names) - {path.name for path in found})
    if unknown:
        raise ValueError(f"no held-out writer {', '.join(unknown)} in {fresh}")
    return [path for path in found if path.name in names]


def measure(heads: SafetyPolicy, plain: SafetyPolicy, scenes: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """One row per category and language: scenes, refused by `heads`, refused by `plain` (no heads)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for category, lang, text in scenes:
        row = rows.setdefault((category, lang), {"category": category, "lang": lang, "n": 0, "refused": 0, "without_heads": 0})
        row["n"] += 1
        row["refused"] += heads.check(text).decision != "allow"
        row["without_heads"] += plain.check(text).decision != "allow"
    return [rows[key] for key in sorted(rows)]


def _print(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}\n")
    print("| category | language | scenes | refused | without the heads |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['category']} | {r['lang']} | {r['n']} | {r['refused']} | {r['without_heads']} |")
    harmful = [r for r in rows if r["category"] != "none"]
    benign = [r for r in rows if r["category"] == "none"]
    print(f"harmful refused {sum(r['refused'] for r in harmful)}/{sum(r['n'] for r in harmful)}, "
          f"benign refused {sum(r['refused'] for r in benign)}/{sum(r['n'] for r in benign)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="policy.npz (default: the shipped heads)")
    parser.add_argument(
        "--writer", action="append", metavar="NAME",
        help="read only this held-out writer (a file name in data/policy/fresh/, repeatable), e.g. a validation "
        "writer while the test writer stays unread; default: stop 28's odd half and every writer",
    )
    args = parser.parse_args(argv)
    try:
        chosen = chosen_writers(args.writer)
    except ValueError as error:
        parser.error(str(error))
    title = "Stop 28's odd half, one dream frame each"
    if args.model is None:
        title += " (the shipped heads were trained on these scenes too: an in-sample reading; see the module doc)"
    heads, plain = SafetyPolicy(meaning=MeaningDetector.load(args.model)), SafetyPolicy(meaning=None)
    if not args.writer:
        _print(title, measure(heads, plain, held_half()))
    for path in chosen:
        _print(f"Held-out writer {path.name} (data/policy/fresh/, never trained on), as written", measure(heads, plain, held_out(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
