"""`PlaceGraph.areas_named_in` finds exactly the areas a scan of every area finds."""

import random

from agentsim.world.generate import generate, write
from agentsim.world.loader import load_world


def _scan(places, text):
    return [a for a in places.areas()
            if a in text or (len(places.name(a)) > 3 and places.name(a).lower() in text)]


def test_areas_named_in_equals_a_scan_of_every_area(tmp_path):
    places = load_world(write(generate(120, seed=0), tmp_path / "w")).places
    areas = places.areas()
    rng = random.Random(0)
    words = ["went to", "the", "house", "cafe", "4", "_", "college", "4 and", "hobbs", "pub"]
    texts = ["", "nothing here at all"]
    for _ in range(300):
        parts = [rng.choice(words) for _ in range(rng.randint(0, 6))]
        for a in rng.sample(areas, rng.randint(0, 3)):
            parts.append(rng.choice([a, places.name(a).lower(), a[:-1], a + "0"]))
        rng.shuffle(parts)
        texts.append(rng.choice([" ", "", "_"]).join(parts))
    hits = 0
    for text in texts:
        assert places.areas_named_in(text) == _scan(places, text), text
        hits += bool(_scan(places, text))
    assert hits > 200  # the texts do name areas
