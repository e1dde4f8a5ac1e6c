"""The offline mind's Smallville next to the paper's end-to-end figures: diffusion of the
party and of Sam's candidacy (by interview, hallucinations counted apart), network density
(by interview: every resident asked about every other), and attendance of the invited.

The offline mind is a scripted rule baseline (docs/offline-mind.md): these curves come from
its stated rules, not from a model, and are not findings about agents.

    python benchmarks/bench_baseline.py --seeds 0 1 --hours 37
"""

from __future__ import annotations

import argparse
import sys
import time

from agentsim import Simulation
from agentsim.evaluate.measures import attendance, interview_measures

PAPER = "paper: candidacy 4% -> 32%, party 4% -> 52%, density 0.167 -> 0.74, 5 of 12 invited came"


def one(seed: int, hours: float, every: float) -> None:
    sim = Simulation.load("worlds/smallville", seed=seed, llm="offline", embedder="hash")
    t0 = time.perf_counter()
    done = 0.0
    print(f"seed {seed}")
    print("  time           candidacy  party   (known/hallucinated of 25)   density")
    while True:
        m = interview_measures(sim)
        d, dn = m["diffusion"], m["density"]
        print(f"  {sim.clock.now:%a %d %H:%M}   "
              f"{d['candidacy']['knowers']:2d}/{d['candidacy']['hallucinated']}       "
              f"{d['party']['knowers']:2d}/{d['party']['hallucinated']}"
              f"{'':30}{dn['density']:.3f}")
        if done >= hours:
            break
        step = min(every, hours - done)
        sim.run(hours=step)
        done += step
    a = attendance(sim.metrics)
    if a is None:
        print("  attendance: the run ended before the party")
    else:
        print(f"  attendance: {a['came']} of the {a['invited']} residents who knew of the "
              f"{a['event']} by its start came")
    print(f"  ({time.perf_counter() - t0:.0f} s)")
    sim.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--hours", type=float, default=37.0)  # to Feb 14 19:00, past the party
    ap.add_argument("--every", type=float, default=12.0)
    a = ap.parse_args()
    print("$ python benchmarks/bench_baseline.py" + "".join(f" {x}" for x in sys.argv[1:]))
    print("offline mind: a scripted rule baseline, not a model")
    print(PAPER)
    for seed in a.seeds:
        one(seed, a.hours, a.every)


if __name__ == "__main__":
    main()
