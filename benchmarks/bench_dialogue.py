"""What self-refined dialogue costs and changes: Smallville on the offline mind with
`refine_dialogue` 0 (off) and 2, from the same seed, in one process.

    python benchmarks/bench_dialogue.py [--hours 12] [--seed 1] [--rounds 2]

Prints wall seconds, LLM calls and tokens per resident, conversation turns, refine loops and
how many turns were revised, and why the first drafts were found wanting.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from agentsim.events import Conversation, Refined
from agentsim.experiment import Simulation

ROOT = Path(__file__).resolve().parent.parent


def one(rounds: int, hours: float, seed: int) -> tuple[str, Counter]:
    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=seed, embedder="hash")
    sim.settings = sim.settings.replace(refine_dialogue=rounds)
    t = time.perf_counter()
    sim.run(hours=hours)
    wall = time.perf_counter() - t
    u, n = sim.llm.usage.summary()["total"], len(sim.agents)
    loops = [e for e in sim.events if isinstance(e, Refined) and e.kind == "dialogue"]
    revised = [e for e in loops if len(e.attempts) > 1]
    turns = sum(len(e.turns) for e in sim.events if isinstance(e, Conversation))
    why = Counter(e.attempts[0]["feedback"]["critique"].split(";")[0] for e in revised)
    sim.close()
    line = (f"refine_dialogue={rounds}: {wall:.1f} s, {u['calls'] / n:.1f} calls/res, "
            f"{(u['prompt_tokens'] + u['completion_tokens']) / n:.0f} tok/res, turns {turns}, "
            f"loops {len(loops)}, revised {len(revised)}")
    return line, why


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    print("$ python benchmarks/bench_dialogue.py " + " ".join(sys.argv[1:]))
    for rounds in (0, a.rounds):
        line, why = one(rounds, a.hours, a.seed)
        print(line)
        for reason, count in why.most_common():
            print(f"    {count:4d}  {reason}")


if __name__ == "__main__":
    main()
