"""The place tree (town > area > room, objects in places) and the walking graph between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx

from agentsim.world.schema import ObjectSpec, PlaceKind, PlaceSpec, WorldSpec


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    kind: PlaceKind
    parent: str | None
    description: str
    position: tuple[int, int] | None
    objects: tuple[ObjectSpec, ...]
    children: tuple[str, ...] = field(default=())


class PlaceGraph:
    """Places by id, the tree they form, and a networkx graph of walking minutes.

    Rooms are linked to their area by `minutes_from_parent`; `paths` link any two places.
    The town root is not walkable. Routes are deterministic: shortest by minutes, ties broken
    by the sorted order of node ids."""

    def __init__(self, spec: WorldSpec):
        self._places: dict[str, Place] = {}
        self._object_place: dict[str, str] = {}
        self.graph = nx.Graph()
        self.root = spec.places.id
        self._add(spec.places, None)
        for p in spec.paths:
            self.graph.add_edge(p.a, p.b, minutes=p.minutes)

    def _add(self, spec: PlaceSpec, parent: str | None) -> None:
        self._places[spec.id] = Place(
            spec.id, spec.name, spec.kind, parent, spec.description, spec.position,
            tuple(spec.objects), tuple(c.id for c in spec.children),
        )
        for o in spec.objects:
            self._object_place[o.id] = spec.id
        if spec.kind is not PlaceKind.town:
            self.graph.add_node(spec.id)
            if parent is not None and self._places[parent].kind is not PlaceKind.town:
                self.graph.add_edge(spec.id, parent, minutes=spec.minutes_from_parent)
        for c in spec.children:
            self._add(c, spec.id)

    def __contains__(self, place_id: object) -> bool:
        return place_id in self._places and place_id != self.root

    def ids(self) -> list[str]:
        """Walkable places (areas and rooms), in tree order."""
        return [p for p in self._places if p != self.root]

    def areas(self) -> list[str]:
        return [p.id for p in self._places.values() if p.kind is PlaceKind.area]

    def name(self, place_id: str) -> str:
        p = self._places.get(place_id)
        return p.name if p else place_id

    def parent(self, place_id: str) -> str | None:
        return self._places[place_id].parent

    def area_of(self, place_id: str) -> str:
        p = self._places[place_id]
        while p.kind is PlaceKind.room and p.parent is not None:
            p = self._places[p.parent]
        return p.id

    def describe(self, place_id: str) -> str:
        p = self._places[place_id]
        if p.kind is PlaceKind.room and p.parent:
            article = "" if p.name[:1].isupper() else "the "
            return f"{article}{p.name} in {self._places[p.parent].name}"
        return p.name

    def objects_in(self, place_id: str) -> list[ObjectSpec]:
        p = self._places.get(place_id)
        return list(p.objects) if p else []

    def all_objects(self) -> list[ObjectSpec]:
        return [o for p in self._places.values() for o in p.objects]

    def object_place(self, object_id: str) -> str:
        return self._object_place[object_id]

    @cached_property
    def _paths(self) -> dict[str, tuple[dict[str, float], dict[str, list[str]]]]:
        # Sorted adjacency makes Dijkstra's tie-breaking, and so every route, deterministic.
        g = nx.Graph()
        g.add_nodes_from(sorted(self.graph.nodes))
        g.add_edges_from(sorted(self.graph.edges(data=True)))
        return {n: nx.single_source_dijkstra(g, n, weight="minutes") for n in sorted(g.nodes)}

    def travel_minutes(self, a: str, b: str) -> float:
        return self._paths[a][0][b]

    def route(self, a: str, b: str) -> list[tuple[str, float]]:
        """[(place, minutes from a)], starting with (a, 0) and ending with (b, total)."""
        dist, paths = self._paths[a]
        return [(p, float(dist[p])) for p in paths[b]]

    def unreachable_from(self, start: str) -> list[str]:
        reach = nx.node_connected_component(self.graph, start)
        return sorted(set(self.graph.nodes) - reach)
