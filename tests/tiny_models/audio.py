"""Tiny random speech models, built from configs and saved at test time (nothing downloaded).

Whisper: 1 encoder + 1 decoder layer of width 16, 80 mel bins, and a byte-level BPE tokenizer
whose only generatable tokens are Korean words, so whatever the random model "hears" decodes to
Korean text a diary can be made of. VITS: 1 layer of width 16 over a letter vocabulary.

Fixtures (session-scoped, import the ones you use): `tiny_whisper`, `tiny_vits` (model folders).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WHISPER_WORDS = ("꿈", "에서", "나는", "바다", "위를", "날았다", "고래", "가", "나타났다", "집", "엄마", "하늘")
WHISPER_SPECIALS = (
    "<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|ko|>", "<|translate|>", "<|transcribe|>",
    "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>",
)  # fmt: skip


def _byte_table() -> dict[int, str]:
    """GPT-2's byte-level BPE alphabet: byte value -> the printable character standing for it."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 256
    for b in range(256):
        if b not in table:
            table[b] = chr(extra)
            extra += 1
    return table


def build_tiny_whisper(directory: Path, seed: int = 0) -> Path:
    """Save a random WhisperForConditionalGeneration + WhisperProcessor into `directory`."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    directory.mkdir(parents=True, exist_ok=True)
    table = _byte_table()

    def byte_level(text: str) -> str:
        return "".join(table[b] for b in text.encode("utf-8"))

    vocab = {table[b]: b for b in range(256)}
    for word in WHISPER_WORDS:
        vocab.setdefault(byte_level(" " + word), len(vocab))
    for special in WHISPER_SPECIALS:
        vocab[special] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    eot = "<|endoftext|>"
    tokenizer = WhisperTokenizer(
        str(directory / "vocab.json"), str(directory / "merges.txt"),
        unk_token=eot, bos_token=eot, eos_token=eot, pad_token=eot,
    )  # fmt: skip
    tokenizer.add_special_tokens({"additional_special_tokens": list(WHISPER_SPECIALS[1:])})
    ids = {s: vocab[s] for s in WHISPER_SPECIALS}
    config = WhisperConfig(
        vocab_size=len(vocab), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_source_positions=1500, max_target_positions=64, pad_token_id=ids[eot], bos_token_id=ids[eot],
        eos_token_id=ids[eot], decoder_start_token_id=ids["<|startoftranscript|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    # only the Korean words may be generated (and the end): bytes and control tokens are suppressed
    words = {vocab[byte_level(" " + w)] for w in WHISPER_WORDS}
    suppressed = [i for i in range(len(vocab)) if i not in words and i != ids[eot]]
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids[eot], pad_token_id=ids[eot],
        bos_token_id=ids[eot], is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|ko|>": ids["<|ko|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], max_length=64,
        suppress_tokens=suppressed, begin_suppress_tokens=[ids[eot]],
    )  # fmt: skip
    model.save_pretrained(directory)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(
        directory
    )
    return directory


def build_tiny_vits(directory: Path, seed: int = 0) -> Path:
    """Save a random VitsModel + VitsTokenizer (letters, space, punctuation) into `directory`."""
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    symbols = ["<pad>", *" abcdefghijklmnopqrstuvwxyz'.,"]
    (directory / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(symbols)}), encoding="utf-8")
    VitsTokenizer(str(directory / "vocab.json"), language="eng", add_blank=True, phonemize=False).save_pretrained(
        directory
    )
    config = VitsConfig(
        vocab_size=len(symbols), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, depth_separable_num_layers=1,
        sampling_rate=16000,
    )  # fmt: skip
    torch.manual_seed(seed)
    VitsModel(config).eval().save_pretrained(directory)
    return directory


@pytest.fixture(scope="session", name="tiny_whisper")
def tiny_whisper_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


@pytest.fixture(scope="session", name="tiny_vits")
def tiny_vits_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vits(tmp_path_factory.mktemp("tiny-vits"))
