"""Paused searches (`agentsim.world.distances`) give the full search's distances, asked in any
order, with dead ends, a pair of rooms off one node, and a part of town with no path to it."""

import math
import random

import networkx as nx
import pytest

from agentsim.world import distances
from agentsim.world.distances import Distances


def _graph(seed: int) -> nx.Graph:
    rng = random.Random(seed)
    g = nx.Graph()
    g.add_nodes_from(range(60))
    for i in range(1, 40):  # a connected core, with some cycles
        g.add_edge(i, rng.randrange(i), minutes=rng.randint(0, 9))
    for _ in range(15):
        a, b = rng.sample(range(40), 2)
        g.add_edge(a, b, minutes=rng.randint(1, 9))
    for i in range(40, 55):  # dead ends (rooms), two of them off node 3
        g.add_edge(i, 3 if i < 42 else rng.randrange(40), minutes=rng.randint(0, 5))
    g.add_edge(55, 56, minutes=2)  # a pair with no path to the rest
    g.add_edge(57, 58, minutes=1)
    g.add_edge(58, 59, minutes=4)
    return g


@pytest.mark.parametrize("kept", [2048, 3])  # (3: searches dropped and started again)
def test_paused_searches_equal_the_full_search_in_any_order(monkeypatch, kept):
    monkeypatch.setattr(distances, "SOURCES_KEPT", kept)
    for seed in range(4):
        g = _graph(seed)
        adj = [[(v, g[u][v]["minutes"]) for v in sorted(g[u])] for u in range(60)]
        full = dict(nx.all_pairs_dijkstra_path_length(g, weight="minutes"))
        d = Distances(adj)
        pairs = [(a, b) for a in range(60) for b in range(60)]
        random.Random(seed).shuffle(pairs)
        for a, b in pairs:
            assert d.between(a, b) == float(full[a].get(b, math.inf)), (seed, a, b)
