"""Per family: what the denoiser is, how clips and captions become its inputs, and its loss.

Two objectives, the ones each family's pipeline samples with:
  flow matching (Wan, LTX)   x_t = (1 - s) x0 + s n, target n - x0, timestep 1000 s, with s drawn
                             from the scheduler's own shifted distribution (Wan's `shift`, LTX's
                             sequence-length dependent `mu`), as finetrainers does;
  noise prediction (AnimateDiff, CogVideoX)
                             x_t = sqrt(a_t) x0 + sqrt(1 - a_t) n from the scheduler's
                             alphas_cumprod; target n (epsilon) or sqrt(a_t) n - sqrt(1 - a_t) x0
                             (v_prediction, CogVideoX's real checkpoints), per `prediction_type`.
Latents are what the pipeline's denoising loop holds (normalised and shaped as it expects), so a
LoRA trained here is the LoRA the pipeline renders with. Every tensor function takes its noise and
timestep draw `u` in (0, 1) from the caller: the loss is a pure function of them (the trainer's
RNG makes them; the probe loss fixes them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generation.training.base import TrainingError, check_trainable

Tensors = dict[str, Any]  # name -> torch.Tensor, one sample (no batch axis) in the cache


@dataclass(frozen=True)
class FamilyObjective:
    """How one family trains. `denoiser_attr` names the pipeline component that gets the LoRA."""

    family: str
    denoiser_attr: str  # "transformer" or "unet"
    lora_arg: str  # keyword of `Pipeline.save_lora_weights` for its layers
    objective: str  # "flow" or "noise"

    def denoiser(self, pipe: Any) -> Any:
        return getattr(pipe, self.denoiser_attr)

    # -- encoding (once per dataset, cached) ------------------------------------------------

    def encode_video(self, pipe: Any, video: Any) -> Any:
        """(B, 3, F, H, W) in [-1, 1] -> latents as the denoising loop holds them (batch first)."""
        vae = pipe.vae
        video = video.to(vae.device, vae.dtype)
        if self.family == "wan":
            lat = vae.encode(video).latent_dist.mode()
            mean = _channel_view(vae.config.latents_mean, lat)
            std = _channel_view(vae.config.latents_std, lat)
            return (lat - mean) / std
        if self.family == "animatediff":  # an image VAE, frame by frame
            b, c, f, h, w = video.shape
            frames = video.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
            lat = vae.encode(frames).latent_dist.mode() * vae.config.scaling_factor
            return lat.reshape(b, f, *lat.shape[1:]).permute(0, 2, 1, 3, 4)
        if self.family == "cogvideox":  # the transformer takes (B, F, C, H, W)
            lat = vae.encode(video).latent_dist.mode() * vae.config.scaling_factor
            return lat.permute(0, 2, 1, 3, 4)
        if self.family == "ltx":  # normalised, kept unpacked (B, C, F, H, W); packed per step
            lat = vae.encode(video).latent_dist.mode()
            return pipe._normalize_latents(lat, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        raise TrainingError(f"no encoder for {self.family}")  # pragma: no cover - check_trainable

    def encode_text(self, pipe: Any, captions: list[str], max_sequence_length: int | None) -> list[Tensors]:
        """Captions -> one dict of conditioning tensors per caption (what the denoiser reads)."""
        device = pipe.text_encoder.device
        length = {"max_sequence_length": max_sequence_length} if max_sequence_length else {}
        if self.family == "animatediff":
            embeds, _ = pipe.encode_prompt(captions, device, 1, False)
            return [{"embeds": e} for e in embeds]
        if self.family == "ltx":
            embeds, mask, _, _ = pipe.encode_prompt(
                captions, do_classifier_free_guidance=False, device=device, **length
            )
            return [{"embeds": e, "mask": m} for e, m in zip(embeds, mask, strict=True)]
        embeds, _ = pipe.encode_prompt(captions, do_classifier_free_guidance=False, device=device, **length)
        return [{"embeds": e} for e in embeds]

    # -- one training step ------------------------------------------------------------------

    def loss(self, pipe: Any, model: Any, latents: Any, text: Mapping[str, Any], noise: Any, u: Any, fps: int) -> Any:
        """Mean squared error of the denoiser's prediction for a batch; `u` (B,) in (0, 1).

        `model` is the denoiser to call (wrapped for distributed training or not).
        """
        import torch

        if self.objective == "flow":
            sigma = flow_sigmas(pipe.scheduler.config, u, _sequence_length(self.family, latents))
            s = sigma.view(-1, *([1] * (latents.ndim - 1)))
            noisy = (1.0 - s) * latents + s * noise
            target = noise - latents
            pred = self._call(pipe, model, noisy, sigma * 1000.0, text, fps)
        else:
            acp = torch.as_tensor(pipe.scheduler.alphas_cumprod, dtype=torch.float32, device=latents.device)
            steps = int(pipe.scheduler.config.num_train_timesteps)
            t = (u * steps).long().clamp(0, steps - 1)
            a = acp[t].view(-1, *([1] * (latents.ndim - 1)))
            noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
            kind = pipe.scheduler.config.get("prediction_type", "epsilon")
            if kind == "v_prediction":
                target = a.sqrt() * noise - (1 - a).sqrt() * latents
            elif kind == "epsilon":
                target = noise
            else:
                raise TrainingError(f"{self.family}: prediction_type {kind!r} is not supported for training")
            pred = self._call(pipe, model, noisy, t, text, fps)
        return torch.nn.functional.mse_loss(pred.float(), target.float())

    def _call(self, pipe: Any, model: Any, noisy: Any, timestep: Any, text: Mapping[str, Any], fps: int) -> Any:
        """The denoiser's prediction, called exactly as the family's pipeline calls it."""
        denoiser = self.denoiser(pipe)  # the unwrapped module: config and dtype
        dtype = next(denoiser.parameters()).dtype
        embeds = text["embeds"].to(dtype)
        if self.family == "wan":
            return model(
                hidden_states=noisy.to(dtype), timestep=timestep, encoder_hidden_states=embeds, return_dict=False
            )[0]
        if self.family == "animatediff":  # the pipeline repeats the text per frame before the UNet
            embeds = embeds.repeat_interleave(noisy.shape[2], dim=0)
            return model(noisy.to(dtype), timestep, encoder_hidden_states=embeds).sample
        if self.family == "cogvideox":
            _, f, _, h, w = noisy.shape
            spatial = pipe.vae_scale_factor_spatial
            rope = None
            if denoiser.config.use_rotary_positional_embeddings:
                rope = pipe._prepare_rotary_positional_embeddings(h * spatial, w * spatial, f, noisy.device)
            return model(
                hidden_states=noisy.to(dtype),
                encoder_hidden_states=embeds,
                timestep=timestep,
                image_rotary_emb=rope,
                return_dict=False,
            )[0]
        if self.family == "ltx":
            _, _, f, h, w = noisy.shape
            cfg = denoiser.config
            packed = pipe._pack_latents(noisy, cfg.patch_size, cfg.patch_size_t)
            pred = model(
                hidden_states=packed.to(dtype),
                encoder_hidden_states=embeds,
                timestep=timestep,
                encoder_attention_mask=text["mask"],
                num_frames=f,
                height=h,
                width=w,
                rope_interpolation_scale=(
                    pipe.vae_temporal_compression_ratio / fps,
                    pipe.vae_spatial_compression_ratio,
                    pipe.vae_spatial_compression_ratio,
                ),
                return_dict=False,
            )[0]
            return pipe._unpack_latents(pred, f, h, w, cfg.patch_size, cfg.patch_size_t)
        raise TrainingError(f"no denoiser call for {self.family}")  # pragma: no cover

    def save_lora(self, pipe: Any, out_dir: Any, layers: Mapping[str, Any]) -> None:
        """Write `pytorch_lora_weights.safetensors` in the diffusers format the registry loads."""
        type(pipe).save_lora_weights(str(out_dir), **{self.lora_arg: dict(layers)}, safe_serialization=True)


OBJECTIVES: dict[str, FamilyObjective] = {
    "wan": FamilyObjective("wan", "transformer", "transformer_lora_layers", "flow"),
    "ltx": FamilyObjective("ltx", "transformer", "transformer_lora_layers", "flow"),
    "cogvideox": FamilyObjective("cogvideox", "transformer", "transformer_lora_layers", "noise"),
    "animatediff": FamilyObjective("animatediff", "unet", "unet_lora_layers", "noise"),
}


def objective_for(family: str) -> FamilyObjective:
    check_trainable(family)
    return OBJECTIVES[family]


def flow_sigmas(config: Mapping[str, Any], u: Any, sequence_length: int) -> Any:
    """Noise levels from uniform draws, shifted as the family's FlowMatch scheduler shifts them."""
    import torch

    if config.get("use_dynamic_shifting"):
        mu = _ltx_mu(config, sequence_length)
        return math.exp(mu) / (math.exp(mu) + (1.0 / u.clamp_min(1e-5) - 1.0))
    shift = float(config.get("shift", 1.0))
    return torch.as_tensor(shift * u / (1.0 + (shift - 1.0) * u))


def _ltx_mu(config: Mapping[str, Any], seq_len: int) -> float:
    """`calculate_shift` of the flux/LTX pipelines: mu grows linearly with the token count."""
    base_len = config.get("base_image_seq_len", 256)
    max_len = config.get("max_image_seq_len", 4096)
    base, top = config.get("base_shift", 0.5), config.get("max_shift", 1.15)
    m = (top - base) / (max_len - base_len)
    return float(seq_len * m + (base - m * base_len))


def _sequence_length(family: str, latents: Any) -> int:
    """Video tokens per sample (LTX patch size 1): frames x height x width of the latent."""
    if family == "cogvideox":
        return int(latents.shape[1] * latents.shape[3] * latents.shape[4])
    return int(latents.shape[2] * latents.shape[3] * latents.shape[4])


def _channel_view(values: Any, like: Any) -> Any:
    import torch

    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1, 1)
