"""Large worlds from `agentsim.world.generate`, and distances on demand on their graph."""

from __future__ import annotations

import random

import networkx as nx

from agentsim.world.generate import BASE, generate, write
from agentsim.world.loader import load_world


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_generated_world_is_valid_and_the_same_for_a_seed(tmp_path):
    a = write(generate(60, seed=3), tmp_path / "a")
    b = write(generate(60, seed=3), tmp_path / "b")
    c = write(generate(60, seed=4), tmp_path / "c")
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)
    w = load_world(a)  # every check of a world folder
    assert len(w.personas) == 60
    names = [p.name for p in w.personas.values()]
    assert len(set(names)) == 60
    small = load_world(write(generate(25), tmp_path / "s"))
    base = load_world(BASE)  # 25 residents: the base world's own
    assert small.personas == base.personas
    assert "abigail_chen_3" in w.personas and w.personas["abigail_chen_3"].home.endswith("_3")
    assert w.places.unreachable_from(w.places.ids()[0]) == []


def test_distances_and_routes_on_demand_equal_the_full_search(tmp_path):
    w = load_world(write(generate(80, seed=0), tmp_path / "w"))
    places = w.places
    g = places._walk[0]
    ids = places.ids()
    rng = random.Random(0)
    for a in rng.sample(ids, 12):
        dist, paths = nx.single_source_dijkstra(g, a, weight="minutes")
        for b in rng.sample(ids, 40):
            assert places.travel_minutes(a, b) == float(dist[b])
            assert places.travel_minutes(b, a) == float(dist[b])
            assert places.route(a, b) == [(p, float(dist[p])) for p in paths[b]]
