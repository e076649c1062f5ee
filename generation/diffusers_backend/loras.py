"""Emotion LoRAs: a registry read from settings, and a switcher that hot-swaps adapters.

The settings file maps, per model family, an emotion to a LoRA::

    [loras.wan.fear]
    path = "/loras/wan-fear"          # directory or .safetensors file (diffusers LoRA format), or hub id
    weight = 0.8
    trigger_words = ["fearstyle"]
    prompt_suffix = "eerie fog, deep shadows"
    negative_prompt = "gore"
    overrides = { guidance = 6.0 }    # preset values changed while this emotion renders

    [loras.wan.dread]                 # a mix of two loaded adapters, no file of its own
    mix = { fear = 0.6, sadness = 0.4 }

Every adapter of the active family is loaded once (`adapter_name` = emotion); a segment then only
calls `set_adapters` (or `disable_lora` for an emotion without LoRA). The pipeline is never rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from generation.base import GenerationError

logger = logging.getLogger(__name__)

# Preset fields an emotion may change for its segments (sizes and frames stay fixed per job).
OVERRIDABLE = frozenset({"steps", "guidance", "negative_prompt", "motion_bucket_id", "noise_aug_strength"})


class LoraError(GenerationError, ValueError):
    """A LoRA entry is malformed or its weights cannot be loaded."""


class LoraEntry(BaseModel):
    """The style of one emotion for one family."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emotion: str
    path: str | None = None  # dir, .safetensors file or hub repo id
    weight_name: str | None = None  # file inside a dir/repo when it is not the default name
    weight: float = Field(default=0.8, ge=-4.0, le=4.0)
    mix: dict[str, float] | None = None  # emotion -> weight, of adapters loaded by other entries
    trigger_words: list[str] = Field(default_factory=list)
    prompt_suffix: str = ""
    negative_prompt: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LoraEntry:
        if self.path and self.mix:
            raise ValueError(
                "give either path (its own adapter) or mix (of other emotions' adapters), not both"
            )
        if self.mix is not None and not 1 <= len(self.mix) <= 2:
            raise ValueError("mix takes one or two emotions with weights, e.g. { fear = 0.6, sadness = 0.4 }")
        bad = set(self.overrides) - OVERRIDABLE
        if bad:
            raise ValueError(f"overrides may change only {sorted(OVERRIDABLE)}, not {sorted(bad)}")
        return self

    @property
    def has_adapter(self) -> bool:
        return bool(self.path or self.mix)


@dataclass(frozen=True)
class Activation:
    """Adapters switched on for one segment: names and their weights (empty = LoRA disabled)."""

    names: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def label(self) -> str | None:
        """A stable name for the job record: `fear` or `fear+sadness`; None when disabled."""
        return "+".join(self.names) if self.names else None


class LoraRegistry:
    """emotion -> `LoraEntry` for one model family."""

    def __init__(self, family: str, entries: Mapping[str, LoraEntry] | None = None) -> None:
        self.family = family
        self.entries: dict[str, LoraEntry] = dict(entries or {})
        for emotion, entry in self.entries.items():
            for other in entry.mix or {}:
                target = self.entries.get(other)
                if target is None or not target.path:
                    raise LoraError(
                        f"loras.{family}.{emotion}: mix names {other!r}, which has no LoRA path of its own"
                    )

    @classmethod
    def from_settings(cls, family: str, table: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> LoraRegistry:
        """Build from the whole `[loras]` table (family -> emotion -> entry); other families are ignored."""
        entries: dict[str, LoraEntry] = {}
        for emotion, raw in (table.get(family) or {}).items():
            try:
                entries[emotion] = LoraEntry(emotion=emotion, **dict(raw))
            except ValidationError as err:
                msgs = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
                raise LoraError(f"loras.{family}.{emotion}: {msgs}") from None
        return cls(family, entries)

    def get(self, emotion: str) -> LoraEntry | None:
        return self.entries.get(emotion)

    def adapters(self) -> dict[str, LoraEntry]:
        """Entries that own weights (loaded once each)."""
        return {e: entry for e, entry in self.entries.items() if entry.path}

    def activation(self, emotion: str) -> Activation:
        """What to switch on for `emotion`: its own adapter, a mix, or nothing."""
        entry = self.entries.get(emotion)
        if entry is None or not entry.has_adapter:
            return Activation()
        if entry.mix:
            return Activation(tuple(entry.mix), tuple(float(w) for w in entry.mix.values()))
        return Activation((emotion,), (entry.weight,))


def _load_source(path: str) -> tuple[str, str | None]:
    """Split a configured path into what `load_lora_weights` takes: (dir/repo or file dir, weight_name)."""
    p = Path(path).expanduser()
    if p.is_file():
        return str(p.parent), p.name
    return (str(p) if p.exists() else path), None


class LoraSwitcher:
    """Loads a registry's adapters into one pipeline once, then switches them per segment."""

    def __init__(self, pipe: Any, registry: LoraRegistry, *, cache_dir: str | None = None) -> None:
        self.pipe = pipe
        self.registry = registry
        self.cache_dir = cache_dir  # where hub-id LoRAs were downloaded (default: the HF cache)
        self.loaded: list[str] = []
        self.current: Activation | None = None

    def load_all(self) -> None:
        """Load every adapter with a path (`adapter_name` = emotion). Offline: never downloads."""
        adapters = self.registry.adapters()
        if adapters and not hasattr(self.pipe, "load_lora_weights"):
            raise LoraError(
                f"{type(self.pipe).__name__} cannot load LoRAs; remove [loras.{self.registry.family}]"
            )
        for emotion, entry in adapters.items():
            assert entry.path is not None
            source, weight_name = _load_source(entry.path)
            weight_name = entry.weight_name or weight_name
            kwargs: dict[str, Any] = {"adapter_name": emotion, "local_files_only": True}
            if weight_name:
                kwargs["weight_name"] = weight_name
            if self.cache_dir:
                kwargs["cache_dir"] = self.cache_dir
            try:
                self.pipe.load_lora_weights(source, **kwargs)
            except (OSError, ValueError, KeyError) as err:
                raise LoraError(
                    f"cannot load LoRA for {self.registry.family}/{emotion} from {entry.path}: {err}. "
                    "Use a diffusers-format LoRA (pytorch_lora_weights.safetensors); hub ids must be "
                    "downloaded first (dreamreel models download PRESET)."
                ) from err
            self.loaded.append(emotion)
            logger.info("loaded LoRA %s from %s", emotion, entry.path)
        if self.loaded:
            self.apply(Activation())

    def apply(self, activation: Activation) -> None:
        """Switch the pipeline to `activation` (cheap: no weights are loaded or merged)."""
        if activation == self.current:
            return
        if not self.loaded:
            self.current = activation
            if activation.names:
                raise LoraError(f"adapters {activation.names} requested but none are loaded")
            return
        if activation.names:
            self.pipe.enable_lora()
            self.pipe.set_adapters(list(activation.names), adapter_weights=list(activation.weights))
        else:
            self.pipe.disable_lora()
        self.current = activation
