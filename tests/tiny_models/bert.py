"""A tiny random BERT (2 layers, hidden 32) with a WordPiece vocab written at test time.

Used to run the real transformers and detoxify code paths offline: no weights are downloaded,
everything is built from a config with a fixed seed and saved to a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_WORD_TEXT = (
    "i was in a the dream dark forest monster chased me ran away happy sad angry fly flew sky sea "
    "you are stupid idiot hate kill love nice good bad night friend school woke up and of to it"
)
_WORDS = _WORD_TEXT.split()
_PIECES = ["##s", "##ed", "##ing", "##ly", "##er"]
_CHARS = list("abcdefghijklmnopqrstuvwxyz.,!?'")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS, *_PIECES, *_CHARS, *("##" + c for c in _CHARS)]


def write_vocab(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "vocab.txt"
    path.write_text("\n".join(dict.fromkeys(VOCAB)) + "\n", encoding="utf-8")
    return path


def tiny_bert_config(num_labels: int = 2, **kw: Any) -> Any:
    from transformers import BertConfig

    options: dict[str, Any] = {"num_labels": num_labels, **kw}
    return BertConfig(
        vocab_size=len(dict.fromkeys(VOCAB)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        **options,
    )


def save_tokenizer(directory: Path) -> Any:
    from transformers import BertTokenizer

    tokenizer = BertTokenizer(vocab_file=str(write_vocab(directory)), do_lower_case=True, model_max_length=64)
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_classifier(directory: Path, labels: list[str], seed: int = 0, **config_kw: Any) -> Any:
    """A random BertForSequenceClassification with `labels`, saved with its tokenizer in `directory`."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = tiny_bert_config(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        **config_kw,
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    save_tokenizer(directory)
    return model
