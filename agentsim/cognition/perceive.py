"""Perception: what an agent notices around it this tick (people in its area, objects in use)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from agentsim.cognition.agent import Agent
from agentsim.cognition.memorize import Experience
from agentsim.memory.record import MemoryKind
from agentsim.world.places import PlaceGraph


@dataclass(frozen=True)
class Seen:
    """Another agent as others can see it this tick."""

    id: str
    name: str
    place: str
    area: str
    activity: str  # the current 5-15 minute action
    doing: str  # the broad activity of the day plan, what others notice
    awake: bool
    moving: bool


@dataclass(frozen=True)
class WorldView:
    """A read-only snapshot of the world at the start of a tick; every agent perceives the same."""

    agents: dict[str, Seen]
    objects: dict[str, str]  # object id -> state
    by_area: dict[str, list[Seen]] = field(default_factory=dict)  # sorted by id

    def __post_init__(self) -> None:
        if not self.by_area:
            for s in sorted(self.agents.values(), key=lambda s: s.id):
                self.by_area.setdefault(s.area, []).append(s)


@dataclass(frozen=True)
class Percept:
    key: str
    text: str
    about: str | None = None  # an agent id, when the percept is a person


def perceive(agent: Agent, view: WorldView, places: PlaceGraph, attention: int) -> list[Percept]:
    """People in the same area and non-idle objects in the same place, nearest first, up to
    the agent's attention."""
    me = view.agents[agent.id]
    others = [o for o in view.by_area[me.area] if o.id != agent.id]
    others.sort(key=lambda s: s.place != me.place)  # stable: same room first, then by id
    out: list[Percept] = []
    for other in others[:attention]:
        doing = progressive(other.doing) if other.awake else "sleeping"
        out.append(Percept(f"{other.id}|{doing}", f"{other.name} is {doing}", other.id))
    for obj in places.objects_in(me.place):
        if len(out) >= attention:
            break
        state = view.objects.get(obj.id, obj.state)
        default = obj.states[0] if obj.states else obj.state
        if state != default:
            out.append(Percept(f"{obj.id}|{state}", f"the {obj.name} is {state}"))
    return out


_DOUBLE = {"run", "get", "sit", "shop", "jog", "chat", "plan", "stop", "swim", "put", "set",
           "cut", "hit", "nap", "dig", "tap", "map"}


@functools.lru_cache(maxsize=4096)
def progressive(activity: str) -> str:
    """"serve customers" -> "serving customers", for "Isabella Rodriguez is ..." sentences."""
    words = activity.strip().split(" ", 1)
    verb = words[0].lower()
    if not verb or verb.endswith("ing") or not verb.isalpha():
        return activity
    if verb in _DOUBLE:
        ing = verb + verb[-1] + "ing"
    elif verb.endswith("ie"):
        ing = verb[:-2] + "ying"
    elif verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) and verb != "be":
        ing = verb[:-1] + "ing"
    else:
        ing = verb + "ing"
    return " ".join([ing, *words[1:]])


def notice(agent: Agent, percepts: list[Percept]) -> list[Percept]:
    """Only what changed since last tick is new (the paper's event triples)."""
    new = [p for p in percepts if p.key not in agent.last_seen]
    agent.last_seen = {p.key for p in percepts}
    return new


def experiences(new: list[Percept], view: WorldView) -> list[Experience]:
    return [
        Experience(
            MemoryKind.observation,
            p.text,
            about=(view.agents[p.about].name,) if p.about else (),
        )
        for p in new
    ]
