"""The place tree (town > area > room, objects in places) and the walking graph between them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from agentsim.world.distances import Distances
from agentsim.world.routes import Routes
from agentsim.world.schema import ObjectSpec, PlaceKind, PlaceSpec, WorldSpec


@dataclass(frozen=True)
class Place:
    """One node of the place tree, flattened: its parent and children are ids."""

    id: str
    name: str
    kind: PlaceKind
    parent: str | None
    description: str
    position: tuple[int, int] | None
    objects: tuple[ObjectSpec, ...]
    children: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()  # posted here: read when reading here


class PlaceGraph:
    """Places by id, the tree they form, and a networkx graph of walking minutes.

    Every area and room is a node of `graph` (the town root is not walkable). A room is linked
    to its parent by `minutes_from_parent`; each of the world's `paths` links two places.
    Routes are deterministic: shortest by minutes, ties broken by the sorted order of node ids,
    so the same world gives the same routes whatever the order of its YAML.

    The loader checks ids are unique and paths name known places before building this."""

    def __init__(self, spec: WorldSpec):
        self._places: dict[str, Place] = {}
        self._object_place: dict[str, str] = {}
        self.graph: nx.Graph = nx.Graph()
        self.root: str = spec.places.id
        self._add(spec.places, None)
        for p in spec.paths:
            self.graph.add_edge(p.a, p.b, minutes=p.minutes)

    def _add(self, spec: PlaceSpec, parent: str | None) -> None:
        self._places[spec.id] = Place(
            spec.id, spec.name, spec.kind, parent, spec.description, spec.position,
            tuple(spec.objects), tuple(c.id for c in spec.children), tuple(spec.documents),
        )
        for o in spec.objects:
            self._object_place[o.id] = spec.id
        if spec.kind is not PlaceKind.town:
            self.graph.add_node(spec.id)
            if parent is not None and self._places[parent].kind is not PlaceKind.town:
                self.graph.add_edge(spec.id, parent, minutes=spec.minutes_from_parent)
        for c in spec.children:
            self._add(c, spec.id)

    # -- the tree ---------------------------------------------------------------------------

    def __contains__(self, place_id: object) -> bool:
        """True for walkable places (areas and rooms); the town root is not one."""
        return place_id in self._places and place_id != self.root

    def ids(self) -> list[str]:
        """Walkable places (areas and rooms), in tree order."""
        return list(self._ids)

    def places_in(self, area: str) -> list[str]:
        """The walkable places of `area` (the area and its rooms), in tree order."""
        return list(self._by_area.get(area, ()))

    @cached_property
    def _by_area(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for p in self._ids:
            out.setdefault(self._area_of[p], []).append(p)
        return {a: tuple(ps) for a, ps in out.items()}

    def areas(self) -> list[str]:
        """Area ids, in tree order (a planning prompt asks for them: kept, not rescanned)."""
        return list(self._areas)

    @cached_property
    def _ids(self) -> tuple[str, ...]:
        return tuple(p for p in self._places if p != self.root)

    @cached_property
    def _areas(self) -> tuple[str, ...]:
        return tuple(p.id for p in self._places.values() if p.kind is PlaceKind.area)

    def areas_named_in(self, text: str) -> list[str]:
        """The areas whose id, or whose name (if longer than 3 characters, in lower case),
        occurs in `text`, in tree order: what a planning prompt lists from a resident's
        recent memories (`text`: those memories, in lower case).

        Asked at every planning prompt, of every area in town: the ids and names are kept
        as a forest in which a string's parent is the longest other one that starts it
        ("hobbs_cafe" of "hobbs_cafe_4"). A string missing from `text` has no descendant in
        it, so a search looks at the roots and below the strings it found only."""
        roots, below, owners = self._area_keys
        found: set[str] = set()
        todo = [k for k in roots if k in text]
        while todo:
            k = todo.pop()
            found.update(owners[k])
            todo += [c for c in below.get(k, ()) if c in text]
        return [a for a in self._areas if a in found] if found else []

    @cached_property
    def _area_keys(self) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
        """`areas_named_in`'s forest: the root strings, each string's children, and the
        areas each string stands for."""
        owners: dict[str, list[str]] = {}
        for a in self._areas:
            name = self._places[a].name
            for key in (a, name.lower()) if len(name) > 3 else (a,):
                owners.setdefault(key, []).append(a)
        roots: list[str] = []
        below: dict[str, list[str]] = {}
        for key in owners:
            parent = next((key[:i] for i in range(len(key) - 1, 0, -1) if key[:i] in owners),
                          None)
            if parent is None:
                roots.append(key)
            else:
                below.setdefault(parent, []).append(key)
        return roots, below, owners

    def place(self, place_id: str) -> Place:
        return self._places[place_id]

    def name(self, place_id: str) -> str:
        """The place's display name (the id itself if there is no such place)."""
        p = self._places.get(place_id)
        return p.name if p else place_id

    def kind(self, place_id: str) -> PlaceKind:
        return self._places[place_id].kind

    def parent(self, place_id: str) -> str | None:
        return self._places[place_id].parent

    def children(self, place_id: str) -> list[str]:
        return list(self._places[place_id].children)

    def position(self, place_id: str) -> tuple[int, int] | None:
        """The map cell of the place's area, if the world gives one."""
        return self._places[self.area_of(place_id)].position

    def area_of(self, place_id: str) -> str:
        """The area a room is in; an area (or the town) is its own."""
        return self._area_of[place_id]

    @cached_property
    def _area_of(self) -> dict[str, str]:
        """Each place's area, found once (planning prompts ask it of every place they list)."""
        out = {}
        for pid in self._places:
            p = self._places[pid]
            while p.kind is PlaceKind.room and p.parent is not None:
                p = self._places[p.parent]
            out[pid] = p.id
        return out

    def describe(self, place_id: str) -> str:
        """A phrase for prompts: 'the kitchen in Hobbs Cafe', or an area's name."""
        p = self._places[place_id]
        if p.kind is PlaceKind.room and p.parent:
            article = "" if p.name[:1].isupper() else "the "
            return f"{article}{p.name} in {self._places[p.parent].name}"
        return p.name

    # -- objects ----------------------------------------------------------------------------

    def objects_in(self, place_id: str) -> list[ObjectSpec]:
        """Objects of that place only (not of its children); [] for an unknown place."""
        p = self._places.get(place_id)
        return list(p.objects) if p else []

    def all_objects(self) -> list[ObjectSpec]:
        return [o for p in self._places.values() for o in p.objects]

    def object_place(self, object_id: str) -> str:
        return self._object_place[object_id]

    # -- documents --------------------------------------------------------------------------

    def documents_at(self, place_id: str) -> list[str]:
        """Documents posted in the place or, for a room, in its area (not in its objects)."""
        p = self._places.get(place_id)
        if p is None:
            return []
        area = self._places[self.area_of(place_id)]
        return list(dict.fromkeys([*p.documents, *(area.documents if area is not p else ())]))

    def object_documents(self, object_id: str) -> list[str]:
        """Documents an object holds (a shelf's books, a board's notices); [] if unknown."""
        place = self._object_place.get(object_id)
        if place is None:
            return []
        return next((list(o.documents) for o in self._places[place].objects
                     if o.id == object_id), [])

    # -- walking ----------------------------------------------------------------------------

    @cached_property
    def _walk(self) -> tuple[nx.Graph, dict[str, int], list[list[tuple[int, int]]]]:
        """The walking graph rebuilt for routing, node indexes, and int adjacency lists.

        Dijkstra keeps the first of equally short paths it finds, and finds them in adjacency
        order; rebuilding the graph from sorted nodes and sorted (min, max) edges makes every
        node's neighbours sorted, so ties break by node id whatever the YAML order."""
        g = nx.Graph()
        g.add_nodes_from(sorted(self.graph.nodes))
        edges = sorted((min(u, v), max(u, v), m) for u, v, m in self.graph.edges(data="minutes"))
        g.add_weighted_edges_from(edges, weight="minutes")
        index = {n: i for i, n in enumerate(g.nodes)}
        adj: list[list[tuple[int, int]]] = [[] for _ in index]
        for u, v, m in edges:
            adj[index[u]].append((index[v], m))
            adj[index[v]].append((index[u], m))
        return g, index, adj

    @cached_property
    def _distances(self) -> Distances:
        """Walking minutes between nodes, searched on demand (`agentsim.world.distances`):
        never all pairs (which took 17 CPU-s and 570 MB at 1,862 places), nor a whole
        single-source search per place asked about."""
        return Distances(self._walk[2])

    def travel_minutes(self, a: str, b: str) -> float:
        """Walking minutes on the shortest path from a to b (KeyError if b is unreachable)."""
        index = self._walk[1]
        d = self._distances.between(index[a], index[b])
        if d == math.inf:
            raise KeyError(b)
        return float(d)

    def route(self, a: str, b: str) -> list[tuple[str, float]]:
        """[(place, minutes from a)], starting with (a, 0.0) and ending with (b, total)."""
        return list(self._routes.route(a, b))

    @cached_property
    def _routes(self) -> Routes:
        """Routes from each source, searched on demand (`agentsim.world.routes`): the same
        as networkx's single-source search stopped at the target, without searching the
        town again for every move."""
        return Routes(self._walk[0])

    def unreachable_from(self, start: str) -> list[str]:
        """Walkable places with no path from `start`, sorted."""
        reach = nx.node_connected_component(self.graph, start)
        return sorted(set(self.graph.nodes) - reach)
