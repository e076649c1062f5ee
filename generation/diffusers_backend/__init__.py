"""Real video generation with diffusers: presets, offline loading, emotion LoRAs, the backend.

Importing this package does not import torch; loading a model does.
"""

from generation.diffusers_backend.backend import DiffusersBackend, SegmentPlan, backend_from_settings
from generation.diffusers_backend.loading import ModelNotFoundError, resolve_model, weights_present
from generation.diffusers_backend.loras import Activation, LoraEntry, LoraError, LoraRegistry, LoraSwitcher
from generation.diffusers_backend.presets import (
    FAMILIES,
    FAMILY_RULES,
    Preset,
    PresetError,
    parse_preset,
    parse_presets,
)

__all__ = [
    "FAMILIES",
    "FAMILY_RULES",
    "Activation",
    "DiffusersBackend",
    "LoraEntry",
    "LoraError",
    "LoraRegistry",
    "LoraSwitcher",
    "ModelNotFoundError",
    "Preset",
    "PresetError",
    "SegmentPlan",
    "backend_from_settings",
    "parse_preset",
    "parse_presets",
    "resolve_model",
    "weights_present",
]
