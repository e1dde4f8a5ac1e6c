"""The place tree (town > area > room, objects in places) and the walking graph between them."""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from array import array
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

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

    def areas(self) -> list[str]:
        """Area ids, in tree order (a planning prompt asks for them: kept, not rescanned)."""
        return list(self._areas)

    @cached_property
    def _ids(self) -> tuple[str, ...]:
        return tuple(p for p in self._places if p != self.root)

    @cached_property
    def _areas(self) -> tuple[str, ...]:
        return tuple(p.id for p in self._places.values() if p.kind is PlaceKind.area)

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
        p = self._places[place_id]
        while p.kind is PlaceKind.room and p.parent is not None:
            p = self._places[p.parent]
        return p.id

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
    def _leaves(self) -> tuple[list[str], list[tuple[int, int] | None],
                               list[list[tuple[int, int]]]]:
        """Node names by index; for each node that is a dead end (one neighbour, itself not
        one: most rooms) that neighbour and the minutes to it, else None; and the walking
        graph without the dead ends. A shortest path never passes through a dead end, so
        searches run on the smaller graph and dead ends are a step from their neighbour."""
        _, index, adj = self._walk
        names = list(index)
        leaf: list[tuple[int, int] | None] = [None] * len(names)
        for i, nbrs in enumerate(adj):
            if len(nbrs) == 1 and len(adj[nbrs[0][0]]) > 1:
                leaf[i] = nbrs[0]
        core = [[(v, m) for v, m in nbrs if leaf[v] is None] for nbrs in adj]
        return names, leaf, core

    def _distances(self, a: str) -> array:
        """Walking minutes from `a` to every place (by node index; inf: unreachable), on
        demand and kept: one single-source search per place asked about (on the graph without
        its dead ends), never all pairs (which took 17 CPU-s and 570 MB at 1,862 places)."""
        found = self._dist_cache.get(a)
        if found is not None:
            return found
        index = self._walk[1]
        names, leaf, core = self._leaves
        src = index[a]
        if leaf[src] is not None:  # a dead end: a step from its neighbour's distances
            near, w = leaf[src]
            found = array("d", [d + w for d in self._distances(names[near])])
            found[src] = 0.0
        else:
            found = array("d", [math.inf]) * len(index)
            found[src] = 0.0
            heap = [(0.0, src)]
            while heap:
                d, u = heapq.heappop(heap)
                if d > found[u]:
                    continue
                for v, m in core[u]:
                    nd = d + m
                    if nd < found[v]:
                        found[v] = nd
                        heapq.heappush(heap, (nd, v))
            for x, lf in enumerate(leaf):
                if lf is not None:
                    found[x] = found[lf[0]] + lf[1]
        self._dist_cache[a] = found
        return found

    @cached_property
    def _dist_cache(self) -> dict[str, array]:
        return {}

    def travel_minutes(self, a: str, b: str) -> float:
        """Walking minutes on the shortest path from a to b (KeyError if b is unreachable).
        Paths are two-way: b's distances serve when they are known and a's are not."""
        cache, index = self._dist_cache, self._walk[1]
        d = cache[b][index[a]] if a not in cache and b in cache else \
            self._distances(a)[index[b]]
        if d == math.inf:
            raise KeyError(b)
        return float(d)

    def route(self, a: str, b: str) -> list[tuple[str, float]]:
        """[(place, minutes from a)], starting with (a, 0.0) and ending with (b, total)."""
        return list(self._route(a, b))

    @functools.lru_cache(maxsize=8192)  # noqa: B019 (a world's graph lives as long as it)
    def _route(self, a: str, b: str) -> tuple[tuple[str, float], ...]:
        # networkx's single-source search stopped at b: the same path as the full search
        # (a node's path is final once it is reached), ties broken by the sorted graph
        g = self._walk[0]
        _, path = nx.single_source_dijkstra(g, a, target=b, weight="minutes")
        out, total = [(a, 0.0)], 0.0
        for u, v in itertools.pairwise(path):  # a shortest path: sums are distances
            total += g[u][v]["minutes"]
            out.append((v, float(total)))
        return tuple(out)

    def unreachable_from(self, start: str) -> list[str]:
        """Walkable places with no path from `start`, sorted."""
        reach = nx.node_connected_component(self.graph, start)
        return sorted(set(self.graph.nodes) - reach)
