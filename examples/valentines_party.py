"""Does Isabella's Valentine's Day party invitation spread? Run Smallville from the morning of
February 13 and count who has heard of the party, hour by hour; then ask a few residents.

    python examples/valentines_party.py [--hours 18] [--seed 1] [--embedder minilm|hash]

Runs on the offline mind unless --llm names a model.
"""

from __future__ import annotations

import argparse

from agentsim import Simulation
from agentsim.events import Learned, TickEnded


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=18, help="38 reaches the party (Feb 14, 17-19)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    args = ap.parse_args()

    sim = Simulation.load("worlds/smallville", seed=args.seed, embedder=args.embedder,
                          llm=args.llm)
    heard: set[str] = set()

    def on_event(e) -> None:
        if isinstance(e, Learned) and e.title == "Valentine's Day party":
            heard.add(e.agent)
        elif isinstance(e, TickEnded) and (e.tick + 1) % 6 == 0:
            print(f"{e.time:%a %H:%M}  {len(heard):2d} residents have heard of the party")

    sim.bus.subscribe(on_event)
    sim.run(hours=args.hours)
    for name in sorted(heard)[:3]:
        answer = sim.interview(name, "Are you going to any parties this week?")
        print(f"\n{sim.agent(name).name}: {answer.answer}")
    party = next(m.event for m in sim.agent("Isabella Rodriguez").persona.memories if m.event)
    if sim.clock.now > party.start:
        came = sim.metrics.occupancy(party.place, party.start, party.end)
        print(f"\nAt Hobbs Cafe, {party.start:%b %d %H:%M}-{party.end:%H:%M}: {len(came)} came: "
              + ", ".join(came["name"]))
    sim.close()


if __name__ == "__main__":
    main()
