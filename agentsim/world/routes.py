"""Walking routes from a place, searched only as far as the questions asked of it so far.

Every move a resolution starts asks for the shortest route from where a resident is to where
it goes (`PlaceGraph.route`). A Dijkstra search per move, stopped at its target, visits every
place nearer than the target: in a town of 27,000 places and 10,000 residents that was a
third of a run's CPU. Here each source keeps its search *paused* (as
`agentsim.world.distances` does for distances alone): a route is read off the search as soon
as its target is settled, and the search resumes from where it stopped for a farther one.

The routes are networkx's (`single_source_dijkstra` stopped at the target, on the same
graph): the search is that one's, node for node, in the same order (its heap's push count
breaks ties, neighbours are read in the graph's own order), run lazily. A node's route is
the first of the equally short ones found, which is fixed once the node is settled; the
search expands a settled node at once (networkx stops before expanding its target), which
changes nothing already settled. tests/test_world_routes.py checks every route of a town
against networkx's, asked in a shuffled order.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from typing import Any

import networkx as nx

SOURCES_KEPT = 2048  # paused searches kept (the least recently asked are dropped)


class _Search:
    """One source's Dijkstra, paused between questions."""

    __slots__ = ("count", "dist", "fringe", "pred", "seen")

    def __init__(self, source: str):
        self.dist: dict[str, float] = {}  # settled nodes: final distances
        self.seen: dict[str, float] = {source: 0}
        self.pred: dict[str, str] = {}  # a node's predecessor on its first shortest route
        self.count = itertools.count()
        self.fringe: list[tuple[float, int, str]] = [(0, next(self.count), source)]

    def settle(self, target: str, adj: Any) -> bool:
        """Search on until `target` is settled (False: it cannot be reached)."""
        dist, seen, pred, fringe, count = self.dist, self.seen, self.pred, self.fringe, \
            self.count
        while target not in dist:
            if not fringe:
                return False
            d, _, v = heapq.heappop(fringe)
            if v in dist:
                continue
            dist[v] = d
            for u, e in adj[v].items():
                du = d + e["minutes"]
                if u not in dist and (u not in seen or du < seen[u]):
                    seen[u] = du
                    heapq.heappush(fringe, (du, next(count), u))
                    pred[u] = v
        return True


class Routes:
    """Shortest walking routes on `graph` (an undirected networkx graph whose edges carry
    `minutes`), each source's search kept paused for the next question from it."""

    def __init__(self, graph: nx.Graph):
        self._adj = graph._adj  # networkx's own adjacency, in its order
        self._searches: OrderedDict[str, _Search] = OrderedDict()

    def route(self, a: str, b: str) -> tuple[tuple[str, float], ...]:
        """((place, minutes from a), ...), from (a, 0.0) to (b, total); networkx's
        NetworkXNoPath if b cannot be reached from a."""
        search = self._searches.get(a)
        if search is None:
            search = self._searches[a] = _Search(a)
            if len(self._searches) > SOURCES_KEPT:
                self._searches.popitem(last=False)
        else:
            self._searches.move_to_end(a)
        if a not in self._adj or not search.settle(b, self._adj):
            raise nx.NetworkXNoPath(f"No path to {b}.")
        path = [b]
        while path[-1] != a:
            path.append(search.pred[path[-1]])
        path.reverse()
        return tuple((p, float(search.dist[p])) for p in path)
