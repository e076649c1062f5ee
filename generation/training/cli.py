"""`dreamreel lora prepare | train | eval`: argument parsing, messages and exit codes.

Takes the plain `[presets]` table (generation does not import dreamreel; `lora eval` loads the
LoRA it is given, not the `[loras]` registry):
    lora_main(argv, settings.presets) -> 0 done, 1 failed, 2 bad input, 130 ^C
Every refusal is one line on stderr that says what to change, and nothing is written before it;
with --json stdout also gets `{"error": {"code": "usage" | "invalid_input", "message": ...}}`,
as for every dreamreel command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from generation.base import GenerationError
from generation.diffusers_backend.loading import ModelNotFoundError
from generation.diffusers_backend.loras import LoraError
from generation.diffusers_backend.presets import FAMILIES, Preset, PresetError, parse_preset
from generation.training.base import TRAINABLE_FAMILIES, TrainingError, check_trainable

Tables = Mapping[str, Mapping[str, Any]]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so the message and exit code stay ours."""

    def error(self, message: str) -> Any:
        raise TrainingError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dreamreel lora", description="train emotion LoRAs and check them")
    sub = parser.add_subparsers(dest="action", metavar="prepare|train|eval", required=True, parser_class=_Parser)

    prep = sub.add_parser("prepare", help="cut a folder of videos into a training set")
    prep.add_argument("src", type=Path, help="folder of videos (mp4, mov, webm) with optional captions")
    prep.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    prep.add_argument("--preset", help="take family, size and fps from this [presets.NAME]")
    prep.add_argument("--family", choices=FAMILIES, help="whose size and frame rules apply (default: wan)")
    prep.add_argument("--fps", type=int, help="frames per second of the clips (default: preset's or 16)")
    prep.add_argument("--width", type=int, help="clip width (default: preset's or 832)")
    prep.add_argument("--height", type=int, help="clip height (default: preset's or 480)")
    prep.add_argument("--frames", type=int, default=9, help="frames per clip (default: 9)")
    prep.add_argument("--json", action="store_true")

    train = sub.add_parser("train", help="train a LoRA on a prepared dataset")
    train.add_argument("--preset", required=True)
    train.add_argument("--emotion", required=True)
    train.add_argument("--data", type=Path, required=True, help="a folder made by `lora prepare`")
    train.add_argument("--out", type=Path, required=True, help="where the LoRA, log and checkpoints go")
    train.add_argument("--rank", type=int, default=16)
    train.add_argument("--alpha", type=int, help="LoRA alpha (default: the rank, scale 1.0)")
    train.add_argument("--lr", type=float, default=1e-4)
    length = train.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="optimizer steps")
    length.add_argument("--epochs", type=int, help="passes over the dataset")
    train.add_argument("--batch", type=int, default=1, help="clips per micro-batch (per GPU)")
    train.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    train.add_argument("--warmup", type=int, help="lr warm-up steps (default: 5%% of the steps)")
    train.add_argument("--checkpoint-every", type=int, default=0, help="save a resumable checkpoint every S steps")
    train.add_argument("--resume", action="store_true", help="continue OUT's run from its latest checkpoint")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", help="render with and without a LoRA on own- and other-emotion prompts")
    ev.add_argument("--preset", required=True)
    ev.add_argument("--emotion", required=True)
    ev.add_argument("--lora", type=Path, required=True, help="LoRA directory or .safetensors file")
    ev.add_argument("--weight", type=float, default=1.0, help="adapter weight while rendering")
    ev.add_argument("--prompts", type=int, default=2, help="prompts per emotion (default: 2)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", type=Path, help="report folder (default: LORA/eval)")
    ev.add_argument("--json", action="store_true")
    return parser


def _preset(name: str, presets: Tables) -> Preset:
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none"
        raise TrainingError(f"no preset named {name!r} in [presets] (configured: {known})")
    return parse_preset(name, presets[name])


def _prepare(args: argparse.Namespace, presets: Tables, out: TextIO) -> int:
    from generation.training.dataset import prepare_dataset

    preset = _preset(args.preset, presets) if args.preset else None
    family = args.family or (preset.family if preset else "wan")
    report = prepare_dataset(
        args.src,
        args.out,
        family=family,
        width=args.width or (preset.width if preset else 832),
        height=args.height or (preset.height if preset else 480),
        frames=args.frames,
        fps=args.fps or (preset.fps if preset else 16),
    )
    for skipped in report.skipped:
        print(f"dreamreel lora: skipped {skipped['source']}: {skipped['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False), file=out)
    else:
        summary = report.to_json()
        print(f"{summary['clips']} clips from {summary['sources']} videos in {args.out}", file=out)
    return 0


def _train(args: argparse.Namespace, presets: Tables, out: TextIO) -> int:
    from generation.training.prompts import check_emotion
    from generation.training.trainer import TrainConfig, registry_snippet, train_lora

    preset = _preset(args.preset, presets)
    check_trainable(preset.family)
    check_emotion(args.emotion)
    result = train_lora(
        TrainConfig(
            preset=preset, emotion=args.emotion, data=args.data, out=args.out, rank=args.rank,
            alpha=args.alpha, lr=args.lr, steps=args.steps, epochs=args.epochs, batch=args.batch,
            grad_accum=args.grad_accum, checkpoint_every=args.checkpoint_every, resume=args.resume,
            seed=args.seed, warmup=args.warmup, progress=not args.json,
        )
    )  # fmt: skip
    if args.json:
        print(json.dumps(result.to_json()), file=out)
    else:
        print(
            f"trained {result.steps} steps in {result.seconds:.1f}s; probe loss "
            f"{result.first_loss:.4f} -> {result.last_loss:.4f}\nadd to the settings file:\n\n"
            + registry_snippet(preset.family, args.emotion, args.out),
            file=out,
        )
    return 0


def _eval(args: argparse.Namespace, presets: Tables, out: TextIO) -> int:
    from generation.training.evaluate import EvalConfig, evaluate_lora

    preset = _preset(args.preset, presets)
    check_trainable(preset.family)
    if args.prompts < 1:
        raise TrainingError("--prompts must be at least 1")
    report = evaluate_lora(
        EvalConfig(
            preset=preset, emotion=args.emotion, lora=args.lora, weight=args.weight,
            prompts_per_emotion=args.prompts, seed=args.seed, out=args.out or _default_eval_dir(args.lora),
        )
    )  # fmt: skip
    if args.json:
        print(json.dumps(report.to_json()), file=out)
    else:
        print(report.summary(), file=out)
    return 0


def _default_eval_dir(lora: Path) -> Path:
    return (lora.parent if lora.is_file() else lora) / "eval"


def lora_main(argv: Sequence[str], presets: Tables, out: TextIO | None = None) -> int:
    """Run one `lora` subcommand; return its exit code (messages on stderr, results on `out`)."""
    stream = out or sys.stdout
    as_json = "--json" in argv
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except TrainingError as err:
        return _refuse("usage", str(err), stream if as_json else None)
    action = {"prepare": _prepare, "train": _train, "eval": _eval}[args.action]
    try:
        return action(args, presets, stream)
    except KeyboardInterrupt:
        print(f"dreamreel lora: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except (TrainingError, PresetError, LoraError) as err:
        return _refuse("invalid_input", str(err), stream if as_json else None)
    except ModelNotFoundError as err:
        print(f"dreamreel lora: {err}", file=sys.stderr)
        return 1
    except GenerationError as err:
        print(f"dreamreel lora: failed: {err}", file=sys.stderr)
        return 1


def _refuse(code: str, message: str, json_out: TextIO | None) -> int:
    """Exit 2: one line on stderr, and with --json the CLI's `{"error": {"code", "message"}}` on stdout."""
    print(f"dreamreel lora: {message}", file=sys.stderr)
    if json_out is not None:
        print(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False), file=json_out)
    return 2


def _resume_hint(args: argparse.Namespace) -> str:
    """What an interrupted `train` leaves behind and how to continue it."""
    if args.action != "train":
        return ""
    if not args.checkpoint_every:
        return " (this run kept no checkpoints: --checkpoint-every S makes a run resumable)"
    return f"; the same command with --resume continues from the newest checkpoint in {args.out / 'checkpoints'}"


__all__ = ["TRAINABLE_FAMILIES", "lora_main"]
