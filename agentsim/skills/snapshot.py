"""The world as one agent can act on it, as the JSON data a skill runs against (the format
`agentsim.skills.api.WorldProxy` reads; see `agentsim.skills.sandbox`).

A snapshot is the whole town as its agent sees it, but most of it is the same for every
snapshot of a world: the places, the walking graph and the objects as they start. Those
parts are built once per world and shared (never copied), and a `Snapshot` says which they
are (`shared`) and which object states differ from them (`overrides`), so that a warm
sandbox worker is sent the shared parts once and each run only what is its own: the cost of
a run does not grow with the town's places and objects. Where everyone is (the people) is the
same for every snapshot of one tick: built once per tick as a `Crowd`, it is sent to a warm
worker once per tick, not with each run, so neither does a run's cost grow with the town's
residents."""

from __future__ import annotations

import functools
import itertools
import marshal
from collections.abc import Callable, Mapping
from typing import Any

from agentsim.world.places import PlaceGraph

_tokens = itertools.count(1)


class Shared:
    """The parts of a world's snapshots that every snapshot of it shares (read-only)."""

    def __init__(self, places: dict[str, Any], edges: list[list[Any]],
                 objects: dict[str, dict[str, Any]],
                 minutes: Callable[[str, str], float] | None = None):
        self.places, self.edges, self.objects = places, edges, objects
        # the walking minutes between two places as the world measures them (KeyError: no
        # route), for the parent's replay of a run's steps (`api.replay`); never sent
        self.minutes = minutes
        self.token = f"world-{next(_tokens)}"  # unique in this process

    @functools.cached_property
    def payload(self) -> bytes:
        """The shared parts as marshal data, made once (for the sandbox's warm workers), with
        the walking graph as the skill API's proxy reads it (`api._adjacency`): a run on a
        warm worker is handed it built, not building it from the whole town again."""
        from agentsim.skills.api import _adjacency, _object_index

        return marshal.dumps({"places": self.places, "edges": self.edges,
                              "objects": self.objects,
                              "adjacency": _adjacency(self.places, self.edges),
                              "object_index": _object_index(self.objects)})


class Crowd:
    """Where everyone is at one tick, {id: {"name", "place"}}, shared by that tick's
    snapshots (read-only): a warm worker is sent it once (`payload`), and each run takes
    out its own agent."""

    def __init__(self, people: dict[str, dict[str, str]]):
        self.people = people
        self.token = f"crowd-{next(_tokens)}"  # unique in this process

    @functools.cached_property
    def payload(self) -> bytes:
        return marshal.dumps(self.people)

    @functools.cached_property
    def by_place(self) -> dict[str, list[str]]:
        """Who is where: place -> the ids there, in the crowd's order (made once per tick)."""
        at: dict[str, list[str]] = {}
        for pid, p in self.people.items():
            at.setdefault(p["place"], []).append(pid)
        return at

    def without(self, agent: str) -> Others:
        """The others: what a snapshot of `agent` holds as its people (a view, not a copy:
        a snapshot per skill attempt, each copying the whole town's people, grew a tick's
        work with the square of its residents)."""
        return Others(self.people, agent)


class Others(Mapping[str, dict[str, str]]):
    """A crowd's people without one of them, read-only. A reader that needs a dict (marshal,
    for a fresh sandbox child) makes one; the skill API's proxy keeps it as it is
    (`api._own`: a mapping that says `read_only`)."""

    read_only = True
    __slots__ = ("_agent", "_people")

    def __init__(self, people: dict[str, dict[str, str]], agent: str):
        self._people, self._agent = people, agent

    def __getitem__(self, key: str) -> dict[str, str]:
        if key == self._agent:
            raise KeyError(key)
        return self._people[key]

    def __contains__(self, key: object) -> bool:
        return key != self._agent and key in self._people

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (k for k in self._people if k != self._agent)

    def __len__(self) -> int:
        return len(self._people) - (self._agent in self._people)


class Snapshot(dict):  # type: ignore[type-arg]
    """A snapshot (a plain dict to every reader) that knows its shared parts, the object
    states that differ from them, and the tick's crowd its people were taken from."""

    shared: Shared | None = None
    overrides: dict[str, str]
    crowd: Crowd | None = None


def world_snapshot(places: PlaceGraph, *, agent: str, name: str, location: str, time: str,
                   states: Mapping[str, str], people: Mapping[str, tuple[str, str]] | None = None,
                   documents: Mapping[str, str],
                   crowd: Crowd | None = None) -> Snapshot:
    """`states`: object id -> current state (objects not in it keep their initial state);
    `people`: the others, agent id -> (name, place), or `crowd` everyone at this tick (the
    snapshot holds the others); `documents`: id -> title, the
    documents there are (places list only those). The places, the walking graph and the
    unchanged objects are shared by every snapshot of a world: treat a snapshot as read-only
    (the sandbox never changes it)."""
    shared = _static(places, frozenset(documents))
    overrides, objects = _objects(shared, states)
    people_data = (crowd.without(agent) if crowd is not None else
                   {i: {"name": n, "place": p} for i, (n, p) in (people or {}).items()})
    snap = Snapshot(agent=agent, name=name, location=location, time=time,
                    places=shared.places, edges=shared.edges, objects=objects,
                    people=people_data, documents=dict(documents))
    snap.shared, snap.overrides, snap.crowd = shared, overrides, crowd
    return snap


_LAST: list[Any] = [None, None, None]  # [the states, their shared parts, (overrides, objects)]


def _objects(shared: Shared, states: Mapping[str, str]
             ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The object states that differ from how they start, and the objects with them: made
    once for the states of a tick (every snapshot of a tick is given the same, read-only
    mapping, the view's), not once per snapshot: each is a pass over the town's objects."""
    if _LAST[0] is states and _LAST[1] is shared:
        return _LAST[2]
    initial = shared.objects
    overrides = {o: s for o, s in states.items()
                 if o in initial and s != initial[o]["state"]}
    objects = initial
    if overrides:
        objects = dict(initial)
        for o, s in overrides.items():
            objects[o] = {**initial[o], "state": s}
    _LAST[:] = [states, shared, (overrides, objects)]
    return overrides, objects


@functools.lru_cache(maxsize=16)
def _static(places: PlaceGraph, documents: frozenset[str]) -> Shared:
    """The places (name, area, objects, documents), the walking graph's edges, and the
    objects as they start."""
    shape = {p: {"name": places.name(p), "area": places.area_of(p),
                 "objects": [o.id for o in places.objects_in(p)],
                 "documents": [d for d in places.documents_at(p) if d in documents]}
             for p in places.ids()}
    edges = sorted([min(a, b), max(a, b), m] for a, b, m in places.graph.edges(data="minutes"))
    objects = {o.id: {"name": o.name, "place": places.object_place(o.id), "state": o.state,
                      "states": list(o.states)}
               for o in places.all_objects()}
    return Shared(shape, edges, objects, places.travel_minutes)


def smallville_at_home(world: Any, agent: str, time: str = "2023-02-13T08:00:00"
                       ) -> dict[str, Any]:
    """A world's snapshot for `agent` with everyone at home and every object as it starts
    (for tests and benchmarks)."""
    return world_snapshot(
        world.places, agent=agent, name=world.personas[agent].name,
        location=world.personas[agent].home, time=time, states={},
        people={i: (p.name, p.home) for i, p in world.personas.items() if i != agent},
        documents={d: d for d in world.documents})
