"""Walking minutes between two places, searched only as far as a question needs.

A town of 1,000 residents has 2,720 places; each resident's day plan is checked for the walks
between its items (`agentsim.cognition.plan_checks`), so each asks about a few new places
that nobody asked about before. A full single-source search per such place (what was done
before) visits the whole town each time, while the answers lie a few streets away. Here each
source keeps its Dijkstra search *paused*: a question is answered as soon as its target is
settled, and the search resumes from where it stopped when a farther target is asked about.

The answers are the full search's: a node's distance is final once it is settled, and the
minutes are integers, so every sum is exact whatever the order the search finds them in.

Dead ends (a room with its one door: most rooms) are left out of the searches: a shortest
path never passes through one, so a dead end is its neighbour's distance plus the step to
it, and searches from a dead end are its neighbour's. Paths are two-way: a search from
either end answers a question.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import OrderedDict

SOURCES_KEPT = 2048  # paused searches kept (the least recently asked are dropped)


class _Search:
    """One source's Dijkstra on the graph without dead ends, paused between questions."""

    __slots__ = ("dist", "done", "heap")

    def __init__(self, size: int, source: int):
        self.dist = array("d", [math.inf]) * size
        self.dist[source] = 0.0
        self.done = bytearray(size)  # 1: settled, `dist` is final
        self.heap: list[tuple[float, int]] = [(0.0, source)]

    def to(self, target: int, core: list[list[tuple[int, int]]]) -> float:
        """The distance to `target` (inf: unreachable), searching on only as far as it."""
        if self.done[target]:
            return self.dist[target]
        dist, done, heap = self.dist, self.done, self.heap
        while heap:
            d, u = heapq.heappop(heap)
            if done[u]:
                continue
            done[u] = 1
            for v, m in core[u]:
                nd = d + m
                if nd < dist[v]:
                    dist[v] = nd
                    heapq.heappush(heap, (nd, v))
            if u == target:
                return d
        return math.inf  # the search is over: every reachable node is settled


class Distances:
    """Walking minutes between nodes (by index) of a graph given as int adjacency lists
    (`adj[i]`: (neighbour, minutes) pairs; two-way, integer minutes)."""

    def __init__(self, adj: list[list[tuple[int, int]]]):
        # for each dead end (one neighbour, itself not one) that neighbour and the minutes
        leaf: list[tuple[int, int] | None] = [None] * len(adj)
        for i, nbrs in enumerate(adj):
            if len(nbrs) == 1 and len(adj[nbrs[0][0]]) > 1:
                leaf[i] = nbrs[0]
        self._leaf = leaf
        self._core = [[(v, m) for v, m in nbrs if leaf[v] is None] for nbrs in adj]
        self._searches: OrderedDict[int, _Search] = OrderedDict()

    def between(self, a: int, b: int) -> float:
        """Walking minutes from node `a` to node `b` (inf: no path)."""
        if a == b:
            return 0.0
        (ca, wa), (cb, wb) = self._step(a), self._step(b)
        if ca == cb:  # one is the other's neighbour, or both are dead ends off one node
            return float(wa + wb)
        searches = self._searches
        for source, target in ((ca, cb), (cb, ca)):  # two-way paths: b's search answers too
            found = searches.get(source)
            if found is not None:
                searches.move_to_end(source)
                return wa + found.to(target, self._core) + wb
        found = searches[ca] = _Search(len(self._core), ca)
        if len(searches) > SOURCES_KEPT:  # (each holds an array the size of the town)
            searches.popitem(last=False)
        return wa + found.to(cb, self._core) + wb

    def _step(self, i: int) -> tuple[int, int]:
        """The node the searches use for `i` (its neighbour, for a dead end) and the minutes
        from `i` to it."""
        lf = self._leaf[i]
        return (i, 0) if lf is None else lf
