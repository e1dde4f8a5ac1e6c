"""The sandbox's child: runs one skill and prints one JSON result. Never imported by agentsim.

    python -S -s -B -P _runner.py      (stdin: one message, stdout: one JSON result)

The message is a dict in `marshal` format (the parent made it; json would cost the start
importing re and enum): {"code", "entry", "args", "snapshot", "limits": {"seconds",
"memory_mb", "max_steps"}, "seed", "imports", "api"}. "api" is api.py compiled by the parent
(same interpreter), "imports" the whitelisted modules the code imports: only these are
loaded, to keep the start short (without it, all of them). In this order, before the
skill's code runs:

1. the inputs are read and `api.py` is loaded (the parent's compiled code, else the file
   next to this one);
2. resource limits: address space (memory_mb), CPU seconds, no file writes, few file
   descriptors, no new processes, no core dumps (where the platform has `resource`);
3. the whitelisted modules the code imports (and what they import lazily) are imported,
   and `random` is seeded with the message's seed;
3b. the seccomp filter in "seccomp" (if any) is installed: from here on, starting a process
   or program, a socket, a signal to another process and much more kill the process (SIGSYS),
   and opening or changing files fails. "require_seccomp" and a filter that cannot be
   installed: no skill runs;
4. an audit hook is installed that refuses opening files, sockets, processes, ctypes, new
   imports, the rest of the os module, the interpreter's internals (sys, gc, threads, code
   objects) and, while the skill runs, the audited attributes that lead to frames and code
   (gi_frame, tb_frame, __code__);
5. the code is executed with a safe subset of builtins, whose `__import__` admits only the
   whitelist and gives module views without private names or other modules; print() goes
   to the skill's log;
6. a wall-clock timer (SIGALRM, default action: the process ends) runs while the skill does.

A refused operation ends the process at once (it writes `REFUSED_MARK` and the reason to
stderr, then raises SIGKILL on itself; SIGSYS under the seccomp filter), so nothing the
skill does afterwards can take the refusal back. The callables the skill is given (print,
__import__, the refusing stand-ins) are made in a namespace of their own, so their globals
lead nowhere, and the audit hook holds its policy in its closure, not in this module.
The result is {"ok", "steps", "returned", "log", "error", "kind", "line"}; "error" has no
"skill NAME:" prefix and no line (the parent adds both).
"""

# only modules that are loaded at start-up or cost nothing: a run pays for every import here
import _signal  # signal without its enums
import io
import marshal
import math
import sys

ModuleType = type(sys)

ALLOWED_MODULES = ("math", "random", "itertools", "functools", "statistics", "re", "string",
                   "collections", "datetime", "json")
# imported on first use of some function: always (the codecs of str.encode, time for
# strftime) and by the whitelisted modules a skill imports
LAZY_ALWAYS = ("time", "encodings.latin_1", "encodings.ascii", "encodings.utf_16",
               "encodings.utf_32", "encodings.cp1252")
LAZY_DEPENDENCIES = {"datetime": ("_strptime",), "collections": ("collections.abc", "heapq"),
                     "functools": ("weakref", "types"),  # singledispatch
                     "json": ("json.decoder", "json.encoder", "json.scanner")}
INTERNAL_IMPORTS = frozenset({"_strptime", "time"})
REFUSED_MARK = "agentsim-sandbox-refused:"
# the whole runner's frames and globals are out of reach of these: they are made from this
# source in a namespace that holds only what they are given
_SKILL_CALLABLES = """
def make(world, views, modules, internal, allowed, policy, getframe, err_write, die, mark):
    stage = [0]  # 0 before the skill, 1 while it runs, 2 after (or refused)

    def where():
        line, frame = None, getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == "<skill>":
                line = frame.f_lineno
                break
            frame = frame.f_back
        return line

    def refuse(message):
        if stage[0] != 3:
            stage[0] = 3  # the hook stops watching: the process ends here
            line = where()
            if line is not None:
                message = message + " (line " + str(line) + ")"
            err_write((mark + " " + message + "\\n").encode("utf-8", "backslashreplace"))
            die()
        raise RuntimeError(message)

    def hook(event, args):
        # added just before the skill's code is executed: its first exec event is that one;
        # from then on the skill runs, until finished() (the runner reads its traceback)
        if stage[0] != 1:
            if stage[0] == 0 and event == "exec":
                stage[0] = 1
            return
        message = policy(event, args)
        if message is None and event in ("object.__getattr__", "sys._getframe",
                                         "sys._getframemodulename"):
            message = "access to frames and code is not allowed"  # gi_frame, tb_frame ...
        if message is not None:
            refuse(message)

    def finished():
        if stage[0] == 1:
            stage[0] = 2

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = str(name).split(".")[0]
        if type(fromlist) is list and not fromlist and level == 0 \\
                and name in internal and name in modules:
            # C code of a whitelisted module importing its helper lazily through the
            # builtins' __import__ (datetime.strptime imports _strptime): PyImport_Import
            # passes an empty list, an import statement None or a tuple
            return modules[name]
        if level != 0 or top not in allowed or str(name) not in views:
            refuse("import of " + repr(top) + " is not allowed")
        return views[str(name) if fromlist else top]

    def forbidden(fname, message=None):
        def call(*_args, **_kwargs):
            refuse(message or fname + "() is not allowed")
        call.__name__ = fname
        return call

    def skill_print(*values, sep=" ", end="\\n", file=None, flush=False):
        world.log(str(sep).join(str(v) for v in values))

    return hook, finished, guarded_import, forbidden, skill_print


def wrappers(namedtuple_, update_wrapper_, assigned_default, updated_default):
    # namedtuple asks sys._getframe for its caller's module unless it is given one
    def namedtuple(typename, field_names, *, rename=False, defaults=None, module=None):
        return namedtuple_(typename, field_names, rename=rename, defaults=defaults,
                           module=module or "skill")

    # update_wrapper and wraps with their default attribute lists only: any other list could
    # copy a function's __globals__ or __dict__ onto an object the skill reads
    def update_wrapper(wrapper, wrapped, assigned=assigned_default, updated=updated_default):
        if tuple(assigned) != assigned_default or tuple(updated) != updated_default:
            raise ValueError("update_wrapper takes only its default attribute lists here")
        return update_wrapper_(wrapper, wrapped)

    def wraps(wrapped, assigned=None, updated=None):
        if assigned is not None or updated is not None:
            raise ValueError("wraps takes only its default attribute lists here")

        def decorate(wrapper):
            return update_wrapper(wrapper, wrapped)
        return decorate

    return namedtuple, update_wrapper, wraps
"""
RETURN_CHARS = 500
# address space freed on MemoryError, to report it: zeroed bytes are allocated untouched (no
# page of them is ever written, so a zygote's forks copy no page table for them)
RESERVE_BYTES = 2 * 1024 * 1024
_out = sys.stdout.buffer
# compiled once: a zygote's children share the code object (exec makes each run's callables)
_CALLABLES_CODE = compile(_SKILL_CALLABLES, "<string>", "exec")
# what a zygote made before forking (`_prepare`), the same for every run and holding no run's
# state; a fresh child has none of it and makes each part itself
_WARM: dict = {}
HERE = __file__[:max(__file__.rfind("/"), __file__.rfind("\\")) + 1]


_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}


def _json(value: object) -> str:
    """JSON text of plain data (the json module is not loaded unless a skill imports it)."""
    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(value) if math.isfinite(value) else "null"
    if type(value) is str:
        return '"' + value.translate(_ESCAPES) + '"'
    if type(value) in (list, tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ",".join(_json(str(k)) + ":" + _json(v) for k, v in value.items()) + "}"
    return _json(str(value))


def _write(result: dict) -> None:
    data = (_json(result) + "\n").encode("utf-8", "backslashreplace")
    _out.write(data)
    _out.flush()


class Refused(RuntimeError):
    """An operation the sandbox does not allow."""


def _set_limits(limits: dict) -> None:
    try:
        import resource
    except ImportError:  # not on Linux/macOS: only the parent's wall-clock limit applies
        return
    mem = int(limits["memory_mb"]) * 1024 * 1024
    cpu = math.ceil(float(limits["seconds"])) + 1
    wanted = [("RLIMIT_AS", mem, mem), ("RLIMIT_CPU", cpu, cpu + 1), ("RLIMIT_FSIZE", 0, 0),
              ("RLIMIT_NOFILE", 16, 16), ("RLIMIT_NPROC", 0, 0), ("RLIMIT_CORE", 0, 0)]
    for name, soft, hard in wanted:
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            _cur_soft, cur_hard = resource.getrlimit(which)
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # not allowed here (e.g. RLIMIT_AS on macOS); the other layers still hold


def _refusal(event: str, args: tuple) -> str | None:
    """The message for an audited event the sandbox never allows, else None."""
    if event in ("open", "io.open", "io.open_code", "os.open"):
        return "opening files is not allowed"
    if event.startswith(("socket.", "ssl.", "http.", "urllib.", "ftplib.", "smtplib.",
                         "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser.")):
        return "network access is not allowed"
    if event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.fork", "os.forkpty",
                 "os.startfile", "pty.spawn") or event.startswith(("os.exec", "os.spawn")):
        return "running programs is not allowed"
    if event.startswith("ctypes.") or event == "cffi":
        return "ctypes is not allowed"
    if event == "import":  # a module not loaded before the lock: not from an import statement
        return (f"import of {str(args[0]).split('.')[0]!r} is not allowed (a function used "
                f"it, or tried to load a module)")
    if event.startswith(("os.", "shutil.", "glob.", "tempfile.", "sqlite3.", "pathlib.",
                         "fcntl.", "mmap.", "resource.", "signal.", "syslog.", "winreg.")):
        return "access to the operating system is not allowed"
    if event.startswith(("sys.", "gc.", "cpython.", "marshal.", "pickle.", "_thread.",
                         "code.", "function.", "builtins.input", "builtins.breakpoint")):
        return "access to the interpreter is not allowed"
    return None


def _module_views(allowed: tuple[str, ...]) -> dict[str, ModuleType]:
    """A copy of each whitelisted module with only its public names, and no other modules
    than whitelisted submodules (so `datetime.sys` or `random._os` are not there)."""
    views: dict[str, ModuleType] = {}

    def ok(name: str) -> bool:
        return name.split(".")[0] in allowed

    def view(mod: ModuleType) -> ModuleType:
        name = mod.__name__
        if name in views:
            return views[name]
        v = views[name] = ModuleType(name)
        for key, value in list(vars(mod).items()):
            if key.startswith("_"):
                continue
            if isinstance(value, ModuleType):
                if ok(value.__name__):
                    setattr(v, key, view(value))
                continue
            setattr(v, key, value)
        return v

    for name in sorted(sys.modules):
        if ok(name):
            view(sys.modules[name])
    return views


def _load_api(compiled: bytes | None, builtins_: dict) -> ModuleType:
    """api.py from this file's folder (agentsim itself is not importable here): the code the
    parent compiled, if it sent it (saves compiling it at every run), else the file. It runs
    with `builtins_` (the skill's safe builtins and the few its classes need), not the real
    builtins: its functions' globals are reachable from the `world` the skill is given."""
    path = HERE + "api.py"
    if compiled:
        code = marshal.loads(compiled)
    else:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
    api = ModuleType("agentsim_skill_api")
    api.__file__ = path
    api.__builtins__ = builtins_
    sys.modules[api.__name__] = api
    exec(code, vars(api))
    return api


def _install_filter(program: bytes) -> str | None:
    """Install the seccomp program on this process (and no-new-privileges before it);
    None when done, else why not."""
    return _filter_installer(program)()


def _filter_installer(program: bytes):  # -> Callable[[], str | None]
    """What installs `program` on the process that calls it: the C library, the program's
    buffer and its header made now (a zygote makes them once; each child installs the
    filter on itself), the two prctl calls left for the call."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)

        class Prog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buf = ctypes.create_string_buffer(program, len(program))
        prog = Prog(len(program) // 8, ctypes.addressof(buf))
    except Exception as err:  # no ctypes, no libc
        why = f"{type(err).__name__}: {err}"
        return lambda: why

    def install() -> str | None:
        assert buf  # the program's bytes live as long as the installer
        try:
            if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
                return f"no_new_privs: errno {ctypes.get_errno()}"
            if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
                return f"seccomp: errno {ctypes.get_errno()}"
        except Exception as err:
            return f"{type(err).__name__}: {err}"
        return None

    return install


def _jsonsafe(value: object, depth: int = 0) -> object:
    if value is None or type(value) in (bool, str):
        return value[:RETURN_CHARS] if type(value) is str else value
    if type(value) is int:
        return value if abs(value) < 2**63 else _repr(value)
    if type(value) is float:
        return value if math.isfinite(value) else _repr(value)
    if depth < 8 and type(value) in (list, tuple):
        return [_jsonsafe(v, depth + 1) for v in list(value)[:100]]
    if depth < 8 and type(value) is dict:
        out = {}
        for k, v in list(value.items())[:100]:
            key = k if type(k) is str else (str(k) if type(k) in (int, float, bool)
                                            or k is None else _repr(k))
            out[key] = _jsonsafe(v, depth + 1)
        return out
    return _repr(value)


def _repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as err:
        text = f"<unrepresentable {type(err).__name__}>"
    return text[:RETURN_CHARS]


def _safe_builtins() -> dict:
    import builtins
    return {name: getattr(builtins, name) for name in (
        "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
        "complex",
        "dict", "divmod", "enumerate", "filter", "float", "format", "frozenset", "hash",
        "hex", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min",
        "next", "oct", "ord", "pow", "range", "repr", "reversed", "round", "set", "slice",
        "sorted", "str", "sum", "tuple", "zip", "__build_class__",
        "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError",
        "KeyError", "LookupError", "NotImplementedError", "OverflowError", "RuntimeError",
        "StopIteration", "TypeError", "ValueError", "ZeroDivisionError", "NotImplemented",
        "Ellipsis")}


def _api_module(compiled: bytes | None) -> ModuleType:
    """api.py loaded with the builtins its classes need besides the skill's safe ones."""
    import builtins
    api_builtins = dict(_safe_builtins(), object=object, property=property,
                        staticmethod=staticmethod, __import__=builtins.__import__)
    api = _load_api(compiled, api_builtins)
    del api_builtins["__import__"]  # it imported heapq; nothing else
    return api


def _prepare(setup: dict) -> None:
    """In a zygote, before its first fork: the parts of a run that are the same for every
    run and hold none of a run's state, made once rather than in each child: api.py loaded
    (its code from the parent, "api"), the views of the whitelisted modules, the system-call
    filter ready to install ("seccomp"), the memory reserve. Each child gets its own copy
    of them (fork): what a run changes in them, no later run sees. Nothing of a skill's
    runs here; each child still installs its limits, filter, audit hook and timer. (A
    child takes the reserve and the skill's builtins for itself: `main`.)"""
    if setup.get("api"):
        _WARM["api"] = _api_module(setup["api"])
    _WARM["views"] = _module_views(ALLOWED_MODULES)
    if setup.get("seccomp"):
        _WARM["program"] = setup["seccomp"]
        _WARM["install_filter"] = _filter_installer(setup["seccomp"])
    _WARM["reserve"] = [bytes(RESERVE_BYTES)]
    _WARM["safe"] = _safe_builtins()  # not the api's: a run adds its own names to it


def main(raw: bytes | None = None, shared: dict | None = None,
         crowd: dict | None = None) -> None:
    """One run. `shared` and `crowd` (a warm worker's) are this process's own to change: a
    forked child's copies of its zygote's, which no other run sees."""
    msg = marshal.loads(sys.stdin.buffer.read() if raw is None else raw)
    if msg.get("shared"):  # a warm worker's run: the world's shared parts are its own
        snap = msg["snapshot"]
        if shared is None:
            raise RuntimeError("the world's shared parts were never sent")
        objects = shared["objects"]  # changed in place: this child's copy
        # the object states that differ from the worker's (it holds the latest it was sent)
        for oid, state in (snap.pop("overrides", None) or {}).items():
            objects[oid] = dict(objects[oid], state=state)
        snap.update(places=shared["places"], edges=shared["edges"], objects=objects)
    if msg.get("crowd"):  # and the tick's people: the others, as a snapshot holds them
        if crowd is None:
            raise RuntimeError("the tick's people were never sent")
        crowd.pop(msg["snapshot"]["agent"], None)  # in place likewise
        msg["snapshot"]["people"] = crowd
    limits = msg["limits"]
    _set_limits(limits)
    python_layers = msg.get("python_layers", True) is not False
    wanted = [m for m in msg.get("imports", ALLOWED_MODULES)
              if m in ALLOWED_MODULES or not python_layers]
    lazy = [d for m in wanted for d in LAZY_DEPENDENCIES.get(m, ())]
    for name in (*LAZY_ALWAYS, *wanted, *lazy):
        if name in sys.modules:  # a zygote's child: all are (an import would look again)
            continue
        try:
            __import__(name)
        except ImportError:
            continue
    if "time" in sys.modules:
        sys.modules["time"].localtime()  # the C library reads its time zone now, not later
    if "random" in sys.modules:
        sys.modules["random"].seed(int(msg.get("seed", 0)))
    views = _WARM["views"] if "views" in _WARM else _module_views(ALLOWED_MODULES)
    if "string" in views:  # its vformat hands any object's attributes to a subclass
        vars(views["string"]).pop("Formatter", None)
    # compiled by the parent (the same interpreter and flags: `sandbox._compiled`), else here
    code = marshal.loads(msg["compiled"]) if msg.get("compiled") else \
        compile(msg["code"], "<skill>", "exec")
    entry = str(msg["entry"])
    # freed on MemoryError, to report it (a zygote's, made once: this child's to free)
    reserve = _WARM["reserve"].pop() if _WARM.get("reserve") else bytes(RESERVE_BYTES)

    import posix
    from functools import partial
    # the skill's builtins: a zygote's made once are this child's to add the run's to
    safe = _WARM.pop("safe", None) or _safe_builtins()
    api = _WARM["api"] if msg.get("api") is None and "api" in _WARM else \
        _api_module(msg.get("api"))
    if msg.get("shared") and shared is not None and "adjacency" in shared:
        # the world's walking graph, built once by the parent for all its runs (the proxy
        # finds it by the very places and edges this snapshot holds)
        api._ADJACENCY[:] = [(shared["places"], shared["edges"], shared["adjacency"])]
    if msg.get("shared") and shared is not None and "object_index" in shared:
        # and its objects' ids sorted and by place: the proxy keeps these very objects
        api._OBJECT_INDEX[:] = [(shared["objects"], shared["object_index"])]
    # not copied: the message (and a warm worker's shared parts and crowd) are this child's
    world = api.WorldProxy(msg["snapshot"], int(limits["max_steps"]), copy=False, own=True)

    namespace: dict = {"__builtins__": {
        "str": str, "repr": repr, "type": type, "list": list, "tuple": tuple,
        "RuntimeError": RuntimeError, "ValueError": ValueError}}
    exec(_CALLABLES_CODE, namespace)
    internal = {n: sys.modules[n] for n in INTERNAL_IMPORTS if n in sys.modules}
    hook, finished, guarded_import, forbidden, skill_print = namespace["make"](
        world, views, internal, INTERNAL_IMPORTS, ALLOWED_MODULES, _refusal, sys._getframe,
        partial(posix.write, 2), partial(_signal.raise_signal, _signal.SIGKILL), REFUSED_MARK)
    if "collections" in views or "functools" in views:
        functools_ = sys.modules["functools"]
        namedtuple, update_wrapper, wraps = namespace["wrappers"](
            sys.modules["collections"].namedtuple, functools_.update_wrapper,
            functools_.WRAPPER_ASSIGNMENTS, functools_.WRAPPER_UPDATES)
        if "collections" in views:
            views["collections"].namedtuple = namedtuple
        if "functools" in views:
            views["functools"].update_wrapper = update_wrapper
            views["functools"].wraps = wraps
    for name in ("exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr",
                 "delattr", "input", "breakpoint", "memoryview", "help", "exit", "quit",
                 "dir", "type", "object", "super", "classmethod", "staticmethod", "property"):
        safe[name] = forbidden(name)
    safe["open"] = forbidden("open", "opening files is not allowed")
    safe["__import__"] = guarded_import
    safe["print"] = skill_print
    safe["ActionError"] = api.ActionError
    env = {"__builtins__": safe, "__name__": "skill", "ActionError": api.ActionError}
    if not python_layers:  # the tests of the wall: the code runs as if it escaped them all
        env = {"__name__": "skill", "ActionError": api.ActionError}
    sys.stdout = io.StringIO()
    sys.stdin = io.StringIO()

    program = msg.get("seccomp")
    if program:
        failed = _WARM["install_filter"]() if program == _WARM.get("program") else \
            _install_filter(program)
        if failed and msg.get("require_seccomp"):
            _write({"ok": False, "steps": [], "returned": None, "log": [], "line": None,
                    "kind": "exception",
                    "error": f"the sandbox could not install its system-call filter ({failed})"})
            return

    result: dict = {"ok": False, "steps": [], "returned": None, "log": [], "error": None,
                    "kind": None, "line": None}
    err: BaseException | None = None
    if python_layers:
        sys.addaudithook(hook)
    timer = getattr(_signal, "setitimer", None)  # not on Windows: the parent's limit holds
    if timer:
        timer(_signal.ITIMER_REAL, float(limits["seconds"]))
    try:
        exec(code, env)
        fn = env.get(entry)
        if not callable(fn):
            result.update(kind="invalid", error=f"no function named {entry!r}")
        else:
            returned = fn(world, **dict(msg.get("args") or {}))
            result.update(ok=True, returned=_jsonsafe(returned))
    except BaseException as e:  # everything the skill does becomes the result
        err = e
        if isinstance(e, MemoryError):
            del reserve
            result.update(ok=False, kind="memory", error="memory")
        elif isinstance(e, api.ActionError):
            result.update(ok=False, kind="action", error=_text(e))
        else:
            text = _text(e)
            result.update(ok=False, kind="exception",
                          error=f"{type(e).__name__}: {text}" if text else type(e).__name__)
    finally:
        if timer:
            timer(_signal.ITIMER_REAL, 0)
        finished()
    if err is not None:
        result["line"] = _skill_line(err)
        if result["kind"] == "exception" and result["line"] is None \
                and isinstance(err, TypeError):
            result["kind"] = "invalid"  # the call itself: arguments that do not fit
    if result["ok"]:
        result["steps"] = world.steps
    result["log"] = world.logged
    _write(result)


def _text(err: BaseException) -> str:
    try:
        return " ".join(str(err).split())[:300]
    except Exception:
        return ""


def _skill_line(err: BaseException) -> int | None:
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<skill>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None and isinstance(err, SyntaxError):
        line = err.lineno
    return line


def _read_exact(fd: int, n: int) -> bytes:
    import posix
    data = b""
    while len(data) < n:
        chunk = posix.read(fd, n - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    import posix
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]


def _frame(fd: int) -> bytes:
    head = _read_exact(fd, 8)
    return _read_exact(fd, int.from_bytes(head, "big")) if head else b""


def zygote() -> None:
    """A warm worker (`agentsim.skills.pool`): behind the same wall, it loads what a run needs
    once, then for each message on stdin forks a child that runs `main` on it exactly as a
    fresh process would (its own resource limits, seccomp filter, audit hook and timer, all
    installed in the child only), and answers on stdout with how the child ended.

    Frames are an 8-byte big-endian length and marshal data: in, first the setup
    (`_prepare`: {"api", "seccomp"}, made ready once for all runs), then for each run
    (seconds, output cap, stderr kept, shared sent, crowd sent, states sent), the world's
    shared parts when they are sent (kept for later runs), the tick's people when they are
    sent (kept likewise), the object states that changed since the ones sent before (kept,
    so that a run's message holds none), then the message; out, {"rc", "out", "err",
    "timeout", "too_much"}. The zygote kills a child that runs past `seconds` or writes
    more than the cap."""
    import posix
    import select
    for name in ("resource", "ctypes", *LAZY_ALWAYS, *ALLOWED_MODULES,
                 *(d for deps in LAZY_DEPENDENCIES.values() for d in deps)):
        try:
            __import__(name)
        except ImportError:
            continue
    if "time" in sys.modules:
        sys.modules["time"].localtime()
    import gc
    _prepare(marshal.loads(_frame(0) or marshal.dumps({})))  # the parent sends it first
    shared = None  # the world's shared parts (`agentsim.skills.snapshot.Shared`), once sent
    crowd = None  # the tick's people (`agentsim.skills.snapshot.Crowd`), once per tick
    while True:
        control = _frame(0)
        if not control:
            return
        seconds, out_cap, err_keep, has_shared, has_crowd, *more = marshal.loads(control)
        if has_shared:
            shared = marshal.loads(_frame(0))
            # the objects as they start, and the ones a run is given, whose states follow
            # what the parent sends (`states` below)
            initial = shared["objects"]
            shared["objects"] = dict(initial)
        if has_crowd:
            crowd = marshal.loads(_frame(0))
        if more and more[0]:  # object states that changed since the last sent, None: back
            # to the start (the world's state, from the parent: no run's doing)
            objects = shared["objects"]
            for oid, state in marshal.loads(_frame(0)).items():
                objects[oid] = initial[oid] if state is None else \
                    dict(initial[oid], state=state)
        raw = _frame(0)
        if not raw:
            return
        r_out, w_out = posix.pipe()
        r_err, w_err = posix.pipe()
        # everything so far leaves the collector's generations: a child's collections never
        # walk (and so never copy) the pages of what the zygote holds
        gc.freeze()
        pid = posix.fork()
        if pid == 0:  # the child: one run, then gone
            try:
                posix.close(r_out)
                posix.close(r_err)
                posix.dup2(w_out, 1)
                posix.dup2(w_err, 2)
                posix.close(w_out)
                posix.close(w_err)
                posix.close(0)
                main(raw, shared, crowd)
                _out.flush()
                posix._exit(0)
            except BaseException as err:
                try:
                    posix.write(2, f"{type(err).__name__}: {err}".encode("utf-8", "replace"))
                finally:
                    posix._exit(1)
        posix.close(w_out)
        posix.close(w_err)
        out, err, timed_out, too_much = bytearray(), bytearray(), False, False
        deadline = _monotonic() + seconds
        open_fds = {r_out: out, r_err: err}
        while open_fds:
            left = deadline - _monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(list(open_fds), [], [], left)
            for fd in ready:
                chunk = posix.read(fd, 65536)
                if not chunk:
                    del open_fds[fd]
                    continue
                buf = open_fds[fd]
                buf += chunk
                if fd == r_err and len(buf) > err_keep:
                    del buf[:-err_keep]
                if fd == r_out and len(buf) > out_cap:
                    too_much = True
            if too_much:
                break
        if timed_out or too_much:
            try:
                posix.kill(pid, 9)
            except OSError:  # already gone
                pid = pid
        for fd in (r_out, r_err):
            posix.close(fd)
        _, status = posix.waitpid(pid, 0)
        rc = -posix.WTERMSIG(status) if posix.WIFSIGNALED(status) else posix.WEXITSTATUS(status)
        reply = marshal.dumps({"rc": rc, "out": bytes(out), "err": bytes(err),
                               "timeout": timed_out, "too_much": too_much})
        _write_all(1, len(reply).to_bytes(8, "big") + reply)


def _monotonic() -> float:
    import time
    return time.monotonic()


if __name__ == "__main__":
    if sys.argv[1:] == ["--zygote"]:
        zygote()
    else:
        main()
