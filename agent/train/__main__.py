"""Rebuild the shipped offline classifiers.

    python -m agent.train --data data/train --out agent/models [--limit N] [--task emotion]

Writes `emotion.npz/.json`, `toxicity.npz/.json` and `policy.npz/.json` with `policy_words.npz/.json`
(the meaning-level policy heads and their word head, `agent.train.policy`) into `--out`, then scores them on the
evaluation files next to the training folder (`--data` or its parent, if they are there) and
stores those numbers in the JSON. `--limit N`
takes N rows spread over each training file (quick runs and tests). `--tuned` (policy): the
second reading reads e5 with its top layers fine-tuned on the rows (`agent.train.e5_tune`, about
40 minutes more on 2 cores; written to `policy_e5.npz`; not what the shipped heads use). Needs the
`train` extra (scikit-learn); the classifiers themselves load with numpy alone.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from agent.emotion import ENCODER_HEADS_FILE, OfflineEmotionClassifier
from agent.schemas import EMOTIONS
from agent.toxicity import OfflineToxicityClassifier
from agent.train import data as datasets
from agent.train.evaluate import emotion_metrics, toxicity_metrics
from agent.train.fit import EMOTION_CONFIG, TOXICITY_CONFIG, FitConfig, fit_linear
from agent.train.mix import choose_mix

log = logging.getLogger("agent.train")

REPO_DATA = Path(__file__).resolve().parents[2] / "data"  # the repository's data/ (data/README.md)

PRUNE_BELOW = 0.01  # |w| < 0.01 changed no prediction on the evaluation split; saves ~8 % of the file
ARTIFACT_VERSION = 1
# Mapping KOTE training rows: a label's vote weighs (median label frequency / its frequency)
# ** 0.25 (data.kote_rarity_weights), so rare specific labels such as 공포/무서움 are not always
# outvoted by the common complaint labels: 238 instead of 96 Korean fear rows. On a 10 %
# hold-out and on the evaluation split, both scored with the README's one-vote mapping, Korean
# macro-F1 and accuracy stayed within noise of the plain mapping; exponent 0.5 with a 10 % tie
# band gained 0.01 macro-F1 on the hold-out but lost 9 points of accuracy on narratives_ko.
# Rechecked for issue 9 (the 10 % hold-out, best mix each): the one-vote mapping (0) scores
# 0.521 instead of 0.504 macro-F1 over anger/joy/neutral/sadness, because most of its ~1,500
# neutral rows are ties, as in the evaluation mapping (0.25 leaves 164); but most rows with
# 공포/무서움 are such ties, so it learns almost no fear and reads "너무 무서워서 소리를 질렀다"
# as neutral. Rarity only for fear/disgust/surprise winners: 0.509. So 0.25 stays.
KOTE_RARITY = 0.25
KOTE_TIE = 0.0
# Weak non_toxic rows for the toxicity head (English, Korean); see data.calm_examples. They cut
# the share of plain dream-report sentences scored >= 0.5 from 12 % to 1 % while the balanced
# accuracy on the evaluation split stayed within a point.
CALM_ROWS = (8000, 3000)
# Each harmless look-alike row (`toxicity_lookalikes.jsonl`: "bigger", "시발점") counts this many
# times. Chosen at stop 35 by 5-fold cross-validation over the look-alike words (a fold's words never
# trained on): held-out look-alike sentences scored >= 0.5 fell from 7.6 % (none) to 4.9 % (1) and
# 4.0 % (3), with insults in probe sentences scoring as before.
LOOKALIKE_REPEAT = 3


def _meta(task: str, data: Path, files: tuple[str, ...], limit: int | None) -> dict[str, Any]:
    folder = datasets.train_dir(data)
    return {
        "task": task,
        "version": ARTIFACT_VERSION,
        "training": {"files": datasets.files_digest(folder, files), "limit": limit},
    }


def build_emotion(data: Path, out: Path, limit: int | None, config: FitConfig = EMOTION_CONFIG) -> Path:
    """Train, write and evaluate the emotion artifacts; returns the `.npz` path.

    The encoder heads, the gate and the comment and dream mixes per language (hashed head,
    encoder heads, dream lexicon) are chosen first, by cross-validation on the training rows
    (`agent.train.mix`), and stored as `mix` / `dream_mix` in the JSON and `emotion_encoder.npz`;
    the metrics use them.
    """
    from agent.encoder import embed, embed_e5, model_digests

    examples = datasets.emotion_examples(data, limit, kote_rarity=KOTE_RARITY, kote_tie=KOTE_TIE)
    meta = _meta("emotion", data, datasets.EMOTION_FILES, limit)
    meta["training"].update(kote_rarity=KOTE_RARITY, kote_tie=KOTE_TIE)
    heads, mix, dream_mix, offsets, floors, report = choose_mix(
        data, limit, config, KOTE_RARITY, KOTE_TIE, embed, embed_e5
    )
    meta |= {
        "mix": {lang: m.to_dict() for lang, m in mix.items()},
        "dream_mix": {lang: m.to_dict() for lang, m in dream_mix.items()},
        "mix_offsets": offsets,
        "neutral_floor": floors,
        "encoders": model_digests(),  # the encoder files the heads read (a new wheel: retrain)
        "mix_selection": report,
    }
    meta["encoder_heads"] = ENCODER_HEADS_FILE
    model = fit_linear(examples, EMOTIONS, config, meta)
    path = out / "emotion.npz"
    model.save(path, prune_below=PRUNE_BELOW)
    heads.save(out / ENCODER_HEADS_FILE)
    classifier = OfflineEmotionClassifier.load(path)  # score what ships: float16, pruned
    evaluation = datasets.emotion_eval(data) | datasets.dream_scenes_eval(data)
    metrics = {name: emotion_metrics(classifier, rows) for name, rows in evaluation.items()}
    classifier.model.meta["metrics"] = metrics
    classifier.model.save(path, prune_below=PRUNE_BELOW)
    for name, m in metrics.items():
        log.info("emotion %s: macro-F1(7) %.3f, accuracy %.3f", name, m["macro_f1_7"], m["accuracy"])
    return path


def toxicity_rows(data: Path, limit: int | None = None) -> list[datasets.Example]:
    """The rows the toxicity artifact trains on (the hate-speech files, the look-alikes and `CALM_ROWS` calm ones)."""
    return datasets.toxicity_examples(data, limit, calm=CALM_ROWS, lookalikes=LOOKALIKE_REPEAT)


def build_toxicity(data: Path, out: Path, limit: int | None, config: FitConfig = TOXICITY_CONFIG) -> Path:
    """Train, write and evaluate the toxicity artifact; returns the `.npz` path."""
    examples = toxicity_rows(data, limit)
    meta = _meta("toxicity", data, datasets.TOXICITY_FILES, limit)
    meta["training"]["calm_rows"] = list(CALM_ROWS)
    meta["training"]["lookalike_repeat"] = LOOKALIKE_REPEAT
    model = fit_linear(examples, ["non_toxic", "toxic"], config, meta)
    path = out / "toxicity.npz"
    model.save(path, prune_below=PRUNE_BELOW)
    classifier = OfflineToxicityClassifier.load(path)
    metrics = {
        name: toxicity_metrics(classifier, rows) for name, rows in datasets.toxicity_eval(data).items()
    }
    classifier.model.meta["metrics"] = metrics
    classifier.model.save(path, prune_below=PRUNE_BELOW)
    for name, m in metrics.items():
        log.info("toxicity %s: balanced accuracy %.3f, AUC %.3f", name, m["balanced_accuracy"], m["roc_auc"])
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m agent.train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=REPO_DATA / "train", help="folder with train/ and eval files"
    )
    parser.add_argument("--out", type=Path, default=Path("agent/models"), help="where the artifacts go")
    parser.add_argument("--limit", type=int, default=None, help="rows per training file (quick runs)")
    parser.add_argument("--task", choices=["emotion", "toxicity", "policy", "all"], default="all")
    parser.add_argument(
        "--tuned", action="store_true",
        help="policy: the second reading reads e5 with its top layers fine-tuned on the rows (agent.train.e5_tune)",
    )
    parser.add_argument("--tune-epochs", type=int, default=None, help="epochs per e5 fine-tune (default agent.train.e5_tune.EPOCHS)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    folder = datasets.train_dir(args.data)
    if not (folder / datasets.GOEMOTIONS).is_file():
        print(f"no training files in {folder} (expected {datasets.GOEMOTIONS}, ...)", file=sys.stderr)
        return 2
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("training needs scikit-learn: pip install 'dreamreel[train]'", file=sys.stderr)
        return 2
    start = time.monotonic()
    if args.task in ("emotion", "all"):
        build_emotion(args.data, args.out, args.limit)
    if args.task in ("toxicity", "all"):
        build_toxicity(args.data, args.out, args.limit)
    if args.task in ("policy", "all"):
        from agent.train.policy import build_policy  # needs the sentence encoder

        build_policy(args.data, args.out, limit=args.limit, tuned=args.tuned, tune_epochs=args.tune_epochs)
    log.info("done in %.0fs; artifacts in %s", time.monotonic() - start, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
