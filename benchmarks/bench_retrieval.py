"""Retrieval speed: exact scoring of every memory of one agent (recency, importance, relevance,
each min-max normalised, weighted sum, top k), and embedding throughput.

    python benchmarks/bench_retrieval.py [--sizes 1000 10000 100000] [--runs 50] [--no-model]

Targets: under 5 ms at 10,000 memories, under 50 ms at 100,000 (dim 384, k=10).
Memory (tracemalloc, which numpy reports to): "stream MB" is what the stream holds after the
build (its arrays grow by doubling, so up to twice the rows in use), "build peak MB" the peak
while it was built (old and new arrays during a doubling), "retrieve MB" the peak of the
temporaries of one retrieval.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta

import numpy as np

from agentsim.memory.embed import Embedder, HashEmbedder, SentenceTransformerEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream

TARGETS = {10_000: 5.0, 100_000: 50.0}
T0 = datetime(2023, 2, 13)
NOW = T0 + timedelta(days=60)


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs


def build(vecs: np.ndarray, importance: np.ndarray) -> MemoryStream:
    n, dim = vecs.shape
    s = MemoryStream("bench", dim)
    for i in range(n):
        s.add(MemoryKind.observation, f"memory {i}", T0 + timedelta(seconds=30 * i),
              int(importance[i]), vecs[i])
    return s


def median_ms(s: MemoryStream, queries: np.ndarray, touch: bool, warmup: int = 5) -> float:
    for q in queries[:warmup]:
        s.retrieve(q, NOW, k=10, touch=touch)
    times = []
    for q in queries[warmup:]:
        t = time.perf_counter()
        s.retrieve(q, NOW, k=10, touch=touch)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def retrieve_peak_mb(s: MemoryStream, query: np.ndarray) -> float:
    tracemalloc.start()
    s.retrieve(query, NOW, k=10, touch=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def embed_rate(embedder: Embedder, n: int = 512, batch: int = 64) -> float:
    texts = [f"Isabella Rodriguez is serving coffee to customer number {i} at Hobbs Cafe"
             for i in range(n)]
    embedder.embed(texts[:batch])  # warm up (and load the model)
    t = time.perf_counter()
    for i in range(0, n, batch):
        embedder.embed(texts[i:i + batch])
    return n / (time.perf_counter() - t)


def verdict(n: int, ms: float) -> str:
    target = TARGETS.get(n)
    if target is None:
        return "-"
    return f"<{target:g} {'ok' if ms < target else 'MISS'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--runs", type=int, default=50, help="timed retrievals per size")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-model", action="store_true", help="skip the MiniLM throughput")
    args = ap.parse_args()
    print("$ python benchmarks/bench_retrieval.py " + " ".join(sys.argv[1:]))
    rng = np.random.default_rng(args.seed)
    print(f"{'memories':>9} {'ms touch=False':>15} {'ms touch=True':>14} {'target':>8} "
          f"{'stream MB':>10} {'build peak MB':>14} {'retrieve MB':>12}")
    for n in args.sizes:
        vecs, importance = unit_rows(rng, n, args.dim), rng.integers(1, 11, n)
        tracemalloc.start()
        s = build(vecs, importance)
        size, peak = (x / 2**20 for x in tracemalloc.get_traced_memory())
        tracemalloc.stop()
        queries = unit_rows(rng, args.runs + 5, args.dim)
        plain = median_ms(s, queries, touch=False)
        touched = median_ms(s, queries, touch=True)
        worst = max(plain, touched)
        print(f"{n:>9,} {plain:>15.2f} {touched:>14.2f} {verdict(n, worst):>8} {size:>10.1f} "
              f"{peak:>14.1f} {retrieve_peak_mb(s, queries[0]):>12.2f}")
    print(f"hash embedder (batches of 64): {embed_rate(HashEmbedder()):,.0f} texts/s")
    if not args.no_model:
        rate = embed_rate(SentenceTransformerEmbedder())
        print(f"all-MiniLM-L6-v2 (CPU, batches of 64): {rate:,.0f} texts/s")


if __name__ == "__main__":
    main()
