"""How far does a comment classifier get on kocohub's hate, and at what cost to clean comments?
(`python -m bench.kocohub_ceiling`, about two minutes.)

`make eval` scores kocohub's development rows by the policy's verdict (hate is refused, insults are
not): 0.625 balanced accuracy in every run since before issue 9, against a target of 0.75. This asks what the target
would cost. It cross-fits the shipped toxicity model's training (`agent.train`: the same rows,
features and fit, unpruned, the Korean training comments split into 5 folds) and reads every Korean training
comment with the model that did not see it. It prints, per threshold, the balanced accuracy of
"toxicity >= t means hate" for kocohub's hate (all of it, and only its rows with a gender or other
group bias) against its clean comments, and the share of clean comments that rule would refuse.
Only training rows are read; no evaluation row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.toxicity import OfflineToxicityClassifier
from agent.train import data as datasets
from agent.train.data import GROUP_BIASES
from agent.train.fit import TOXICITY_CONFIG, fit_linear

DATA = Path(__file__).resolve().parent.parent / "data" / "train"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
FOLDS = 5


def out_of_fold(data: Path, folds: int = FOLDS, seed: int = 0) -> tuple[list[dict[str, str]], np.ndarray]:
    """kocohub's training comments and each one's toxicity from a model trained without its fold
    (on everything else the shipped model trains on)."""
    from agent.train.__main__ import toxicity_rows

    comments = list(datasets.read_jsonl(datasets.train_dir(data) / datasets.KOREAN_HATE))
    examples = toxicity_rows(data)
    # toxicity_examples lists the Korean comments first, in file order
    assert [e.text for e in examples[: len(comments)]] == [c["text"] for c in comments]
    fold = np.random.default_rng(seed).integers(0, folds, len(comments))
    scores = np.zeros(len(comments))
    for f in range(folds):
        held = np.flatnonzero(fold == f)
        kept = [e for i, e in enumerate(examples) if i >= len(comments) or fold[i] != f]
        model = OfflineToxicityClassifier(fit_linear(kept, ["non_toxic", "toxic"], TOXICITY_CONFIG, {}))
        scores[held] = model.score([comments[i]["text"] for i in held])
    return comments, scores


def table(
    comments: Sequence[dict[str, str]], scores: np.ndarray, thresholds: Sequence[float] = THRESHOLDS
) -> list[dict[str, float | None]]:
    """Per threshold: clean comments refused, and recall and balanced accuracy for all hate and for
    hate against a group (None for a kind the comments hold no row of)."""
    clean = np.array([c["hate"] == "none" for c in comments])
    hate = np.array([c["hate"] == "hate" for c in comments])
    group = hate & np.array([c["bias"] in GROUP_BIASES for c in comments])
    out = []
    for t in thresholds:
        refused = scores >= t
        fpr = float(refused[clean].mean())
        row: dict[str, float | None] = {"threshold": t, "clean_refused": fpr}
        for name, positives in (("hate", hate), ("group", group)):
            recall = float(refused[positives].mean()) if positives.any() else None
            row[f"{name}_recall"] = recall
            row[f"{name}_balanced"] = None if recall is None else (recall + 1 - fpr) / 2
        out.append(row)
    return out


def markdown(rows: Sequence[dict[str, float | None]]) -> str:
    """`table`'s rows as the Markdown table the bench prints."""

    def pair(row: dict[str, float | None], name: str) -> str:
        recall, balanced = row[f"{name}_recall"], row[f"{name}_balanced"]
        return "n/a" if recall is None or balanced is None else f"{recall:.3f} / {balanced:.3f}"

    lines = [
        "| toxicity >= | clean refused | all hate: recall / balanced acc. | hate against a group: recall / balanced acc. |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['threshold']:.1f} | {r['clean_refused']:.1%} | {pair(r, 'hate')} | {pair(r, 'group')} |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kocohub_ceiling", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the training data folder (default: data/train)")
    args = parser.parse_args(argv)
    path = datasets.train_dir(args.data) / datasets.KOREAN_HATE
    if not path.is_file():
        print(f"kocohub's training comments are not at {path} (data/README.md says where they come from)", file=sys.stderr)
        return 2
    comments, scores = out_of_fold(args.data)
    print(f"kocohub training comments, {FOLDS}-fold out of fold: {len(comments)}")
    print(markdown(table(comments, scores)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
