"""Paused route searches (`agentsim.world.routes`) give networkx's routes, node for node,
asked in any order, with ties, zero-minute steps, a part of town with no path to it, and
searches dropped and started again."""

import itertools
import random
from pathlib import Path

import networkx as nx
import pytest

from agentsim.world import routes as routes_module
from agentsim.world.routes import Routes

ROOT = Path(__file__).resolve().parent.parent


def _graph(seed: int) -> nx.Graph:
    """Nodes named so that sorting them is not their order of creation; few distinct
    minutes, so many routes tie."""
    rng = random.Random(seed)
    names = [f"p{rng.randrange(10**6):06d}_{i}" for i in range(50)]
    g = nx.Graph()
    g.add_nodes_from(sorted(names))
    edges = set()
    for i in range(1, 44):
        edges.add((names[i], names[rng.randrange(i)], rng.choice([0, 1, 2, 2, 3])))
    for _ in range(30):
        a, b = rng.sample(names[:44], 2)
        edges.add((a, b, rng.choice([1, 2, 3])))
    edges |= {(names[44], names[45], 2), (names[45], names[46], 1)}  # cut off
    g.add_weighted_edges_from(sorted((min(a, b), max(a, b), m) for a, b, m in edges),
                              weight="minutes")
    return g


def _networkx(g: nx.Graph, a: str, b: str):
    _, path = nx.single_source_dijkstra(g, a, target=b, weight="minutes")
    total, out = 0, [(a, 0.0)]
    for u, v in itertools.pairwise(path):
        total += g[u][v]["minutes"]
        out.append((v, float(total)))
    return tuple(out)


@pytest.mark.parametrize("kept", [2048, 3])  # (3: searches dropped and started again)
def test_paused_routes_are_networkx_routes_in_any_order(monkeypatch, kept):
    monkeypatch.setattr(routes_module, "SOURCES_KEPT", kept)
    for seed in range(4):
        g = _graph(seed)
        r = Routes(g)
        pairs = list(itertools.product(sorted(g.nodes), repeat=2))
        random.Random(seed).shuffle(pairs)
        for a, b in pairs:
            try:
                want = _networkx(g, a, b)
            except nx.NetworkXNoPath:
                with pytest.raises(nx.NetworkXNoPath):
                    r.route(a, b)
                continue
            assert r.route(a, b) == want, (seed, a, b)


def test_a_towns_routes_are_networkx_routes():
    from agentsim.world.loader import load_world

    places = load_world(ROOT / "worlds" / "smallville").places
    g = places._walk[0]
    nodes = sorted(g.nodes)
    pairs = [(a, b) for a in nodes[::3] for b in nodes]
    random.Random(0).shuffle(pairs)
    for a, b in pairs:
        assert tuple(places.route(a, b)) == _networkx(g, a, b), (a, b)
