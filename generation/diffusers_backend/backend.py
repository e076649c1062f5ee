"""`DiffusersBackend`: the VideoBackend that renders scenes with a real text-to-video model.

Built once per worker from a validated `Preset` and the family's `LoraRegistry`. The pipeline is
loaded lazily on the first render (or by `load()` at worker start), every emotion LoRA is loaded
once, and each segment only switches adapters. Segments that share preset values and adapters
render in one batched pipeline call when the batch fits the preset's memory budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.base import ClipInfo, ClipSpec, GenerationError, ProgressFn, VideoBackend
from generation.diffusers_backend.families import LoadedModel, load_model, text_to_video
from generation.diffusers_backend.image_to_video import (
    draw_keyframe,
    image_to_video,
    load_i2v_pipe,
    load_keyframe_pipe,
)
from generation.diffusers_backend.loading import (
    apply_memory_options,
    model_refs,
    pick_device,
    pick_dtype,
    require_torch,
    resolve_model,
)
from generation.diffusers_backend.loras import Activation, LoraRegistry, LoraSwitcher
from generation.diffusers_backend.presets import Preset, PresetError, parse_preset
from generation.diffusers_backend.video import to_uint8, write_mp4
from generation.frames import save_frame

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentPlan:
    """What one segment renders with, after the emotion's LoRA entry is applied."""

    prompt: str
    negative_prompt: str
    seed: int
    preset: Preset  # with the emotion's overrides
    activation: Activation


class DiffusersBackend(VideoBackend):
    """Renders `ClipSpec`s with a diffusers pipeline; see the module docstring."""

    name = "diffusers"

    def __init__(
        self, preset: Preset, loras: LoraRegistry | None = None, *, model: LoadedModel | None = None
    ) -> None:
        self.preset = preset
        self.loras = loras if loras is not None else LoraRegistry(preset.family)
        if self.loras.family != preset.family:
            raise PresetError(
                f"LoRA registry is for {self.loras.family!r}, preset {preset.name!r} is {preset.family!r}"
            )
        self._model = model
        self._switcher: LoraSwitcher | None = None
        self.device = "cpu"
        self.load_seconds = 0.0
        self.batch_sizes: list[int] = []  # segments per pipeline call, in order (logs, benches, tests)
        self._warned_lora = False

    @classmethod
    def from_settings(
        cls,
        preset_name: str,
        presets: Mapping[str, Mapping[str, Any]],
        loras: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> DiffusersBackend:
        """Build from the plain `[presets]` and `[loras]` tables of the settings (validated here)."""
        if preset_name not in presets:
            known = ", ".join(sorted(presets)) or "none"
            raise PresetError(f"no preset named {preset_name!r} in [presets] (configured: {known})")
        preset = parse_preset(preset_name, presets[preset_name])
        return cls(preset, LoraRegistry.from_settings(preset.family, loras or {}))

    # -- loading ---------------------------------------------------------------------------------

    def ensure_weights(self) -> None:
        """Fail fast (ModelNotFoundError naming `dreamreel models download PRESET`) when weights are
        missing, without importing torch or loading anything; cheap enough for start-up checks."""
        for role, ref in model_refs(self.preset).items():
            resolve_model(
                ref,
                preset_name=self.preset.name,
                revision=self.preset.revision if role == "model" else None,
                cache_dir=self.preset.cache_dir,
                what=role,
                allow_file=role == "motion_adapter",
            )

    def load(self) -> LoadedModel:
        """Load the pipeline and every configured LoRA once (idempotent; call at worker start)."""
        if self._model is not None and self._switcher is not None:
            return self._model
        started = time.perf_counter()
        require_torch()
        self.device = pick_device(self.preset)
        if self._model is None:
            dtype = pick_dtype(self.preset, self.device)
            model = load_model(self.preset, dtype)
            apply_memory_options(model.pipe, self.preset, self.device)
            if model.keyframe_pipe is not None:
                apply_memory_options(model.keyframe_pipe, self.preset, self.device)
            self._model = model
        switcher = LoraSwitcher(self._model.lora_pipe, self.loras, cache_dir=self.preset.cache_dir)
        switcher.load_all()
        self._switcher = switcher
        self.load_seconds = time.perf_counter() - started
        logger.info(
            "preset %s (%s) ready on %s in %.2fs",
            self.preset.name,
            self.preset.family,
            self.device,
            self.load_seconds,
        )
        return self._model

    @property
    def switcher(self) -> LoraSwitcher:
        self.load()
        assert self._switcher is not None
        return self._switcher

    def _i2v(self) -> Any:
        """The image-to-video pipeline, loaded on the first scene that starts from a frame."""
        model = self.load()
        if model.i2v_pipe is None:
            pipe = load_i2v_pipe(self.preset, model.pipe, pick_dtype(self.preset, self.device))
            if pipe is not model.pipe:
                apply_memory_options(pipe, self.preset, self.device)
            model.i2v_pipe = pipe
        return model.i2v_pipe

    def _keyframes(self) -> Any:
        """The text-to-image pipeline, loaded on the first key frame (svd loads it with the model)."""
        model = self.load()
        if model.keyframe_pipe is None:
            pipe = load_keyframe_pipe(self.preset, pick_dtype(self.preset, self.device))
            model.keyframe_pipe = apply_memory_options(pipe, self.preset, self.device)
        return model.keyframe_pipe

    def continuity_problem(self, mode: str) -> str | None:
        """Why this preset cannot render `mode` continuity (chain, keyframe), or None."""
        return self.preset.continuity_problem(mode)

    # -- per segment -----------------------------------------------------------------------------

    def lora_for(self, emotion: str) -> tuple[str, float] | None:
        """(name, weight) of the LoRA an emotion renders with, for the job record; None = no LoRA.

        A mix is named `fear@0.6+sadness@0.4` with weight 1.0.
        """
        act = self.loras.activation(emotion)
        if not act.names:
            return None
        if len(act.names) == 1:
            return act.names[0], act.weights[0]
        return "+".join(f"{n}@{w:g}" for n, w in zip(act.names, act.weights, strict=True)), 1.0

    def seed_for(self, spec: ClipSpec) -> int:
        return spec.seed if self.preset.seed_policy == "per_segment" else self.preset.seed

    def plan(self, spec: ClipSpec) -> SegmentPlan:
        """Prompt, negative prompt, seed, preset and adapters one segment renders with."""
        entry = self.loras.get(spec.emotion)
        preset = self.preset.with_overrides(entry.overrides) if entry else self.preset
        if spec.steps_factor != 1.0:  # a quality re-render asked for more denoising steps
            preset = preset.with_overrides({"steps": max(1, round(preset.steps * spec.steps_factor))})
        triggers: list[str] = list(entry.trigger_words) if entry else []
        for other in (entry.mix or {}) if entry else {}:
            mixed = self.loras.get(other)
            triggers += mixed.trigger_words if mixed else []
        suffix = (entry.prompt_suffix if entry and entry.prompt_suffix else "") or spec.style.prompt_suffix
        prompt = ", ".join(p for p in [*dict.fromkeys(triggers), spec.prompt.strip(), suffix.strip()] if p)
        style_negative = (
            entry.negative_prompt if entry and entry.negative_prompt else ""
        ) or spec.style.negative_prompt
        negative = ", ".join(n for n in (preset.negative_prompt.strip(), style_negative.strip()) if n)
        return SegmentPlan(prompt, negative, self.seed_for(spec), preset, self.loras.activation(spec.emotion))

    def render_clip(self, spec: ClipSpec, out_path: Path, progress: ProgressFn | None = None) -> ClipInfo:
        """Render one scene to `out_path` (mp4, the preset's size, frames and fps)."""
        return self.render_batch([spec], [out_path], progress)[0]

    def batch_size(self) -> int:
        """Scenes per pipeline call the preset allows (max_batch, capped by memory_budget_mb)."""
        return self.preset.batch_size()

    def render_batch(
        self, specs: Sequence[ClipSpec], out_paths: Sequence[Path], progress: ProgressFn | None = None
    ) -> list[ClipInfo]:
        """Render several scenes; those sharing preset values and adapters share pipeline calls.

        Batches hold at most `preset.batch_size()` segments (max_batch capped by memory_budget_mb).
        Each segment keeps its own seed, so a clip is the same batched or alone (up to float noise).
        """
        if len(specs) != len(out_paths):
            raise ValueError("one output path per spec")
        plans = [self.plan(s) for s in specs]
        from_image = [i for i, spec in enumerate(specs) if spec.start_image is not None]
        groups: dict[tuple[Activation, str], list[int]] = {}
        for i, p in enumerate(plans):
            if specs[i].start_image is None:
                groups.setdefault((p.activation, p.preset.model_dump_json()), []).append(i)
        chunks: list[tuple[Activation, Preset, list[int]]] = []
        for (act, _), idx in groups.items():
            preset = plans[idx[0]].preset
            size = preset.batch_size()
            chunks += [(act, preset, idx[k : k + size]) for k in range(0, len(idx), size)]

        svd = self.preset.family == "svd"
        total = sum(p.steps * (len(idx) if svd else 1) for _, p, idx in chunks)
        total += sum(plans[i].preset.steps for i in from_image)
        done = 0

        def on_step(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            nonlocal done
            done += 1
            if progress is not None:
                progress(min(1.0, done / total))
            return kwargs

        model = self.load()
        infos: dict[int, ClipInfo] = {}
        for act, preset, idx in chunks:
            self.switcher.apply(act)
            infos.update(
                self._render_chunk(
                    model, preset, [plans[i] for i in idx], [(i, out_paths[i], specs[i].end_frame) for i in idx],
                    on_step,
                )
            )
        for i in from_image:  # one call per scene: each starts from its own frame
            infos[i] = self._render_from_image(plans[i], specs[i], Path(out_paths[i]), on_step)
        return [infos[i] for i in range(len(specs))]

    def _render_from_image(self, plan: SegmentPlan, spec: ClipSpec, out: Path, on_step: Any) -> ClipInfo:
        """Image-to-video: the scene's first frame is `spec.start_image`."""
        from PIL import Image

        assert spec.start_image is not None
        torch, _ = require_torch()
        pipe = self._i2v()
        self.switcher.apply(plan.activation)
        if plan.activation.names and not _shares_denoiser(pipe, self.switcher.pipe) and not self._warned_lora:
            self._warned_lora = True
            logger.warning(
                "preset %s: emotion LoRAs are loaded on the text-to-video model; the separate "
                "image-to-video model renders without them", self.preset.name,
            )  # fmt: skip
        with Image.open(spec.start_image) as img:
            start = img.convert("RGB")
        generator = torch.Generator(device="cpu").manual_seed(plan.seed)
        self.batch_sizes.append(1)
        try:
            with torch.inference_mode():
                video = image_to_video(
                    pipe, plan.preset, plan.prompt, plan.negative_prompt, start, generator, on_step
                )[0]
        except (RuntimeError, ValueError) as err:
            raise GenerationError(
                f"{plan.preset.family} image-to-video failed for preset {plan.preset.name!r}: {err}"
            ) from err
        return _write_clip(video, out, plan.preset.fps, spec.end_frame)

    def draw_keyframe(self, spec: ClipSpec, out_path: Path, reference: Path | None = None) -> Path:
        """Draw the first frame of `spec` (its prompt, its seed: the job's style seed) as a PNG.

        With `reference` (the dreamer's photo) the key frame starts from that photo."""
        from PIL import Image

        plan = self.plan(spec)
        torch, _ = require_torch()
        pipe = self._keyframes()
        self.switcher.apply(plan.activation)
        ref = None
        if reference is not None:
            with Image.open(reference) as img:
                ref = img.convert("RGB")
        generator = torch.Generator(device="cpu").manual_seed(spec.seed)
        try:
            with torch.inference_mode():
                image = draw_keyframe(pipe, plan.preset, plan.prompt, plan.negative_prompt, generator, ref)
        except (RuntimeError, ValueError) as err:
            raise GenerationError(f"drawing the key frame failed for preset {self.preset.name!r}: {err}") from err
        out_path.parent.mkdir(parents=True, exist_ok=True)
        image.save(out_path, format="PNG")
        return out_path

    def _render_chunk(
        self,
        model: LoadedModel,
        preset: Preset,
        plans: list[SegmentPlan],
        outs: list[tuple[int, Path, Path | None]],
        on_step: Any,
    ) -> dict[int, ClipInfo]:
        torch, _ = require_torch()
        generators = [torch.Generator(device="cpu").manual_seed(p.seed) for p in plans]
        self.batch_sizes.append(len(plans))
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                videos = text_to_video(
                    model,
                    preset,
                    [p.prompt for p in plans],
                    [p.negative_prompt for p in plans],
                    generators,
                    on_step,
                )
        except (RuntimeError, ValueError) as err:
            raise GenerationError(
                f"{preset.family} pipeline failed for preset {preset.name!r}: {err}"
            ) from err
        logger.info(
            "rendered %d segment(s) with %s in %.2fs", len(plans), preset.name, time.perf_counter() - started
        )
        infos: dict[int, ClipInfo] = {}
        for (i, path, end_frame), video in zip(outs, videos, strict=True):
            infos[i] = _write_clip(video, Path(path), preset.fps, end_frame)
        return infos

    def render_frames(self, spec: ClipSpec) -> Any:
        """Float frames (F, H, W, 3) of one segment without writing a file (tests, benches)."""
        plan = self.plan(spec)
        model = self.load()
        self.switcher.apply(plan.activation)
        torch, _ = require_torch()
        gen = [torch.Generator(device="cpu").manual_seed(plan.seed)]
        with torch.inference_mode():
            return text_to_video(model, plan.preset, [plan.prompt], [plan.negative_prompt], gen, None)[0]


def _write_clip(video: Any, out: Path, fps: int, end_frame: Path | None) -> ClipInfo:
    """The clip as mp4, and its last frame as PNG when asked (lossless: the next scene starts there)."""
    info = write_mp4(video, out, fps)
    if end_frame is not None:
        save_frame(to_uint8(video[-1]), end_frame)
    return info


def _shares_denoiser(a: Any, b: Any) -> bool:
    """Whether two pipelines run the same denoiser (LoRAs loaded on one act in the other)."""
    if a is b:
        return True
    return any(
        getattr(a, name, None) is not None and getattr(a, name, None) is getattr(b, name, None)
        for name in ("transformer", "unet")
    )


def backend_from_settings(
    preset_name: str,
    presets: Mapping[str, Mapping[str, Any]],
    loras: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> tuple[DiffusersBackend, dict[str, int]]:
    """The backend for `[video] preset`, and the clip shape every ClipSpec should carry.

    Validates the preset and the LoRA table now (before any job starts); loads nothing yet.
    Returns (backend, {"width", "height", "num_frames", "fps"}).
    """
    backend = DiffusersBackend.from_settings(preset_name, presets, loras)
    p = backend.preset
    return backend, {"width": p.width, "height": p.height, "num_frames": p.num_frames, "fps": p.fps}
