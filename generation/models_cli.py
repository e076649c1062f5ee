"""`dreamreel models list` and `dreamreel models download PRESET`.

`list` shows every configured preset, whether it is valid and whether its weights (and its
family's LoRAs) are on this machine; it never touches the network. `download` fetches a preset's
models and hub-hosted LoRAs into the Hugging Face cache with `snapshot_download`, on a machine
with internet; rendering later loads them offline.

Takes the plain `[presets]` and `[loras]` tables (generation does not import dreamreel):
    models_main(argv, settings.presets, settings.loras) -> exit code
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from generation.diffusers_backend.loading import ModelNotFoundError, model_refs, resolve_model
from generation.diffusers_backend.loras import LoraError, LoraRegistry
from generation.diffusers_backend.presets import Preset, PresetError, parse_preset

logger = logging.getLogger(__name__)

Tables = Mapping[str, Mapping[str, Any]]
LoraTables = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamreel models", description="video model presets and their weights"
    )
    sub = parser.add_subparsers(dest="action", metavar="list|download", required=True)
    sub.add_parser("list", help="presets and whether their weights are present")
    dl = sub.add_parser("download", help="fetch a preset's models and LoRAs into the Hugging Face cache")
    dl.add_argument("preset")
    return parser


def _is_hub_id(ref: str) -> bool:
    return not ref.startswith(("/", ".", "~")) and ref.count("/") == 1 and not Path(ref).exists()


def _lora_status(preset: Preset, loras: LoraTables) -> str:
    try:
        registry = LoraRegistry.from_settings(preset.family, loras)
    except LoraError as err:
        return f"invalid ({err})"
    parts = []
    for emotion, entry in registry.adapters().items():
        assert entry.path is not None
        present = Path(entry.path).expanduser().exists()
        if not present and _is_hub_id(entry.path):
            try:
                resolve_model(entry.path, preset_name=preset.name, cache_dir=preset.cache_dir, what="lora")
                present = True
            except ModelNotFoundError:
                present = False
        parts.append(f"{emotion} {'ok' if present else 'missing'}")
    return ", ".join(parts) or "none"


def list_models(presets: Tables, loras: LoraTables, out: TextIO) -> int:
    """Print every preset with its family, shape and which weights are on this machine."""
    if not presets:
        print("no presets configured; add [presets.NAME] tables to the settings file (see README)", file=out)
        print("preview  (embedded renderer, no weights needed)", file=out)
        return 0
    print("preview  (embedded renderer, no weights needed)", file=out)
    for name, table in sorted(presets.items()):
        try:
            preset = parse_preset(name, table)
        except PresetError as err:
            print(f"{name}  INVALID: {err}", file=out)
            continue
        shape = f"{preset.width}x{preset.height} {preset.num_frames}f@{preset.fps}fps {preset.steps} steps"
        print(f"{name}  family={preset.family}  {shape}", file=out)
        for role, ref in model_refs(preset).items():
            try:
                path = resolve_model(
                    ref, preset_name=name, revision=preset.revision, cache_dir=preset.cache_dir, what=role
                )
                state = f"present ({path})"
            except ModelNotFoundError:
                state = f"MISSING (dreamreel models download {name})"
            print(f"    {role}: {ref}  {state}", file=out)
        print(f"    loras[{preset.family}]: {_lora_status(preset, loras)}", file=out)
    return 0


@dataclass(frozen=True)
class Fetch:
    """One thing `download` fetches: a hub repo (only `files` when given) or a local path to check."""

    role: str
    ref: str
    revision: str | None = None
    files: tuple[str, ...] = ()


def download_plan(preset: Preset, registry: LoraRegistry) -> list[Fetch]:
    """Everything a preset needs: its models, then every LoRA of its family that owns weights.

    Single weight files (AnimateDiff-Lightning's adapter, a LoRA's weight_name) are fetched alone
    instead of the whole repository; configs come along.
    """
    plan = [Fetch("model", preset.model, preset.revision)]
    if preset.motion_adapter:
        only = (preset.motion_adapter_file, "*.json") if preset.motion_adapter_file else ()
        plan.append(Fetch("motion_adapter", preset.motion_adapter, None, only))
    if preset.keyframe_model:
        plan.append(Fetch("keyframe_model", preset.keyframe_model))
    if preset.i2v_model and preset.i2v_model != preset.model:
        plan.append(Fetch("i2v_model", preset.i2v_model))
    for emotion, entry in registry.adapters().items():
        assert entry.path is not None
        plan.append(
            Fetch(f"lora {emotion}", entry.path, None, (entry.weight_name,) if entry.weight_name else ())
        )
    return plan


def download(name: str, presets: Tables, loras: LoraTables, out: TextIO) -> int:
    """Fetch every hub-hosted model and LoRA the preset needs; local paths are only checked."""
    if name not in presets:
        print(f"no preset named {name!r}; configured: {', '.join(sorted(presets)) or 'none'}", file=out)
        return 2
    try:
        preset = parse_preset(name, presets[name])
        registry = LoraRegistry.from_settings(preset.family, loras)
    except (PresetError, LoraError) as err:
        print(str(err), file=out)
        return 2
    fetches = download_plan(preset, registry)
    hub = [f for f in fetches if _is_hub_id(f.ref)]
    failed = 0
    for f in fetches:
        if not _is_hub_id(f.ref) and not Path(f.ref).expanduser().exists():
            print(f"{f.role}: local path {f.ref} does not exist; copy the weights there", file=out)
            failed += 1
    if hub and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        print(
            "HF_HUB_OFFLINE is set: downloads are disabled here; unset it on a machine with internet",
            file=out,
        )
        return 1
    if hub:
        from huggingface_hub import snapshot_download

        for f in hub:
            print(f"{f.role}: downloading {f.ref} {' '.join(f.files)}...", file=out, flush=True)
            try:
                path = snapshot_download(
                    f.ref,
                    revision=f.revision,
                    cache_dir=preset.cache_dir,
                    allow_patterns=list(f.files) or None,
                )
            except Exception as err:  # network, auth, missing repo: report and carry on with the rest
                print(f"{f.role}: {f.ref} failed: {err}", file=out)
                failed += 1
                continue
            print(f"{f.role}: {f.ref} -> {path}", file=out)
    if not hub and not failed:
        print(f"preset {name!r} uses local paths only; nothing to download", file=out)
    return 1 if failed else 0


def models_main(
    argv: Sequence[str], presets: Tables, loras: LoraTables | None = None, out: TextIO | None = None
) -> int:
    """Entry point behind `dreamreel models ...`; returns the process exit code."""
    stream = out or sys.stdout
    args = _parser().parse_args(list(argv))
    if args.action == "list":
        return list_models(presets, loras or {}, stream)
    return download(args.preset, presets, loras or {}, stream)
