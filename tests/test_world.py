"""World files: the Smallville world loads; every broken input is one line naming file and
field."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from agentsim.errors import UserError
from agentsim.world.clock import SimClock
from agentsim.world.loader import WorldDef, build_world, load_world, write_world
from agentsim.world.schema import PlaceKind

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
TINY = ROOT / "tests" / "fixtures" / "tiny_world"


@pytest.fixture(scope="module")
def smallville() -> WorldDef:
    return load_world(SMALLVILLE)


# -- Smallville -----------------------------------------------------------------------------


def test_smallville_loads(smallville: WorldDef):
    w = smallville
    assert w.spec.name == "Smallville" and w.spec.start == datetime(2023, 2, 13, 6)
    assert len(w.personas) == 25
    assert list(w.personas) == sorted(w.personas)
    names = {p.name for p in w.personas.values()}
    for who in ("Isabella Rodriguez", "Sam Moore", "Klaus Mueller", "Maria Lopez", "Mei Lin",
                "John Lin", "Eddy Lin", "Tom Moreno", "Jane Moreno", "Tamara Taylor"):
        assert who in names
    for area in ("hobbs_cafe", "rose_and_crown_pub", "oak_hill_college", "oak_hill_dorm",
                 "harvey_oak_supply", "willows_market", "johnson_park"):
        assert area in w.places.areas()
        assert w.places.position(area) is not None
    for p in w.personas.values():
        assert p.home in w.places and w.places.kind(p.home) is PlaceKind.room
        assert 6 <= len(p.daily_routine) <= 9
        assert 2 <= len(p.memories) <= 4
        assert w.places.travel_minutes(p.home, "hobbs_cafe_counter") < 60
    assert w.persona_by_name("klaus mueller") is w.personas["klaus_mueller"]
    assert w.persona_by_name("Nobody") is None


def test_smallville_scenarios(smallville: WorldDef):
    isabella = smallville.personas["isabella_rodriguez"]
    [party] = [m for m in isabella.memories if m.event]
    assert party.importance == 8 and party.event is not None
    assert party.event.place == "hobbs_cafe" and party.event.host == "Isabella Rodriguez"
    assert (party.event.start, party.event.end) == (datetime(2023, 2, 14, 17),
                                                    datetime(2023, 2, 14, 19))
    [election] = [m for m in smallville.personas["sam_moore"].memories if m.event]
    assert election.importance == 8 and election.event is not None
    assert election.event.start.date() == datetime(2023, 2, 20).date()
    assert any("Klaus" in m.text for m in smallville.personas["maria_lopez"].memories)
    assert any("gentrification" in m.text for m in smallville.personas["klaus_mueller"].memories)


def test_smallville_graph(smallville: WorldDef):
    places = smallville.places
    assert nx.is_connected(places.graph)
    assert places.root not in places and places.root not in places.graph
    assert set(places.graph.nodes) == set(places.ids())
    assert places.area_of("hobbs_cafe_kitchen") == "hobbs_cafe"
    assert places.area_of("hobbs_cafe") == "hobbs_cafe"
    assert places.parent("hobbs_cafe") == "smallville"
    assert places.children("hobbs_cafe") == ["hobbs_cafe_counter", "hobbs_cafe_seating",
                                             "hobbs_cafe_kitchen"]
    assert places.describe("hobbs_cafe_kitchen") == "the kitchen in Hobbs Cafe"
    assert places.describe("lin_kitchen") == "the kitchen in the Lin family's house"
    assert places.describe("hobbs_cafe") == "Hobbs Cafe"
    assert [o.id for o in places.objects_in("hobbs_cafe_counter")] == [
        "cafe_coffee_machine", "cafe_register"]
    assert places.objects_in("hobbs_cafe") == []  # objects of that place only
    assert places.object_place("cafe_oven") == "hobbs_cafe_kitchen"
    ids = places.ids()
    for a in ids[::7]:
        for b in ids[::5]:
            assert places.travel_minutes(a, b) == places.travel_minutes(b, a)


def test_routes_are_deterministic(smallville: WorldDef):
    r1 = smallville.places.route("dorm_klaus_room", "pub_bar")
    r2 = load_world(SMALLVILLE).places.route("dorm_klaus_room", "pub_bar")
    assert r1 == r2
    assert r1[0] == ("dorm_klaus_room", 0.0) and r1[-1][0] == "pub_bar"
    assert [m for _, m in r1] == sorted(m for _, m in r1)
    assert smallville.places.travel_minutes("pub_bar", "dorm_klaus_room") == r1[-1][1]
    assert smallville.places.route("pub_bar", "pub_bar") == [("pub_bar", 0.0)]


def test_route_ties_break_the_same_whatever_the_yaml_order(tmp_path):
    """Two equally short ways from a to d (via b or via c): always via b, the smaller id."""
    def world(areas: str, paths: list[tuple[str, str]]) -> Path:
        d = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
        shutil.copytree(TINY, d)

        def edit(data: dict[str, Any]) -> None:
            town = data["places"]
            town["children"] += [{"id": x, "name": x, "kind": "area"} for x in areas]
            data["paths"] += [{"a": "cafe", "b": "a", "minutes": 1}]
            data["paths"] += [{"a": u, "b": v, "minutes": 2} for u, v in paths]

        _edit(d / "world.yaml", edit)
        return d

    one = world("abcd", [("a", "b"), ("b", "d"), ("a", "c"), ("c", "d")])
    two = world("bacd", [("d", "c"), ("c", "a"), ("d", "b"), ("b", "a")])
    for w in (one, two):
        assert [p for p, _ in load_world(w).places.route("a", "d")] == ["a", "b", "d"]


# -- the tiny fixture and broken copies of it ----------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Path:
    dst = tmp_path / "w"
    shutil.copytree(TINY, dst)
    return dst


def _edit(path: Path, fn: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _error(world: Path) -> str:
    with pytest.raises(UserError) as e:
        load_world(world)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_tiny_world_loads(world: Path):
    w = load_world(world)
    assert list(w.personas) == ["ann_lee", "bob_park", "cal_moss"]
    assert w.places.areas() == ["cafe", "house_a", "house_b"]
    assert w.places.travel_minutes("house_a_bedroom", "house_b_bedroom") == 1 + 5 + 7 + 1


def test_world_without_objects_or_relationships_loads(world: Path):
    def strip(place: dict[str, Any]) -> None:
        place.pop("objects", None)
        for c in place.get("children", []):
            strip(c)

    _edit(world / "world.yaml", lambda d: strip(d["places"]))
    for f in (world / "agents").glob("*.yaml"):
        _edit(f, lambda d: [d.pop("relationships", None), d.pop("memories", None)])
    w = load_world(world)
    assert w.places.all_objects() == []


def test_missing_folder_and_world_yaml(tmp_path: Path, world: Path):
    assert "no such world folder" in _error(tmp_path / "nope")
    (world / "world.yaml").unlink()
    msg = _error(world)
    assert str(world) in msg and "missing world.yaml" in msg


def test_no_agents(world: Path):
    for f in (world / "agents").glob("*.yaml"):
        f.unlink()
    assert "agents: no agents" in _error(world)
    shutil.rmtree(world / "agents")
    assert "no agents" in _error(world)


def test_bad_yaml_names_file_and_line(world: Path):
    (world / "world.yaml").write_text("name: Tiny\nplaces: [\n")
    msg = _error(world)
    assert "world.yaml: YAML syntax error at line 3" in msg
    (world / "agents" / "ann_lee.yaml").write_text("name: Ann\n  age: 3\n")
    (world / "world.yaml").write_text((TINY / "world.yaml").read_text())
    assert "ann_lee.yaml: YAML syntax error at line 2" in _error(world)


def test_duplicate_yaml_key(world: Path):
    f = world / "agents" / "bob_park.yaml"
    f.write_text(f.read_text() + "age: 41\n")
    assert "bob_park.yaml: YAML syntax error at line" in _error(world)
    assert "duplicate key 'age'" in _error(world)


def test_not_a_mapping(world: Path):
    (world / "agents" / "bob_park.yaml").write_text("- just\n- a list\n")
    assert "bob_park.yaml: expected a mapping" in _error(world)


def test_unknown_field(world: Path):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.update(favourite_colour="blue"))
    assert "bob_park.yaml: favourite_colour: unknown field" in _error(world)


def test_unknown_nested_field(world: Path):
    _edit(world / "world.yaml",
          lambda d: d["places"]["children"][2]["children"][0].update(colour="red"))
    assert "world.yaml: places.children[2].children[0].colour: unknown field" in _error(world)


def test_wrong_types(world: Path):
    _edit(world / "world.yaml", lambda d: d.update(tick_minutes="ten"))
    msg = _error(world)
    assert "world.yaml: tick_minutes: Input should be a valid integer" in msg and "'ten'" in msg

    _edit(world / "world.yaml", lambda d: d.update(tick_minutes=10))
    _edit(world / "agents" / "ann_lee.yaml",
          lambda d: d["relationships"][0].update(closeness="very"))
    assert "ann_lee.yaml: relationships[0].closeness: Input should be a valid number" \
        in _error(world)


def test_bad_enum_and_bad_id(world: Path):
    _edit(world / "world.yaml", lambda d: d["places"]["children"][0].update(kind="building"))
    msg = _error(world)
    assert "world.yaml: places.children[0].kind: Input should be" in msg and "building" in msg
    _edit(world / "world.yaml", lambda d: d["places"]["children"][0].update(kind="area",
                                                                           id="Hobbs Cafe"))
    assert "places.children[0].id: 'Hobbs Cafe' is not a valid id" in _error(world)


def test_place_kinds_nest(world: Path):
    _edit(world / "world.yaml", lambda d: d["places"].update(kind="area"))
    assert "world.yaml: places: the root place must be of kind 'town'" in _error(world)
    _edit(world / "world.yaml", lambda d: [d["places"].update(kind="town"),
                                           d["places"]["children"][1].update(kind="room")])
    assert "world.yaml: places.children[1].kind: a town cannot contain a room" in _error(world)


def test_object_state_not_allowed(world: Path):
    def bad(d: dict[str, Any]) -> None:
        d["places"]["children"][0]["children"][0]["objects"][0]["state"] = "exploded"

    _edit(world / "world.yaml", bad)
    msg = _error(world)
    assert "world.yaml: places.children[0].children[0].objects[0]: state 'exploded'" in msg


def test_missing_required_field(world: Path):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.pop("occupation"))
    assert "bob_park.yaml: occupation: required field is missing" in _error(world)


def test_duplicate_place_id(world: Path):
    _edit(world / "world.yaml",
          lambda d: d["places"]["children"][1]["children"][0].update(id="cafe_counter"))
    msg = _error(world)
    assert "world.yaml: places.children[1].children[0].id: duplicate place id 'cafe_counter'" \
        in msg


def test_duplicate_object_id(world: Path):
    obj = {"id": "coffee_machine", "name": "kettle"}
    _edit(world / "world.yaml",
          lambda d: d["places"]["children"][2]["children"][0].update(objects=[obj]))
    msg = _error(world)
    assert "world.yaml: places.children[2].children[0].objects[0].id: duplicate object id" \
        in msg


def test_path_to_unknown_place(world: Path):
    _edit(world / "world.yaml", lambda d: d["paths"][1].update(b="the_moon"))
    assert "world.yaml: paths[1].b: no place 'the_moon'" in _error(world)
    _edit(world / "world.yaml", lambda d: d["paths"][1].update(b="tinytown"))
    assert "paths[1].b: 'tinytown' is the town itself" in _error(world)


def test_unreachable_place(world: Path):
    _edit(world / "world.yaml", lambda d: d.update(paths=d["paths"][:1]))
    msg = _error(world)
    assert "world.yaml: places.children[2].id: place 'house_b' cannot be reached" in msg


def test_home_not_a_place(world: Path):
    _edit(world / "agents" / "ann_lee.yaml", lambda d: d.update(home="the_moon"))
    assert "ann_lee.yaml: home: no place 'the_moon'" in _error(world)
    _edit(world / "agents" / "ann_lee.yaml", lambda d: d.update(home="tinytown"))
    assert "ann_lee.yaml: home: no place 'tinytown'" in _error(world)


def test_routine_place_not_a_place(world: Path):
    _edit(world / "agents" / "bob_park.yaml",
          lambda d: d["daily_routine"][1].update(place="nowhere"))
    assert "bob_park.yaml: daily_routine[1].place: no place 'nowhere'" in _error(world)


def test_routine_out_of_order(world: Path):
    _edit(world / "agents" / "bob_park.yaml",
          lambda d: d["daily_routine"][1].update(start="06:00"))
    assert "bob_park.yaml: daily_routine: items must be in time order" in _error(world)


def test_event_place_and_host(world: Path):
    _edit(world / "agents" / "ann_lee.yaml",
          lambda d: d["memories"][0]["event"].update(place="nowhere"))
    assert "ann_lee.yaml: memories[0].event.place: no place 'nowhere'" in _error(world)
    _edit(world / "agents" / "ann_lee.yaml",
          lambda d: d["memories"][0]["event"].update(place="cafe", host="Zed"))
    assert "ann_lee.yaml: memories[0].event.host: no agent named 'Zed'" in _error(world)


def test_relationship_to_nobody(world: Path):
    _edit(world / "agents" / "ann_lee.yaml",
          lambda d: d["relationships"].append({"name": "Zed Nobody", "relation": "friend"}))
    msg = _error(world)
    assert "ann_lee.yaml: relationships[1].name: no agent named 'Zed Nobody' in this world" \
        in msg


def test_duplicate_names(world: Path):
    _edit(world / "agents" / "bob_park.yaml", lambda d: d.update(name="Ann Lee"))
    assert "bob_park.yaml: name: two agents are named 'Ann Lee' (also ann_lee.yaml)" \
        in _error(world)


def test_bad_agent_file_name(world: Path):
    shutil.copy(world / "agents" / "bob_park.yaml", world / "agents" / "Bob Park.yaml")
    assert "Bob Park.yaml: agent file names must be lowercase ids" in _error(world)


# -- the clock ------------------------------------------------------------------------------


def test_clock():
    c = SimClock(datetime(2023, 2, 13, 6), 10)
    assert c.now == datetime(2023, 2, 13, 6) and c.tick == 0
    assert c.tick_delta == timedelta(minutes=10)
    assert c.advance() == datetime(2023, 2, 13, 6, 10)
    assert c.tick == 1 and c.now == datetime(2023, 2, 13, 6, 10)
    assert c.at(6) == datetime(2023, 2, 13, 7) and c.tick == 1  # at() does not move it
    state = c.get_state()
    assert state == {"start": "2023-02-13T06:00:00", "tick_minutes": 10, "tick": 1}
    d = SimClock(datetime(2000, 1, 1), 1)
    d.set_state(state)
    assert d == c and d.now == c.now
    with pytest.raises(ValueError):
        SimClock(datetime(2023, 1, 1), 0)


def test_a_world_built_in_python_is_checked_and_round_trips_through_files(tmp_path):
    tiny = load_world(TINY)
    built = build_world(tiny.spec, dict(tiny.personas))
    assert built.personas == tiny.personas and built.places.ids() == tiny.places.ids()
    again = load_world(write_world(built, tmp_path / "copy"))
    assert again.spec == tiny.spec and again.personas == tiny.personas

    ann = tiny.personas["ann_lee"]
    lost = ann.model_copy(update={"home": "moon_base"})
    with pytest.raises(UserError, match=r"agents/ann_lee\.yaml: home: no place 'moon_base'"):
        build_world(tiny.spec, {**tiny.personas, "ann_lee": lost})
    with pytest.raises(UserError, match="agent ids must be lowercase"):
        build_world(tiny.spec, {"Ann": ann})
