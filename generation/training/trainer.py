"""`lora train`: a peft LoRA on the denoiser's attention projections, trained on a prepared dataset.

One `TrainConfig` in, a `TrainResult` out. The loop, in order:
  1. check the dataset's clip shape against the family, and OUT against --resume;
  2. load the preset's pipeline (local files only) and encode the dataset once (cache.py);
  3. add the LoRA (A random, B zero: the run starts from the base model), AdamW, cosine lr with
     warm-up, wrapped by `accelerate` (one process here; `accelerate launch` for several GPUs);
  4. per optimizer step: `grad_accum` micro-batches in a seeded order, noise and timesteps from
     one step RNG, loss per the family's objective, clip the gradient norm, step;
  5. every `checkpoint_every` steps a checkpoint that `--resume` continues from exactly;
  6. the final LoRA in the diffusers format: `[loras.FAMILY.EMOTION] path = OUT` loads it.
On a GPU the base weights are bf16/fp16 with autocast and gradient checkpointing; the LoRA
weights and optimizer stay fp32. `first_loss` / `last_loss` are the *probe loss*: the objective on
fixed noise and timesteps over the first clips, before the first and after the last step (single
training-step losses swing with the random timestep; they are all in training_log.jsonl).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generation.diffusers_backend.families import load_model
from generation.diffusers_backend.loading import pick_dtype, require_torch, resolve_model
from generation.diffusers_backend.presets import Preset
from generation.training.base import TrainingError, check_shape, check_trainable
from generation.training.cache import LatentCache, build_cache, cache_key
from generation.training.checkpoint import (
    LORA_FILE,
    checkpoint_dir,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    rng_state,
    save_checkpoint,
)
from generation.training.dataset import DatasetInfo, load_records
from generation.training.objectives import FamilyObjective, objective_for

logger = logging.getLogger(__name__)

# The attention projections of every family's denoiser (self-, cross- and motion attention).
TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]
# Text length each pipeline's __call__ uses when the preset does not set max_sequence_length.
TEXT_LENGTH = {"wan": 512, "cogvideox": 226, "ltx": 128}
PROBE_CLIPS, PROBE_DRAWS = 8, 4


@dataclass(frozen=True)
class TrainConfig:
    preset: Preset
    emotion: str
    data: Path
    out: Path
    rank: int = 16
    alpha: int | None = None  # default: rank (scale 1.0)
    lr: float = 1e-4
    steps: int | None = None
    epochs: int | None = None
    batch: int = 1
    grad_accum: int = 1
    checkpoint_every: int = 0  # 0: no checkpoints
    resume: bool = False
    seed: int = 0
    warmup: int | None = None  # default: 5% of the steps
    max_grad_norm: float = 1.0
    progress: bool = True

    def run_settings(self) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        return {
            "preset": self.preset.name,
            "family": self.preset.family,
            "model": self.preset.model,
            "emotion": self.emotion,
            "data": str(self.data.resolve()),
            "rank": self.rank,
            "alpha": self.alpha if self.alpha is not None else self.rank,
            "lr": self.lr,
            "steps": self.steps,
            "epochs": self.epochs,
            "batch": self.batch,
            "grad_accum": self.grad_accum,
            "seed": self.seed,
            "warmup": self.warmup,
        }

    def total_steps(self, clips: int, processes: int) -> int:
        if self.steps is not None:
            return self.steps
        assert self.epochs is not None
        per_step = self.batch * self.grad_accum * processes
        return max(1, math.ceil(self.epochs * clips / per_step))


@dataclass
class TrainResult:
    out: Path
    steps: int
    first_loss: float
    last_loss: float
    seconds: float
    seconds_per_step: float
    seconds_per_forward: float  # one forward-only pass of the denoiser on a micro-batch (the probe)
    resumed_from: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "steps": self.steps,
            "first_loss": self.first_loss,
            "last_loss": self.last_loss,
            "seconds": round(self.seconds, 3),
            "seconds_per_step": round(self.seconds_per_step, 5),
            "seconds_per_forward": round(self.seconds_per_forward, 5),
            "resumed_from": self.resumed_from,
            "lora": str(self.out / LORA_FILE),
        }


class DataOrder:
    """An endless stream of clip indices: a fresh seeded permutation every epoch.

    Position k of the stream is a pure function of (seed, k), so a resumed run only needs k.
    """

    def __init__(self, count: int, seed: int) -> None:
        self.count, self.seed = count, seed
        self._epoch, self._perm = -1, list(range(count))

    def at(self, k: int) -> int:
        import numpy as np

        epoch, i = divmod(k, self.count)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = [int(x) for x in np.random.default_rng([self.seed, epoch]).permutation(self.count)]
        return self._perm[i]

    def batch(self, micro: int, rank: int, processes: int, size: int) -> list[int]:
        start = (micro * processes + rank) * size
        return [self.at(start + j) for j in range(size)]


def _check_out(config: TrainConfig) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; refuse to overwrite a run."""
    found = latest_checkpoint(config.out)
    if config.resume:
        if found is None:
            raise TrainingError(f"--resume: {config.out} has no checkpoint to resume from")
        saved = json.loads((found / "state.json").read_text(encoding="utf-8"))["settings"]
        changed = sorted(k for k, v in config.run_settings().items() if saved.get(k) != v)
        if changed:
            diff = ", ".join(f"{k}: {saved.get(k)!r} -> {config.run_settings()[k]!r}" for k in changed)
            raise TrainingError(f"--resume: the run in {config.out} was started with other settings ({diff})")
        return found
    if found is not None or (config.out / "training_log.jsonl").exists():
        raise TrainingError(f"{config.out} already holds a training run; pass --resume or choose another --out")
    return None


def _batch(cache: LatentCache, indices: list[int], device: Any) -> tuple[Any, dict[str, Any]]:
    import torch

    samples = [cache.load(i) for i in indices]
    latents = torch.stack([s["latents"] for s in samples]).to(device)
    text = {k: torch.stack([s["text"][k] for s in samples]).to(device) for k in samples[0]["text"]}
    return latents, text


def probe_loss(
    objective: FamilyObjective, pipe: Any, model: Any, cache: LatentCache, fps: int, seed: int, device: Any
) -> float:
    """The objective on fixed noise and timesteps over the first clips (comparable across steps)."""
    import torch

    gen = torch.Generator("cpu").manual_seed(seed + 7919)
    losses = []
    with torch.no_grad():
        for i in range(min(PROBE_CLIPS, cache.count)):
            latents, text = _batch(cache, [i], device)
            for _ in range(PROBE_DRAWS):
                noise = torch.randn(latents.shape, generator=gen).to(device)
                u = torch.rand(1, generator=gen).to(device)
                losses.append(float(objective.loss(pipe, model, latents, text, noise, u, fps)))
    return sum(losses) / len(losses)


def _lr_schedule(optimizer: Any, warmup: int, total: int) -> Any:
    """Linear warm-up, then cosine decay to zero (diffusers' `get_scheduler("cosine")`)."""
    from diffusers.optimization import get_scheduler

    return get_scheduler("cosine", optimizer, num_warmup_steps=warmup, num_training_steps=total)


def train_lora(config: TrainConfig) -> TrainResult:
    """Run (or resume) one training run; see the module docstring."""
    family = config.preset.family
    check_trainable(family)
    objective = objective_for(family)
    info = DatasetInfo.read(config.data)
    check_shape(family, info.width, info.height, info.frames)
    records = load_records(config.data)
    if config.rank < 1 or config.batch < 1 or config.grad_accum < 1:
        raise TrainingError("--rank, --batch and --grad-accum must be at least 1")
    if (config.steps is None) == (config.epochs is None):
        raise TrainingError("give exactly one of --steps N or --epochs N")
    if (config.steps or 1) < 1 or (config.epochs or 1) < 1:
        raise TrainingError("--steps and --epochs must be at least 1")
    resume_from = _check_out(config)
    config.out.mkdir(parents=True, exist_ok=True)

    torch, _ = require_torch()
    from accelerate import Accelerator
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

    cuda = torch.cuda.is_available() and config.preset.device != "cpu"
    dtype = pick_dtype(config.preset, "cuda" if cuda else "cpu")
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "no")
    accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
    device = accelerator.device

    # 2. pipeline and cached encodings
    pipe = load_model(config.preset, dtype).pipe
    pipe.set_progress_bar_config(disable=True)
    text_length = config.preset.max_sequence_length or TEXT_LENGTH.get(family)
    model_path = resolve_model(config.preset.model, preset_name=config.preset.name, cache_dir=config.preset.cache_dir)
    key = cache_key(model_path, family, info, records, text_length, str(dtype))
    with accelerator.main_process_first():
        cache = build_cache(pipe, objective, config.data, records, key, text_length, device)

    # 3. LoRA, optimizer, schedule
    denoiser = objective.denoiser(pipe)
    denoiser.requires_grad_(False)
    denoiser.to(device)
    torch.manual_seed(config.seed)
    alpha = config.alpha if config.alpha is not None else config.rank
    denoiser.add_adapter(
        LoraConfig(r=config.rank, lora_alpha=alpha, init_lora_weights=True, target_modules=TARGET_MODULES)
    )
    params = [p for p in denoiser.parameters() if p.requires_grad]
    for p in params:  # trainable weights in fp32 even when the base model is half precision
        p.data = p.data.float()
    if cuda and hasattr(denoiser, "enable_gradient_checkpointing"):
        denoiser.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-4)
    total = config.total_steps(len(records), accelerator.num_processes)
    warmup = config.warmup if config.warmup is not None else max(1, total // 20)
    schedule = _lr_schedule(optimizer, min(warmup, total), total)
    order = DataOrder(len(records), config.seed)
    step_rng = torch.Generator("cpu").manual_seed(config.seed * 1009 + accelerator.process_index)

    step, micro, first_loss, resumed = 0, 0, None, None
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from, objective.denoiser_attr)
        set_peft_model_state_dict(denoiser, ckpt.lora)
        optimizer.load_state_dict(ckpt.optimizer)
        schedule.load_state_dict(ckpt.scheduler)
        restore_rng(ckpt.rng, step_rng)
        step, micro, first_loss = ckpt.state["step"], ckpt.state["micro"], ckpt.state["first_loss"]
        resumed = step
        _truncate_log(config.out / "training_log.jsonl", step)
        logger.info("resuming %s from step %d", config.out, step)
    model, optimizer = accelerator.prepare(denoiser, optimizer)

    fps = info.fps
    if first_loss is None:
        first_loss = probe_loss(objective, pipe, model, cache, fps, config.seed, device)

    def write_lora(directory: Path) -> None:
        layers = get_peft_model_state_dict(accelerator.unwrap_model(model))
        objective.save_lora(pipe, directory, layers)

    # 4.-5. the loop
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total, initial=step, desc=f"lora {config.emotion}", unit="step", file=sys.stderr,
        disable=not (config.progress and accelerator.is_main_process),
    )  # fmt: skip
    log_path = config.out / "training_log.jsonl"
    started = time.perf_counter()
    steps_run = 0
    model.train()
    with bar, log_path.open("a", encoding="utf-8") as log:  # closing the bar ends its line, even on ^C
        while step < total:
            losses = []
            for k in range(config.grad_accum):
                indices = order.batch(micro, accelerator.process_index, accelerator.num_processes, config.batch)
                micro += 1
                latents, text = _batch(cache, indices, device)
                noise = torch.randn(latents.shape, generator=step_rng).to(device)
                u = torch.rand(len(indices), generator=step_rng).to(device)
                sync = accelerator.no_sync(model) if k < config.grad_accum - 1 else nullcontext()
                with sync:
                    with accelerator.autocast():
                        loss = objective.loss(pipe, model, latents, text, noise, u, fps)
                    accelerator.backward(loss / config.grad_accum)
                losses.append(loss.detach())
            accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            steps_run += 1
            step_loss = float(accelerator.reduce(torch.stack(losses).mean(), reduction="mean"))
            lr = float(schedule.get_last_lr()[0])
            if accelerator.is_main_process:
                log.write(json.dumps({"step": step, "loss": step_loss, "lr": lr}) + "\n")
                log.flush()
            bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{lr:.2e}")
            bar.update()
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    state = {"step": step, "micro": micro, "first_loss": first_loss, "settings": config.run_settings()}
                    save_checkpoint(
                        checkpoint_dir(config.out, step), write_lora=write_lora, optimizer=optimizer,
                        scheduler=schedule, rng=rng_state(step_rng), state=state,
                    )  # fmt: skip
    seconds = time.perf_counter() - started
    accelerator.wait_for_everyone()

    # 6. the result
    probe_started = time.perf_counter()
    last_loss = probe_loss(objective, pipe, model, cache, fps, config.seed, device)
    forward = (time.perf_counter() - probe_started) / (min(PROBE_CLIPS, cache.count) * PROBE_DRAWS)
    if accelerator.is_main_process:
        write_lora(config.out)
        (config.out / "train_config.json").write_text(
            json.dumps({**config.run_settings(), "total_steps": total, "warmup": warmup}, indent=1), encoding="utf-8"
        )
    result = TrainResult(
        out=config.out,
        steps=step,
        first_loss=first_loss,
        last_loss=last_loss,
        seconds=seconds,
        seconds_per_step=seconds / max(1, steps_run),
        seconds_per_forward=forward,
        resumed_from=resumed,
    )
    accelerator.end_training()
    return result


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint a run resumes from (they will be redone)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def registry_snippet(family: str, emotion: str, out: Path) -> str:
    """The settings lines that make the service render with the trained LoRA."""
    return f'[loras.{family}.{emotion}]\npath = "{out.resolve()}"\nweight = 1.0\n'

