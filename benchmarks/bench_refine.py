"""What self-refining day plans costs on the offline mind: LLM calls and tokens per agent per
day with the critic off (refine_rounds=0) and on, and how many plans needed more than one round.

    python benchmarks/bench_refine.py [--hours 24] [--rounds 0 1 3]

Smallville, 25 residents, from 06:00, hash embedder, seed 0. "planning" counts day_plan,
replan, plan_critique and plan_refine; the rest of the day (conversations, reflections) moves a
little with the plans too, so the totals are shown beside it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from agentsim.cognition.context import Settings
from agentsim.events import Refined
from agentsim.experiment import Simulation
from agentsim.llm.factory import build_llm
from agentsim.memory.embed import BatchingEmbedder, make_embedder
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
PLANNING = ("day_plan", "replan", "plan_critique", "plan_refine")


def bench(rounds: int, hours: float) -> dict:
    world = load_world(ROOT / "worlds" / "smallville")
    sim = Simulation(world, build_llm("offline"), BatchingEmbedder(make_embedder("hash")).embed,
                     seed=0, settings=Settings(reflection_threshold=world.spec.reflection_threshold,
                                               weights=tuple(world.spec.retrieval_weights),
                                               refine_rounds=rounds))
    sim.run(hours=hours)
    usage = sim.llm.usage
    n, days = len(world.personas), hours / 24
    plan_calls = sum(usage.by_template[t].calls for t in PLANNING if t in usage.by_template)
    plan_tokens = sum(usage.by_template[t].tokens for t in PLANNING if t in usage.by_template)
    traces = [e for e in sim.events if isinstance(e, Refined)]
    why = Counter(i for e in traces if len(e.attempts) > 1
                  for i in e.attempts[0]["feedback"]["issues"])
    out = {"rounds": rounds, "calls": usage.total.calls / n / days,
           "tokens": usage.total.tokens / n / days, "plan_calls": plan_calls / n / days,
           "plan_tokens": plan_tokens / n / days, "plans": len(traces),
           "refined": sum(len(e.attempts) > 1 for e in traces),
           "unsatisfied": sum(e.stopped != "satisfied" for e in traces), "why": dict(why)}
    sim.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rounds", type=int, nargs="+", default=[0, 1, 3])
    args = ap.parse_args()
    print("$ python benchmarks/bench_refine.py " + " ".join(sys.argv[1:]))
    print(f"per agent per day, {args.hours:g} sim-hours")
    print(f"{'rounds':>6} {'calls':>7} {'tokens':>8} {'plan calls':>11} {'plan tokens':>12} "
          f"{'plans':>6} {'refined':>8} {'unsatisfied':>12}  why (first round's issues)")
    for r in args.rounds:
        b = bench(r, args.hours)
        share = f"{b['refined']} ({100 * b['refined'] / b['plans']:.0f} %)" if b["plans"] else "-"
        print(f"{b['rounds']:>6} {b['calls']:>7.1f} {b['tokens']:>8.0f} {b['plan_calls']:>11.2f} "
              f"{b['plan_tokens']:>12.0f} {b['plans'] or '-':>6} {share:>8} "
              f"{b['unsatisfied'] if b['plans'] else '-':>12}  {b['why'] or ''}")


if __name__ == "__main__":
    main()
