"""Fine-tune e5's top layers on the policy's rows, cross-fitted: the second reading's vector.

`cross_fitted` gives every training row a vector from a model that never saw the row's fold
(so the heads, their weights and their calibration above it are chosen on honest vectors, as
with the frozen encoder), and the tuned layers of one more model fit on every row, which the
service reads (`agent.e5_tuned.TunedE5Encoder`).

How it trains (measured in `bench/e5_finetune.py` on two grouped folds of these rows: the top
4 layers, 3 epochs, lifted the mean recall at 0.1 % benign from 0.80/0.82 to 0.83/0.87):
- the token states entering the first tuned layer are computed once (the lower layers stay
  frozen), then each model trains the top `LAYERS` layers and a linear head of one logit per
  category (binary cross-entropy, positives weighted up to the negatives' count);
- at most `PER_GROUP` frames of a written scene train (its frames say the same thing), with
  `NEGATIVES` of the everyday neighbour comments as extra negatives (never the everyday
  comments the policy calibrates on);
- AdamW, linear warm-up over 6 % of the steps then linear decay, gradients clipped at 1, the
  head initialised from logistic regressions on the frozen vectors.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.encoder import e5_text

log = logging.getLogger(__name__)

LAYERS = 4
EPOCHS = 3
LR = 3e-5
HEAD_LR = 1e-3
BATCH = 32
DROPOUT = 0.1
PER_GROUP = 3
NEGATIVES = 3000
SEED = 9
WINDOWS = 50  # batches of similar length: sort within windows of this many batches


@dataclass
class States:
    """Token states entering layer `first` of every text: rows `offsets[i]:offsets[i + 1]` of `flat`."""

    flat: Any  # torch.Tensor (tokens, H)
    offsets: np.ndarray
    first: int

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def base_model(dropout: float = DROPOUT) -> Any:
    from agent.e5_torch import E5Model

    return E5Model.from_file(dropout=dropout)


def lower_states(model: Any, texts: Sequence[str], first: int, batch: int = 64) -> States:
    """The states after the embeddings and layers 0..first-1 of each text's `e5_text` with the
    query prefix (no gradients)."""
    import torch

    ids = [model.tokenizer.encode(e5_text(t)) for t in texts]
    lens = np.array([len(w) for w in ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    flat = torch.empty((int(offsets[-1]), model.cfg.H), dtype=torch.float32)
    order = np.argsort(lens, kind="stable")
    model.eval()
    with torch.no_grad():
        for a in range(0, len(order), batch):
            chunk = order[a : a + batch]
            b_ids, mask = model.batch([ids[j] for j in chunk])
            x = model.embeddings(b_ids)
            for layer in model.layers[:first]:
                x = layer(x, mask[:, None, None, :])
            for r, j in enumerate(chunk):
                flat[offsets[j] : offsets[j + 1]] = x[r, : lens[j]]
    return States(flat, offsets, first)


def _padded(states: States, idx: np.ndarray) -> tuple[Any, Any]:
    import torch

    lens = states.lengths
    width = int(lens[idx].max())
    x = torch.zeros((len(idx), width, states.flat.shape[1]))
    mask = torch.zeros((len(idx), width), dtype=torch.bool)
    for r, j in enumerate(idx):
        x[r, : lens[j]] = states.flat[states.offsets[j] : states.offsets[j + 1]]
        mask[r, : lens[j]] = True
    return x, mask


def _pooled(model: Any, states: States, idx: np.ndarray) -> Any:
    import torch.nn.functional as F

    x, mask = _padded(states, idx)
    for layer in model.layers[states.first :]:
        x = layer(x, mask[:, None, None, :])
    return F.normalize(model.pool(x, mask), dim=-1)


def vectors(model: Any, states: States, idx: np.ndarray, batch: int = 64) -> np.ndarray:
    """Unit vectors of the texts `idx` through the model's current top layers (eval mode)."""
    import torch

    model.eval()
    out = np.zeros((len(idx), model.cfg.H), dtype=np.float32)
    order = np.argsort(states.lengths[idx], kind="stable")
    with torch.no_grad():
        for a in range(0, len(order), batch):
            sel = order[a : a + batch]
            out[sel] = _pooled(model, states, idx[sel]).numpy()
    return out


def top_layers(model: Any, first: int) -> dict[str, Any]:
    """A copy of the state of layers `first`.. (`layers.<i>.<name>` -> tensor)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith("layers.") and int(k.split(".")[1]) >= first}


def tune(
    model: Any, states: States, idx: np.ndarray, y: np.ndarray, frozen: np.ndarray, *, epochs: int = EPOCHS, seed: int = SEED,
    label: str = "", losses: list[float] | None = None,
) -> dict[str, Any]:
    """Train the layers from `states.first` on (and a fresh head) on the texts `idx` with labels
    `y` (len(idx), categories); `frozen`: those texts' frozen e5 vectors (the head's start).
    Returns the tuned layers' state; the model keeps it. `losses` collects each epoch's mean loss."""
    import torch
    import torch.nn.functional as F
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.set_trainable(last_layers=model.cfg.NL - states.first)
    head = torch.nn.Linear(model.cfg.H, y.shape[1])
    with torch.no_grad():
        for k in range(y.shape[1]):
            if 0 < y[:, k].sum() < len(y):
                lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit(frozen, y[:, k])
                head.weight[k] = torch.from_numpy(lr.coef_[0]).float()
                head.bias[k] = float(lr.intercept_[0])
            else:
                head.weight[k].zero_()
                head.bias[k] = 0.0
    positives = y.sum(0)
    pos_weight = torch.tensor((len(y) - positives) / np.maximum(positives, 1), dtype=torch.float32)
    params = [p for p in model.layers[states.first :].parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": params, "lr": LR, "weight_decay": 0.01}, {"params": list(head.parameters()), "lr": HEAD_LR, "weight_decay": 0.0}]
    )
    n_batches = (len(idx) + BATCH - 1) // BATCH
    total = n_batches * epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    targets = torch.tensor(y, dtype=torch.float32)
    lens = states.lengths[idx]
    for epoch in range(epochs):
        model.train()
        tick = time.monotonic()
        perm = rng.permutation(len(idx))
        batches = []
        for a in range(0, len(perm), BATCH * WINDOWS):
            window = perm[a : a + BATCH * WINDOWS]
            window = window[np.argsort(lens[window], kind="stable")]
            batches += [window[b : b + BATCH] for b in range(0, len(window), BATCH)]
        rng.shuffle(batches)  # type: ignore[arg-type]
        batch_losses = []
        for sel in batches:
            loss = F.binary_cross_entropy_with_logits(head(_pooled(model, states, idx[sel])), targets[sel], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params + list(head.parameters()), 1.0)
            opt.step()
            sched.step()
            batch_losses.append(loss.item())
        if losses is not None:
            losses.append(float(np.mean(batch_losses)))
        log.info("e5 tuning %s: epoch %d/%d, %d batches, mean loss %.4f (%.0fs)", label, epoch + 1, epochs, len(batches),
                 float(np.mean(batch_losses)), time.monotonic() - tick)
    model.eval()
    model.set_trainable(last_layers=0)
    return top_layers(model, states.first)


def training_rows(groups: Sequence[str], per_group: int = PER_GROUP, seed: int = SEED) -> np.ndarray:
    """Indices keeping at most `per_group` rows of each group (drawn with a fixed seed), in order."""
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    rng = random.Random(seed)
    kept = [i for g in by_group for i in (by_group[g] if len(by_group[g]) <= per_group else rng.sample(by_group[g], per_group))]
    return np.array(sorted(kept), dtype=np.int64)


@dataclass
class CrossFitted:
    oof: np.ndarray  # (rows, H): each row's vector from the model that did not train on its fold
    layers: dict[str, Any]  # the tuned layers of the model fit on every row
    first: int
    notes: dict[str, Any]


def cross_fitted(
    texts: Sequence[str], labels: np.ndarray, groups: Sequence[str], fold_of: np.ndarray, negatives: Sequence[str],
    *, layers: int = LAYERS, epochs: int = EPOCHS, threads: int = 1, model: Any = None,
) -> CrossFitted:
    """Out-of-fold tuned vectors of `texts` (folds `fold_of`) and the tuned layers fit on them all;
    `negatives` train as rows of no category. `model`: the e5 to tune (default the wheel's; it is
    left holding the last fit, on every row)."""
    import torch

    torch.set_num_threads(threads)
    started = time.monotonic()
    model = model if model is not None else base_model()
    first = model.cfg.NL - layers
    base = top_layers(model, first)
    n = len(texts)
    states = lower_states(model, list(texts) + list(negatives), first)
    frozen = vectors(model, states, np.arange(n + len(negatives)))
    log.info("e5 tuning: states entering layer %d for %d texts (%.0fs)", first, n + len(negatives), time.monotonic() - started)
    kept = training_rows(groups)
    y_all = np.concatenate([labels.astype(np.int64), np.zeros((len(negatives), labels.shape[1]), dtype=np.int64)])
    extra = np.arange(n, n + len(negatives))
    oof = np.zeros((n, model.cfg.H), dtype=np.float32)
    folds = sorted(set(int(f) for f in fold_of))
    for f in (*folds, None):
        model.load_state_dict(base, strict=False)
        train = np.concatenate([kept[fold_of[kept] != f] if f is not None else kept, extra])
        layers_state = tune(model, states, train, y_all[train], frozen[train], epochs=epochs,
                            label=f"fold {f}" if f is not None else "on every row")
        if f is not None:
            held = np.flatnonzero(fold_of == f)
            oof[held] = vectors(model, states, held)
    notes = {
        "layers": layers, "epochs": epochs, "lr": LR, "head_lr": HEAD_LR, "batch": BATCH, "dropout": DROPOUT,
        "per_group": PER_GROUP, "negatives": len(negatives), "rows_trained": len(kept),
        "seconds": round(time.monotonic() - started),
    }
    log.info("e5 tuning: %d folds and the final fit in %.0fs", len(folds), time.monotonic() - started)
    return CrossFitted(oof, layers_state, first, notes)
