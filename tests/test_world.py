"""World files: the Smallville world loads; every broken input is one line naming file and
field."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from agentsim.errors import UserError
from agentsim.world.clock import SimClock
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny_world"


def test_smallville_loads():
    w = load_world(ROOT / "worlds" / "smallville")
    assert len(w.personas) == 25
    names = {p.name for p in w.personas.values()}
    for who in ("Isabella Rodriguez", "Sam Moore", "Klaus Mueller", "Maria Lopez", "Mei Lin",
                "John Lin", "Eddy Lin", "Tom Moreno", "Jane Moreno"):
        assert who in names
    for area in ("hobbs_cafe", "rose_and_crown_pub", "oak_hill_college", "oak_hill_dorm",
                 "harvey_oak_supply", "willows_market", "johnson_park"):
        assert area in w.places.areas()
    isabella = w.personas["isabella_rodriguez"]
    [party] = [m.event for m in isabella.memories if m.event]
    assert party.place == "hobbs_cafe" and party.start == datetime(2023, 2, 14, 17)
    assert party.end == datetime(2023, 2, 14, 19)
    for p in w.personas.values():
        assert p.home in w.places
        assert w.places.travel_minutes(p.home, "hobbs_cafe_counter") < 60


def test_routes_are_deterministic_and_symmetric():
    w = load_world(ROOT / "worlds" / "smallville")
    r1 = w.places.route("dorm_klaus_room", "pub_bar")
    r2 = load_world(ROOT / "worlds" / "smallville").places.route("dorm_klaus_room", "pub_bar")
    assert r1 == r2
    assert r1[0] == ("dorm_klaus_room", 0.0) and r1[-1][0] == "pub_bar"
    assert [m for _, m in r1] == sorted(m for _, m in r1)
    assert w.places.travel_minutes("pub_bar", "dorm_klaus_room") == r1[-1][1]
    assert w.places.area_of("hobbs_cafe_kitchen") == "hobbs_cafe"
    assert w.places.describe("hobbs_cafe_kitchen") == "the kitchen in Hobbs Cafe"


@pytest.fixture
def world(tmp_path):
    dst = tmp_path / "w"
    shutil.copytree(TINY, dst)
    return dst


def _edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _error(world: Path) -> str:
    with pytest.raises(UserError) as e:
        load_world(world)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_bad_yaml_names_file_and_line(world):
    (world / "world.yaml").write_text("name: Tiny\nplaces: [\n")
    msg = _error(world)
    assert "world.yaml" in msg and "line" in msg


def test_unknown_field(world):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.update(favourite_colour="blue"))
    msg = _error(world)
    assert "bob_park.yaml" in msg and "favourite_colour" in msg and "unknown field" in msg


def test_nested_field_path(world):
    def bad(d):
        d["places"]["children"][0]["children"][0]["objects"][0]["state"] = "exploded"

    _edit(world / "world.yaml", bad)
    msg = _error(world)
    assert "places.children[0].children[0].objects[0]" in msg


def test_relationship_to_nobody(world):
    _edit(world / "agents" / "ann_lee.yaml",
          lambda d: d["relationships"].append({"name": "Zed Nobody", "relation": "friend"}))
    msg = _error(world)
    assert "ann_lee.yaml: relationships[1].name" in msg and "Zed Nobody" in msg


def test_home_not_a_place(world):
    _edit(world / "agents" / "ann_lee.yaml", lambda d: d.update(home="the_moon"))
    assert "ann_lee.yaml: home: no place 'the_moon'" in _error(world)


def test_routine_place_and_event_place(world):
    _edit(world / "agents" / "bob_park.yaml",
          lambda d: d["daily_routine"][1].update(place="nowhere"))
    assert "bob_park.yaml: daily_routine[1].place" in _error(world)


def test_missing_required_field(world):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.pop("occupation"))
    msg = _error(world)
    assert "bob_park.yaml: occupation: required field is missing" in msg


def test_duplicate_place_and_unreachable_place(world):
    def dup(d):
        d["places"]["children"][1]["children"][0]["id"] = "cafe_counter"

    _edit(world / "world.yaml", dup)
    assert "duplicate place id 'cafe_counter'" in _error(world)

    shutil.rmtree(world)
    shutil.copytree(TINY, world)
    _edit(world / "world.yaml", lambda d: d.update(paths=d["paths"][:1]))
    assert "cannot be reached" in _error(world)


def test_missing_folder_and_no_agents(tmp_path, world):
    assert "no such world folder" in _error(tmp_path / "nope")
    shutil.rmtree(world / "agents")
    assert "no agents" in _error(world)


def test_duplicate_names(world):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.update(name="Ann Lee"))
    assert "two agents are named 'Ann Lee'" in _error(world)


def test_clock():
    c = SimClock(datetime(2023, 2, 13, 6), 10)
    assert c.now == datetime(2023, 2, 13, 6)
    c.advance()
    assert c.tick == 1 and c.now == datetime(2023, 2, 13, 6, 10)
    d = SimClock(datetime(2000, 1, 1), 1)
    d.set_state(c.get_state())
    assert d.now == c.now and d.at(6) == datetime(2023, 2, 13, 7)
