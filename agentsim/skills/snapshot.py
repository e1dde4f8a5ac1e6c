"""The world as one agent can act on it, as the JSON data a skill runs against (the format
`agentsim.skills.api.WorldProxy` reads; see `agentsim.skills.sandbox`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from agentsim.world.places import PlaceGraph


def world_snapshot(places: PlaceGraph, *, agent: str, name: str, location: str, time: str,
                   states: Mapping[str, str], people: Mapping[str, tuple[str, str]],
                   documents: Mapping[str, str]) -> dict[str, Any]:
    """`states`: object id -> current state (objects not in it keep their initial state);
    `people`: the others, agent id -> (name, place); `documents`: id -> title, the documents
    there are (places list only those). The places and the walking graph are the same for
    every snapshot of a world and are built once: treat a snapshot as read-only (the sandbox
    works on its own copy)."""
    shape, edges = _static(places, frozenset(documents))
    return {
        "agent": agent,
        "name": name,
        "location": location,
        "time": time,
        "places": shape,
        "edges": edges,
        "objects": {o.id: {"name": o.name, "place": places.object_place(o.id),
                           "state": states.get(o.id, o.state), "states": list(o.states)}
                    for o in places.all_objects()},
        "people": {i: {"name": n, "place": p} for i, (n, p) in people.items()},
        "documents": dict(documents),
    }


@functools.lru_cache(maxsize=16)
def _static(places: PlaceGraph, documents: frozenset[str]
            ) -> tuple[dict[str, Any], list[list[Any]]]:
    """The places (name, area, objects, documents) and the walking graph's edges."""
    shape = {p: {"name": places.name(p), "area": places.area_of(p),
                 "objects": [o.id for o in places.objects_in(p)],
                 "documents": [d for d in places.documents_at(p) if d in documents]}
             for p in places.ids()}
    edges = sorted([min(a, b), max(a, b), m] for a, b, m in places.graph.edges(data="minutes"))
    return shape, edges


def smallville_at_home(world: Any, agent: str, time: str = "2023-02-13T08:00:00"
                       ) -> dict[str, Any]:
    """A world's snapshot for `agent` with everyone at home and every object as it starts
    (for tests and benchmarks)."""
    return world_snapshot(
        world.places, agent=agent, name=world.personas[agent].name,
        location=world.personas[agent].home, time=time, states={},
        people={i: (p.name, p.home) for i, p in world.personas.items() if i != agent},
        documents={d: d for d in world.documents})
