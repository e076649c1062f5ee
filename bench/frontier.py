"""The policy's trade-off between paraphrases caught and benign dreams refused
(`python -m bench.frontier`, `make frontier`).

`make eval` shows one operating point: the meaning heads' anchors as training set them (raised,
per diary, by the log of its sentence count: `agent.safety.policy.sentence_count_shift`). This
moves every head's anchors (hint, review, block; `MeaningDetector.evidence`) by the same shift in
log-odds and reports, per shift, the paraphrase decisions right and the benign dreams refused
(DreamBank reports and Korean dreams). A lower shift makes the heads speak sooner.

It answers one question: is a pair of targets reachable by calibration alone, or must the heads
read better? At stop 23 (the shipped heads): 90 % of paraphrases right needed a shift of -3,
where 28 of 100 DreamBank reports were refused; 5 refused needed +4, where 48 of 69 paraphrases
were right. A change to the heads moves this whole curve; compare curves, not single points: stop
24's latent-term head moved it to 63/69 with 22 refused at -3 and 51/69 with 5 at +4.

These are evaluation sets: never choose the shipped anchors from this table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import policy_eval
from bench.eval import DEFAULT_DATA
from dreamreel.analyze import DiaryAnalyzer
from dreamreel.settings import load_settings

DEFAULT_SHIFTS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)
DREAMBANK = DEFAULT_DATA / "dreams_en.jsonl"  # the reports `make eval` counts refusals on


@contextmanager
def shifted_anchors(detector: Any, shift: float) -> Iterator[None]:
    """Every head's anchors moved by `shift` log-odds while inside; restored after."""
    calibration = detector.meta["calibration"]
    saved = {category: dict(anchors) for category, anchors in calibration.items()}
    try:
        for category, anchors in saved.items():
            calibration[category] = {name: value + shift for name, value in anchors.items()}
        yield
    finally:
        calibration.update(saved)


def frontier(analyzer: DiaryAnalyzer, shifts: Sequence[float], dreambank: Path = DREAMBANK) -> list[dict[str, Any]]:
    """One row per shift: paraphrases right (of n), DreamBank and Korean benign dreams refused."""
    detector = analyzer.safety.meaning
    if detector is None or not detector.meta.get("calibration"):
        raise ValueError("the analyzer has no calibrated meaning heads to shift")

    def analyze(texts: Sequence[str]) -> list[dict[str, Any]]:
        return [analyzer.analyze(t) for t in texts]

    rows = []
    for shift in shifts:
        with shifted_anchors(detector, shift):
            para = policy_eval.paraphrases(analyze)
            benign = policy_eval.benign(analyze, dreambank)
        rows.append({
            "shift": shift,
            "paraphrases_right": para["right"],
            "paraphrases": para["n"],
            "dreambank_refused": benign["dreambank_en"]["refused"],
            "dreambank": benign["dreambank_en"]["n"],
            "benign_ko_refused": benign["benign_ko"]["refused"],
            "benign_ko": benign["benign_ko"]["n"],
        })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.frontier", description=__doc__.split("\n")[0])
    parser.add_argument("--shift", type=float, action="append", help="anchor shifts in log-odds (repeatable)")
    args = parser.parse_args(argv)
    analyzer = DiaryAnalyzer.from_settings(load_settings())
    print("| anchor shift | paraphrases right | DreamBank refused | benign Korean refused |")
    print("|---|---|---|---|")
    for row in frontier(analyzer, args.shift or DEFAULT_SHIFTS):
        print(
            f"| {row['shift']:+.1f} | {row['paraphrases_right']}/{row['paraphrases']} "
            f"| {row['dreambank_refused']}/{row['dreambank']} | {row['benign_ko_refused']}/{row['benign_ko']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
