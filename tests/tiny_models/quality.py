"""Tiny random CLIP and VideoMAE checkpoints for the quality scorers, saved at test time.

Each builder writes a folder `from_pretrained` can load (model + processor) and returns it.
"""

from __future__ import annotations

from pathlib import Path

from tests.tiny_models.tokenizers import CLIP_VOCAB_SIZE, make_clip_tokenizer

IMAGE = 16  # pixels per side seen by the tiny models


def build_clip(root: Path, seed: int = 0) -> Path:
    """A 2-layer CLIP (text and vision, 32 wide, 16 px images) with its processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    out = root / "tiny-clip"
    torch.manual_seed(seed)
    common = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    text = {
        **common,
        "vocab_size": CLIP_VOCAB_SIZE,
        "max_position_embeddings": 32,
        "bos_token_id": CLIP_VOCAB_SIZE - 2,
        "eos_token_id": CLIP_VOCAB_SIZE - 1,
        "pad_token_id": CLIP_VOCAB_SIZE - 1,
    }
    vision = {**common, "image_size": IMAGE, "patch_size": 8}
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32))
    model.save_pretrained(out)
    tokenizer = make_clip_tokenizer(root / "tiny-clip-tokenizer", model_max_length=16)
    images = CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
    return out


def build_videomae(root: Path, seed: int = 0) -> Path:
    """A 2-layer VideoMAE (4 frames, 16 px, 32 wide, mean-pooled) with its image processor."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEImageProcessor, VideoMAEModel

    out = root / "tiny-videomae"
    torch.manual_seed(seed)
    config = VideoMAEConfig(
        image_size=IMAGE,
        patch_size=8,
        num_frames=4,
        tubelet_size=2,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        use_mean_pooling=True,
    )
    VideoMAEModel(config).save_pretrained(out)
    processor = VideoMAEImageProcessor(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}
    )
    processor.save_pretrained(out)
    return out
