"""What the views show: each resident at one moment, read from a live simulation or rebuilt
from an event log. No Textual here, so the replay reconstruction is testable on its own.

A `Tracker` folds events into what the simulation does not keep: who talked with whom during
the last tick, the last conversation each resident took part in, and the skills each one used
lately (its last `skill_used` events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentsim.events import (
    ActionStarted,
    Conversation,
    Event,
    FellAsleep,
    Moved,
    SkillUsed,
    TickEnded,
    WokeUp,
)
from agentsim.experiment import Simulation
from agentsim.world.places import PlaceGraph

SKILLS_KEPT = 6  # skill uses remembered per resident

@dataclass(frozen=True)
class Resident:
    """One row of the resident table and one leaf of the town tree."""

    id: str
    name: str
    place: str
    doing: str
    talking_with: tuple[str, ...] = ()  # agent ids
    home: str = ""


@dataclass(frozen=True)
class Frame:
    """The town at one moment: after every tick before `tick` has run."""

    tick: int
    time: datetime
    residents: dict[str, Resident]  # by agent id, sorted by id
    conversations: dict[str, Conversation] = field(default_factory=dict)  # last, per agent id
    skills: dict[str, tuple[SkillUsed, ...]] = field(default_factory=dict)  # last uses, per agent


def title(text: str) -> str:
    """'the Lin family's house' -> 'The Lin family's house' (for headings and cells)."""
    return text[:1].upper() + text[1:]


def where(places: PlaceGraph, place: str) -> str:
    """'Hobbs Cafe: counter' for a room, 'Johnson Park' for an area."""
    if place not in places:
        return place
    area = places.area_of(place)
    if area == place:
        return title(places.name(area))
    return f"{title(places.name(area))}: {places.name(place)}"


class Tracker:
    """Folds events, in order, into the talk of the last tick and each one's last conversation.

    `residents` follows moves, actions and sleep too, which is all a replay has to go on;
    a live view reads those from the agents instead."""

    def __init__(self, names: dict[str, str], homes: dict[str, str]):
        self.names = names
        self.residents: dict[str, Resident] = {
            aid: Resident(aid, names[aid], homes[aid], "sleeping", home=homes[aid])
            for aid in sorted(names)
        }
        self.talking: dict[str, tuple[str, ...]] = {}  # during the last finished tick
        self.conversations: dict[str, Conversation] = {}
        self.skills: dict[str, tuple[SkillUsed, ...]] = {}  # last uses, oldest first
        self._asleep = set(names)
        self._activity: dict[str, str] = {}
        self._talk_now: dict[str, list[str]] = {}

    @classmethod
    def for_sim(cls, sim: Simulation) -> Tracker:
        return cls({aid: a.name for aid, a in sim.agents.items()},
                   {aid: a.persona.home for aid, a in sim.agents.items()})

    def name(self, aid: str) -> str:
        return self.names.get(aid, aid)

    def feed(self, e: Event) -> None:
        if isinstance(e, SkillUsed):
            if e.agent in self.residents:
                self.skills[e.agent] = (*self.skills.get(e.agent, ()), e)[-SKILLS_KEPT:]
        elif isinstance(e, Conversation):
            for p in e.participants:
                self.conversations[p] = e
                others = [o for o in e.participants if o != p]
                self._talk_now.setdefault(p, []).extend(others)
        elif isinstance(e, TickEnded):
            self.talking = {a: tuple(ps) for a, ps in self._talk_now.items()}
            self._talk_now = {}
            for aid in self.residents:
                self._update(aid)
        elif isinstance(e, Moved) and e.agent in self.residents:
            self._update(e.agent, place=e.dst)
        elif isinstance(e, ActionStarted) and e.agent in self.residents:
            self._activity[e.agent] = e.activity
            self._update(e.agent)
        elif isinstance(e, WokeUp | FellAsleep) and e.agent in self.residents:
            if isinstance(e, FellAsleep):
                self._asleep.add(e.agent)
            else:
                self._asleep.discard(e.agent)
            self._update(e.agent)

    def _update(self, aid: str, place: str | None = None) -> None:
        r = self.residents[aid]
        doing = "sleeping" if aid in self._asleep else self._activity.get(aid, r.doing)
        self.residents[aid] = Resident(aid, r.name, place or r.place, doing,
                                       self.talking.get(aid, ()), r.home)

    def frame(self, tick: int, time: datetime) -> Frame:
        return Frame(tick, time, dict(self.residents), dict(self.conversations),
                     dict(self.skills))


def doing(agent: Any, talking_with: tuple[str, ...]) -> str:
    """What an agent is doing: its action; awake without one (a debate panel plans no day:
    its protocol keeps it talking), 'talking' or 'awake'; else 'sleeping'."""
    if not agent.awake:
        return "sleeping"
    if agent.action:
        return agent.action.activity
    return "talking" if talking_with else "awake"


def live_frame(sim: Simulation, tracker: Tracker) -> Frame:
    """The town now, from the agents themselves (and the tracker for who is talking)."""
    residents = {
        aid: Resident(aid, a.name, a.location, doing(a, tracker.talking.get(aid, ())),
                      tracker.talking.get(aid, ()), a.persona.home)
        for aid, a in sorted(sim.agents.items())
    }
    return Frame(sim.clock.tick, sim.clock.now, residents, dict(tracker.conversations),
                 dict(tracker.skills))
