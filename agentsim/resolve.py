"""Resolving intents into effects, deterministically: agents in sorted id order.

Movement follows the place graph and takes travel time; an action on an object changes its
state when the agent is there; two agents who want to talk are paired once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentsim.cognition.agent import Agent
from agentsim.cognition.perceive import Seen, WorldView
from agentsim.cognition.step import Intent
from agentsim.events import ActionStarted, Event, Moved, ObjectChanged

if TYPE_CHECKING:
    from agentsim.engine import Simulation


def world_view(sim: Simulation) -> WorldView:
    places = sim.world.places
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
            for a in sim.agents.values()
        },
        objects=dict(sim.objects),
    )


def _broad(a: Agent) -> str:
    if a.action is None:
        return "sleeping"
    for item in a.day_plan:
        if item.start <= a.action.start < item.end:
            return item.activity
    return a.action.activity


class Resolver:
    def __init__(self, sim: Simulation):
        self.sim = sim

    def resolve(self, intents: list[Intent]) -> list[tuple[Agent, Agent]]:
        """Pair talkers, then start actions, move and use objects, in sorted agent order."""
        sim = self.sim
        out: list[Event] = []
        ordered = sorted(intents, key=lambda i: i.agent)
        pairs = self._pair(ordered)
        talking = {a.id for pair in pairs for a in pair}
        for intent in ordered:
            agent = sim.agents[intent.agent]
            self._start(agent, intent, out)
            if agent.id not in talking:
                self._move(agent, intent.action.place, out)
            self._use_object(agent, out)
        sim._publish(out)
        return pairs

    def _pair(self, ordered: list[Intent]) -> list[tuple[Agent, Agent]]:
        sim, places = self.sim, self.sim.world.places
        paired: set[str] = set()
        pairs = []
        # Who gets to talk first when two want the same person: a seeded draw, not the alphabet.
        talkers = [i for i in ordered if i.talk_to is not None]
        sim.rng.shuffle(talkers)
        for intent in talkers:
            a, b = sim.agents[intent.agent], sim.agents.get(intent.talk_to)
            if b is None or a.id in paired or b.id in paired or not (a.awake and b.awake):
                continue
            if a.route or b.route or places.area_of(a.location) != places.area_of(b.location):
                continue
            pairs.append((a, b))
            paired |= {a.id, b.id}
        return pairs

    def _start(self, agent: Agent, intent: Intent, out: list[Event]) -> None:
        new, old = intent.action, agent.action
        if old is not None and (old.activity, old.place, old.start) == (
            new.activity, new.place, new.start
        ):
            return
        if old is not None and old.activity == new.activity == "sleeping":
            agent.action = new
            return
        agent.action = new
        out.append(ActionStarted(tick=self.sim.clock.tick, time=self.sim.clock.now,
                                 agent=agent.id, activity=new.activity, place=new.place,
                                 until=new.end))

    def _move(self, agent: Agent, target: str, out: list[Event]) -> None:
        sim, places = self.sim, self.sim.world.places
        if agent.location == target:
            agent.route, agent.route_started = [], None
            return
        if agent.destination != target or agent.route_started is None:
            agent.route = places.route(agent.location, target)
            agent.route_started = sim.clock.now
        elapsed = (sim.clock.now + sim.clock.tick_delta - agent.route_started).total_seconds() / 60
        reached = [p for p, minutes in agent.route if minutes <= elapsed]
        here = reached[-1] if reached else agent.location
        if here != agent.location:
            out.append(Moved(tick=sim.clock.tick, time=sim.clock.now, agent=agent.id,
                             src=agent.location, dst=here, destination=target))
            agent.location = here
        if here == target:
            agent.route, agent.route_started = [], None

    def _use_object(self, agent: Agent, out: list[Event]) -> None:
        action = agent.action
        if action is None or action.object is None or action.object_state is None:
            return
        if agent.location != action.place:
            return
        old = self.sim.objects.get(action.object)
        if old is None or old == action.object_state:
            return
        self.sim.objects[action.object] = action.object_state
        out.append(ObjectChanged(tick=self.sim.clock.tick, time=self.sim.clock.now,
                                 object=action.object, place=action.place, old=old,
                                 new=action.object_state, agent=agent.id))
