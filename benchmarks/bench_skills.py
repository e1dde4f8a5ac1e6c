"""What the skill library costs a run, and what it does: Smallville on the offline mind with
skills on and off, from the same seed, in one process.

    python benchmarks/bench_skills.py [--hours 12] [--seed 1] [--world PATH] [--only-on]

Prints, for each: wall seconds, LLM calls and tokens per resident, and (with skills) the
skill runs (sandbox runs, and their successes), skills used, learned, the self-refine loops
that wrote a new skill, the tasks skipped as failed before with nothing changed
(`skill_skipped`) and the refine loops (skills and plans) that stopped because a refinement
repeated an attempt already judged ("unchanged"). The hash embedder is used so that the
figures are those of the engine and the sandbox. `--world`: another world (a generated town,
`python -m agentsim.world.generate`); `--only-on`: skip the run without skills. The script
uses only public names, so it also runs against an older checkout (PYTHONPATH) for a
before/after in one session.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from agentsim import events
from agentsim.events import Refined, SkillLearned, SkillUsed
from agentsim.experiment import Simulation

ROOT = Path(__file__).resolve().parent.parent


def one(skills: bool, hours: float, seed: int, world: str) -> dict:
    sim = Simulation.load(world, seed=seed, embedder="hash", skills=skills)
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
        "skipped": sum(e.type == "skill_skipped" for e in sim.events),
        "unchanged": sum(isinstance(e, Refined) and e.stopped == "unchanged"
                         for e in sim.events),
        "errors": dict(Counter(e.error_kind for e in used if not e.ok)),
    }
    sim.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--world", default=str(ROOT / "worlds" / "smallville"))
    ap.add_argument("--only-on", action="store_true")
    a = ap.parse_args()
    print("$ python benchmarks/bench_skills.py " + " ".join(sys.argv[1:]))
    if not hasattr(events, "SkillSkipped"):
        print("(an older checkout: it skips nothing)")
    rows = [one(True, a.hours, a.seed, a.world)]
    if not a.only_on:
        rows.insert(0, one(False, a.hours, a.seed, a.world))
    cols = ["skills", "wall s", "calls/res", "tokens/res", "skill runs", "ok",
            "distinct used", "learned", "write loops", "skipped", "unchanged"]
    print("  ".join(f"{c:>10}" for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]:>10.1f}" if isinstance(r[c], float) else f"{r[c]:>10}"
                        for c in cols))
    if a.only_on:
        print(f"failures by kind: {rows[0]['errors'] or 'none'}")
        return
    off, on = rows
    print(f"skills cost {on['wall s'] / off['wall s']:.2f}x the wall time and "
          f"{on['calls/res'] / off['calls/res']:.2f}x the LLM calls; failures by kind: "
          f"{on['errors'] or 'none'}")


if __name__ == "__main__":
    main()
