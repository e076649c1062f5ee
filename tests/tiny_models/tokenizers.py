"""Tokenizers for tiny text encoders, made locally (nothing downloaded).

CLIP: a byte-level BPE vocab.json (every byte, with and without `</w>`) and an empty merges.txt.
T5/UMT5: a `tokenizers` Unigram model over letters and digits saved as tokenizer.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLIP_VOCAB_SIZE = 514  # 256 bytes + 256 bytes</w> + bos + eos


def _bytes_to_unicode() -> list[str]:
    """The byte -> printable character table of GPT-2/CLIP byte-level BPE."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def make_clip_tokenizer(directory: Path, model_max_length: int = 16) -> Any:
    """Write vocab.json + merges.txt + tokenizer_config.json and load a CLIPTokenizer from them."""
    from transformers import CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = 512
    vocab["<|endoftext|>"] = 513
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = {"model_max_length": model_max_length, "tokenizer_class": "CLIPTokenizer"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return CLIPTokenizer.from_pretrained(directory)


def make_t5_tokenizer(directory: Path, model_max_length: int = 16) -> Any:
    """Write a Unigram tokenizer.json (T5 style: `</s>` appended, `<pad>` = 0) and load it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import AutoTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz0123456789.,"
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in letters] + [("▁" + c, -2.5) for c in letters[:26]]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    config = {
        "model_max_length": model_max_length,
        "tokenizer_class": "T5Tokenizer",
        "extra_ids": 0,
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return AutoTokenizer.from_pretrained(directory)
