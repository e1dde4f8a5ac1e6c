"""The skill sandbox against an attacker: the operating-system wall (bubblewrap namespaces and
the seccomp filter) holding on its own, with the Python layers switched off as if escaped;
the seccomp filter on its own where there is no wall; each known way around the Python
layers closed in those layers too; and the parent trusting nothing the child says.

Every child-process case runs once, concurrently, in a module fixture."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from agentsim.errors import UserError
from agentsim.skills import wall as wall_mod
from agentsim.skills.library import load_seed_skills
from agentsim.skills.sandbox import Limits, _spawn, check_code, run_skill
from agentsim.skills.wall import Wall, syscall_filter, wall_status

LIMITS = Limits(seconds=1.5, memory_mb=256, max_steps=20)
SNAPSHOT = {"agent": "a", "name": "A", "location": "p", "time": "2023-02-13T08:00:00",
            "places": {"p": {"name": "P", "area": "p", "objects": [], "documents": []}},
            "edges": [], "objects": {}, "people": {}, "documents": {}}
NO_WALL = Wall(False, "no wall (test)")
SECRET = "agentsim-test-secret-4711"
TOKEN = "61.4711"  # a sleep that must not outlive its skill
HAS_WALL = wall_status().available
HAS_FILTER = syscall_filter() is not None

if os.environ.get("AGENTSIM_REQUIRE_WALL") == "1":  # CI: the wall must be up, not skipped
    assert HAS_WALL, wall_status().reason
needs_wall = pytest.mark.skipif(not HAS_WALL, reason=wall_status().reason)
needs_filter = pytest.mark.skipif(not HAS_FILTER, reason="no seccomp table here")


def skill(body: str, params: str = "") -> str:
    return f"def s(world{params}):\n" + textwrap.indent(textwrap.dedent(body), "    ")


# -- what an escaped skill tries (run with the Python layers off) ----------------------------
SNOOP = skill("""
    import os
    out = {"uid": os.getuid(), "gid": os.getgid()}
    try:
        out["root"] = sorted(os.listdir("/"))
    except OSError as e:
        out["root"] = type(e).__name__
    for pid in (os.getppid(), 1):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                out[f"environ_{pid}"] = f.read().decode("utf-8", "replace")
        except OSError as e:
            out[f"environ_{pid}"] = type(e).__name__
    for key, path in (("readme", readme), ("passwd", "/etc/passwd")):
        try:
            with open(path) as f:
                out[key] = f.read(200)
        except OSError as e:
            out[key] = type(e).__name__
    try:
        with open(target, "w") as f:
            f.write("owned")
        out["write"] = "written"
    except OSError as e:
        out["write"] = type(e).__name__
    try:
        os.unlink(victim)
        out["unlink"] = "deleted"
    except OSError as e:
        out["unlink"] = type(e).__name__
    try:
        os.setuid(0)
        out["setuid"] = "root"
    except OSError as e:
        out["setuid"] = type(e).__name__
    return out
""", ", readme, target, victim")
CONNECT = skill("""
    import socket
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.connect(("127.0.0.1", port))
        return "connected"
    except OSError as e:
        return type(e).__name__
""", ", port")
FORK = skill("""
    import os
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return "forked"
""")
EXEC = skill("""
    import os
    os.execv("/usr/bin/true", ["true"])
""")
SIGNAL_PARENT = skill("""
    import os
    os.kill(os.getppid(), 0)
    return "signalled"
""")
# a grandchild in a session of its own that holds the result pipe open, then a busy loop
LINGER = skill(f"""
    import os
    if os.fork() == 0:
        os.setsid()
        os.execv("/usr/bin/sleep", ["sleep", "{TOKEN}"])
    while True:
        pass
""")
THREAD = skill("""
    import threading
    box = []
    t = threading.Thread(target=lambda: box.append(1))
    t.start()
    t.join()
    return box
""")

# -- ways around the Python layers (run with the layers on, the static check skipped) --------
GLOBALS_OF_PRINT = skill("""
    g = print.__globals__
    return [sorted(g), sorted(g["__builtins__"])]
""")
GLOBALS_OF_WORLD = skill("""
    return sorted(world.log.__func__.__globals__["__builtins__"])
""")
FORMATTER = skill("""
    import string
    stash = []
    class F(string.Formatter):
        def format_field(self, value, spec):
            stash.append(value)
            return ""
    F().format("{0.__globals__}", print)
    return sorted(stash[0])
""")
FORMAT_FIELDS = skill("""
    return "{0.__globals__}".format(print)
""")
UPDATE_WRAPPER = skill("""
    import functools
    class Holder:
        pass
    h = Holder()
    functools.update_wrapper(h, print, assigned=("__globals__",), updated=())
    return "copied"
""")
MATCH_PATTERN = skill("""
    class Box:
        pass
    match Box():
        case Box(__class__=k):
            return str(k)
""")
CLOSURE_FRAMES = skill("""
    cells = [c.cell_contents for c in open.__closure__]
    for c in cells:
        inner = getattr(c, "__closure__", None) or ()
        for cell in inner:
            if callable(cell.cell_contents) and "getframe" in repr(cell.cell_contents):
                cell.cell_contents(0)
    return "no frames"
""")
_SUBCLASS_OS = """
    imp = [k for k in ().__class__.__bases__[0].__subclasses__()
           if k.__name__ == "BuiltinImporter"][0]
    sys = imp.create_module.__globals__["sys"]
    posix = sys.modules["posix"]
"""
REPLACE_POLICY = skill(_SUBCLASS_OS + """
    sys.modules["__main__"]._refusal = lambda event, args: None
    posix.open("/etc/passwd", 0)
    return "opened"
""")
GETFRAME = skill(_SUBCLASS_OS + """
    frame = sys._getframe(1)
    frame.f_locals.clear()
    return "cleared"
""")
FORGE_AFTER_REFUSAL = skill("""
    try:
        open("/etc/passwd")
    except Exception:
        pass
    return "fine"
""")
FORGE_OUTPUT = skill(_SUBCLASS_OS + """
    posix.write(1, b'{"ok": true, "steps": [{"op": "fly", "place": "moon"}], "log": []}\\n')
    posix._exit(0)
""")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    d = tmp_path_factory.mktemp("host")
    victim = d / "victim.txt"
    victim.write_text("keep me")
    return {"readme": str(Path(__file__).resolve().parents[1] / "README.md"),
            "target": str(d / "owned.txt"), "victim": str(victim)}


@pytest.fixture(scope="module")
def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def results(paths, listener):
    os.environ["AGENTSIM_TEST_SECRET"] = SECRET  # the parent's environment holds a "key"
    port = listener.getsockname()[1]
    wall = wall_status()
    cases: dict[str, tuple] = {
        # the Python layers off: the OS wall, with and without the filter, and the filter alone
        "snoop_wall": (SNOOP, paths, dict(wall=wall, python_layers=False, seccomp=False)),
        "snoop_wall_filter": (SNOOP, paths, dict(wall=wall, python_layers=False)),
        "snoop_filter": (SNOOP, paths, dict(wall=NO_WALL, python_layers=False)),
        "connect_wall": (CONNECT, {"port": port},
                         dict(wall=wall, python_layers=False, seccomp=False)),
        "connect_filter": (CONNECT, {"port": port}, dict(wall=NO_WALL, python_layers=False)),
        "fork_filter": (FORK, {}, dict(wall=NO_WALL, python_layers=False)),
        "exec_filter": (EXEC, {}, dict(wall=NO_WALL, python_layers=False)),
        "signal_filter": (SIGNAL_PARENT, {}, dict(wall=NO_WALL, python_layers=False)),
        "linger_wall": (LINGER, {}, dict(wall=wall, python_layers=False, seccomp=False)),
        "linger_wall_filter": (LINGER, {}, dict(wall=wall, python_layers=False)),
        "thread_filter": (THREAD, {}, dict(wall=NO_WALL, python_layers=False)),
        # the Python layers on, with neither wall nor filter: each layer on its own
        "globals_of_print": (GLOBALS_OF_PRINT, {}, dict(wall=NO_WALL, seccomp=False)),
        "globals_of_world": (GLOBALS_OF_WORLD, {}, dict(wall=NO_WALL, seccomp=False)),
        "formatter": (FORMATTER, {}, dict(wall=NO_WALL, seccomp=False)),
        "format_fields": (FORMAT_FIELDS, {}, dict(wall=NO_WALL, seccomp=False)),
        "update_wrapper": (UPDATE_WRAPPER, {}, dict(wall=NO_WALL, seccomp=False)),
        "closure_frames": (CLOSURE_FRAMES, {}, dict(wall=NO_WALL, seccomp=False)),
        "replace_policy": (REPLACE_POLICY, {}, dict(wall=NO_WALL, seccomp=False)),
        "getframe": (GETFRAME, {}, dict(wall=NO_WALL, seccomp=False)),
        "forge_after_refusal": (FORGE_AFTER_REFUSAL, {}, dict(wall=NO_WALL, seccomp=False)),
        "forge_output": (FORGE_OUTPUT, {}, dict(wall=NO_WALL, seccomp=False)),
    }
    if not HAS_WALL:
        cases = {k: v for k, v in cases.items() if "wall" not in k}
    if not HAS_FILTER:
        cases = {k: v for k, v in cases.items() if "filter" not in k}

    async def all_cases():
        runs = [_spawn(code, "s", args, SNAPSHOT, LIMITS, **kw)
                for code, args, kw in cases.values()]
        return dict(zip(cases, await asyncio.gather(*runs), strict=True))
    try:
        return asyncio.run(all_cases())
    finally:
        del os.environ["AGENTSIM_TEST_SECRET"]


def _lingering() -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if TOKEN in (d / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(d.name))
            except OSError:
                continue
    return found


# -- the wall alone (Python layers and filter off) ------------------------------------------
@needs_wall
def test_wall_hides_the_host_and_runs_as_nobody(results, paths):
    r = results["snoop_wall"]
    assert r.ok, r.error
    out = r.returned
    assert (out["uid"], out["gid"]) == (65534, 65534) and out["setuid"] != "root"
    assert out["root"] == ["bin", "dev", "lib", "lib64", "sandbox", "usr", "work"] or \
        set(out["root"]) <= {"bin", "dev", "lib", "lib32", "lib64", "libx32", "sbin",
                             "sandbox", "usr", "work", "root"}
    assert all(out[k] == "FileNotFoundError" for k in out if k.startswith("environ_"))
    assert out["readme"] == "FileNotFoundError" and out["passwd"] == "FileNotFoundError"
    assert out["write"] in ("FileNotFoundError", "OSError", "PermissionError")
    assert out["unlink"] in ("FileNotFoundError", "PermissionError")
    assert SECRET not in repr(out)
    assert not Path(paths["target"]).exists() and Path(paths["victim"]).exists()


@needs_wall
def test_wall_has_no_network(results, listener):
    r = results["connect_wall"]
    assert r.ok, r.error
    assert r.returned in ("ConnectionRefusedError", "OSError", "TimeoutError")
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing reached the host's loopback


@needs_wall
@pytest.mark.parametrize("case", ["linger_wall", "linger_wall_filter"])
def test_no_descendant_outlives_its_skill(results, case):
    r = results[case]
    assert not r.ok
    assert r.error_kind == ("timeout" if case == "linger_wall" else "forbidden"), r.error
    for _ in range(40):
        if not _lingering():
            break
        asyncio.run(asyncio.sleep(0.05))
    assert _lingering() == []


@needs_wall
@needs_filter
def test_wall_and_filter_together(results, paths):
    r = results["snoop_wall_filter"]
    assert r.ok, r.error
    out = r.returned
    assert out["uid"] == 65534
    assert all(out[k] == "PermissionError" for k in ("readme", "passwd", "write", "unlink"))
    assert not Path(paths["target"]).exists() and Path(paths["victim"]).exists()


# -- the system-call filter alone (no wall, Python layers off) -------------------------------
@needs_filter
def test_filter_refuses_every_file(results, paths):
    r = results["snoop_filter"]
    assert r.ok, r.error
    out = r.returned
    assert all(out[k] == "PermissionError"
               for k in ("readme", "passwd", "write", "unlink", "environ_1"))
    assert SECRET not in repr(out)
    assert not Path(paths["target"]).exists() and Path(paths["victim"]).read_text() == "keep me"


@needs_filter
@pytest.mark.parametrize("case", ["connect_filter", "fork_filter", "exec_filter",
                                  "signal_filter"])
def test_filter_stops_processes_programs_sockets_and_signals(results, case):
    r = results[case]
    assert (r.ok, r.error_kind) == (False, "forbidden"), r.error
    assert "system call the sandbox forbids" in r.error


@needs_filter
def test_filter_lets_threads_run(results):
    r = results["thread_filter"]
    assert r.ok, r.error
    assert r.returned == [1]


# -- the Python layers alone (no wall, no filter) --------------------------------------------
def test_the_skills_callables_lead_nowhere(results):
    r = results["globals_of_print"]
    assert r.ok, r.error
    names, builtins_ = r.returned
    assert set(names) <= {"__builtins__", "make", "wrappers"}
    assert not {"open", "__import__", "exec", "eval", "getattr"} & set(builtins_)


def test_the_world_api_has_no_real_builtins(results):
    r = results["globals_of_world"]
    assert r.ok, r.error
    assert not {"open", "__import__", "exec", "eval", "getattr", "type"} & set(r.returned)


@pytest.mark.parametrize("case", ["formatter", "update_wrapper"])
def test_attribute_copying_helpers_are_gone(results, case):
    r = results[case]
    assert not r.ok and r.error_kind in ("exception", "invalid"), r.error


def test_format_fields_show_only_the_isolated_namespace(results):
    r = results["format_fields"]
    assert r.ok, r.error
    assert "sys" not in r.returned and "_refusal" not in r.returned


@pytest.mark.parametrize("case", ["closure_frames", "replace_policy", "getframe",
                                  "forge_after_refusal"])
def test_refusals_hold_and_end_the_child(results, case):
    r = results[case]
    assert (r.ok, r.error_kind) == (False, "forbidden"), r.error


def test_forged_output_is_replayed_not_believed(results):
    r = results["forge_output"]
    assert not r.ok
    assert r.error_kind == "forbidden", r.error
    assert "do not obey the world's rules" in r.error


# -- the static check names what the runtime layers would meet -------------------------------
@pytest.mark.parametrize(("code", "what"), [
    (FORMAT_FIELDS, "'__globals__' in a format string"),
    (MATCH_PATTERN, "the attribute '__class__'"),
    (UPDATE_WRAPPER, "update_wrapper() with attribute lists"),
    (FORMATTER, "the attribute 'Formatter'"),
    ("from string import Formatter\n" + skill("return 1"), "'Formatter' from 'string'"),
])
def test_static_check_sees_hidden_attribute_access(code, what):
    problem = check_code(code, "s")
    assert problem and what in problem, problem


def test_static_check_lets_ordinary_formatting_through():
    assert check_code(skill('return "{} and {name:>5}".format(1, name="x")'), "s") is None


def test_a_seed_skill_that_hides_attribute_access_is_refused_with_its_line(tmp_path):
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "sneaky.py").write_text(
        '"""Cafe skills."""\n\n\ndef peek(world):\n    """Looks around."""\n'
        '    return "{0.__globals__}".format(print)\n')
    with pytest.raises(UserError) as e:
        load_seed_skills(tmp_path / "skills", tmp_path)
    assert "skills/sneaky.py" in str(e.value) and "(line 6)" in str(e.value)


# -- policy: without the wall, model-written code needs to be allowed ----------------------
async def test_without_the_wall_model_code_waits_for_permission(monkeypatch):
    monkeypatch.setattr("agentsim.skills.sandbox.wall_status", lambda: NO_WALL)
    code = skill('world.wait(5, "waiting")\nreturn 1')
    refused = await run_skill(code, "s", {}, SNAPSHOT, LIMITS)
    assert (refused.ok, refused.error_kind) == (False, "forbidden")
    assert "--allow-unsandboxed-skills" in refused.error and "no wall (test)" in refused.error
    seed = await run_skill(code, "s", {}, SNAPSHOT, LIMITS, model_written=False)
    allowed = await run_skill(code, "s", {}, SNAPSHOT, LIMITS, allow_unsandboxed=True)
    assert seed.ok and allowed.ok, (seed.error, allowed.error)


async def test_run_skill_never_raises(monkeypatch):
    async def broken(*_a, **_k):
        raise TimeoutError("a pipe held open")
    monkeypatch.setattr("agentsim.skills.sandbox._spawn", broken)
    r = await run_skill(skill("return 1"), "s", {}, SNAPSHOT, LIMITS)
    assert (r.ok, r.error_kind) == (False, "exception")
    assert "TimeoutError" in r.error


def test_wall_status_says_why_not(monkeypatch):
    wall_status.cache_clear()
    try:
        monkeypatch.setenv("AGENTSIM_SANDBOX_WALL", "off")
        assert not wall_status().available and "AGENTSIM_SANDBOX_WALL" in wall_status().reason
        monkeypatch.delenv("AGENTSIM_SANDBOX_WALL")
        wall_status.cache_clear()
        monkeypatch.setattr(wall_mod, "_find_bwrap", lambda: None)
        assert "bubblewrap" in wall_status().reason and not wall_status().available
        if sys.platform.startswith("linux"):
            wall_status.cache_clear()
            monkeypatch.setattr(wall_mod, "_find_bwrap", lambda: "/bin/false")
            assert "failed here" in wall_status().reason
    finally:
        wall_status.cache_clear()


# -- what the user sees --------------------------------------------------------------------
def test_headless_run_says_once_there_is_no_wall_and_prints_sandbox_failures(monkeypatch):
    import io
    from datetime import datetime

    from rich.console import Console

    from agentsim.events import SkillUsed
    from agentsim.experiment import Simulation
    from agentsim.progress import Progress

    monkeypatch.setattr(wall_mod, "wall_status", lambda: NO_WALL)
    sim = Simulation.load(str(Path(__file__).parent.parent / "worlds" / "smallville"), seed=0,
                          embedder="hash")
    out = io.StringIO()
    progress = Progress(sim, 1, console=Console(file=out, width=300))
    progress.start()
    agent = sorted(sim.agents)[0]
    for kind in ("forbidden", "critique"):
        progress._on_event(SkillUsed(time=datetime(2023, 2, 13, 9), tick=1, agent=agent,
                                     skill="peek", task="look around", ok=False,
                                     error=f"skill peek: {kind} here", error_kind=kind))
    progress.stop()
    sim.close()
    text = out.getvalue()
    assert text.count("Skills: no wall (test): the world's seed skills run") == 1
    assert "--allow-unsandboxed-skills" in text
    assert "skill peek stopped by the sandbox (forbidden): skill peek: forbidden here" in text
    assert "critique here" not in text  # a critic's verdict is learning, not a fault


def test_tui_log_names_a_forbidden_action():
    from datetime import datetime

    from agentsim.events import SkillUsed
    from agentsim.tui.event_log import describe

    e = SkillUsed(time=datetime(2023, 2, 13, 9), tick=1, agent="a", skill="peek", task="t",
                  ok=False, error="skill peek: opening files is not allowed (line 3)",
                  error_kind="forbidden")
    line = describe(e, lambda a: "Ann", None)[0].plain
    assert line.startswith("⛔ Ann's skill peek was stopped by the sandbox for a forbidden")
    assert "opening files is not allowed (line 3)" in line
