"""Warm sandbox workers (`agentsim.skills.pool`): a run forked by a zygote behind the wall
ends as the same run in a fresh child does, whatever the skill does, and the zygote lives on
for the next run."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from agentsim.skills.pool import close_all
from agentsim.skills.sandbox import Limits, run_skill
from agentsim.skills.wall import wall_status

pytestmark = pytest.mark.skipif(not wall_status().available, reason=wall_status().reason)

LIMITS = Limits(seconds=1.0, memory_mb=256, max_steps=20)
SNAPSHOT = {"agent": "a", "name": "A", "location": "p", "time": "2023-02-13T08:00:00",
            "places": {"p": {"name": "P", "area": "p", "objects": ["lamp"], "documents": []},
                       "q": {"name": "Q", "area": "q", "objects": [], "documents": []}},
            "edges": [["p", "q", 3]],
            "objects": {"lamp": {"name": "lamp", "place": "p", "state": "off",
                                 "states": ["off", "on"]}},
            "people": {}, "documents": {}}


def skill(body: str) -> str:
    return "def s(world):\n" + textwrap.indent(textwrap.dedent(body), "    ")


CASES = {
    "ok": skill("import random\nworld.use('lamp', 'on')\nworld.move_to('q')\n"
                "return random.random()"),
    "timeout": skill("while True:\n    pass"),
    "memory": skill("x = [0] * (400 * 2**20)"),
    "refused_import": skill("import random\nreturn random.__loader__"),
    "exception": skill("return 1 / 0"),
    "action": skill("world.move_to('nowhere')"),
    "output": skill("print('x' * 10)\nreturn 'y' * 10_000"),
    # compiled by the parent for a warm run: without the parent's __future__ annotations
    "annotation": "def s(world) -> nowhere:\n    return 1\n",
}


def _run(code: str, warm: bool):
    return asyncio.run(run_skill(code, "s", {}, SNAPSHOT, LIMITS, warm=warm))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_warm_run_ends_as_a_fresh_one(case):
    fresh, warm = _run(CASES[case], False), _run(CASES[case], True)
    assert (warm.ok, warm.error_kind, warm.error, warm.steps, warm.changes, warm.returned,
            warm.log) == (fresh.ok, fresh.error_kind, fresh.error, fresh.steps, fresh.changes,
                          fresh.returned, fresh.log)
    if case == "ok":
        assert warm.ok and warm.changes["objects"] == {"lamp": ["off", "on"]}
    assert SNAPSHOT["objects"]["lamp"]["state"] == "off"  # the caller's snapshot is untouched


def test_zygotes_outlive_their_runs_and_end_on_close():
    async def many():
        return await asyncio.gather(*(run_skill(CASES[c], "s", {}, SNAPSHOT, LIMITS, warm=True)
                                      for c in ("timeout", "ok", "memory", "ok", "ok")))
    kinds = [r.error_kind for r in asyncio.run(many())]
    assert kinds == ["timeout", None, "memory", None, None]
    assert _run(CASES["ok"], True).ok
    close_all()
    assert _run(CASES["ok"], True).ok  # a later run starts new ones


def test_a_town_snapshot_runs_warm_on_its_shared_parts_as_fresh():
    from agentsim.skills.snapshot import smallville_at_home, world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    home = smallville_at_home(w, "isabella_rodriguez")
    snap = world_snapshot(w.places, agent="isabella_rodriguez", name="Isabella Rodriguez",
                          location="hobbs_cafe_counter", time="2023-02-13T09:00:00",
                          states={"cafe_piano": "being played"},
                          people={i: (v["name"], v["place"]) for i, v in home["people"].items()},
                          documents=home["documents"])
    assert snap.overrides == {"cafe_piano": "being played"}
    assert snap["places"] is home["places"] and snap["objects"]["cafe_oven"] is \
        home["objects"]["cafe_oven"]  # shared, not copied
    code = skill("""
        here = world.objects_here()
        world.use('coffee machine', 'brewing')
        world.move_to('hobbs_cafe_seating')
        return [world.state_of('piano'), len(world.places()), world.location, here,
                world.objects_here()]""")
    runs = [asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=warm))
            for warm in (False, True, True)]
    assert runs[0].ok and runs[0].returned[0] == "being played"
    for r in runs[1:]:
        assert (r.ok, r.steps, r.changes, r.returned) == \
            (runs[0].ok, runs[0].steps, runs[0].changes, runs[0].returned)
    assert snap["objects"]["cafe_coffee_machine"]["state"] == "idle"


def test_the_ticks_people_are_sent_to_a_worker_once_and_read_as_a_fresh_run_reads_them(
        monkeypatch):
    """A snapshot's people come from the tick's `Crowd`: a warm worker is sent them once per
    tick (not with every run), and a run there sees the others exactly as a fresh child
    sent the whole snapshot does; a new tick's crowd is sent again."""
    from agentsim.skills import pool
    from agentsim.skills.snapshot import Crowd, world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    sent: list[int] = []  # the frames of each exchange besides control and message
    real = pool._Zygote.exchange

    def counting(self, control, message, wait, *parts):
        sent.append(sum(p is not None for p in parts[1:]))  # the crowd's frame, if any
        return real(self, control, message, wait, *parts)

    monkeypatch.setattr(pool._Zygote, "exchange", counting)
    close_all()  # zygotes of this test only: none holds a crowd yet

    def at(tick: str, where: dict[str, str]):
        crowd = Crowd({i: {"name": p.name, "place": where.get(i, p.home)}
                       for i, p in w.personas.items()})
        return world_snapshot(w.places, agent="isabella_rodriguez", name="Isabella Rodriguez",
                              location="hobbs_cafe_counter", time=tick, states={},
                              documents={}, crowd=crowd)

    code = skill("""
        world.say('Klaus Mueller', 'hello')
        return world.people_here()""")
    first = at("2023-02-13T09:00:00", {"isabella_rodriguez": "hobbs_cafe_counter",
                                       "klaus_mueller": "hobbs_cafe_counter"})
    assert "isabella_rodriguez" not in first["people"]  # a snapshot holds the others
    fresh = asyncio.run(run_skill(code, "s", {}, first, LIMITS, warm=False))
    assert fresh.ok and fresh.returned == ["Klaus Mueller"]

    async def warm_runs(snap, n):
        return [await run_skill(code, "s", {}, snap, LIMITS, warm=True) for _ in range(n)]

    for r in asyncio.run(warm_runs(first, 3)):
        assert (r.ok, r.steps, r.changes, r.returned) == \
            (fresh.ok, fresh.steps, fresh.changes, fresh.returned)
    assert sent == [1, 0, 0]  # one zygote, run after run: the crowd went with the first only
    later = at("2023-02-13T09:10:00", {"isabella_rodriguez": "hobbs_cafe_counter"})
    (gone,) = asyncio.run(warm_runs(later, 1))
    assert sent[-1] == 1  # the next tick's crowd is sent again
    assert not gone.ok and "Klaus Mueller is not here" in gone.error


def test_a_ticks_snapshots_share_its_objects_and_crowd_without_copying_them():
    """Every snapshot of a tick is given the same states: the objects with their changed
    states are made once for them, and each snapshot's people are the crowd without its own
    agent, a view that reads as the dict it stands for."""
    from agentsim.skills.snapshot import Crowd, world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    crowd = Crowd({i: {"name": p.name, "place": p.home} for i, p in w.personas.items()})
    states = {"cafe_oven": "baking", "cafe_piano": "idle"}

    def snap(agent: str, states: dict[str, str]):
        return world_snapshot(w.places, agent=agent, name=w.personas[agent].name,
                              location=w.personas[agent].home, time="2023-02-13T09:00:00",
                              states=states, documents={}, crowd=crowd)

    a, b = snap("isabella_rodriguez", states), snap("klaus_mueller", states)
    assert a["objects"] is b["objects"] and a.overrides == {"cafe_oven": "baking"}
    assert a["objects"]["cafe_oven"]["state"] == "baking"
    assert a["objects"]["cafe_stove"] is a.shared.objects["cafe_stove"]  # unchanged: shared
    later = snap("isabella_rodriguez", {"cafe_oven": "idle"})  # the next tick's states
    assert later["objects"] is later.shared.objects and later.overrides == {}
    others = {i: v for i, v in crowd.people.items() if i != "isabella_rodriguez"}
    people = a["people"]
    assert dict(people) == others and len(people) == len(others) == len(crowd.people) - 1
    assert "isabella_rodriguez" not in people and "klaus_mueller" in people
    assert sorted(people) == sorted(others) and people.get("isabella_rodriguez") is None
    with pytest.raises(KeyError):
        people["isabella_rodriguez"]


def test_a_warm_run_walks_the_graph_built_once_for_its_world(monkeypatch):
    """The walking graph goes to a warm worker built, with the world's shared parts, and a
    run there walks it rather than building it from the whole town again: a graph sent
    without the one path to a place makes that place unreachable in a warm run only. (The
    place's id is made at run time: a walk to a place the code names is measured by the
    parent instead, `sandbox._walks`.)"""
    import marshal

    from agentsim.skills import api
    from agentsim.skills.snapshot import Shared, world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    snap = world_snapshot(w.places, agent="isabella_rodriguez", name="Isabella Rodriguez",
                          location="hobbs_cafe_counter", time="2023-02-13T09:00:00",
                          states={}, people={}, documents={})
    sent = marshal.loads(snap.shared.payload)
    assert sent["adjacency"] == api._adjacency(snap["places"], snap["edges"])
    code = skill("""
        world.move_to('_'.join(['hobbs', 'cafe', 'seating']))
        return world.location""")
    close_all()
    assert asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=True)).returned == \
        "hobbs_cafe_seating"
    cut = {p: [(q, m) for q, m in nbrs if "hobbs_cafe_seating" not in (p, q)]
           for p, nbrs in sent["adjacency"].items()}
    assert isinstance(snap.shared, Shared)
    monkeypatch.setattr(snap.shared, "payload", marshal.dumps({**sent, "adjacency": cut}))
    close_all()  # new zygotes: they are sent the cut graph
    warm = asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=True))
    fresh = asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=False))
    assert fresh.ok and fresh.returned == "hobbs_cafe_seating"
    assert not warm.ok and "hobbs_cafe_seating" in warm.error
    # the same walk named in the code: measured by the parent, the cut graph never searched
    named = skill("""
        world.move_to('hobbs_cafe_seating')
        return world.location""")
    assert asyncio.run(run_skill(named, "s", {}, snap, LIMITS, warm=True)).returned == \
        "hobbs_cafe_seating"
    close_all()


def test_a_warm_run_cannot_see_or_change_what_an_earlier_run_did(monkeypatch):
    """A zygote makes some parts of a run once, before its forks: api.py loaded, the views of
    the whitelisted modules, the filter, the memory reserve, the world's parts with the
    object states it was last sent. Each child changes only its own copy of them: after a
    run that changes what it can reach, the next run on the same zygote finds them as they
    were; a run's object states are its own snapshot's, not an earlier run's; and every run
    has the reserve that lets it report going over its memory limit."""
    from agentsim.skills import pool
    from agentsim.skills.snapshot import world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")

    def snap(states: dict[str, str]):
        return world_snapshot(w.places, agent="isabella_rodriguez", name="Isabella Rodriguez",
                              location="hobbs_cafe_counter", time="2023-02-13T09:00:00",
                              states=states, people={}, documents={})

    zygotes: list[int] = []
    real = pool._Zygote.exchange

    def tracking(self, *args):
        zygotes.append(self.proc.pid)
        return real(self, *args)

    monkeypatch.setattr(pool._Zygote, "exchange", tracking)
    close_all()
    look = skill("""
        import collections, math, string
        return [math.pi, collections.Counter is None, string.digits,
                world.state_of('cafe_oven'), world.state_of('cafe_stove'),
                world.state_of('cafe_piano'), len(world.places())]""")
    vandal = skill("""
        import collections, math, string
        math.pi = 3
        collections.Counter = None
        string.digits = 'x'
        world.move_to('hobbs_cafe_kitchen')
        world.use('cafe_oven', 'baking')
        return [math.pi, world.state_of('cafe_oven'), world.state_of('cafe_stove')]""")
    memory = CASES["memory"]
    before = {"cafe_stove": "cooking", "cafe_piano": "being played"}

    async def runs():
        return [await run_skill(code, "s", {}, snapshot, LIMITS, warm=True)
                for code, snapshot in ((look, snap({})), (vandal, snap(before)),
                                       (look, snap({})), (memory, snap({})),
                                       (memory, snap({})), (look, snap({"cafe_piano": "idle"})),
                                       (look, snap({"cafe_oven": "baking"})))]

    first, vandalised, after, mem1, mem2, piano, oven = asyncio.run(runs())
    assert len(set(zygotes)) == 1  # one zygote, run after run
    places = len(w.places.ids())
    digits = "0123456789"
    assert first.returned == [3.141592653589793, False, digits, "idle", "idle", "idle", places]
    assert vandalised.returned == [3, "baking", "cooking"]
    assert after.returned == first.returned
    assert (mem1.error_kind, mem2.error_kind) == ("memory", "memory")
    assert piano.returned == first.returned  # the states sent before are undone
    assert oven.returned == [3.141592653589793, False, digits, "baking", "idle", "idle",
                            places]
    fresh = asyncio.run(run_skill(look, "s", {}, snap({"cafe_oven": "baking"}), LIMITS))
    assert fresh.returned == oven.returned
    close_all()


def test_code_that_parses_but_does_not_compile_fails_in_the_warm_child_as_before():
    """The parent compiles a warm run's code for its child; code it cannot compile (but
    the static check parsed) goes as text and fails in the child's own compile."""
    r = _run("def s(world):\n    return 1\nreturn 2\n", True)
    assert (r.ok, r.error_kind) == (False, "exception")
    assert "SyntaxError: 'return' outside function (<skill>, line 3)" in r.error


def test_a_warm_run_finds_objects_by_the_index_made_once_for_its_world(monkeypatch):
    """The objects' ids, sorted and by place, go to a warm worker made once per world, with
    the shared parts, and a warm run looks objects up in them rather than sorting the
    town's objects at each lookup: an index sent without an object hides it from a warm run
    only."""
    import marshal

    from agentsim.skills.snapshot import world_snapshot
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    snap = world_snapshot(w.places, agent="isabella_rodriguez", name="Isabella Rodriguez",
                          location="hobbs_cafe_counter", time="2023-02-13T09:00:00",
                          states={}, people={}, documents={})
    sent = marshal.loads(snap.shared.payload)
    ids, by_place = sent["object_index"]
    assert ids == sorted(snap["objects"])
    assert by_place["hobbs_cafe_counter"] == ["cafe_coffee_machine", "cafe_register"]
    code = skill("""
        return [o['id'] for o in world.objects_here()]""")
    cut = (ids, {**by_place, "hobbs_cafe_counter": ["cafe_register"]})
    assert snap.shared is not None
    monkeypatch.setattr(snap.shared, "payload", marshal.dumps({**sent, "object_index": cut}))
    close_all()
    warm = asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=True))
    fresh = asyncio.run(run_skill(code, "s", {}, snap, LIMITS, warm=False))
    assert fresh.returned == ["cafe_coffee_machine", "cafe_register"]
    assert warm.returned == ["cafe_register"]
    close_all()
