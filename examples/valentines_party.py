"""Does Isabella's Valentine's Day party invitation spread, and who comes? Run Smallville from
the morning of February 13 until the party at Hobbs Cafe is over (February 14, 17:00-19:00),
count who has heard of it hour by hour, see who was at the cafe during the party, and ask a
few residents about it.

    python examples/valentines_party.py [--hours H] [--seed 1] [--embedder minilm|hash]
                                        [--out runs/example-valentines]

Without --hours the run stops when the party ends (37 sim-hours). Writes diffusion.csv (who
knows, hour by hour), came.csv (who was at the cafe during the party, arrival and departure)
and diffusion.png. Runs on the offline mind unless --llm names a model.

On the offline mind the answer to the question is set by rules, not found: its residents pass
on news and decide to come by scripted rules (listed in docs/offline-mind.md), so the curve
and the guest list are a rule baseline to set a model's run beside, not a result about
generative agents. With --llm they are the model's residents' own doing (docs/paper.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentsim import Simulation
from agentsim.events import TickEnded

PARTY = "Valentine's Day party"
BASELINE = ("On the offline mind (no --llm) these figures are a scripted rule baseline: who "
            "hears of the party and who comes is what its rules make happen "
            "(docs/offline-mind.md), not a finding about the residents.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=None,
                    help="sim hours to run (default: until the party is over)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-valentines")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sim = Simulation.load("worlds/smallville", seed=args.seed, embedder=args.embedder,
                          llm=args.llm)
    party = next(m.event for m in sim.agent("Isabella Rodriguez").persona.memories
                 if m.event and m.event.title == PARTY)
    if args.llm is None:
        print(BASELINE)

    def progress(e) -> None:  # a line every three sim-hours while it runs
        if isinstance(e, TickEnded) and (e.tick + 1) % 18 == 0:
            known = sim.metrics.diffusion(PARTY)["knowers"].iloc[-1]
            print(f"{e.time:%a %H:%M}  {known:2d} residents know of the party", flush=True)

    sim.bus.subscribe(progress)
    if args.hours is None:
        sim.run(until=lambda s: s.clock.now >= party.end)
    else:
        sim.run(hours=args.hours)

    m = sim.metrics
    spread = m.diffusion(PARTY)
    spread.to_csv(out / "diffusion.csv", index=False)
    came = m.occupancy(party.place, party.start, party.end)
    came.to_csv(out / "came.csv", index=False)
    place = sim.world.places.name(party.place)
    if sim.clock.now > party.start:
        print(f"\nAt {place}, {party.start:%b %d %H:%M}-{party.end:%H:%M}: {len(came)} came: "
              + ", ".join(came["name"]))
    else:
        print(f"\nThe run stops at {sim.clock.now:%a %H:%M}, before the party "
              f"({party.start:%a %H:%M}); run longer to see who comes.")

    question = "Are you going to any parties this week?"
    answers = sim.interview([n for n in came["name"][:3]] or ["Klaus Mueller"], question)
    for a in answers:
        print(f"\n{sim.agent(a.agent).name}: {a.answer[:300]}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.plot(spread["time"], spread["share"] * 100, linewidth=2, color="#c44e52",
            label="residents who know of the party")
    if sim.clock.now > party.start:
        ax.axvspan(party.start, party.end, color="#f2b134", alpha=0.3,
                   label=f"the party: {len(came)} came")
    ax.set_ylim(0, 105)
    ax.set_ylabel("residents (%)")
    ax.set_title(f"Isabella's {PARTY} in Smallville (seed {args.seed})")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out / "diffusion.png", dpi=110)
    print(f"\nwrote {out / 'diffusion.csv'}, {out / 'came.csv'} and {out / 'diffusion.png'}")
    sim.close()


if __name__ == "__main__":
    main()
