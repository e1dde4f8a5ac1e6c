"""Control versus treatment: run Smallville to a morning, fork it, whisper a rumour to one
resident in the treatment only, and compare how far it spreads.

    python examples/fork_rumour.py [--warmup 2] [--hours 10] [--seed 1] [--embedder minilm|hash]
                                   [--out runs/example-fork]

Writes diffusion.csv (the share who know, tick by tick, in both worlds) and diffusion.png.
The control must stay at zero: nobody there has heard the rumour, and a fork left alone
replays the original exactly.

On the offline mind (no --llm) how far the rumour spreads in the treatment is set by its
scripted rules for passing news on (docs/offline-mind.md): a rule baseline, not a finding about
how rumours travel among generative agents. With --llm it is the model's residents' doing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentsim import Simulation

RUMOUR = "The Willows Market is closing for good at the end of the month"
WHO = "Tom Moreno"
PHRASE = "closing for good"
BASELINE = ("On the offline mind (no --llm) the treatment's spread is a scripted rule baseline "
            "(docs/offline-mind.md), not a finding about the residents.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=float, default=2, help="hours before the fork (from 06:00)")
    ap.add_argument("--hours", type=float, default=10, help="hours after the fork")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-fork")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sim = Simulation.load("worlds/smallville", seed=args.seed, embedder=args.embedder,
                          llm=args.llm)
    if args.llm is None:
        print(BASELINE)
    sim.run(hours=args.warmup)
    control, treatment = sim.fork(), sim.fork()
    forked = sim.clock.now
    treatment.whisper(WHO, RUMOUR, importance=9)
    print(f"{sim.clock.now:%a %H:%M}: forked; whispered to {WHO} in the treatment: {RUMOUR!r}")
    control.run(hours=args.hours)
    treatment.run(hours=args.hours)

    c = control.metrics.diffusion(PHRASE)
    t = treatment.metrics.diffusion(PHRASE)
    table = t.rename(columns={"knowers": "treatment_knowers", "share": "treatment_share"})
    table["control_knowers"] = c["knowers"].to_numpy()
    table["control_share"] = c["share"].to_numpy()
    table.to_csv(out / "diffusion.csv", index=False)
    for label, d in (("control", c), ("treatment", t)):
        hourly = d[d["tick"] % 6 == 0]
        print(f"{label:>9}: " + "  ".join(f"{r.time:%H:%M} {r.knowers:2d}"
                                          for r in hourly.itertuples()))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(t["time"], t["share"] * 100, label=f"treatment (rumour whispered to {WHO})")
    ax.plot(c["time"], c["share"] * 100, label="control", linestyle="--")
    ax.axvline(forked, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylabel("residents who heard it (%)")
    ax.set_title("A rumour in Smallville: treatment vs control")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M"))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out / "diffusion.png", dpi=110)
    print(f"\nat {treatment.clock.now:%H:%M}: {t['knowers'].iloc[-1]} residents heard the rumour "
          f"in the treatment, {c['knowers'].iloc[-1]} in the control")
    print(f"wrote {out / 'diffusion.csv'} and {out / 'diffusion.png'}")
    for s in (control, treatment, sim):
        s.close()


if __name__ == "__main__":
    main()
