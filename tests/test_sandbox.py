"""The skill sandbox: the action API a skill sees (WorldProxy on a snapshot) and running skill
code in a child process, where each layer (static check, builtins and module views, audit
hook, resource limits, the parent's replay of the steps) stops what it can on its own.

The child-process cases run once, concurrently, in a module fixture; each test then checks
one of them, so the whole file takes a few seconds."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from agentsim.skills import sandbox
from agentsim.skills.api import PRIMITIVES, ActionError, WorldProxy, replay
from agentsim.skills.api_doc import API_DOC
from agentsim.skills.sandbox import Limits, _spawn, check_code, run_skill

LIMITS = Limits(seconds=1.0, memory_mb=256, max_steps=50)

SNAPSHOT = {
    "agent": "isabella_rodriguez", "name": "Isabella Rodriguez",
    "location": "hobbs_cafe_counter", "time": "2023-02-13T08:00:00",
    "places": {
        "hobbs_cafe_counter": {"name": "Hobbs Cafe counter", "area": "hobbs_cafe",
                               "objects": ["hobbs_cafe_till"],
                               "documents": ["knowledge/hobbs_cafe_menu.md"]},
        "hobbs_cafe_kitchen": {"name": "Hobbs Cafe kitchen", "area": "hobbs_cafe",
                               "objects": ["hobbs_cafe_oven"], "documents": []},
        "main_street": {"name": "Main Street", "area": "main_street", "objects": [],
                        "documents": []},
        "johnson_park": {"name": "Johnson Park", "area": "johnson_park", "objects": [],
                         "documents": ["knowledge/park_notice.md"]},
    },
    "edges": [["hobbs_cafe_counter", "hobbs_cafe_kitchen", 1],
              ["hobbs_cafe_counter", "main_street", 2],
              ["main_street", "johnson_park", 5],
              ["hobbs_cafe_kitchen", "johnson_park", 9]],
    "objects": {
        "hobbs_cafe_oven": {"name": "oven", "place": "hobbs_cafe_kitchen", "state": "idle",
                            "states": ["idle", "baking"]},
        "hobbs_cafe_till": {"name": "till", "place": "hobbs_cafe_counter", "state": "closed",
                            "states": []},
    },
    "people": {
        "isabella_rodriguez": {"name": "Isabella Rodriguez", "place": "hobbs_cafe_counter"},
        "klaus_mueller": {"name": "Klaus Mueller", "place": "hobbs_cafe_counter"},
        "maria_lopez": {"name": "Maria Lopez", "place": "johnson_park"},
    },
    "documents": {"knowledge/hobbs_cafe_menu.md": "Hobbs Cafe menu",
                  "knowledge/park_notice.md": "Johnson Park notice"},
}

BAKE_BREAD = '''
def bake_bread(world, loaves: int = 2):
    """Bake bread in the cafe oven and put it out for sale."""
    world.move_to("hobbs_cafe_kitchen")
    world.use("hobbs_cafe_oven", "baking", minutes=40, activity=f"baking {loaves} loaves")
    world.wait(10, "letting the bread cool")
    return f"baked {loaves} loaves"
'''


def skill(body: str, name: str = "s") -> str:
    """A skill `name(world)` with `body` (indented for you)."""
    return f"def {name}(world):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")


# from any object to the interpreter's sys and the posix module (os is not even loaded)
ESCAPE = """
imp = [k for k in ().__class__.__bases__[0].__subclasses__()
       if k.__name__ == "BuiltinImporter"][0]
sys = imp.create_module.__globals__["sys"]
posix = sys.modules["posix"]
"""

# a result written by a child that was taken over: a step that no rule allows, a bad log
FORGED = b'{"ok": true, "log": 5, "steps": [{"op": "say", "person": [1], "text": "hi"}]}\n'

# name -> (code, entry, args, checked): checked runs run_skill (static check first), unchecked
# runs only the child, to show the runtime layers hold without the static check
CASES = {
    "bake_bread": (BAKE_BREAD, "bake_bread", {"loaves": 3}, True),
    "branch": (skill('''
        world.move_to("hobbs_cafe_kitchen")
        if world.state_of("hobbs_cafe_oven") == "idle":
            world.use("hobbs_cafe_oven", "baking", minutes=30)
        else:
            world.wait(30, "waiting for the oven")
        world.log("oven is", world.state_of("hobbs_cafe_oven"), "at", world.time)
        return world.state_of("hobbs_cafe_oven")
        '''), "s", {}, True),
    "talk_and_read": (skill('''
        world.read("knowledge/hobbs_cafe_menu.md")
        world.say("Klaus Mueller", "Fresh bread at ten!")
        park = world.find_place("park")
        world.move_to(park)
        world.read("knowledge/park_notice.md")
        world.say("maria_lopez", "Lovely morning.")
        return {"where": world.location, "people": world.people_here(), "at": world.time}
        '''), "s", {}, True),
    "random_twice_1": (skill('''
        import random
        n = random.randint(1, 1000)
        world.wait(n % 60 + 1)
        return [n, random.random()]
        '''), "s", {}, True),
    "modules": (skill('''
        import collections, datetime, functools, itertools, json, math, re, statistics, string
        day = datetime.datetime.strptime("2023-02-13", "%Y-%m-%d").strftime("%A")
        point = collections.namedtuple("Point", "x y")(1, 2)
        return [day, point.y, json.dumps({"a": [1]}), math.sqrt(16), re.findall(r"\\d", "a1b2"),
                statistics.median([3, 1, 2]), string.ascii_lowercase[:3],
                functools.reduce(lambda a, b: a * b, range(1, 5)),
                list(itertools.islice(itertools.count(), 3)), "é".encode("latin-1").hex(),
                collections.Counter("abca").most_common(1), statistics.NormalDist().cdf(0),
                functools.singledispatch(len)("abc")]
        '''), "s", {}, True),
    "returns_object": (skill('''
        class Basket:
            pass
        return [Basket(), "x" * 2000]
        '''), "s", {}, True),
    # static check and runtime layers
    "import_os": (skill("import os\nreturn os.listdir('/')"), "s", {}, False),
    "import_socket": (skill("import socket\nreturn socket.socket()"), "s", {}, False),
    "from_subprocess": (skill("from subprocess import run\nrun(['id'])"), "s", {}, False),
    "dunder_import": (skill("return __import__('os').listdir('/')"), "s", {}, False),
    "open_builtin": (skill("return open('/etc/passwd').read()"), "s", {}, False),
    "open_caught": (skill('''
        try:
            open("/etc/passwd")
        except Exception:
            pass
        return "carried on"
        '''), "s", {}, False),
    "getattr_escape": (skill("return getattr(world, '_places')"), "s", {}, False),
    "os_open_via_subclasses": (skill(ESCAPE + 'return posix.open("/etc/passwd", 0)'),
                               "s", {}, False),
    "system_via_subclasses": (skill(ESCAPE + 'return posix.system("echo escaped")'),
                              "s", {}, False),
    "socket_via_importlib": (skill(ESCAPE + 'return sys.modules["_frozen_importlib"]'
                                            '._gcd_import("_socket").socket()'), "s", {}, False),
    "frames": (skill('''
        def g():
            yield gen.gi_frame.f_back.f_back.f_globals
        gen = g()
        return sorted(next(gen))
        '''), "s", {}, False),
    "tampered_steps": (skill('''
        world._steps.append({"op": "move_to", "place": "the_bank_vault", "minutes": 1})
        '''), "s", {}, False),
    "exit_silently": (skill(ESCAPE + "posix._exit(3)"), "s", {}, False),
    "forged_result": (skill(ESCAPE + f"posix.write(1, {FORGED!r})\nposix._exit(0)"),
                      "s", {}, False),
    "rlimits": (skill(ESCAPE + '''
resource = sys.modules["resource"]
return [list(resource.getrlimit(n)) for n in (resource.RLIMIT_AS, resource.RLIMIT_CPU,
        resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE)]
'''), "s", {}, False),
    "raise_rlimit": (skill(ESCAPE + '''
resource = sys.modules["resource"]
resource.setrlimit(resource.RLIMIT_AS, (-1, -1))
'''), "s", {}, False),
    "env_and_cwd": (skill(ESCAPE + "return [sorted(k.decode() for k in posix.environ),"
                                   " posix.getcwd()]"), "s", {}, False),
    "flood": (skill(ESCAPE + 'posix.write(1, b"x" * (9 * 2**20))'), "s", {}, False),
    # limits
    "loop": (skill("while True:\n    pass"), "s", {}, True),
    "loop_catching": (skill('''
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
        '''), "s", {}, True),
    "bytearray": (skill("x = bytearray(2 * 1024**3)\nreturn len(x)"), "s", {}, True),
    "big_list": (skill("x = [0] * 10**9\nreturn len(x)"), "s", {}, True),
    "recursion": (skill('''
        def down(n):
            return down(n + 1)
        return down(0)
        '''), "s", {}, True),
    # mistakes a skill's author makes
    "unknown_place": (skill('world.move_to("kichen")'), "s", {}, True),
    "wrong_state": (skill('''
        world.move_to("hobbs_cafe_kitchen")
        world.use("hobbs_cafe_oven", "frying")
        '''), "s", {}, True),
    "zero_division": (skill('''
        world.wait(5)
        loaves = 0
        return 12 / loaves
        '''), "s", {}, True),
    "bad_args": (BAKE_BREAD, "bake_bread", {"rolls": 3}, True),
}
CASES["random_twice_2"] = CASES["random_twice_1"]
for i in range(8):
    CASES[f"parallel_{i}"] = (BAKE_BREAD, "bake_bread", {"loaves": i + 1}, True)


@pytest.fixture(scope="module")
def results():
    async def one(code, entry, args, checked):
        if checked:
            return await run_skill(code, entry, args, SNAPSHOT, LIMITS)
        return await _spawn(code, entry, args, SNAPSHOT, LIMITS)

    async def run_all():
        parallel = [k for k in CASES if k.startswith("parallel_")]
        rest = [k for k in CASES if k not in parallel]
        out = dict(zip(parallel, await asyncio.gather(*(one(*CASES[k]) for k in parallel)),
                       strict=True))
        gate = asyncio.Semaphore(4)

        async def gated(k):
            async with gate:
                return await one(*CASES[k])

        out |= dict(zip(rest, await asyncio.gather(*(gated(k) for k in rest)), strict=True))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTSIM_TEST_SECRET", "not for skills")
        return asyncio.run(run_all())


# -- the happy paths ------------------------------------------------------------------------
def test_bake_bread_steps_and_changes(results):
    r = results["bake_bread"]
    assert r.ok, r.error
    assert r.steps == [
        {"op": "move_to", "place": "hobbs_cafe_kitchen", "minutes": 1},
        {"op": "use", "object": "hobbs_cafe_oven", "state": "baking",
         "place": "hobbs_cafe_kitchen", "minutes": 40, "activity": "baking 3 loaves"},
        {"op": "wait", "minutes": 10, "activity": "letting the bread cool",
         "place": "hobbs_cafe_kitchen"},
    ]
    assert r.changes == {"location": ["hobbs_cafe_counter", "hobbs_cafe_kitchen"],
                         "objects": {"hobbs_cafe_oven": ["idle", "baking"]},
                         "said": [], "read": [], "minutes": 51}
    assert r.returned == "baked 3 loaves"
    assert r.error is None and r.error_kind is None
    assert r.wall_ms > 0


def test_branching_on_state(results):
    r = results["branch"]
    assert r.ok, r.error
    assert [s["op"] for s in r.steps] == ["move_to", "use"]
    assert r.returned == "baking"
    assert r.log == ["oven is baking at 08:31"]


def test_say_by_name_find_place_and_read(results):
    r = results["talk_and_read"]
    assert r.ok, r.error
    assert [s["op"] for s in r.steps] == ["read", "say", "move_to", "read", "say"]
    assert r.steps[1] == {"op": "say", "person": "klaus_mueller", "text": "Fresh bread at ten!",
                          "place": "hobbs_cafe_counter", "minutes": 5}
    assert r.steps[2] == {"op": "move_to", "place": "johnson_park", "minutes": 7}
    assert r.changes["said"] == [["klaus_mueller", "Fresh bread at ten!"],
                                 ["maria_lopez", "Lovely morning."]]
    assert r.changes["read"] == ["knowledge/hobbs_cafe_menu.md", "knowledge/park_notice.md"]
    assert r.returned == {"where": "johnson_park", "people": ["Maria Lopez"], "at": "08:37"}


def test_same_skill_same_world_same_result(results):
    a, b = results["random_twice_1"], results["random_twice_2"]
    assert a.ok, a.error
    assert (a.steps, a.changes, a.returned) == (b.steps, b.changes, b.returned)


def test_whitelisted_modules_work(results):
    r = results["modules"]
    assert r.ok, r.error
    assert r.returned == ["Monday", 2, '{"a": [1]}', 4.0, ["1", "2"], 2, "abc", 24, [0, 1, 2],
                          "e9", [["a", 2]], 0.5, 3]


def test_returned_value_is_json_safe_and_short(results):
    r = results["returns_object"]
    assert r.ok, r.error
    basket, text = r.returned
    assert basket.startswith("<skill.s.<locals>.Basket object at ")
    assert len(text) == 500


def test_eight_runs_in_flight(results):
    for i in range(8):
        r = results[f"parallel_{i}"]
        assert r.ok, r.error
        assert r.returned == f"baked {i + 1} loaves"


# -- the static check -----------------------------------------------------------------------
@pytest.mark.parametrize(("code", "message"), [
    ("import os", "import of 'os' is not allowed (line 2)"),
    ("import socket", "import of 'socket' is not allowed (line 2)"),
    ("from subprocess import run", "import of 'subprocess' is not allowed (line 2)"),
    ("import os.path as p", "import of 'os' is not allowed (line 2)"),
    ("from . import x", "import of '.' is not allowed (line 2)"),
    ("from random import _inst", "import of '_inst' from 'random' is not allowed (line 2)"),
    ("__import__('os')", "the name '__import__' is not allowed (line 2)"),
    ("open('/etc/passwd')", "open() is not allowed (line 2)"),
    ("f = eval", "eval() is not allowed (line 2)"),
    ("().__class__.__bases__[0].__subclasses__()", "the attribute '__class__' is not allowed"),
    ("getattr(world, '_snap')", "getattr() is not allowed (line 2)"),
    ("world._steps.clear()", "the attribute '_steps' is not allowed (line 2)"),
    ("import random\nrandom._os.system('id')", "the attribute '_os' is not allowed (line 3)"),
    ("g = (i for i in [1])\ng.gi_frame.f_back", "the attribute 'gi_frame' is not allowed"),
    ("import string\nstring.Formatter().get_field('0', [1], {})", "the attribute 'Formatter'"),
    ("def f(x):\n    return x.get_field('0', [1], {})", "the attribute 'get_field'"),
    ("vars(world)", "vars() is not allowed"),
])
def test_check_code_refuses(code, message):
    error = check_code(skill(code), "s")
    assert error is not None and error.startswith("skill s: ")
    assert message in error


def test_check_code_accepts_ordinary_code():
    assert check_code(BAKE_BREAD, "bake_bread") is None
    assert check_code(skill("import math\nfrom collections import Counter\nreturn 1"), "s") is None


def test_check_code_keeps_syntax_warnings_to_itself():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_code(skill("import re\nreturn re.findall('\\d+', 'a12')"), "s") is None


@pytest.mark.parametrize(("kw", "message"), [
    ({"seconds": 0}, "Limits.seconds must be more than 0"),
    ({"memory_mb": 8}, "Limits.memory_mb must be at least 32"),
    ({"max_steps": 0}, "Limits.max_steps must be at least 1"),
])
def test_limits_are_checked(kw, message):
    with pytest.raises(ValueError, match=message):
        Limits(**kw)


@pytest.mark.parametrize(("code", "entry", "message"), [
    ("def s(world):\n    return (1", "s", "skill s: syntax error: '(' was never closed (line 2)"),
    ("def other(world):\n    pass", "s", "skill s: no function named 's'"),
    ("def s(me, world):\n    pass", "s", "the first parameter of s must be `world` (line 1)"),
    ("def s():\n    pass", "s", "the first parameter of s must be `world`"),
])
def test_check_code_invalid(code, entry, message):
    assert message in (check_code(code, entry) or "")


async def test_run_skill_refuses_before_running():
    r = await run_skill(skill("import os\nos.system('id')"), "s", {}, SNAPSHOT, LIMITS)
    assert (r.ok, r.error_kind, r.steps, r.changes) == (False, "forbidden", [], {})
    assert r.error == "skill s: import of 'os' is not allowed (line 2)"
    r = await run_skill("def s(world):\n    return (1", "s", {}, SNAPSHOT, LIMITS)
    assert r.error_kind == "invalid"


# -- the runtime layers on their own (no static check) --------------------------------------
@pytest.mark.parametrize(("case", "message"), [
    ("import_os", "skill s: import of 'os' is not allowed (line 2)"),
    ("import_socket", "skill s: import of 'socket' is not allowed (line 2)"),
    ("from_subprocess", "skill s: import of 'subprocess' is not allowed (line 2)"),
    ("dunder_import", "skill s: import of 'os' is not allowed (line 2)"),
    ("open_builtin", "skill s: opening files is not allowed (line 2)"),
    ("open_caught", "skill s: opening files is not allowed"),
    ("getattr_escape", "skill s: getattr() is not allowed (line 2)"),
    ("os_open_via_subclasses", "skill s: opening files is not allowed (line 6)"),
    ("system_via_subclasses", "skill s: running programs is not allowed (line 6)"),
    ("socket_via_importlib", "skill s: import of '_socket' is not allowed (a function used it, "
                             "or tried to load a module) (line 6)"),
    ("frames", "skill s: access to frames and code is not allowed (line 3)"),
    ("tampered_steps", "skill s: its recorded steps do not obey the world's rules"),
    ("forged_result", "skill s: its recorded steps do not obey the world's rules: say([1], "),
])
def test_runtime_layers_refuse(results, case, message):
    r = results[case]
    assert (r.ok, r.error_kind, r.steps, r.changes) == (False, "forbidden", [], {})
    assert r.error.startswith(message), r.error


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux resource limits")
def test_child_runs_under_resource_limits(results):
    r = results["rlimits"]
    assert r.ok, r.error
    mem = LIMITS.memory_mb * 2**20
    assert r.returned == [[mem, mem], [2, 3], [0, 0], [16, 16], [0, 0]]
    r = results["raise_rlimit"]
    assert (r.ok, r.error_kind) == (False, "forbidden")
    assert r.error == "skill s: access to the operating system is not allowed (line 8)"


def test_child_gets_no_environment_and_an_empty_directory(results):
    r = results["env_and_cwd"]
    assert r.ok, r.error
    env, cwd = r.returned
    if sandbox.wall_status().available:  # bubblewrap sets PWD; a tmpfs of the sandbox's own
        assert env == ["LC_ALL", "PWD", "PYTHONHASHSEED", "PYTHONIOENCODING", "TZ"]
        assert cwd == "/work"
    else:
        assert env == ["LC_ALL", "PYTHONHASHSEED", "PYTHONIOENCODING", "TZ"]
        assert Path(cwd).name.startswith("agentsim-skill-") and not Path(cwd).exists()


def test_child_without_result_is_an_error_not_a_crash(results):
    r = results["exit_silently"]
    assert (r.ok, r.error_kind) == (False, "exception")
    assert r.error == "skill s: the sandbox gave no result (exit code 3)"


def test_child_flooding_its_output_is_stopped(results):
    r = results["flood"]
    assert (r.ok, r.error_kind) == (False, "exception")
    assert r.error == "skill s: the sandbox wrote more than 8 MB"


# -- limits ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["loop", "loop_catching"])
def test_time_limit(results, case):
    r = results[case]
    assert (r.ok, r.error_kind) == (False, "timeout")
    assert r.error == "skill s: ran past its 1.0 s time limit"
    # it ran to its limit (how soon after the limit it ends: the "timeout" row of
    # benchmarks/bench_sandbox.py; a loaded machine can take any time)
    assert LIMITS.seconds * 1000 <= r.wall_ms


def _children() -> list[int]:
    """Pids of this process's children (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_cancelled_run_leaves_no_child():
    before = set(_children())
    task = asyncio.ensure_future(run_skill(skill("while True:\n    pass"), "s", {}, SNAPSHOT,
                                           Limits(seconds=30.0)))
    for _ in range(3000):  # a guard against a hang, 60 s: a loaded machine starts it late
        await asyncio.sleep(0.02)
        if set(_children()) - before:
            break
    assert set(_children()) - before, "the child never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(3000):
        if not set(_children()) - before:
            break
        await asyncio.sleep(0.02)
    assert not set(_children()) - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_children_at_once_are_capped(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_CHILDREN", 2)
    spawning = spawned_peak = 0  # children being started or run, counted exactly
    real_spawn = sandbox._spawn

    async def counted(*args, **kwargs):
        nonlocal spawning, spawned_peak
        spawning += 1
        spawned_peak = max(spawned_peak, spawning)
        try:
            return await real_spawn(*args, **kwargs)
        finally:
            spawning -= 1

    monkeypatch.setattr(sandbox, "_spawn", counted)
    before, peak = set(_children()), 0
    runs = asyncio.gather(*(run_skill(skill("while True:\n    pass"), "s", {}, SNAPSHOT,
                                      Limits(seconds=0.2)) for _ in range(5)))
    while not runs.done():  # what the system shows, sampled: never more than the cap
        peak = max(peak, len(set(_children()) - before))
        await asyncio.sleep(0.01)
    assert [r.error_kind for r in runs.result()] == ["timeout"] * 5
    assert peak <= 2 and spawned_peak == 2


@pytest.mark.parametrize("case", ["bytearray", "big_list"])
def test_memory_limit(results, case):
    r = results[case]
    assert (r.ok, r.error_kind) == (False, "memory")
    assert r.error == "skill s: went over its 256 MB memory limit"


def test_deep_recursion(results):
    r = results["recursion"]
    assert (r.ok, r.error_kind) == (False, "exception")
    assert r.error == "skill s: RecursionError: maximum recursion depth exceeded (line 3)"


# -- mistakes the LLM is told about ---------------------------------------------------------
def test_unknown_place(results):
    r = results["unknown_place"]
    assert (r.ok, r.error_kind) == (False, "action")
    assert r.error.startswith("skill s: move_to('kichen'): no such place; "
                              "did you mean 'hobbs_cafe_kitchen'?")
    assert r.error.endswith("(line 2)")


def test_wrong_state(results):
    r = results["wrong_state"]
    assert (r.ok, r.error_kind) == (False, "action")
    assert r.error == ("skill s: use('hobbs_cafe_oven', 'frying'): hobbs_cafe_oven can be "
                       "'idle', 'baking', not 'frying' (line 3)")


def test_exception_with_line(results):
    r = results["zero_division"]
    assert (r.ok, r.error_kind, r.steps) == (False, "exception", [])
    assert r.error == "skill s: ZeroDivisionError: division by zero (line 4)"


def test_arguments_that_do_not_fit(results):
    r = results["bad_args"]
    assert (r.ok, r.error_kind) == (False, "invalid")
    assert "unexpected keyword argument 'rolls'" in r.error


# -- the proxy itself (no process) ----------------------------------------------------------
def world(**changes) -> WorldProxy:
    return WorldProxy({**SNAPSHOT, **changes})


def test_reading_the_world():
    w = world()
    assert w.location == "hobbs_cafe_counter" and w.time == "08:00" and w.minutes_used == 0
    assert w.places() == ["hobbs_cafe_counter", "hobbs_cafe_kitchen", "johnson_park",
                          "main_street"]
    assert w.place_name("johnson_park") == "Johnson Park"
    assert w.objects_here() == [{"id": "hobbs_cafe_till", "name": "till", "state": "closed",
                                 "states": []}]
    assert w.state_of("hobbs_cafe_oven") == "idle"
    assert w.people_here() == ["Klaus Mueller"]
    assert w.documents_here() == ["knowledge/hobbs_cafe_menu.md"]


def test_find_place_prefers_the_shortest_match():
    w = world()
    assert w.find_place("cafe") == "hobbs_cafe_counter"  # same length as _kitchen: by id
    assert w.find_place("KITCHEN") == "hobbs_cafe_kitchen"
    assert w.find_place("Main Street") == "main_street"
    with pytest.raises(ActionError, match="no place's id or name contains it"):
        w.find_place("bank")


def test_minutes_to_takes_the_shortest_walk():
    w = world()
    assert w.minutes_to("johnson_park") == 7  # via main_street, not the 10 via the kitchen
    assert w.minutes_to("hobbs_cafe_counter") == 0
    w.move_to("hobbs_cafe_kitchen")
    assert w.minutes_to("johnson_park") == 8  # back through the counter beats the 9 direct


def test_a_walk_is_as_long_whatever_the_order_of_the_edges():
    snap = {**SNAPSHOT, "location": "a", "places": {p: {"name": p} for p in "abcde"},
            "edges": [["a", "c", 1], ["c", "d", 1.5], ["a", "b", 1], ["b", "d", 1], ["d", "e", 9],
                      ["a", "e", 12]]}
    assert WorldProxy(snap)._walk("d", "test") == 2
    assert WorldProxy(snap)._walk("e", "test") == 11
    snap["edges"] = list(reversed(snap["edges"]))
    assert WorldProxy(snap)._walk("d", "test") == 2
    assert WorldProxy(snap)._walk("e", "test") == 11


def test_unreachable_place():
    snap = {**SNAPSHOT, "places": {**SNAPSHOT["places"], "island": {"name": "Island"}}}
    with pytest.raises(ActionError, match="no walking route from hobbs_cafe_counter to island"):
        WorldProxy(snap).move_to("island")


def test_actions_change_the_copy_not_the_snapshot():
    w = world()
    w.move_to("hobbs_cafe_counter")  # already there: no step
    w.move_to("Hobbs Cafe kitchen")  # a place's exact name works too
    w.use("hobbs_cafe_oven", "baking", minutes=20)
    assert w.steps[-1]["activity"] == "using the oven"
    assert w.state_of("hobbs_cafe_oven") == "baking" and w.time == "08:21"
    assert SNAPSHOT["objects"]["hobbs_cafe_oven"]["state"] == "idle"
    assert w.changes()["objects"] == {"hobbs_cafe_oven": ["idle", "baking"]}
    w.use("hobbs_cafe_oven", "idle", minutes=1)
    assert w.changes()["objects"] == {}  # back as it was: no change


@pytest.mark.parametrize(("call", "message"), [
    (lambda w: w.use("hobbs_cafe_oven", "baking"), "hobbs_cafe_oven is at hobbs_cafe_kitchen"),
    (lambda w: w.use("ovn", "baking"), "no such object; did you mean 'hobbs_cafe_oven'?"),
    (lambda w: w.use("hobbs_cafe_till", "open", minutes=0), "minutes must be from 1 to 240"),
    (lambda w: w.use("hobbs_cafe_till", "open", minutes="5"), "minutes must be a whole number"),
    (lambda w: w.wait(241), "wait(241): minutes must be from 1 to 240, not 241"),
    (lambda w: w.wait(2.5), "wait(2.5): minutes must be a whole number"),
    (lambda w: w.wait(True), "minutes must be a whole number"),
    (lambda w: w.say("Maria Lopez", "hi"), "Maria Lopez is not here (hobbs_cafe_counter); "
                                           "people here: Klaus Mueller"),
    (lambda w: w.say("Klaus", "hi"), "no such person; did you mean 'Klaus Mueller'?"),
    (lambda w: w.say("Isabella Rodriguez", "hi"), "no such person"),
    (lambda w: w.say("Klaus Mueller", ""), "text must be a non-empty text"),
    (lambda w: w.say("Klaus Mueller", "x" * 1001), "at most 1000"),
    (lambda w: w.read("knowledge/park_notice.md"), "it is at johnson_park, not here"),
    (lambda w: w.read("menu"), "no document with that id"),
    (lambda w: w.move_to(3), "a place is given by its id"),
])
def test_rule_breaking_calls(call, message):
    with pytest.raises(ActionError) as err:
        call(world())
    assert message in str(err.value)


def test_step_and_time_caps():
    w = WorldProxy(SNAPSHOT, max_steps=3)
    for _ in range(3):
        w.wait(1)
    with pytest.raises(ActionError, match="went over its limit of 3 actions"):
        w.wait(1)
    w = world()
    for _ in range(6):
        w.wait(240)
    assert w.minutes_used == 24 * 60 and w.time == "08:00"
    with pytest.raises(ActionError, match="limit of 24 hours"):
        w.wait(1)


def test_log_is_not_a_step():
    w = world()
    w.log("oven", 3, None)
    assert w.steps == [] and w.logged == ["oven 3 None"]


def test_replay_accepts_recorded_steps_and_refuses_made_up_ones():
    w = world()
    w.move_to("hobbs_cafe_kitchen")
    w.use("hobbs_cafe_oven", "baking", minutes=40)
    again = replay(SNAPSHOT, w.steps)
    assert again.steps == w.steps and again.changes() == w.changes()
    forged = [{**w.steps[0], "minutes": 0}, *w.steps[1:]]
    with pytest.raises(ActionError, match="do not match"):
        replay(SNAPSHOT, forged)
    with pytest.raises(ActionError, match="not a primitive action"):
        replay(SNAPSHOT, [{"op": "teleport", "place": "johnson_park"}])


def test_api_doc_mentions_every_primitive():
    assert PRIMITIVES == ("move_to", "use", "say", "wait", "read")
    for name in (*PRIMITIVES, "log", "location", "time", "minutes_used", "places",
                 "place_name", "find_place", "objects_here", "state_of", "people_here",
                 "documents_here", "minutes_to", "ActionError"):
        assert f"{name}" in API_DOC, name
    for name in PRIMITIVES:
        assert f"world.{name}(" in API_DOC, name


def smallville():
    """(snapshot, place graph): Smallville as its café owner sees it at 08:00, everyone at
    home."""
    from agentsim.skills.snapshot import smallville_at_home
    from agentsim.world.loader import load_world

    w = load_world(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
    return smallville_at_home(w, "isabella_rodriguez"), w.places


def test_walks_match_the_world_place_graph():
    """The proxy's Dijkstra gives the world's own walking minutes (networkx)."""
    snap, pg = smallville()
    walkable = sorted(pg.graph.nodes)
    for a in walkable[::7]:
        w = WorldProxy({**snap, "location": a})
        for b in walkable:
            if b != a:
                assert w._walk(b, "test") == math.ceil(pg.travel_minutes(a, b)), (a, b)


def test_a_replay_measures_walks_on_the_worlds_own_distances(monkeypatch):
    """The parent replays a run's steps with the world's walking minutes (`between`), never
    searching the town itself, and gets the minutes the proxy's own walk gives; a place
    with no route is the same ActionError."""
    snap, pg = smallville()
    a = "hobbs_cafe_counter"
    targets = [b for b in sorted(snap["places"])[::3] if b != a]
    walked = {b: WorldProxy({**snap, "location": a})._walk(b, "test") for b in targets}

    def no_search(*_args):
        raise AssertionError("searched the town")

    monkeypatch.setattr(WorldProxy, "_walk", no_search)
    for b in targets:  # (a replay raises unless its steps are the ones recorded)
        step = {"op": "move_to", "place": b, "minutes": walked[b]}
        w = replay({**snap, "location": a}, [step], copy=False, between=pg.travel_minutes)
        assert w.steps == [step] and w.minutes_to(a) == walked[b], b
    with pytest.raises(ActionError, match="do not match"):
        replay({**snap, "location": a}, [{**step, "minutes": walked[b] + 1}],
               between=pg.travel_minutes)

    def nowhere(x, y):
        raise KeyError(y)

    with pytest.raises(ActionError, match="no walking route from hobbs_cafe_counter"):
        WorldProxy({**snap, "location": a}, between=nowhere).move_to(targets[0])


def test_a_run_is_given_the_walks_between_the_places_its_code_names(monkeypatch):
    """The parent measures the world's walking minutes between the agent's place and the
    place ids the skill's code holds as strings (`sandbox._walks`), each way; the proxy reads
    them instead of searching the town, and searches for any other walk."""
    from agentsim.skills.sandbox import _walks
    from agentsim.skills.snapshot import Shared

    snap, pg = smallville()
    shared = Shared(snap["places"], snap["edges"], snap["objects"], pg.travel_minutes)
    here = "hobbs_cafe_counter"
    code = ('def go(world):\n'
            '    def inner():\n'
            '        world.move_to("johnson_park")\n'
            '    world.move_to("hobbs_cafe_kitchen")\n'
            '    inner()\n'
            '    world.log("not a place", "hobbs_cafe_counter")\n')
    walks = _walks(code, here, shared)
    spots = {here, "johnson_park", "hobbs_cafe_kitchen"}
    assert set(walks) == {(a, b) for a in spots for b in spots if a != b}
    assert walks[here, "johnson_park"] == pg.travel_minutes(here, "johnson_park")
    assert _walks("def go(world):\n    world.wait(5)\n", here, shared) == {}
    own = {b: WorldProxy({**snap, "location": here})._walk(b, "test")
           for b in ("johnson_park", "hobbs_cafe_kitchen")}

    def no_search(*_args):
        raise AssertionError("searched the town")

    monkeypatch.setattr(WorldProxy, "_walk", no_search)
    w = WorldProxy({**snap, "location": here, "walks": walks})
    w.move_to("hobbs_cafe_kitchen")
    w.move_to("johnson_park")
    assert [s["minutes"] for s in w.steps] == [
        own["hobbs_cafe_kitchen"], math.ceil(walks["hobbs_cafe_kitchen", "johnson_park"])]
    with pytest.raises(AssertionError, match="searched the town"):
        w.move_to("apt_isabella")  # not named by the code: searched


async def test_a_skill_on_smallville():
    snap, pg = smallville()
    code = BAKE_BREAD.replace("hobbs_cafe_oven", "cafe_oven")
    r = await run_skill(code, "bake_bread", {}, snap, LIMITS)
    assert r.ok, r.error
    walk = math.ceil(pg.travel_minutes(snap["location"], "hobbs_cafe_kitchen"))
    assert r.steps[0] == {"op": "move_to", "place": "hobbs_cafe_kitchen", "minutes": walk}
    assert r.changes["objects"] == {"cafe_oven": ["idle", "baking"]}
    assert r.changes["minutes"] == walk + 50
