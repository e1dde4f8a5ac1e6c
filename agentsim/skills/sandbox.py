"""Running a skill's code safely: a static check, then a fresh child process per run.

    check_code(code, entry)                      the one-line reason the code is refused, or None
    await run_skill(code, entry, args, snapshot, limits)   -> SandboxResult (never raises for
                                                 anything the skill's code does)

The snapshot a skill runs on is the world as its agent sees it::

    {"agent": "isabella_rodriguez", "name": "Isabella Rodriguez",
     "location": "hobbs_cafe_counter", "time": "2023-02-13T08:00:00",
     "places": {place_id: {"name", "area", "objects": [object ids], "documents": [ids]}},
     "edges": [[place_a, place_b, minutes], ...],          # the walking graph, undirected
     "objects": {object_id: {"name", "place", "state", "states": [...]}},  # [] = any state
     "people": {agent_id: {"name", "place"}},
     "documents": {document_id: title}}

(On a warm worker the world's shared parts are the worker's, and the message adds "walks":
the world's walking minutes between the agent's place and the places the code names,
`_walks`.)

The wall (`agentsim.skills.wall`): on Linux the child runs behind bubblewrap (no network, no
host files, no other processes, uid 65534) and installs a seccomp filter on itself before the
skill runs; that is the defence that holds when every Python layer below fails. Without the
wall, code a model wrote runs only when the caller allows it (`allow_unsandboxed`).

Defence in depth, each layer stopping what it can on its own:

1. `check_code` (AST, nothing runs): imports outside a small whitelist, names starting with
   "__", attributes starting with "_" and the frame/code attributes (`gi_frame`, `f_back`,
   `tb_frame`, ...), and open/exec/eval/compile/getattr/... are refused.
2. The child (`_runner.py`) runs with a safe subset of builtins; its `__import__` admits only
   the whitelist and hands out module views without private names or other modules.
3. An audit hook in the child refuses opening files, sockets, processes, ctypes, new imports,
   the os module and the interpreter's internals (sys, gc, threads, code objects), and,
   while the skill runs, the audited attributes that lead to frames and code (gi_frame,
   tb_frame, __code__). A refusal ends the child at once: the skill cannot catch it.
4. Resource limits in the child: address space `memory_mb`, CPU seconds, no file writes, few
   file descriptors, no new processes; a wall-clock timer ends the child after `seconds`,
   and the parent kills its whole process group a little later should that fail.
5. The parent replays the recorded steps on its own `WorldProxy`, so only steps that obey
   the world's rules ever leave the sandbox, whatever happened in the child; it reads at
   most MAX_OUTPUT bytes of the child's output.

Error kinds: "invalid" (syntax error, no such function, arguments that do not fit),
"forbidden" (refused by a layer above), "timeout", "memory", "action" (an ActionError: a
call that breaks the world's rules) and "exception" (any other exception, with its line in
the skill's code; also a child that gave no result). A deep recursion is an "exception"
(RecursionError).

The child gets a fresh empty working directory (behind the wall a private tmpfs) and an
environment of its own (no variable of the parent's, so no keys or proxies). Without the `resource`
module (not Linux or macOS) the memory, CPU and process limits cannot be enforced; the
wall-clock limit and the other layers still hold. macOS may refuse an address-space limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import marshal
import os
import signal
import sys
import tempfile
import time
import types
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsim.skills.api import ActionError, replay
from agentsim.skills.check import (  # noqa: F401  (check_code and the lists: public here too)
    ALLOWED_MODULES,
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_CALLS,
    _imports,
    _static_check,
    check_code,
)
from agentsim.skills.pool import warm_pool
from agentsim.skills.snapshot import Crowd, Shared
from agentsim.skills.wall import CHILD_ENV, Wall, syscall_filter, wall_argv, wall_status

RUNNER = Path(__file__).with_name("_runner.py")
REFUSED_MARK = "agentsim-sandbox-refused:"  # the runner's line before it ends itself
START_GRACE = 1.0  # seconds the parent allows the child for its start beyond `seconds`
STDERR_TAIL = 300  # characters of the child's stderr in an error
STDERR_KEEP = 64 * 1024  # bytes of it kept
MAX_OUTPUT = 8 * 2**20  # bytes of a child's result at most
# children at once per event loop: each may use `memory_mb`, so 100 agents' skills at once
# must not mean 100 x 256 MB; a run's time limit starts when its child does
MAX_CHILDREN = max(8, 4 * (os.cpu_count() or 1))
# warm zygotes per process (`warm=True` runs): one run each at a time, the others queue
WARM_WORKERS = max(2, 2 * (os.cpu_count() or 1))
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
    weakref.WeakKeyDictionary()
RETURN_CHARS = 500  # of a text or repr in a skill's return value (the child cuts them)
MAX_RETURNED = 64 * 1024  # characters of JSON of a return value at most, else cut to text


@dataclass(frozen=True)
class Limits:
    seconds: float = 2.0  # wall-clock limit for one run (CPU limit too)
    memory_mb: int = 256  # address-space limit of the child
    max_steps: int = 50
    seed: int = 0  # the run's sandbox stream (not a limit: it travels with them to the child)

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"Limits.seconds must be more than 0, not {self.seconds!r}")
        if not self.memory_mb >= 32:
            raise ValueError(f"Limits.memory_mb must be at least 32 (the interpreter needs "
                             f"it), not {self.memory_mb!r}")
        if not self.max_steps >= 1:
            raise ValueError(f"Limits.max_steps must be at least 1, not {self.max_steps!r}")


@dataclass(frozen=True)
class SandboxResult:
    ok: bool
    steps: list[dict]  # the recorded primitive steps ([] unless ok)
    changes: dict  # WorldProxy.changes() ({} unless ok)
    returned: Any = None  # the function's return value, made JSON-safe (repr if not)
    error: str | None = None  # one line for the event log and for the LLM
    error_kind: str | None = None  # forbidden | timeout | memory | action | exception | invalid
    log: list[str] = field(default_factory=list)
    wall_ms: float = 0.0


@functools.cache
def _api_code() -> bytes:
    """api.py compiled once per process, for the child (same interpreter) to load."""
    path = RUNNER.with_name("api.py")
    return marshal.dumps(compile(path.read_text(encoding="utf-8"), str(path), "exec"))


@functools.cache
def _warm_setup() -> bytes:
    """What each warm zygote is sent as it starts (`agentsim.skills.pool.WarmPool`): the
    API's code and the system-call filter, made ready there once for all its runs."""
    return marshal.dumps({"api": _api_code(), "seccomp": syscall_filter()})


@functools.lru_cache(maxsize=1024)
def _code(code: str) -> types.CodeType | None:
    """The skill's code compiled as the child would compile it (no inherited __future__
    flags, not optimized: the child runs `python` without -O and an environment of its
    own); None where it does not compile (the child compiles it, and fails, as it would
    have)."""
    try:
        return compile(code, "<skill>", "exec", dont_inherit=True, optimize=0)
    except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError, ...
        return None


@functools.lru_cache(maxsize=1024)
def _compiled(code: str) -> bytes | None:
    """`_code` as marshal data, for the child to load rather than parse and compile the
    skill at every run."""
    top = _code(code)
    return None if top is None else marshal.dumps(top)


@functools.lru_cache(maxsize=1024)
def _texts(code: str) -> tuple[str, ...]:
    """The string constants of the skill's code, nested functions' included."""
    out: dict[str, None] = {}
    todo = [top] if (top := _code(code)) is not None else []
    while todo:
        for const in todo.pop().co_consts:
            if isinstance(const, str):
                out[const] = None
            elif isinstance(const, types.CodeType):
                todo.append(const)
    return tuple(out)


def _walks(code: str, location: str, shared: Shared) -> dict[tuple[str, str], float]:
    """The world's walking minutes between the resident's place and the places the skill's
    code names (string constants that are place ids), every way, for the child to read
    instead of searching the town for each walk (`api.WorldProxy._walk_minutes`; the same
    minutes: the replay below measures the run's walks with them too, and from the same
    places, so the world's search from the resident's place is made once for both). A walk
    to a place found at run time is still searched by the child."""
    spots = [location, *(t for t in _texts(code) if t in shared.places and t != location)]
    out = {}
    for a in spots:
        for b in spots:
            if a != b:
                with contextlib.suppress(KeyError):  # no route: the child finds that out
                    out[a, b] = shared.minutes(a, b)
    return out


def _seed(salt: int, entry: str, args: dict, snapshot: dict) -> int:
    """The child's `random` seed: the same skill with the same arguments, for the same agent
    at the same place and time, draws the same numbers in a run; `salt` is the run's sandbox
    stream (`agentsim.streams`), so another seed draws others. (Not a hash of the whole
    snapshot: that grows with the town, and its time and agent already tell runs apart.)"""
    where = [snapshot.get(k) for k in ("agent", "location", "time")]
    blob = json.dumps([salt, entry, args, where], sort_keys=True, default=repr).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


async def run_skill(code: str, entry: str, args: dict, snapshot: dict,
                    limits: Limits = Limits(), *, model_written: bool = True,
                    allow_unsandboxed: bool = False, warm: bool = False) -> SandboxResult:
    """Run skill `entry` of `code` with `args` on a copy of `snapshot` in a fresh child
    process (at most MAX_CHILDREN at once per event loop; the others wait their turn),
    behind the operating-system wall where this machine has it (`wall_status()`).
    Without the wall, code a model wrote runs only when `allow_unsandboxed`; a world's seed
    skills (`model_written=False`) still run under the Python layers and the system-call
    filter. `warm`: behind the wall, the child is forked by a warm zygote
    (`agentsim.skills.pool`) that runs behind the same wall, instead of started afresh; the
    child installs the same limits, filter and Python layers. Never raises: every failure is
    a result with `ok=False`, a one-line `error` and its `error_kind`."""
    try:
        found = _static_check(code, entry)
        if found:
            return SandboxResult(False, [], {}, error=found[1], error_kind=found[0])
        wall = wall_status()
        if not wall.available and model_written and not allow_unsandboxed:
            return SandboxResult(False, [], {}, error_kind="forbidden", error=(
                f"skill {entry}: not run: {wall.reason}; code written by a model runs only "
                f"behind it (or with --allow-unsandboxed-skills)"))
        loop = asyncio.get_running_loop()
        gate = _gates.get(loop)
        if gate is None:
            gate = _gates[loop] = asyncio.Semaphore(MAX_CHILDREN)
        async with gate:
            return await _spawn(code, entry, args, snapshot, limits, wall=wall,
                                require_filter=not allow_unsandboxed, warm=warm)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # our own fault, or the machine's: still only a failed skill
        return SandboxResult(False, [], {}, error_kind="exception",
                             error=f"skill {entry}: the sandbox failed: "
                                   f"{type(err).__name__}: {err}"[:300])


async def _spawn(code: str, entry: str, args: dict, snapshot: dict, limits: Limits,
                 wall: Wall | None = None, require_filter: bool = True, *,
                 python_layers: bool = True, seccomp: bool = True,
                 warm: bool = False) -> SandboxResult:
    """The child-process part of `run_skill`, without the static check (the runtime layers
    on their own; tests use this to show each layer holds). `wall` defaults to this
    machine's (`wall_status()`); `Wall(False, ...)` runs the child without it. For the tests
    of the wall alone, `python_layers=False` runs the code with the real builtins and no
    audit hook, as if it had escaped them, and `seccomp=False` sends no system-call filter."""
    wall = wall_status() if wall is None else wall
    t0 = time.perf_counter()
    prefix = f"skill {entry}:"

    def done(**kw: Any) -> SandboxResult:
        kw.setdefault("steps", [])
        kw.setdefault("changes", {})
        return SandboxResult(wall_ms=(time.perf_counter() - t0) * 1000, **kw)

    try:  # the arguments (small) as JSON data; the snapshot is sent as it is, not copied:
        # nothing here or in the replay below changes it
        args = json.loads(json.dumps(dict(args)))
    except (TypeError, ValueError) as err:
        return done(ok=False, error=f"{prefix} its arguments are not JSON: {err}",
                    error_kind="invalid")
    use_warm = warm and wall.available and python_layers and seccomp and require_filter
    shared: Shared | None = getattr(snapshot, "shared", None) if use_warm else None
    crowd: Crowd | None = getattr(snapshot, "crowd", None) if shared is not None else None
    if shared is not None:  # the warm worker has (or is sent once) the world's shared parts
        left_out = ("places", "edges", "objects", *(("people",) if crowd is not None else ()))
        # and holds the object states that are not as they start (`WarmPool.run`)
        sent = {k: v for k, v in snapshot.items() if k not in left_out}
    else:
        sent = snapshot if type(snapshot) is dict else dict(snapshot)  # marshal: dicts only
    if not isinstance(sent.get("people", {}), dict):  # (a crowd's view: `snapshot.Others`,
        sent = {**sent, "people": dict(sent["people"])}  # made a dict only when it is sent)
    # marshal: the child reads it without importing json (the same interpreter writes it)
    compiled = _compiled(code) if use_warm else None
    if shared is not None and shared.minutes is not None:
        sent = {**sent, "walks": _walks(code, str(sent.get("location", "")), shared)}
    message = marshal.dumps({"code": None if compiled else code, "compiled": compiled,
                             "entry": entry, "args": args, "snapshot": sent,
                             "shared": shared is not None, "crowd": crowd is not None,
                             "seed": _seed(limits.seed, entry, args, snapshot),
                             "imports": _imports(code, whitelisted=python_layers),
                             # a warm worker loaded it once (`_warm_setup`)
                             "api": None if use_warm else _api_code(),
                             "seccomp": syscall_filter() if seccomp else None,
                             "require_seccomp": bool(require_filter),
                             "python_layers": bool(python_layers),
                             "limits": {"seconds": float(limits.seconds),
                                        "memory_mb": int(limits.memory_mb),
                                        "max_steps": int(limits.max_steps)}})
    try:
        if use_warm:
            reply = await warm_pool(wall, WARM_WORKERS, _warm_setup()).run(
                message, limits.seconds + START_GRACE, MAX_OUTPUT, STDERR_KEEP, shared, crowd,
                getattr(snapshot, "overrides", None))
            timed_out, too_much = reply.timeout, reply.too_much
            out, err_out, code_rc = reply.out, reply.err, reply.rc
        else:
            timed_out, too_much, out, err_out, code_rc = await _fresh_child(message, wall,
                                                                            limits)
    except (_NoStart, OSError) as err:  # no process to be had (fork failed, too many files)
        return done(ok=False, error_kind="exception",
                    error=f"{prefix} the sandbox could not start: {err}")

    if timed_out or code_rc in (-getattr(signal, "SIGALRM", 14), -getattr(signal, "SIGXCPU", 24)):
        return done(ok=False, error_kind="timeout",
                    error=f"{prefix} ran past its {float(limits.seconds)!r} s time limit")
    if too_much:
        return done(ok=False, error_kind="exception",
                    error=f"{prefix} the sandbox wrote more than {MAX_OUTPUT // 2**20} MB")
    try:
        return done(**_interpret(out, err_out, code_rc, prefix, snapshot, limits))
    except Exception as err:  # a child that lost its mind (or was taken over) wrote this
        return done(ok=False, error_kind="exception",
                    error=f"{prefix} the sandbox gave a malformed result ({type(err).__name__})")


async def _fresh_child(message: bytes, wall: Wall, limits: Limits
                       ) -> tuple[bool, bool, bytes, bytes, int]:
    """Run the message in a child process of its own: (timed out, too much output, stdout,
    stderr, exit code or minus the signal)."""
    timed_out = too_much = False
    out, err_out = b"", b""
    # behind the wall the child's working directory is a tmpfs of its own; without it, a
    # fresh empty folder
    with contextlib.ExitStack() as stack:
        if wall.available:
            argv, cwd = wall_argv(wall), None
        else:
            argv = [sys.executable, "-S", "-s", "-B", "-P", str(RUNNER)]
            cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="agentsim-skill-"))
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=cwd, env=dict(CHILD_ENV),
                start_new_session=sys.platform != "win32")
        except OSError as err:  # no process to be had (fork failed, too many open files)
            raise _NoStart(err) from None
        tasks = [asyncio.ensure_future(_talk(proc, message)),
                 asyncio.ensure_future(_read(proc.stderr, STDERR_KEEP, tail=True)),
                 asyncio.ensure_future(proc.wait())]
        try:
            _done, pending = await asyncio.wait(tasks, timeout=limits.seconds + START_GRACE,
                                                return_when=asyncio.FIRST_EXCEPTION)
            too_much = tasks[0].done() and isinstance(tasks[0].exception(), _TooMuchOutput)
            timed_out = bool(pending) and not too_much
            if not pending:
                out, err_out = tasks[0].result(), tasks[1].result()
        finally:
            # on a timeout, too much output or a cancellation: the child and its group (behind
            # the wall, bwrap: its PID namespace ends with it, and every process in it). Only
            # while it is not reaped: its pid (the group's id) cannot have been reused then
            if proc.returncode is None:
                _kill(proc)
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks)
            # the pipes must reach their end for the process to count as finished; a
            # descendant that kept them open (no wall) is not waited for long
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(asyncio.gather(
                    _discard(proc.stdout), _discard(proc.stderr), return_exceptions=True), 5.0)
        try:
            code_rc = await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            _kill(proc)
            code_rc = -signal.SIGKILL
        if wall.available and 128 < code_rc < 128 + 65:
            code_rc = 128 - code_rc  # bwrap's exit code for a child killed by a signal

    return timed_out, too_much, out, err_out, code_rc


def _interpret(out: bytes, err_out: bytes, code_rc: int, prefix: str, snapshot: dict,
               limits: Limits) -> dict[str, Any]:
    """The SandboxResult fields from what the child wrote and how it ended."""
    memory_msg = f"{prefix} went over its {limits.memory_mb} MB memory limit"
    text = err_out.decode("utf-8", "replace")
    refused = next((line[len(REFUSED_MARK):].strip() for line in text.splitlines()
                    if line.startswith(REFUSED_MARK)), None)
    if refused is not None:  # the runner ended itself on a refusal: whatever it wrote before
        return {"ok": False, "error_kind": "forbidden",
                "error": f"{prefix} {' '.join(refused.split())[:300]}"}
    if code_rc == -getattr(signal, "SIGSYS", 31):
        return {"ok": False, "error_kind": "forbidden",
                "error": f"{prefix} made a system call the sandbox forbids (starting a "
                         f"process or program, the network, another process, ...)"}
    tail = " ".join(text.split())[-STDERR_TAIL:]
    try:
        res = json.loads(out.decode("utf-8"))
        if not isinstance(res, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        if code_rc == -signal.SIGKILL or "MemoryError" in tail or "memory" in tail.lower():
            return {"ok": False, "error": memory_msg, "error_kind": "memory"}
        how = f"exit code {code_rc}" if code_rc >= 0 else _signal_name(-code_rc)
        return {"ok": False, "error_kind": "exception",
                "error": f"{prefix} the sandbox gave no result ({how})"
                         + (f": {tail}" if tail else "")}
    log = res.get("log")
    log = [str(x) for x in log] if isinstance(log, list) else []
    kind = res.get("kind")
    if not res.get("ok"):
        if kind == "memory":
            return {"ok": False, "error": memory_msg, "error_kind": "memory", "log": log}
        line = res.get("line")
        text = f"{prefix} {res.get('error') or 'failed'}"
        if isinstance(line, int) and not isinstance(line, bool):
            text += f" (line {line})"
        kind = kind if kind in ("forbidden", "action", "exception", "invalid") else "exception"
        return {"ok": False, "error": " ".join(text.split()), "error_kind": kind, "log": log}
    if code_rc != 0:  # a result, then a death: the result is not believed
        return {"ok": False, "error_kind": "exception", "log": log,
                "error": f"{prefix} the sandbox ended with "
                         f"{_signal_name(-code_rc) if code_rc < 0 else f'exit code {code_rc}'}"}
    steps = res.get("steps")
    try:
        if not isinstance(steps, list):
            raise ActionError("no list of steps")
        # (it stays unchanged; walks measured on the world's own distances when it has them)
        shared = getattr(snapshot, "shared", None)
        world = replay(snapshot, steps, limits.max_steps, copy=False,
                       between=shared.minutes if shared is not None else None)
    except (ActionError, TypeError, ValueError) as err:
        return {"ok": False, "error_kind": "forbidden", "log": log,
                "error": f"{prefix} its recorded steps do not obey the world's rules: {err}"}
    returned = res.get("returned")
    if len(json.dumps(returned)) > MAX_RETURNED:
        returned = json.dumps(returned)[:RETURN_CHARS]
    return {"ok": True, "steps": world.steps, "changes": world.changes(),
            "returned": returned, "log": log}


class _NoStart(Exception):
    """No child process could be started."""


class _TooMuchOutput(Exception):
    """The child wrote more than MAX_OUTPUT bytes."""


async def _talk(proc: asyncio.subprocess.Process, message: bytes) -> bytes:
    """Send the message, then read the child's stdout (at most MAX_OUTPUT bytes)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(message)
        await proc.stdin.drain()
        proc.stdin.close()
    return await _read(proc.stdout, MAX_OUTPUT)


async def _read(stream: asyncio.StreamReader, cap: int, tail: bool = False) -> bytes:
    """All of a stream; past `cap` bytes, raise _TooMuchOutput (or keep the last `cap`)."""
    data = bytearray()
    while chunk := await stream.read(65536):
        data += chunk
        if len(data) > cap:
            if not tail:
                raise _TooMuchOutput
            del data[:-cap]
    return bytes(data)


async def _discard(stream: asyncio.StreamReader) -> None:
    """Read what is left of a pipe (the child is gone: there is at most a pipe's buffer)."""
    while await stream.read(65536):
        pass


def _signal_name(num: int) -> str:
    try:
        return f"killed by {signal.Signals(num).name}"
    except ValueError:
        return f"killed by signal {num}"
