"""What the skill library costs a run, and what it does: Smallville on the offline mind with
skills on and off, from the same seed, in one process.

    python benchmarks/bench_skills.py [--hours 12] [--seed 1]

Prints, for each: wall seconds, LLM calls and tokens per resident, and (with skills) the tasks
done with skills, sandbox runs and their mean wall time, skills used, learned and failed.
The hash embedder is used so that the figures are those of the engine and the sandbox.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from agentsim.events import Refined, SkillLearned, SkillUsed
from agentsim.experiment import Simulation

ROOT = Path(__file__).resolve().parent.parent


def one(skills: bool, hours: float, seed: int) -> dict:
    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=seed, embedder="hash",
                          skills=skills)
    t = time.perf_counter()
    sim.run(hours=hours)
    wall = time.perf_counter() - t
    usage = sim.llm.usage.summary()["total"]
    n = len(sim.agents)
    used = [e for e in sim.events if isinstance(e, SkillUsed)]
    row = {
        "skills": "on" if skills else "off",
        "wall s": wall,
        "calls/res": usage.get("calls", 0) / n,
        "tokens/res": (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)) / n,
        "skill runs": len(used),
        "ok": sum(e.ok for e in used),
        "distinct used": len({e.skill for e in used if e.ok}),
        "learned": sum(isinstance(e, SkillLearned) for e in sim.events),
        "write loops": sum(isinstance(e, Refined) and e.kind == "skill" for e in sim.events),
        "errors": dict(Counter(e.error_kind for e in used if not e.ok)),
    }
    sim.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print("$ python benchmarks/bench_skills.py " + " ".join(sys.argv[1:]))
    rows = [one(False, a.hours, a.seed), one(True, a.hours, a.seed)]
    cols = ["skills", "wall s", "calls/res", "tokens/res", "skill runs", "ok",
            "distinct used", "learned", "write loops"]
    print("  ".join(f"{c:>13}" for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]:>13.1f}" if isinstance(r[c], float) else f"{r[c]:>13}"
                        for c in cols))
    off, on = rows
    print(f"skills cost {on['wall s'] / off['wall s']:.2f}x the wall time and "
          f"{on['calls/res'] / off['calls/res']:.2f}x the LLM calls; failures by kind: "
          f"{on['errors'] or 'none'}")


if __name__ == "__main__":
    main()
