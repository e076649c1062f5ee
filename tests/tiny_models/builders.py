"""Tiny random pipelines for every family, built from configs the way diffusers' own tests do.

Each builder saves a pipeline with `save_pretrained` into a directory and returns its path; tests
then load it back through the project's loading code with HF_HUB_OFFLINE=1. Two layers, 16-64 px,
9 frames, 2 steps: seconds on one CPU thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tiny_models.tokenizers import CLIP_VOCAB_SIZE, make_clip_tokenizer, make_t5_tokenizer

T5_VOCAB_SIZE = 96  # >= the Unigram tokenizer's 68 pieces


def _clip_text_encoder() -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=CLIP_VOCAB_SIZE - 2,
            eos_token_id=CLIP_VOCAB_SIZE - 1,
            pad_token_id=CLIP_VOCAB_SIZE - 1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=CLIP_VOCAB_SIZE,
            max_position_embeddings=32,
            projection_dim=32,
        )
    )


def _umt5_text_encoder() -> Any:
    from transformers import UMT5Config, UMT5EncoderModel

    return UMT5EncoderModel(
        UMT5Config(
            vocab_size=T5_VOCAB_SIZE,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=16,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def _t5_text_encoder() -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config(
            vocab_size=T5_VOCAB_SIZE,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=16,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def _save_t5_pipeline(pipeline_cls: Any, directory: Path, name: str, transformer: Any, vae: Any, scheduler: Any) -> Path:
    """Add a tiny T5 text encoder and tokenizer to a transformer + VAE, save the pipeline as `name`."""
    import torch

    torch.manual_seed(0)
    pipe: Any = pipeline_cls(
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=_t5_text_encoder(),
        tokenizer=make_t5_tokenizer(directory / f"_tok_{name}"),
    )
    out = directory / name
    pipe.save_pretrained(out)
    return out


def build_sd(directory: Path) -> Path:
    """A tiny Stable Diffusion 1.5-shaped pipeline (AnimateDiff base, SVD key frames)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=2,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
        layers_per_block=1,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False, steps_offset=1
    )
    torch.manual_seed(0)
    text_encoder = _clip_text_encoder()
    tokenizer = make_clip_tokenizer(directory / "_tok", model_max_length=32)
    pipe: Any = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = directory / "sd"
    pipe.save_pretrained(out)
    return out


def build_motion_adapter(directory: Path) -> Path:
    """A tiny AnimateDiff MotionAdapter matching `build_sd`'s UNet."""
    import torch
    from diffusers import MotionAdapter

    torch.manual_seed(0)
    adapter: Any = MotionAdapter(
        block_out_channels=(16, 32),
        motion_layers_per_block=1,
        motion_norm_num_groups=2,
        motion_num_attention_heads=2,
        motion_max_seq_length=32,
    )
    out = directory / "motion_adapter"
    adapter.save_pretrained(out)
    return out


def build_wan(directory: Path) -> Path:
    """A tiny Wan 2.1 text-to-video pipeline (diffusers tests' config, local UMT5 tokenizer)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(0)
    text_encoder = _umt5_text_encoder()
    tokenizer = make_t5_tokenizer(directory / "_tok_t5")
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    pipe: Any = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )
    out = directory / "wan"
    pipe.save_pretrained(out)
    return out


def save_tiny_lora(family: str, pipeline_dir: Path, out_dir: Path, seed: int, rank: int = 4) -> Path:
    """A random LoRA (`init_lora_weights=False`) for the family's denoiser, saved in diffusers format.

    Returns the directory holding `pytorch_lora_weights.safetensors`.
    """
    import torch
    from diffusers import (
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
        LTXPipeline,
        LTXVideoTransformer3DModel,
        StableDiffusionPipeline,
        UNet2DConditionModel,
        WanPipeline,
        WanTransformer3DModel,
    )
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    spec: dict[str, tuple[Any, Any, str, str]] = {
        # SD LoRAs serve AnimateDiff (its UNet shares the SD attention names) and SVD key frames.
        "sd": (UNet2DConditionModel, StableDiffusionPipeline, "unet", "unet_lora_layers"),
        "wan": (WanTransformer3DModel, WanPipeline, "transformer", "transformer_lora_layers"),
        "ltx": (LTXVideoTransformer3DModel, LTXPipeline, "transformer", "transformer_lora_layers"),
        "cogvideox": (
            CogVideoXTransformer3DModel,
            CogVideoXPipeline,
            "transformer",
            "transformer_lora_layers",
        ),
    }
    model_cls, pipe_cls, subfolder, arg = spec[family]
    model = model_cls.from_pretrained(pipeline_dir, subfolder=subfolder)
    torch.manual_seed(seed)
    config = LoraConfig(
        r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False
    )
    model.add_adapter(config)
    layers = get_peft_model_state_dict(model)
    pipe_cls.save_lora_weights(out_dir, **{arg: layers})
    return out_dir


def build_ltx(directory: Path) -> Path:
    """A tiny LTX-Video pipeline (32 px, 8k+1 frames)."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    torch.manual_seed(0)
    vae: Any = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        layers_per_block=(1, 1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return _save_t5_pipeline(LTXPipeline, directory, "ltx", transformer, vae, FlowMatchEulerDiscreteScheduler())


def build_cogvideox(directory: Path) -> Path:
    """A tiny CogVideoX pipeline (16 px, 4k+1 frames)."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4,
        attention_head_dim=8,
        in_channels=4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return _save_t5_pipeline(CogVideoXPipeline, directory, "cogvideox", transformer, vae, DDIMScheduler())


def build_svd(directory: Path) -> Path:
    """A tiny Stable Video Diffusion (image-to-video) pipeline, 32 px."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 32),
        layers_per_block=1,
        sample_size=16,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=2,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        trained_betas=None,
        use_karras_sigmas=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
        layers_per_block=1,
    )
    torch.manual_seed(0)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,  # the pipeline always resizes the key frame to 224 for CLIP
            intermediate_size=37,
            patch_size=32,
        )
    )
    pipe: Any = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
    )
    out = directory / "svd"
    pipe.save_pretrained(out)
    return out


def _tiny_clip_vision(hidden: int, image_size: int, patch_size: int) -> Any:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    return CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=hidden,
            projection_dim=hidden,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=image_size,
            intermediate_size=16,
            patch_size=patch_size,
        )
    )


def build_wan_i2v(directory: Path) -> Path:
    """A tiny Wan 2.1 image-to-video pipeline: noise, image latents and mask in (36 channels), a CLIP
    image encoder for the start frame (diffusers tests' config, local UMT5 tokenizer)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPImageProcessor

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(0)
    text_encoder = _umt5_text_encoder()
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=4,
    )
    torch.manual_seed(0)
    pipe: Any = WanImageToVideoPipeline(
        tokenizer=make_t5_tokenizer(directory / "_tok_wan_i2v"),
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_encoder=_tiny_clip_vision(hidden=4, image_size=32, patch_size=1),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
    )
    out = directory / "wan_i2v"
    pipe.save_pretrained(out)
    return out


def build_cogvideox_i2v(directory: Path) -> Path:
    """A tiny CogVideoX image-to-video pipeline (16 px, 4k+1 frames): image latents are concatenated
    to the noise, so the transformer takes twice the VAE's latent channels."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,  # RoPE needs a head size divisible by 16
        in_channels=8,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return _save_t5_pipeline(
        CogVideoXImageToVideoPipeline, directory, "cogvideox_i2v", transformer, vae, DDIMScheduler()
    )
