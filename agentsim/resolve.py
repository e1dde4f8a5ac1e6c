"""Resolving intents into effects, deterministically: agents in sorted id order.

Movement follows the place graph and takes travel time; an action on an object changes its
state when the agent is there; two agents who want to talk are paired once.

`resolve` is a function of (intents, agents, objects, places, clock, rng): it updates the
agents and objects it is handed and returns the pairs that talk and the events that happened,
which the engine publishes. It knows no simulation, bus or run directory.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

from agentsim.cognition.agent import Agent
from agentsim.cognition.perceive import Seen, WorldView
from agentsim.cognition.step import Intent
from agentsim.events import ActionStarted, Event, Moved, ObjectChanged
from agentsim.world.clock import SimClock
from agentsim.world.places import PlaceGraph


def world_view(agents: Mapping[str, Agent], objects: Mapping[str, str],
               places: PlaceGraph) -> WorldView:
    """What every agent can see of the others and of the objects at the start of a tick."""
    return WorldView(
        agents={
            a.id: Seen(
                id=a.id,
                name=a.name,
                place=a.location,
                area=places.area_of(a.location),
                activity=a.action.activity if a.action else "sleeping",
                doing=_broad(a),
                awake=a.awake,
                moving=bool(a.route),
            )
            for a in agents.values()
        },
        objects=dict(objects),
    )


def _broad(a: Agent) -> str:
    if a.action is None:
        return "sleeping"
    for item in a.day_plan:
        if item.start <= a.action.start < item.end:
            return item.activity
    return a.action.activity


@dataclass
class Resolution:
    """What a tick's intents came to: who talks to whom, and the events to publish."""

    pairs: list[tuple[Agent, Agent]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def resolve(intents: list[Intent], agents: Mapping[str, Agent],
            objects: MutableMapping[str, str], places: PlaceGraph, clock: SimClock,
            rng: random.Random) -> Resolution:
    """Pair talkers, then start actions, move and use objects, in sorted agent order."""
    r = _Resolve(agents, objects, places, clock)
    ordered = sorted(intents, key=lambda i: i.agent)
    pairs = r.pair(ordered, rng)
    talking = {a.id for pair in pairs for a in pair}
    for intent in ordered:
        agent = agents[intent.agent]
        r.start(agent, intent)
        if agent.id not in talking:
            r.move(agent, intent.action.place)
        r.use_object(agent)
    return Resolution(pairs, r.out)


class _Resolve:
    """The steps of one resolution, sharing what they read and the events they collect."""

    def __init__(self, agents: Mapping[str, Agent], objects: MutableMapping[str, str],
                 places: PlaceGraph, clock: SimClock):
        self.agents, self.objects, self.places, self.clock = agents, objects, places, clock
        self.out: list[Event] = []

    def pair(self, ordered: list[Intent], rng: random.Random) -> list[tuple[Agent, Agent]]:
        # Who gets to talk first when two want the same person: a seeded draw, not the alphabet.
        talkers = [i for i in ordered if i.talk_to is not None]
        rng.shuffle(talkers)
        return pair_in_order(talkers, self.agents, self.places)

    def start(self, agent: Agent, intent: Intent) -> None:
        new, old = intent.action, agent.action
        if old is not None and (old.activity, old.place, old.start) == (
            new.activity, new.place, new.start
        ):
            return
        if old is not None and old.activity == new.activity == "sleeping":
            agent.action = new
            return
        agent.action = new
        self.out.append(ActionStarted(tick=self.clock.tick, time=self.clock.now,
                                      agent=agent.id, activity=new.activity, place=new.place,
                                      until=new.end))

    def move(self, agent: Agent, target: str) -> None:
        clock, places = self.clock, self.places
        if agent.location == target:
            agent.route, agent.route_started = [], None
            return
        if agent.destination != target or agent.route_started is None:
            agent.route = places.route(agent.location, target)
            agent.route_started = clock.now
        elapsed = (clock.now + clock.tick_delta - agent.route_started).total_seconds() / 60
        reached = [p for p, minutes in agent.route if minutes <= elapsed]
        here = reached[-1] if reached else agent.location
        if here != agent.location:
            self.out.append(Moved(tick=clock.tick, time=clock.now, agent=agent.id,
                                  src=agent.location, dst=here, destination=target))
            agent.location = here
        if here == target:
            agent.route, agent.route_started = [], None

    def use_object(self, agent: Agent) -> None:
        action = agent.action
        if action is None or action.object is None or action.object_state is None:
            return
        if agent.location != action.place:
            return
        old = self.objects.get(action.object)
        if old is None or old == action.object_state:
            return
        self.objects[action.object] = action.object_state
        self.out.append(ObjectChanged(tick=self.clock.tick, time=self.clock.now,
                                      object=action.object, place=action.place, old=old,
                                      new=action.object_state, agent=agent.id))


def pair_in_order(talkers: list[Intent], agents: Mapping[str, Agent],
                  places: PlaceGraph) -> list[tuple[Agent, Agent]]:
    """Pair the talkers in the order given (`resolve` draws it): each with the one it asks
    for, if both are awake, free, not on their way and in the same area. Reads, changes
    nothing (`agentsim.ahead` tries orders with it)."""
    paired: set[str] = set()
    pairs = []
    for intent in talkers:
        a, b = agents[intent.agent], agents.get(intent.talk_to or "")
        if b is None or a.id in paired or b.id in paired or not (a.awake and b.awake):
            continue
        if a.route or b.route or places.area_of(a.location) != places.area_of(b.location):
            continue
        pairs.append((a, b))
        paired |= {a.id, b.id}
    return pairs
