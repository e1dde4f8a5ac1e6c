"""Does debating help? Four panellists answer each question of worlds/debate alone (round 0),
then hear each other's answers and may revise (rounds 1 and 2), as in Du et al. 2023. Compare
the accuracy of one agent's first answer with the panel's final majority, round by round.

    python examples/debate.py [--hours H] [--seed 0] [--embedder minilm|hash] [--llm SPEC]
                              [--out runs/example-debate]

Without --hours the run stops when every question has been debated (20 questions x 3 rounds,
one round a tick). Writes by_round.csv (accuracy by round: one agent, the majority),
by_round.png, and the run directory (events, measures.csv, measures.json) under --out.

On the offline mind the panellists are scripted (worlds/debate/README.md): they work out
arithmetic with a slip rate set by their traits, do not know factual answers at all, and
revise toward the majority with a fixed probability. The figures are that rule's baseline,
not a finding about language models; with --llm they are the model's own answers.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from agentsim import Simulation
from agentsim.protocols.measures import measured_rows

BASELINE = ("On the offline mind (no --llm) the answers follow a stated script "
            "(worlds/debate/README.md): a rule baseline, not a finding about the agents.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=None,
                    help="sim hours to run (default: until every question is debated)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-debate")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sim = Simulation.load("worlds/debate", seed=args.seed, embedder=args.embedder,
                          llm=args.llm, out=str(out))
    if args.llm is None:
        print(BASELINE)
    if args.hours is None:
        sim.run(until=lambda s: s.protocol.finished)
    else:
        sim.run(hours=args.hours)
    summary = type(sim.protocol).summarise(measured_rows(sim.events))
    sim.close()

    one, group = summary["one_agent_accuracy_by_round"], summary["majority_accuracy_by_round"]
    with open(out / "by_round.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["round", "one_agent_accuracy", "majority_accuracy"])
        for r in sorted(one):
            w.writerow([r, f"{one[r]:.3f}", f"{group[r]:.3f}"])
    print(f"{summary['questions']} questions debated")
    print("round  one agent  majority")
    for r in sorted(one):
        print(f"{r:5d}  {one[r]:9.0%}  {group[r]:8.0%}")
    print(f"single agent (round 0): {summary['single_agent']:.0%}; "
          f"debate (final majority): {summary['debate']:.0%}")
    share = summary.get("model_share")
    print(f"answered by: {summary.get('answered_by')}"
          + ("" if share is None else f" (the model gave {share:.0%} of the answers counted)"))
    if "debate_model" in summary:  # some answers were fallbacks: the model's own, apart
        print(f"the model's answers only: single agent {summary['single_agent_model']:.0%}; "
              f"debate {summary['debate_model']:.0%}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    rounds = sorted(one)
    ax.plot(rounds, [one[r] for r in rounds], marker="o", label="one agent (mean)")
    ax.plot(rounds, [group[r] for r in rounds], marker="o", label="majority")
    ax.set_xticks(rounds)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "by_round.png", dpi=110)
    print(f"wrote {out / 'by_round.csv'} and {out / 'by_round.png'}")


if __name__ == "__main__":
    main()
