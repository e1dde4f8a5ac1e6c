"""The knowledge base: chromadb start-up, indexing Smallville's knowledge/ documents, reopening
a persisted index (a resume), and search latency.

    python benchmarks/bench_rag.py [--runs 200] [--no-model]

Each embedder is measured in a fresh process, so "import chromadb" and the client start are
cold. "index s" embeds and adds every chunk; "reopen s" opens the same path again and finds
everything stored (nothing is embedded again); search is one query (embedding included, the
embedder's text cache warm) with the exact re-ranking, k=4.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["How much does the lavender scone cost at Hobbs Cafe?",
           "When do the polls open for the mayoral election?",
           "What is Sam Moore proposing for the roads?",
           "When should I plant sweet peas in Johnson Park?"]


def measure(kind: str, runs: int) -> dict:
    from agentsim.memory.embed import make_embedder
    from agentsim.rag.store import KnowledgeBase
    from agentsim.world.loader import load_world

    world = load_world(ROOT / "worlds" / "smallville")
    emb = make_embedder(kind)

    async def embed(texts):
        return emb.embed(list(texts))

    emb.embed(["warm up the model"])  # model load is the embedder's cost, not the index's
    out: dict = {"embedder": emb.name}
    t = time.perf_counter()
    import chromadb  # noqa: F401

    out["import_s"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.from_world(world, embed, embedder_name=emb.name, path=Path(tmp))
        out["documents"], out["chunks"] = len(kb.documents()), len(kb)
        t = time.perf_counter()
        kb._open()
        out["client_s"] = time.perf_counter() - t
        kb = KnowledgeBase.from_world(world, embed, embedder_name=emb.name, path=Path(tmp))
        t = time.perf_counter()
        asyncio.run(kb.ready())
        out["index_s"] = time.perf_counter() - t
        assert kb.indexed == len(kb)
        again = KnowledgeBase.from_world(world, embed, embedder_name=emb.name, path=Path(tmp))
        t = time.perf_counter()
        asyncio.run(again.ready())
        out["reopen_s"] = time.perf_counter() - t
        assert again.indexed == 0

        async def searches() -> list[float]:
            for q in QUERIES:
                await again.asearch(q, k=4)  # warm the text cache
            times = []
            for i in range(runs):
                t = time.perf_counter()
                await again.asearch(QUERIES[i % len(QUERIES)], k=4)
                times.append((time.perf_counter() - t) * 1000)
            return times

        times = asyncio.run(searches())
        out["search_ms"] = statistics.median(times)
        out["search_p95_ms"] = sorted(times)[int(0.95 * len(times)) - 1]
        out["top"] = {q: asyncio.run(again.asearch(q, k=1))[0].chunk.id for q in QUERIES}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--no-model", action="store_true", help="hash embedder only")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.runs)))
        return
    print("$ python benchmarks/bench_rag.py" + (" --no-model" if args.no_model else ""))
    kinds = ["hash"] if args.no_model else ["hash", "minilm"]
    rows = []
    for kind in kinds:
        proc = subprocess.run([sys.executable, __file__, "--one", kind, "--runs", str(args.runs)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    r0 = rows[0]
    print(f"Smallville knowledge/: {r0['documents']} documents, {r0['chunks']} chunks")
    print(f"{'embedder':>20} {'import s':>9} {'client s':>9} {'index s':>8} {'reopen s':>9}"
          f" {'search ms':>10} {'p95 ms':>7}")
    for r in rows:
        print(f"{r['embedder']:>20} {r['import_s']:9.2f} {r['client_s']:9.2f} {r['index_s']:8.3f}"
              f" {r['reopen_s']:9.3f} {r['search_ms']:10.2f} {r['search_p95_ms']:7.2f}")
    for r in rows:
        print(f"top passage, {r['embedder']}:")
        for q, cid in r["top"].items():
            print(f"  {q:55} {cid}")


if __name__ == "__main__":
    main()
