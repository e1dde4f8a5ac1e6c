"""Retrieval speed: exact scoring of every memory (recency, importance, relevance), and
embedding throughput.

    python benchmarks/bench_retrieval.py [--sizes 1000 10000 100000] [--runs 50]

Targets: under 5 ms at 10,000 memories per agent, under 50 ms at 100,000 (dim 384, k=10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta

import numpy as np

from agentsim.memory.embed import HashEmbedder, SentenceTransformerEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream

TARGETS = {10_000: 5.0, 100_000: 50.0}
T0 = datetime(2023, 2, 13)


def build(n: int, dim: int, rng: np.random.Generator) -> MemoryStream:
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    s = MemoryStream("bench", dim, capacity=n)
    importance = rng.integers(1, 11, n)
    for i in range(n):
        s.add(MemoryKind.observation, f"memory {i}", T0 + timedelta(seconds=30 * i),
              int(importance[i]), vecs[i])
    return s


def time_retrieval(s: MemoryStream, runs: int, touch: bool, rng) -> float:
    dim = s.dim
    now = T0 + timedelta(days=60)
    queries = rng.normal(size=(runs + 5, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for q in queries[:5]:
        s.retrieve(q, now, k=10, touch=touch)
    times = []
    for q in queries[5:]:
        t = time.perf_counter()
        s.retrieve(q, now, k=10, touch=touch)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def embed_rate(embedder, n: int = 512) -> float:
    texts = [f"Isabella Rodriguez is serving coffee to customer number {i} at Hobbs Cafe"
             for i in range(n)]
    embedder.embed(texts[:64])  # warm up (and load the model)
    t = time.perf_counter()
    for i in range(0, n, 64):
        embedder.embed(texts[i:i + 64])
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--no-model", action="store_true", help="skip the MiniLM throughput")
    args = ap.parse_args()
    print("$ python benchmarks/bench_retrieval.py " + " ".join(sys.argv[1:]))
    rng = np.random.default_rng(0)
    print(f"{'memories':>9} {'ms (touch=False)':>17} {'ms (touch=True)':>16} {'target':>8} "
          f"{'stream MB':>10}")
    for n in args.sizes:
        tracemalloc.start()
        s = build(n, args.dim, rng)
        size = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        plain = time_retrieval(s, args.runs, False, rng)
        touched = time_retrieval(s, args.runs, True, rng)
        target = TARGETS.get(n)
        verdict = "" if target is None else (f"<{target:g} ok" if touched < target
                                             else f"<{target:g} MISS")
        print(f"{n:>9,} {plain:>17.2f} {touched:>16.2f} {verdict:>8} {size:>10.1f}")
    print(f"hash embedder: {embed_rate(HashEmbedder()):,.0f} texts/s")
    if not args.no_model:
        rate = embed_rate(SentenceTransformerEmbedder())
        print(f"all-MiniLM-L6-v2 (CPU, batches of 64): {rate:,.0f} texts/s")


if __name__ == "__main__":
    main()
