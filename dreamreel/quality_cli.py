"""`dreamreel quality score VIDEO` and `dreamreel quality eval --prompts FILE --out DIR`.

`score` prints one clip's scores. `eval` renders benchmark prompts with the configured preset
(optionally again with an emotion LoRA, same prompts and seeds), scores every clip, computes
CLIPSIM and, with a reference folder, FVD, and writes report.json + report.html.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from dreamreel.errors import ConfigError, InputError
from dreamreel.settings import Settings

FIRST_SEED = 1000  # prompt i renders with seed FIRST_SEED + i, in every run of every set


def register(sub: Any) -> None:
    """Add `quality score` and `quality eval` to the `dreamreel` parser."""
    q = sub.add_parser("quality", help="score a clip, or evaluate the preset on benchmark prompts")
    q_sub = q.add_subparsers(dest="quality_cmd", metavar="score|eval")
    s = q_sub.add_parser(
        "score", help="sharpness, temporal consistency, colour, CLIP score, overall of a clip"
    )
    s.add_argument("video", help="the clip (mp4 or anything ffmpeg reads)")
    s.add_argument("--prompt", help="text for the CLIP score (needs quality.clip_model)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    e = q_sub.add_parser("eval", help="render prompts with the preset, score them, write report.json/html")
    e.add_argument("--prompts", required=True, help='JSON lines {"prompt": ...}, e.g. data/t2v_prompts.jsonl')
    e.add_argument("--limit", type=int, help="only the first N prompts")
    e.add_argument(
        "--reference", help="folder of reference clips: FVD against them (needs quality.fvd_model)"
    )
    e.add_argument("--out", required=True, help="folder for the clips, report.json and report.html")
    e.add_argument(
        "--emotion", default="neutral", help="the style every prompt renders with (default neutral)"
    )
    e.add_argument(
        "--lora",
        metavar="EMOTION=PATH",
        help="also render every prompt with this LoRA (same seeds) and compare (diffusers presets)",
    )
    e.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    q.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.quality_cmd == "score":
        return score_command(args, settings)
    if args.quality_cmd == "eval":
        return eval_command(args, settings)
    raise InputError("quality: score VIDEO or eval --prompts FILE --out DIR")


# -- score ---------------------------------------------------------------------------------------


def score_command(args: argparse.Namespace, settings: Settings) -> int:
    from generation.base import GenerationError
    from generation.quality import score_clip

    scorer = _clip_scorer(settings) if args.prompt else None
    try:
        quality = score_clip(Path(args.video), prompt=args.prompt, clip=scorer)
    except GenerationError as err:
        raise InputError(str(err)) from err
    row = quality.as_dict()
    if args.json:
        print(json.dumps(row))
        return 0
    failures = settings.quality.thresholds().failures(quality)
    for key, value in row.items():
        print(f"{key:11} {value if not isinstance(value, float) else f'{value:.3f}'}")
    print("result      " + ("pass" if not failures else "under threshold: " + ", ".join(failures)))
    if args.prompt and scorer is None:
        print("(no CLIP score: set quality.clip_model to a CLIP checkpoint)", file=sys.stderr)
    return 0


def _clip_scorer(settings: Settings) -> Any:
    """The configured CLIP scorer, or None when `quality.clip_model` is unset."""
    if not settings.quality.clip_model:
        return None
    from generation.quality.clip_score import ClipScorer
    from generation.quality.loading import QualityModelMissing

    try:
        return ClipScorer(settings.quality.clip_model, device=settings.quality.device)
    except QualityModelMissing as err:
        raise ConfigError(str(err)) from err


# -- eval ----------------------------------------------------------------------------------------


def eval_command(args: argparse.Namespace, settings: Settings) -> int:
    from generation.base import GenerationError
    from generation.quality.evaluate import read_prompts

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, not {args.limit}")
    if args.emotion not in settings.styles:
        raise InputError(f"--emotion {args.emotion!r} is not one of {', '.join(settings.styles)}")
    lora = _parse_lora(args.lora, settings) if args.lora else None
    if args.reference and not settings.quality.fvd_model:
        raise ConfigError("--reference needs quality.fvd_model (a VideoMAE checkpoint) for FVD")
    try:
        prompts = read_prompts(Path(args.prompts), args.limit)
    except OSError as err:
        raise InputError(f"cannot read {args.prompts}: {err.strerror}") from err
    except ValueError as err:
        raise InputError(str(err)) from err
    progress = None if args.quiet else ProgressBar(sys.stderr)
    try:
        report = evaluate(settings, prompts, Path(args.out), args, lora, progress)
    except GenerationError as err:
        raise ConfigError(str(err)) from err
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for eval_set in report["sets"]:
            s = eval_set["summary"]
            print(
                f"{eval_set['name']}: {s['passed']}/{s['clips']} passed, mean overall {s['mean']['overall']}, "
                f"CLIPSIM {s['clipsim']}, FVD {s['fvd']}"
            )
        print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def evaluate(
    settings: Settings,
    prompts: Sequence[str],
    out: Path,
    args: argparse.Namespace,
    lora: tuple[str, str] | None,
    progress: ProgressBar | None,
) -> dict[str, Any]:
    """Render, score and report; returns the report.json object."""
    from dreamreel.wiring import build_backend
    from generation.quality.evaluate import render_and_score
    from generation.quality.report import write_report

    backend: Any
    backend, params = build_backend(settings)
    emotion = lora[0] if lora else args.emotion
    specs = _specs(settings, params, prompts, emotion)
    if lora is not None:
        backend = _diffusers_backend(settings, None)  # the same preset with no LoRA at all
    thresholds = settings.quality.thresholds()
    clip = _clip_scorer(settings)
    steps = len(prompts) * (2 if lora else 1)
    # FVD: the feature model and the reference set first (a bad folder fails before any render);
    # each rendered clip then keeps only its feature vector, not its frames
    features, reference = _fvd_reference(settings, args.reference, progress, steps)

    def run(name: str, run_backend: Any, folder: str, offset: int) -> Any:
        return render_and_score(
            name, run_backend, specs, out / folder, thresholds=thresholds, clip=clip, features=features,
            progress=progress, step_offset=offset, total_steps=steps,
        )  # fmt: skip

    sets = [run("base", backend, "clips", 0)]
    if lora is not None:
        # same specs (prompts, style, seeds), same loaded pipeline: the adapter is the only difference
        with_lora = _diffusers_backend(settings, lora, model=backend.load())
        sets.append(run(f"lora {lora[0]}", with_lora, "clips-lora", len(prompts)))
        sets[1].lora = {"emotion": lora[0], "path": lora[1]}
    if features is not None:
        from generation.quality.evaluate import set_fvd

        for eval_set in sets:
            eval_set.fvd = set_fvd(eval_set, reference)
    report: dict[str, Any] = {
        "preset": params.preset,
        "prompts": str(args.prompts),
        "count": len(prompts),
        "seed": FIRST_SEED,
        "emotion": emotion,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "thresholds": thresholds.as_dict(),
        "models": {
            "clip": settings.quality.clip_model,
            "fvd": settings.quality.fvd_model,
            "fvd_features": (
                f"VideoMAE {settings.quality.fvd_model}: mean of the last hidden state over "
                f"{features.num_frames} evenly sampled frames"
                if features is not None
                else None
            ),
        },
        "sets": [s.as_dict() for s in sets],
        "comparison": _comparison(sets) if lora is not None else None,
    }
    write_report(report, sets, out)
    return report


def _fvd_reference(
    settings: Settings, reference: str | None, progress: ProgressBar | None, steps: int
) -> tuple[Any, Any]:
    """The FVD feature model and the reference clips' features, or (None, None) without --reference."""
    from generation.quality.evaluate import reference_clips

    if not reference:
        return None, None
    features = _video_features(settings)
    if progress is not None:
        progress(0, steps, "FVD: reference features")
    return features, features.features(reference_clips(Path(reference)))


def _comparison(sets: list[Any]) -> dict[str, Any]:
    """LoRA run minus base run: mean score deltas, CLIPSIM and FVD deltas, clips passed."""
    a, b = sets[0].summary(), sets[1].summary()
    comparison: dict[str, Any] = {}
    for key in ("overall", "clip_score", "sharpness", "temporal", "color"):
        if a["mean"][key] is not None and b["mean"][key] is not None:
            comparison[f"{key}_delta"] = round(b["mean"][key] - a["mean"][key], 4)
    for key in ("clipsim", "fvd"):
        if a[key] is not None and b[key] is not None:
            comparison[f"{key}_delta"] = round(b[key] - a[key], 4)
    comparison["passed_delta"] = b["passed"] - a["passed"]
    return comparison


def _specs(settings: Settings, params: Any, prompts: Sequence[str], emotion: str) -> list[Any]:
    """Prompt i as the scene a job would ask for: the emotion's style, seed FIRST_SEED + i."""
    from dreamreel.render import clip_spec

    style = settings.styles[emotion]
    return [
        clip_spec(
            params,
            index=i,
            caption=prompt,
            prompt=prompt,
            emotion=emotion,
            style=style,
            seed=FIRST_SEED + i,
            language="en",
        )
        for i, prompt in enumerate(prompts)
    ]


def _parse_lora(value: str, settings: Settings) -> tuple[str, str]:
    emotion, sep, path = value.partition("=")
    if not sep or not emotion.strip() or not path.strip():
        raise InputError(f"--lora takes EMOTION=PATH, not {value!r}")
    emotion = emotion.strip()
    if emotion not in settings.styles:
        raise InputError(f"--lora {emotion}: not an emotion ({', '.join(settings.styles)})")
    if settings.video.preset == "preview":
        raise InputError(
            "--lora needs a diffusers preset in [video] preset; the preview renderer has no LoRAs"
        )
    if not Path(path).expanduser().exists():
        raise InputError(f"--lora {emotion}: no LoRA at {path}")
    return emotion, str(Path(path).expanduser())


def _diffusers_backend(settings: Settings, lora: tuple[str, str] | None, model: Any = None) -> Any:
    """A backend for the configured preset whose only LoRA is `lora` (none for the base run)."""
    from generation.diffusers_backend import DiffusersBackend, LoraError, LoraRegistry, PresetError
    from generation.diffusers_backend.presets import parse_preset

    try:
        preset = parse_preset(settings.video.preset, settings.presets[settings.video.preset])
        table: dict[str, dict[str, dict[str, Any]]] = (
            {preset.family: {lora[0]: {"path": lora[1]}}} if lora else {}
        )
        return DiffusersBackend(preset, LoraRegistry.from_settings(preset.family, table), model=model)
    except (PresetError, LoraError) as err:
        raise ConfigError(str(err)) from err


def _video_features(settings: Settings) -> Any:
    if not settings.quality.fvd_model:
        raise ConfigError("FVD needs quality.fvd_model (a VideoMAE checkpoint)")
    from generation.quality.fvd import VideoFeatures
    from generation.quality.loading import QualityModelMissing

    try:
        return VideoFeatures(settings.quality.fvd_model, device=settings.quality.device)
    except QualityModelMissing as err:
        raise ConfigError(str(err)) from err


class ProgressBar:
    """A one-line progress bar on stderr (rewritten on a terminal, one line per step otherwise)."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, what: str) -> None:
        filled = round(self.WIDTH * done / max(total, 1))
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {what}"
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
