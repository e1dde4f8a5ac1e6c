"""Build a small new world in Python: a harbour village with a bakery, a boat yard and a pub,
four residents, and a rumour of a storm. Run it for a few hours and write what happened.

    python examples/build_a_world.py [--hours 12] [--seed 0] [--embedder minilm|hash]
                                     [--out runs/example-harbour]

The world is checked like a world folder (a mistake names the agent and the field), then
written as one (`world.yaml`, `agents/*.yaml`) so `agentsim run` and `agentsim replay` work on
it too. Runs on the offline mind unless --llm names a model; then what happens (whether the
storm rumour travels, who talks with whom) follows the offline mind's scripted rules
(docs/offline-mind.md), a baseline rather than a finding.
"""

from __future__ import annotations

import argparse
import csv
from datetime import datetime
from pathlib import Path

from agentsim import Simulation
from agentsim.world.loader import build_world, write_world
from agentsim.world.schema import (
    ObjectSpec,
    PathSpec,
    PersonaSpec,
    PlaceSpec,
    Relationship,
    RoutineItem,
    ScheduledEvent,
    SeedMemory,
    WorldSpec,
)


def room(id: str, name: str, *objects: ObjectSpec) -> PlaceSpec:
    return PlaceSpec(id=id, name=name, kind="room", objects=list(objects))


def area(id: str, name: str, *rooms: PlaceSpec) -> PlaceSpec:
    return PlaceSpec(id=id, name=name, kind="area", children=list(rooms))


def routine(*items: tuple[str, str, str]) -> list[RoutineItem]:
    return [RoutineItem(start=t, activity=a, place=p) for t, a, p in items]


def harbour() -> WorldSpec:
    oven = ObjectSpec(id="oven", name="bread oven", state="cold", states=["cold", "baking"])
    tap = ObjectSpec(id="beer_tap", name="beer tap", state="idle", states=["idle", "pouring"])
    places = PlaceSpec(id="harbour", name="Gull Harbour", kind="town", children=[
        area("bakery", "The Gull Bakery", room("bakery_kitchen", "kitchen", oven),
             room("bakery_shop", "shop")),
        area("boatyard", "Nell's Boat Yard", room("slipway", "slipway"),
             room("workshop", "workshop")),
        area("pub", "The Anchor", room("pub_bar", "bar", tap)),
        area("cottages", "Harbour Cottages", room("rosa_cottage", "Rosa's cottage"),
             room("nell_cottage", "Nell's cottage"), room("ivo_cottage", "Ivo's cottage"),
             room("pat_cottage", "Pat's cottage")),
    ])
    return WorldSpec(
        name="Gull Harbour", start=datetime(2024, 10, 7, 6, 0), tick_minutes=10, places=places,
        paths=[PathSpec(a="cottages", b="bakery", minutes=4),
               PathSpec(a="cottages", b="boatyard", minutes=6),
               PathSpec(a="bakery", b="pub", minutes=3),
               PathSpec(a="boatyard", b="pub", minutes=5)],
    )


def residents() -> dict[str, PersonaSpec]:
    storm = ScheduledEvent(title="storm watch", place="pub_bar",
                           start=datetime(2024, 10, 7, 19), end=datetime(2024, 10, 7, 21),
                           host="Nell Quay", host_role="organising")
    return {
        "rosa_brandt": PersonaSpec(
            name="Rosa Brandt", age=44, innate=["warm", "early riser"],
            background="Rosa bakes the village's bread and knows everyone's order.",
            lifestyle="Rosa is up before dawn and in bed by nine.", occupation="baker",
            home="rosa_cottage", wake="05:30", sleep="21:00",
            daily_routine=routine(("05:30", "light the oven and bake", "bakery_kitchen"),
                                  ("08:00", "sell bread in the shop", "bakery_shop"),
                                  ("13:00", "have lunch at the pub", "pub_bar"),
                                  ("14:00", "bake for tomorrow", "bakery_kitchen"),
                                  ("18:00", "rest at home", "rosa_cottage")),
            relationships=[Relationship(name="Nell Quay", relation="old friend",
                                        closeness=0.7)],
        ),
        "nell_quay": PersonaSpec(
            name="Nell Quay", age=58, innate=["practical", "blunt"],
            background="Nell runs the boat yard and reads the weather better than the radio.",
            lifestyle="Nell works with her hands all day.", occupation="boat builder",
            home="nell_cottage",
            daily_routine=routine(("07:00", "open the boat yard", "workshop"),
                                  ("09:00", "repair a hull on the slipway", "slipway"),
                                  ("12:30", "buy bread", "bakery_shop"),
                                  ("13:30", "work in the workshop", "workshop"),
                                  ("19:00", "watch the sea from the pub", "pub_bar"),
                                  ("21:00", "go home", "nell_cottage")),
            relationships=[Relationship(name="Rosa Brandt", relation="old friend",
                                        closeness=0.7),
                           Relationship(name="Ivo Marsh", relation="apprentice",
                                        closeness=0.5)],
            memories=[SeedMemory(text="A storm is coming in tonight; I am organising a storm "
                                      "watch at the Anchor from 19:00 so the boats are secured",
                                 importance=8, event=storm)],
        ),
        "ivo_marsh": PersonaSpec(
            name="Ivo Marsh", age=19, innate=["curious", "restless"],
            background="Ivo is Nell's apprentice and wants his own boat one day.",
            lifestyle="Ivo sleeps late when he can.", occupation="apprentice boat builder",
            home="ivo_cottage", wake="07:30",
            daily_routine=routine(("07:30", "grab breakfast at the bakery", "bakery_shop"),
                                  ("08:00", "sand planks in the workshop", "workshop"),
                                  ("12:00", "eat lunch on the slipway", "slipway"),
                                  ("13:00", "help on the slipway", "slipway"),
                                  ("18:00", "meet friends at the pub", "pub_bar"),
                                  ("22:00", "go home", "ivo_cottage")),
            relationships=[Relationship(name="Nell Quay", relation="teacher", closeness=0.6)],
        ),
        "pat_oyelaran": PersonaSpec(
            name="Pat Oyelaran", age=36, innate=["sociable", "funny"],
            background="Pat keeps the Anchor and hears every story in the harbour.",
            lifestyle="Pat works from noon to late.", occupation="publican",
            home="pat_cottage", wake="09:00", sleep="23:30",
            daily_routine=routine(("09:00", "buy bread for the pub", "bakery_shop"),
                                  ("10:00", "clean the bar and change the kegs", "pub_bar"),
                                  ("12:00", "serve lunch", "pub_bar"),
                                  ("17:00", "serve the evening crowd", "pub_bar"),
                                  ("23:00", "close up", "pat_cottage")),
            relationships=[Relationship(name="Rosa Brandt", relation="supplier",
                                        closeness=0.4)],
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--llm", default=None)
    ap.add_argument("--out", default="runs/example-harbour")
    args = ap.parse_args()

    out = Path(args.out)
    world = build_world(harbour(), residents())
    folder = write_world(world, out / "gull_harbour")
    print(f"wrote the world to {folder} ({len(world.personas)} residents, "
          f"{len(world.places.ids())} places)")

    sim = Simulation.load(str(folder), seed=args.seed, embedder=args.embedder, llm=args.llm,
                          out=str(out))
    sim.run(hours=args.hours)
    talks = [e for e in sim.events if e.type == "conversation"]
    heard = {e.agent for e in sim.events if e.type == "learned" and e.title == "storm watch"}
    rows = []
    for aid, agent in sorted(sim.agents.items()):
        rows.append({
            "resident": agent.name,
            "where": sim.world.places.name(agent.location),
            "doing": agent.action.activity if agent.action else "sleeping",
            "conversations": sum(aid in e.participants for e in talks),
            "knows of the storm watch": agent.name == "Nell Quay" or aid in heard,
        })
    table = out / "residents.csv"
    with table.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nat {sim.clock.now:%a %H:%M}, after {len(talks)} conversations:")
    for r in rows:
        print(f"  {r['resident']:<14} {r['where']:<18} {r['doing'][:28]:<28} "
              f"talks {r['conversations']}  storm watch: {'yes' if r[list(r)[-1]] else 'no'}")
    print(f"\nthe table: {table}; the run: {sim.run_dir.path}")
    sim.close()


if __name__ == "__main__":
    main()
