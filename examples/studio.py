"""How far does a small team get? Run worlds/studio: a lead, a developer and a tester write
word_count together, every candidate run against the world's tests in the skill sandbox;
print the tests the shared module passes after each iteration, and who said how much.

    python examples/studio.py [--hours H] [--seed 0] [--embedder minilm|hash] [--llm SPEC]
                              [--out runs/example-studio]

Without --hours the run stops when the team is done (every test passes, or the last
iteration). Writes progress.csv (per iteration: the shared module's and the candidate's
tests passed, accepted or not), progress.png and the run directory (events, measures.csv,
measures.json) under --out.

On the offline mind the developer draws the world's sketches by seed and the lead accepts a
candidate that passes more tests (worlds/studio/README.md): the curve is that script's
baseline, not a finding about teams; with --llm it is the model's own.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from agentsim import Simulation
from agentsim.protocols.measures import measured_rows

BASELINE = ("On the offline mind (no --llm) the team follows a stated script "
            "(worlds/studio/README.md): sketches drawn by seed, never fixes; a rule "
            "baseline, not a finding about the agents.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=None,
                    help="sim hours to run (default: until the team is done)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-studio")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sim = Simulation.load("worlds/studio", seed=args.seed, embedder=args.embedder,
                          llm=args.llm, out=str(out))
    if args.llm is None:
        print(BASELINE)
    if args.hours is None:
        sim.run(until=lambda s: s.protocol.finished)
    else:
        sim.run(hours=args.hours)
    rows = measured_rows(sim.events)
    summary = type(sim.protocol).summarise(rows)
    sim.close()

    its = [r for r in rows if r["kind"] == "iteration"]
    with open(out / "progress.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "passed", "total", "candidate_passed", "accepted", "summary"])
        for r in its:
            w.writerow([r["iteration"], r["passed"], r["total"], r["candidate_passed"],
                        r["accepted"], r["summary"]])
    print("iteration  shared  candidate  accepted  change")
    for r in its:
        cand = "" if r["candidate_passed"] is None else f"{r['candidate_passed']}/{r['total']}"
        acc = "" if r["accepted"] is None else ("yes" if r["accepted"] else "no")
        print(f"{r['iteration']:>9}  {r['passed']}/{r['total']:<4} {cand:>9}  {acc:>8}  "
              f"{r['summary']}")
    print("messages by role:", ", ".join(f"{k} {v}" for k, v in
                                         summary["messages_by_role"].items()) or "none yet")
    share = summary.get("model_share")
    print(f"answered by: {summary.get('answered_by')}"
          + ("" if share is None else f" (the model gave {share:.0%} of the answers counted)"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.step([r["iteration"] for r in its], [r["passed"] for r in its], where="post",
            label="shared module")
    tried = [r for r in its if r["candidate_passed"] is not None]
    ax.scatter([r["iteration"] for r in tried], [r["candidate_passed"] for r in tried],
               marker="x", color="grey", label="candidate")
    ax.set_xlabel("iteration")
    ax.set_ylabel("tests passed")
    ax.set_ylim(-0.3, (its[0]["total"] if its else 1) + 0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "progress.png", dpi=110)
    print(f"wrote {out / 'progress.csv'} and {out / 'progress.png'}")


if __name__ == "__main__":
    main()
