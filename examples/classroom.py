"""What did each student take from the lesson? Run worlds/classroom: a quiz by interview, a
three-topic lesson the teacher gives from the world's knowledge/, the quiz again; print each
student's score before and after.

    python examples/classroom.py [--hours H] [--seed 0] [--embedder minilm|hash] [--llm SPEC]
                                 [--out runs/example-classroom]

Without --hours the run stops when the second quiz is done. Writes scores.csv (per student,
before and after), scores.png and the run directory (events, measures.csv, measures.json)
under --out.

On the offline mind the teacher quotes its notes and the students answer from the memories
a question retrieves (worlds/classroom/README.md): the scores are that script's baseline of
remembering, not a finding about teaching; with --llm they are the model's own.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from agentsim import Simulation
from agentsim.protocols.measures import measured_rows

BASELINE = ("On the offline mind (no --llm) the lesson and the answers follow a stated script "
            "(worlds/classroom/README.md): a rule baseline, not a finding about the agents.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=None,
                    help="sim hours to run (default: until the second quiz is done)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-classroom")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sim = Simulation.load("worlds/classroom", seed=args.seed, embedder=args.embedder,
                          llm=args.llm, out=str(out))
    if args.llm is None:
        print(BASELINE)
    if args.hours is None:
        sim.run(until=lambda s: s.protocol.finished)
    else:
        sim.run(hours=args.hours)
    summary = type(sim.protocol).summarise(measured_rows(sim.events))
    names = {aid: a.name for aid, a in sim.agents.items()}
    sim.close()

    before, after = summary["by_student_before"], summary["by_student_after"]
    students = sorted(set(before) | set(after))
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "before", "after"])
        for s in students:
            w.writerow([names[s], before.get(s, ""), after.get(s, "")])
    print("student           before  after")
    for s in students:
        b, a = before.get(s), after.get(s)
        print(f"{names[s]:<16} {'' if b is None else f'{b:6.0%}':>7} "
              f"{'(not yet)' if a is None else f'{a:6.0%}':>7}")
    share = summary.get("model_share")
    print(f"answered by: {summary.get('answered_by')}"
          + ("" if share is None else f" (the model gave {share:.0%} of the answers counted)"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    xs = range(len(students))
    ax.bar([x - 0.2 for x in xs], [before.get(s, 0) for s in students], 0.4, label="before")
    ax.bar([x + 0.2 for x in xs], [after.get(s, 0) for s in students], 0.4, label="after")
    ax.set_xticks(list(xs), [names[s] for s in students], fontsize=8)
    ax.set_ylabel("quiz score")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=110)
    print(f"wrote {out / 'scores.csv'} and {out / 'scores.png'}")


if __name__ == "__main__":
    main()
