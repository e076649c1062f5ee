"""Does fine-tuning e5's top layers read the policy's harmful meaning better than linear heads on
frozen encoder vectors? A measurement on the policy's TRAINING rows only (grouped hold-out);
no evaluation file of data/policy/ is read. Nothing here ships.

    python -m bench.e5_finetune prep        # rows, folds, benign sets -> /tmp/ft/data.pkl
    python -m bench.e5_finetune cache       # e5 token states after layer 7 (+ frozen e5, USE vectors)
    python -m bench.e5_finetune baselines [--folds 0] [--inner]
    python -m bench.e5_finetune finetune --layers 2 --epochs 1 [--folds 0] [--lr 3e-5] [--dropout 0.1]

Rows: `written_rows()` (at most `PER_GROUP` frames per scene, drawn with a fixed seed: a scene's
frames stay in one fold) + `dream_scene_rows` + `collected_rows`; folds: `_folds` of the policy
trainer (the same group -> fold map as training, since every group keeps a row). Benign: the
`ordinary` everyday comments (half English, half Korean) as extra training negatives; a disjoint
test set of `everyday` comments (half English, half Korean) to set each head's 99.9 % quantile.
Every text is read canonical (`agent.canonical.canonical`), e5 reads its `e5_text` cut with the
`query: ` prefix, as `agent.encoder.embed_e5` does.

Metric per category: share of held-out positives scoring at or above the 99.9 % quantile of the
benign test set ("recall at 0.1 % benign"), and average precision over the held-out fold.
Results are appended to /tmp/ft/results.md as they come.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from agent.train.policy import C_GRID, E5_SCALE, SEED  # the trainer's grid, e5 weight and seed
from bench.eval import DEFAULT_DATA

OUT = Path(os.environ.get("FT_DIR", "/tmp/ft"))
DATA = DEFAULT_DATA / "train"  # the repository's training data, wherever this runs from
PER_GROUP = 3
BENIGN_TRAIN = 1500  # ordinary comments per language as extra training negatives
BENIGN_TEST = 3000  # everyday comments per language as the benign test set
CACHE_LAYER = 8  # token states entering layer 8 (after layers 0-7) are cached
QUANTILE = 0.999


def results(line: str) -> None:
    print(line, flush=True)
    with open(OUT / "results.md", "a") as f:
        f.write(line + "\n")


# ------------------------------------------------------------------------------------------ prep
def prep() -> None:
    from agent.canonical import canonical
    from agent.encoder import e5_text
    from agent.safety.meaning import CATEGORIES
    from agent.train.policy import (
        _folds,
        collected_rows,
        dream_scene_rows,
        everyday_comments,
        targets,
        written_rows,
    )

    rng = random.Random(SEED)
    written = written_rows()
    by_group: dict[str, list] = {}
    for r in written:
        by_group.setdefault(r.group, []).append(r)
    kept = []
    for g in by_group:  # insertion order: the file's
        frames = by_group[g]
        kept += frames if len(frames) <= PER_GROUP else rng.sample(frames, PER_GROUP)
    rows = kept + dream_scene_rows(DATA) + collected_rows(DATA)
    groups = [r.group for r in rows]
    fold_of = np.full(len(rows), -1)
    for f, held in enumerate(_folds(groups)):
        fold_of[held] = f
    assert (fold_of >= 0).all()
    y = np.stack([targets(rows, c) for c in CATEGORIES], axis=1).astype(np.int64)

    everyday, ordinary = everyday_comments(DATA)
    # everyday: English rows first (up to 20,000), then Korean; ordinary: 4,000 English, 4,000 Korean
    from agent.text import has_hangul

    n_en_every = next(i for i, t in enumerate(everyday) if has_hangul(t))
    n_en_ord = next(i for i, t in enumerate(ordinary) if has_hangul(t))
    benign_train = ordinary[:BENIGN_TRAIN] + ordinary[n_en_ord : n_en_ord + BENIGN_TRAIN]
    benign_test = everyday[:BENIGN_TEST] + everyday[n_en_every : n_en_every + BENIGN_TEST]
    assert not set(benign_train) & set(benign_test)

    canon_rows = [canonical(r.text) for r in rows]
    canon_bt = [canonical(t) for t in benign_train]
    canon_te = [canonical(t) for t in benign_test]
    data = {
        "texts": canon_rows + canon_bt + canon_te,  # USE reads these
        "e5_texts": [e5_text(t) for t in canon_rows + canon_bt + canon_te],
        "n_rows": len(rows),
        "n_benign_train": len(canon_bt),
        "n_benign_test": len(canon_te),
        "y": y,
        "fold": fold_of,
        "groups": groups,
        "lang": [r.lang for r in rows],
        "label": [r.label for r in rows],
        "source": [r.source for r in rows],
        "categories": list(CATEGORIES),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "data.pkl", "wb") as f:
        pickle.dump(data, f)
    print(
        f"rows {len(rows)} (written kept {len(kept)} of {len(written)}, groups {len(set(groups))}); "
        f"benign train {len(canon_bt)}, benign test {len(canon_te)}"
    )
    for f in range(5):
        m = fold_of == f
        print(
            f"fold {f}: {m.sum()} rows, positives", dict(zip(CATEGORIES, y[m].sum(0).tolist(), strict=True))
        )


def load_data() -> dict:
    with open(OUT / "data.pkl", "rb") as f:
        return pickle.load(f)


# ----------------------------------------------------------------------------------------- cache
def load_model():
    import torch

    from agent.e5_torch import E5Model

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    model = E5Model.from_file()
    model.eval()
    return model


def cache() -> None:
    """Token states entering layer CACHE_LAYER for every text (flat float32 + offsets), the frozen
    e5 unit vectors (layers CACHE_LAYER.. run on the cached states: identical to a full pass), and
    the USE vectors."""
    import torch

    from agent.encoder import embed

    d = load_data()
    texts = d["texts"]
    t0 = time.monotonic()
    use = embed(texts)
    np.save(OUT / "use.npy", use)
    print(f"USE: {len(texts)} texts in {time.monotonic() - t0:.0f}s", flush=True)

    model = load_model()
    tok = model.tokenizer
    t0 = time.monotonic()
    ids = [tok.encode(t) for t in d["e5_texts"]]
    lens = np.array([len(w) for w in ids])
    print(
        f"tokenized in {time.monotonic() - t0:.0f}s; tokens mean {lens.mean():.1f} max {lens.max()}",
        flush=True,
    )
    offsets = np.concatenate([[0], np.cumsum(lens)])
    flat = torch.empty((int(offsets[-1]), model.cfg.H), dtype=torch.float32)
    frozen = np.zeros((len(ids), model.cfg.H), dtype=np.float32)
    order = np.argsort(lens, kind="stable")
    t0 = time.monotonic()
    with torch.no_grad():
        for a in range(0, len(order), 64):
            chunk = order[a : a + 64]
            b_ids, mask = model.batch([ids[j] for j in chunk])
            key_mask = mask[:, None, None, :]
            x = model.embeddings(b_ids)
            for layer in model.layers[:CACHE_LAYER]:
                x = layer(x, key_mask)
            for r, j in enumerate(chunk):
                flat[offsets[j] : offsets[j + 1]] = x[r, : lens[j]]
            for layer in model.layers[CACHE_LAYER:]:
                x = layer(x, key_mask)
            frozen[chunk] = torch.nn.functional.normalize(model.pool(x, mask), dim=-1).numpy()
            if (a // 64) % 40 == 0:
                print(f"  {a + len(chunk)}/{len(order)} {time.monotonic() - t0:.0f}s", flush=True)
    print(f"e5 cache: {time.monotonic() - t0:.0f}s", flush=True)
    torch.save({"flat": flat, "offsets": torch.from_numpy(offsets)}, OUT / f"states{CACHE_LAYER}.pt")
    np.save(OUT / "e5.npy", frozen)
    # agreement with embed() on a few texts (the cache path must equal a full pass)
    with torch.no_grad():
        check = model.embed([d["e5_texts"][i] for i in range(0, len(ids), len(ids) // 20)]).numpy()
    cos = (check * frozen[:: len(ids) // 20][: len(check)]).sum(1)
    print(f"cache vs embed(): cosine min {cos.min():.6f}")


# ------------------------------------------------------------------------------------ evaluation
def recall_at(scores_pos: np.ndarray, scores_benign: np.ndarray, q: float = QUANTILE) -> float:
    return float(np.mean(scores_pos >= np.quantile(scores_benign, q))) if len(scores_pos) else float("nan")


def evaluate(
    d: dict, held: np.ndarray, s_held: np.ndarray, s_test: np.ndarray
) -> dict[str, tuple[float, float, float]]:
    """Per category: (recall at 0.1 % of the benign test set, average precision over the held-out
    fold, recall at the higher of that and the held-out negatives' 99.9 % quantile)."""
    from sklearn.metrics import average_precision_score

    out = {}
    y = d["y"][held]
    for k, c in enumerate(d["categories"]):
        pos = y[:, k] == 1
        r = recall_at(s_held[pos, k], s_test[:, k])
        ap = float(average_precision_score(y[:, k], s_held[:, k]))
        neg = s_held[~pos, k]
        thr = max(np.quantile(s_test[:, k], QUANTILE), np.quantile(neg, QUANTILE))
        r2 = float(np.mean(s_held[pos, k] >= thr))
        out[c] = (r, ap, r2)
    return out


def split(d: dict, fold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train indices into texts, held indices, benign test indices, train labels [n, 6])."""
    n, nb, nt = d["n_rows"], d["n_benign_train"], d["n_benign_test"]
    rows_train = np.flatnonzero(d["fold"] != fold)
    held = np.flatnonzero(d["fold"] == fold)
    train = np.concatenate([rows_train, np.arange(n, n + nb)])
    test = np.arange(n + nb, n + nb + nt)
    y_train = np.concatenate([d["y"][rows_train], np.zeros((nb, d["y"].shape[1]), dtype=np.int64)])
    return train, held, test, y_train


def train_groups(d: dict, train: np.ndarray) -> list[str]:
    n = d["n_rows"]
    return [d["groups"][i] if i < n else f"benign:{i}" for i in train]


def fit_lr(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y)


def lr_scores(x: np.ndarray, d: dict, fold: int, inner: bool) -> dict:
    """Per C: (held scores, test scores) as log-odds [n, 6]; with `inner`, also the C each
    category picks by 4-fold grouped CV on the training part (mean average precision)."""
    from sklearn.metrics import average_precision_score

    from agent.train.policy import _folds

    train, held, test, y_train = split(d, fold)
    out = {}
    for c in C_GRID:
        sh = np.zeros((len(held), y_train.shape[1]))
        st = np.zeros((len(test), y_train.shape[1]))
        for k in range(y_train.shape[1]):
            m = fit_lr(x[train], y_train[:, k], c)
            sh[:, k] = m.decision_function(x[held])
            st[:, k] = m.decision_function(x[test])
        out[c] = (sh, st)
    if inner:
        g = train_groups(d, train)
        folds = _folds(g, 4)
        picked = []
        for k in range(y_train.shape[1]):
            best = (None, -1.0)
            for c in C_GRID:
                aps = []
                for h in folds:
                    tr = np.setdiff1d(np.arange(len(train)), h)
                    m = fit_lr(x[train][tr], y_train[tr, k], c)
                    aps.append(average_precision_score(y_train[h, k], m.decision_function(x[train][h])))
                if np.mean(aps) > best[1]:
                    best = (c, float(np.mean(aps)))
            picked.append(best[0])
        sh = np.stack([out[c][0][:, k] for k, c in enumerate(picked)], axis=1)
        st = np.stack([out[c][1][:, k] for k, c in enumerate(picked)], axis=1)
        out["cv"] = (sh, st, picked)
    return out


def table(d: dict, fold: int, named: dict[str, dict]) -> None:
    """Markdown table: per category n held-out positives, then R@0.1% / AP per method."""
    held = np.flatnonzero(d["fold"] == fold)
    names = list(named)
    results("")
    results("| category | pos held | " + " | ".join(f"{n} R@0.1% / AP" for n in names) + " |")
    results("|---|---|" + "---|" * len(names))
    npos = d["y"][held].sum(0)
    for k, c in enumerate(d["categories"]):
        cells = [f"{named[n][c][0]:.3f} / {named[n][c][1]:.3f}" for n in names]
        results(f"| {c} | {npos[k]} | " + " | ".join(cells) + " |")
    means = [
        f"{np.mean([named[n][c][0] for c in d['categories']]):.3f} / {np.mean([named[n][c][1] for c in d['categories']]):.3f}"
        for n in names
    ]
    results("| **mean** | | " + " | ".join(means) + " |")
    results("")
    results(
        "Recall at the higher of the benign test's and the held-out negatives' 99.9 % quantile: "
        + "; ".join(f"{n}: " + " ".join(f"{named[n][c][2]:.2f}" for c in d["categories"]) for n in names)
    )


def features(name: str) -> np.ndarray:
    use = np.load(OUT / "use.npy").astype(np.float64)
    e5 = np.load(OUT / "e5.npy").astype(np.float64)
    return {"use": use, "e5": e5, "use+e5": np.hstack([use, E5_SCALE * e5])}[name]


def baselines(folds: list[int], inner: bool) -> None:
    d = load_data()
    for fold in folds:
        held = np.flatnonzero(d["fold"] == fold)
        results(f"\n## Baselines, fold {fold} held out ({len(held)} rows), logistic regression (balanced)")
        named = {}
        for feat in ("e5", "use+e5", "use"):
            t0 = time.monotonic()
            sc = lr_scores(features(feat), d, fold, inner)
            for c in C_GRID:
                named[f"{feat} C={c}"] = evaluate(d, held, *sc[c])
            if inner:
                named[f"{feat} C=cv"] = evaluate(d, held, sc["cv"][0], sc["cv"][1])
                results(
                    f"{feat}: inner-CV C per category {dict(zip(d['categories'], sc['cv'][2], strict=True))}"
                )
            results(f"{feat}: {time.monotonic() - t0:.0f}s")
            np.savez(
                OUT / f"scores_{feat}_f{fold}.npz",
                **{f"C{c}_held": sc[c][0] for c in C_GRID},
                **{f"C{c}_test": sc[c][1] for c in C_GRID},
            )
        table(d, fold, named)


# -------------------------------------------------------------------------------------- finetune
def finetune(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    d = load_data()
    model = load_model()
    blob = torch.load(OUT / f"states{CACHE_LAYER}.pt")
    flat, offsets = blob["flat"], blob["offsets"].numpy()
    k_top = args.layers
    first = model.cfg.NL - k_top
    assert first >= CACHE_LAYER
    lens = np.diff(offsets)
    H = model.cfg.H

    def padded(idx: np.ndarray, src: torch.Tensor, offs: np.ndarray):
        L = int(lens[idx].max())
        x = torch.zeros((len(idx), L, H))
        mask = torch.zeros((len(idx), L), dtype=torch.bool)
        for r, j in enumerate(idx):
            x[r, : lens[j]] = src[offs[j] : offs[j + 1]]
            mask[r, : lens[j]] = True
        return x, mask

    # advance the cache to the first trainable layer (frozen layers CACHE_LAYER..first-1, once)
    t0 = time.monotonic()
    if first > CACHE_LAYER:
        adv = torch.empty_like(flat)
        order = np.argsort(lens, kind="stable")
        with torch.no_grad():
            for a in range(0, len(order), 64):
                chunk = order[a : a + 64]
                x, mask = padded(chunk, flat, offsets)
                for layer in model.layers[CACHE_LAYER:first]:
                    x = layer(x, mask[:, None, None, :])
                for r, j in enumerate(chunk):
                    adv[offsets[j] : offsets[j + 1]] = x[r, : lens[j]]
        flat = adv
        print(f"advanced the cache to layer {first}: {time.monotonic() - t0:.0f}s", flush=True)
    base_state = {k: v.clone() for k, v in model.layers.state_dict().items()}
    e5_frozen = np.load(OUT / "e5.npy").astype(np.float64)

    def pooled(idx: np.ndarray, train: bool) -> torch.Tensor:
        x, mask = padded(idx, flat, offsets)
        for layer in model.layers[first:]:
            x = layer(x, mask[:, None, None, :])
        return F.normalize(model.pool(x, mask), dim=-1)

    def embed_all(idx: np.ndarray) -> np.ndarray:
        model.eval()
        out = np.zeros((len(idx), H), dtype=np.float32)
        order = np.argsort(lens[idx], kind="stable")
        with torch.no_grad():
            for a in range(0, len(order), 64):
                sel = order[a : a + 64]
                out[sel] = pooled(idx[sel], False).numpy()
        return out

    for fold in args.folds:
        torch.manual_seed(SEED)
        rng = np.random.default_rng(SEED)
        model.layers.load_state_dict(base_state)
        for layer in model.layers[first:]:
            layer.dropout = args.dropout
        model.set_trainable(last_layers=k_top)
        train, held, test, y_train = split(d, fold)
        C = y_train.shape[1]
        # head: initialised from logistic regressions on the frozen vectors (linear probe, then fine-tune)
        head = torch.nn.Linear(H, C).double()
        if args.head_init == "lr":
            t1 = time.monotonic()
            with torch.no_grad():
                for k in range(C):
                    m = fit_lr(e5_frozen[train], y_train[:, k], 1.0)
                    head.weight[k] = torch.from_numpy(m.coef_[0])
                    head.bias[k] = float(m.intercept_[0])
            print(f"head from LR: {time.monotonic() - t1:.0f}s", flush=True)
        else:
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)
        head = head.float()
        pos = y_train.sum(0)
        pos_weight = torch.tensor((len(y_train) - pos) / np.maximum(pos, 1), dtype=torch.float32)
        params = [p for p in model.layers[first:].parameters() if p.requires_grad]
        opt = torch.optim.AdamW(
            [
                {"params": params, "lr": args.lr, "weight_decay": 0.01},
                {"params": head.parameters(), "lr": args.head_lr, "weight_decay": 0.0},
            ]
        )
        bs = args.batch
        n_batches = (len(train) + bs - 1) // bs
        total = n_batches * args.epochs
        warm = max(1, int(0.06 * total))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda s, warm=warm, total=total: min(
                (s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))
            ),
        )
        yt = torch.tensor(y_train, dtype=torch.float32)
        step = 0
        for epoch in range(args.epochs):
            model.train()
            t1 = time.monotonic()
            # length buckets: shuffle, sort within windows of 50 batches, shuffle the batches
            perm = rng.permutation(len(train))
            batches = []
            for a in range(0, len(perm), bs * 50):
                w = perm[a : a + bs * 50]
                w = w[np.argsort(lens[train[w]], kind="stable")]
                batches += [w[b : b + bs] for b in range(0, len(w), bs)]
            rng.shuffle(batches)
            losses = []
            for bi, sel in enumerate(batches):
                logits = head(pooled(train[sel], True))
                loss = F.binary_cross_entropy_with_logits(logits, yt[sel], pos_weight=pos_weight)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params + list(head.parameters()), 1.0)
                opt.step()
                sched.step()
                step += 1
                losses.append(loss.item())
                if bi % 100 == 0:
                    print(
                        f"  fold {fold} epoch {epoch} batch {bi}/{len(batches)} loss {np.mean(losses[-100:]):.4f} "
                        f"{time.monotonic() - t1:.0f}s",
                        flush=True,
                    )
            dt = time.monotonic() - t1
            if args.eval_last and epoch < args.epochs - 1:
                results(
                    f"\nfold {fold}, top {k_top} layers, epoch {epoch + 1}/{args.epochs}: {dt:.0f}s training, mean loss {np.mean(losses):.4f}"
                )
                continue
            model.eval()
            t2 = time.monotonic()
            eh, et = embed_all(held), embed_all(test)
            with torch.no_grad():
                sh = head(torch.from_numpy(eh)).double().numpy()
                st = head(torch.from_numpy(et)).double().numpy()
            ev = evaluate(d, held, sh, st)
            results(
                f"\nfold {fold}, top {k_top} layers, epoch {epoch + 1}/{args.epochs}: {len(batches)} batches of {bs}, "
                f"{dt:.0f}s training ({dt / len(batches) * 1000:.0f} ms/batch), eval {time.monotonic() - t2:.0f}s, "
                f"mean loss {np.mean(losses):.4f}; R@0.1% / AP: "
                + ", ".join(f"{c} {r:.3f}/{ap:.3f}" for c, (r, ap, _) in ev.items())
                + f"; mean {np.mean([v[0] for v in ev.values()]):.3f}/{np.mean([v[1] for v in ev.values()]):.3f}"
            )
        tag = f"ft{k_top}_e{args.epochs}_lr{args.lr:g}_{args.head_init}_f{fold}"
        np.savez(OUT / f"scores_{tag}.npz", held=sh, test=st)
        named = {f"FT top{k_top} head": ev}
        if args.refit:
            t2 = time.monotonic()
            etr = embed_all(train).astype(np.float64)
            x = np.zeros((len(d["texts"]), H))
            x[train], x[held], x[test] = etr, eh, et
            sc = lr_scores(x, d, fold, False)
            for c in C_GRID:
                named[f"FT top{k_top} + LR C={c}"] = evaluate(d, held, *sc[c])
            # the second reading's space: USE beside E5_SCALE times the fine-tuned e5 vector
            sc = lr_scores(np.hstack([features("use"), E5_SCALE * x]), d, fold, False)
            for c in C_GRID:
                named[f"USE + FT top{k_top} LR C={c}"] = evaluate(d, held, *sc[c])
            np.savez(OUT / f"vectors_{tag}.npz", train=etr.astype(np.float32), held=eh, test=et)
            print(f"refit LR on fine-tuned vectors: {time.monotonic() - t2:.0f}s", flush=True)
        results(
            f"\n### Fine-tuned, fold {fold}: {tag} (lr {args.lr:g}, head lr {args.head_lr:g}, dropout {args.dropout}, batch {bs})"
        )
        table(d, fold, named)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["prep", "cache", "baselines", "finetune"])
    p.add_argument("--folds", type=int, nargs="+", default=[0])
    p.add_argument("--inner", action="store_true")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--head-init", choices=["lr", "zero"], default="lr")
    p.add_argument("--refit", action="store_true")
    p.add_argument(
        "--eval-last", action="store_true", help="score the held-out fold after the last epoch only"
    )
    args = p.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.stage == "prep":
        prep()
    elif args.stage == "cache":
        cache()
    elif args.stage == "baselines":
        baselines(args.folds, args.inner)
    else:
        finetune(args)


if __name__ == "__main__":
    main(sys.argv[1:])
