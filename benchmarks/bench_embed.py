"""The embedding model next to the simulation: threads, batching, interviews, checkpoints.

    python benchmarks/bench_embed.py [--hours 2] [--repeat 15] [--ckpt-hours 8]
                                     [--sections 1 2 3 4]

1. encode time of the real all-MiniLM-L6-v2 with 1 thread and with torch's default (one per
   core), each in a fresh process (torch's thread count is per process): 2 texts, and a
   tick's worth (30 texts) encoded alone each (what agentsim does) or as one padded batch;
2. Smallville (25 residents, offline mind, MiniLM, 6 ticks an hour from 06:00) run twice:
   with one encode in flight and whatever arrives meanwhile batched (agentsim now), the same
   without the texts foreseen at a tick's start, and with one encode per event-loop turn
   (before); calls per tick (to the cache, and those of them
   that reached the model), texts foreseen at a tick's start and sent ahead
   (`agentsim.cognition.texts_ahead`), time the model was busy, and whether both runs gave the
   same events;
3. `agentsim interview` and `agentsim inspect` on that finished run, as a user runs them
   (a fresh process each): a question no cache holds (embedded by the numpy encoder; torch
   never loads), then the same again (from the cache shared across runs); beside them what
   an interview paid before on top: loading torch and the model for one encode;
4. checkpoint bytes per sim-hour of a run of `--ckpt-hours` sim-hours from 06:00 (hash
   embedder: the bytes do not depend on it), hourly checkpoints: each with its embeddings
   inline and all kept (before), the vectors stored once with all kept, and with the
   newest 3 kept (the default).

The cache shared across runs is a temporary folder (AGENTSIM_EMBED_CACHE), empty at start.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

ENCODE = r"""
import json, statistics, sys, time
import numpy as np
from agentsim.memory.embed import SentenceTransformerEmbedder
threads, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
m = SentenceTransformerEmbedder(threads=threads or 1)
if threads is None:  # torch's own default: skip agentsim's setting
    m.threads = None
    import torch
    torch.set_num_threads = lambda n: None
    torch.set_num_interop_threads = lambda n: None
model = m._load()
import torch
texts = [f"Isabella Rodriguez is at Hobbs Cafe, serving coffee to customer {i}"
         + " and talking about the party" * (i % 4) for i in range(30)]
m.embed(texts[:2])
def median(f, repeat=repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)
batch = lambda: model.encode(texts, batch_size=64, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False)
print(json.dumps({"threads": torch.get_num_threads(),
                  "two": median(lambda: m.embed(texts[:2])),
                  "alone": median(lambda: m.embed(texts), max(3, repeat // 3)),
                  "padded": median(batch, max(3, repeat // 3))}))
"""


def encode_times(threads: int | None, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", ENCODE, json.dumps(threads), str(repeat)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class _NeverBusy(set):
    """A busy set that never holds a loop: every loop turn flushes its own call (before)."""

    def add(self, item: object) -> None:
        return None


def run_sim(out: Path, hours: float, per_turn: bool, foresee: bool = True) -> dict:
    from agentsim.experiment import Simulation

    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=1, llm="offline",
                          embedder="minilm", out=str(out), checkpoint_every=6,
                          keep_checkpoints=0)
    batcher = sim.embed.__self__
    cached = batcher.inner
    cached.inner._load()  # the model loaded before the clock starts (both modes alike)
    if per_turn:
        batcher._busy = _NeverBusy()
    if not foresee:  # each stage asks for its texts when it gets to them
        batcher.prefetch = lambda texts: 0
    busy = [0.0]
    real = cached.embed

    def timed(texts):
        t = time.perf_counter()
        try:
            return real(texts)
        finally:
            busy[0] += time.perf_counter() - t

    cached.embed = timed
    t0 = time.perf_counter()
    sim.run(hours=hours)
    wall = time.perf_counter() - t0
    ticks = sim.clock.tick
    events = [e.to_json() for e in sim.events]
    run = sim.run_dir.path
    sim.close()
    return {"wall": wall, "ticks": ticks, "busy": busy[0], "events": events, "run": run,
            "prefetched": 0, **batcher.stats, "model_calls": cached.stats["calls"]}


def model_load_seconds() -> float:
    """A fresh process loading torch and the model and encoding one text."""
    code = ("from agentsim.memory.embed import SentenceTransformerEmbedder;"
            "SentenceTransformerEmbedder().embed(['a question'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True)
    return time.perf_counter() - t


def cli_seconds(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agentsim", *args], capture_output=True, text=True,
                   env=env, check=True)
    return time.perf_counter() - t


def checkpoint_bytes(out: Path, hours: float) -> tuple[float, float, float]:
    """MB per sim-hour of checkpoints: (inline and all kept, stored once and all kept,
    stored once and the newest 3 kept)."""
    from agentsim.checkpoint_store import load_checkpoint
    from agentsim.experiment import Simulation
    from agentsim.rundir import RunDir

    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=1, llm="offline",
                          embedder="hash", out=str(out), checkpoint_every=6,
                          keep_checkpoints=0)
    sim.run(hours=hours)
    run = sim.run_dir.path
    sim.close()
    cks = RunDir(run).checkpoints()
    before = 0
    for ck in cks:
        _, arrays = load_checkpoint(ck)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        before += len(buf.getvalue()) + (ck / "state.json").stat().st_size
    sizes = [sum(f.stat().st_size for f in ck.iterdir()) for ck in cks]
    vectors = sum(p.stat().st_size for p in run.glob("vectors-*.f32"))
    return tuple(b / hours / 1e6 for b in (before, sum(sizes) + vectors,
                                           sum(sizes[-3:]) + vectors))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--ckpt-hours", type=float, default=8.0)
    ap.add_argument("--sections", type=int, nargs="+", default=[1, 2, 3, 4])
    args = ap.parse_args()
    print("$ python benchmarks/bench_embed.py " + " ".join(sys.argv[1:]))
    tmp = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    os.environ["AGENTSIM_EMBED_CACHE"] = str(tmp / "shared")

    if 1 in args.sections:
        encoding(args.repeat)
    runs = simulations(tmp, args.hours) if 2 in args.sections or 3 in args.sections else {}
    if 3 in args.sections:
        interviews(runs["one in flight"]["run"])
    if 4 in args.sections:
        checkpoints(tmp, args.ckpt_hours)


def encoding(repeat: int) -> None:
    print("\n1. all-MiniLM-L6-v2 encode, median ms (each thread count in a fresh process)")
    print(f"{'threads':>8} {'2 texts':>8} {'30 alone':>9} {'30 padded':>10}")
    for threads in (1, None):
        r = encode_times(threads, repeat)
        label = f"{r['threads']}" + (" (default)" if threads is None else "")
        print(f"{label:>8} {r['two']:8.1f} {r['alone']:9.1f} {r['padded']:10.1f}")


def simulations(tmp: Path, hours: float) -> dict:
    print(f"\n2. Smallville, 25 residents, offline mind, MiniLM, {hours:g} sim-hours")
    print(f"{'embed calls':>22} {'wall s':>7} {'ticks':>5} {'requests':>8} {'calls':>6} "
          f"{'/tick':>6} {'model':>6} {'/tick':>6} {'texts':>6} {'prefetched':>10} "
          f"{'model busy s':>12}")
    runs = {}
    for name, per_turn, foresee in (("one per loop turn", True, True),
                                    ("in flight, unforeseen", False, False),
                                    ("one in flight", False, True)):
        os.environ["AGENTSIM_EMBED_CACHE"] = "off"  # every text through the model, each way
        r = runs[name] = run_sim(tmp / name.replace(" ", "-").replace(",", ""), hours, per_turn,
                                 foresee)
        print(f"{name:>22} {r['wall']:7.1f} {r['ticks']:5d} {r['requests']:8d} {r['calls']:6d} "
              f"{r['calls'] / r['ticks']:6.1f} {r['model_calls']:6d} "
              f"{r['model_calls'] / r['ticks']:6.1f} {r['texts']:6d} {r['prefetched']:10d} "
              f"{r['busy']:12.1f}")
    same = all(r["events"] == runs["one in flight"]["events"] for r in runs.values())
    print(f"same events every way: {same}")
    os.environ["AGENTSIM_EMBED_CACHE"] = str(tmp / "shared")
    return runs


def interviews(run: Path) -> None:
    print("\n3. a finished run, fresh process each (s)")
    q = "What do you think about the party at Hobbs Cafe?"
    cold = cli_seconds("interview", str(run), "Isabella Rodriguez", q)
    warm = cli_seconds("interview", str(run), "Isabella Rodriguez", q)
    icold = cli_seconds("inspect", str(run), "--agent", "Isabella Rodriguez", "--query", "tea")
    iwarm = cli_seconds("inspect", str(run), "--agent", "Isabella Rodriguez", "--query", "tea")
    print(f"interview, new question (numpy encoder): {cold:6.2f}")
    print(f"interview, same question (cached):       {warm:6.2f}")
    print(f"inspect, new query (numpy encoder):      {icold:6.2f}")
    print(f"inspect, same query (cached):            {iwarm:6.2f}")
    print(f"before, on top: torch + model + 1 encode {model_load_seconds():6.2f}")


def checkpoints(tmp: Path, hours: float) -> None:
    inline, once, kept = checkpoint_bytes(tmp / "bytes", hours)
    print(f"\n4. checkpoints, hourly, {hours:g} sim-hours from 06:00, MB per sim-hour")
    print(f"embeddings inline, all kept (before): {inline:6.2f}")
    print(f"embeddings stored once, all kept:     {once:6.2f}")
    print(f"stored once, newest 3 kept (default): {kept:6.2f}  ({inline / kept:.1f}x less)")


if __name__ == "__main__":
    main()
