"""Engine throughput on the offline mind: agent-steps per second and peak memory.

    python benchmarks/bench_engine.py [--agents 25 100 1000] [--hours 2]

Smallville's personas are replicated to reach the agent count (clones share homes and
routines, so crowded places make for more perception and more conversations). The hash
embedder is used so that the figures are those of the engine, not of the embedding model.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from agentsim.cognition.context import Settings
from agentsim.events import Conversation
from agentsim.experiment import Simulation
from agentsim.llm.factory import build_llm
from agentsim.memory.embed import BatchingEmbedder, make_embedder
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent


def replicate(world, n: int):
    base = list(world.personas.items())
    personas = {}
    for i in range(n):
        aid, p = base[i % len(base)]
        copy = i // len(base)
        if copy == 0:
            personas[aid] = p
        else:
            personas[f"{aid}_{copy}"] = p.model_copy(
                update={"name": f"{p.name} {copy + 1}", "relationships": []}
            )
    return dataclasses.replace(world, personas=dict(sorted(personas.items())))


def bench(n: int, hours: float, start_hour: int) -> dict:
    world = load_world(ROOT / "worlds" / "smallville")
    world = replicate(world, n)
    spec = world.spec.model_copy(update={"start": world.spec.start.replace(hour=start_hour)})
    world = dataclasses.replace(world, spec=spec)
    emb = make_embedder("hash")
    sim = Simulation(world, build_llm("offline"), BatchingEmbedder(emb).embed, seed=1,
                     settings=Settings())
    tracemalloc.start()
    t0 = time.perf_counter()
    sim.run(hours=hours)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    steps = sim.clock.tick * n
    convs = sum(isinstance(e, Conversation) for e in sim.events)
    calls = sim.llm.usage.total.calls
    sim.close()
    return {"agents": n, "ticks": sim.clock.tick, "seconds": dt, "steps_per_s": steps / dt,
            "ms_per_tick": 1000 * dt / sim.clock.tick, "conversations": convs,
            "llm_calls": calls, "peak_mb": peak / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, nargs="+", default=[25, 100, 1000])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--start-hour", type=int, default=8, help="sim hour to start (awake agents)")
    args = ap.parse_args()
    print("$ python benchmarks/bench_engine.py " + " ".join(sys.argv[1:]))
    print(f"{'agents':>7} {'ticks':>6} {'wall s':>8} {'steps/s':>9} {'ms/tick':>9} "
          f"{'convs':>6} {'LLM calls':>10} {'run alloc MB':>13}")
    for n in args.agents:
        r = bench(n, args.hours, args.start_hour)
        print(f"{r['agents']:>7} {r['ticks']:>6} {r['seconds']:>8.2f} {r['steps_per_s']:>9.0f} "
              f"{r['ms_per_tick']:>9.1f} {r['conversations']:>6} {r['llm_calls']:>10} "
              f"{r['peak_mb']:>13.1f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
