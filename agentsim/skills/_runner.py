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
4. an audit hook is installed that refuses opening files, sockets, processes, ctypes, new
   imports, the rest of the os module, the interpreter's internals (sys, gc, threads, code
   objects) and, while the skill runs, the audited attributes that lead to frames and code
   (gi_frame, tb_frame, __code__);
5. the code is executed with a safe subset of builtins, whose `__import__` admits only the
   whitelist and gives module views without private names or other modules; print() goes
   to the skill's log;
6. a wall-clock timer (SIGALRM, default action: the process ends) runs while the skill does.

A refused operation fails the run even when the skill catches the exception it raised.
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
RETURN_CHARS = 500
_out = sys.stdout.buffer
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
                         "code.", "function.", "builtins.input", "builtins.breakpoint")) \
            and event != "sys._getframe":  # namedtuple looks at its caller's module
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


def _load_api(compiled: bytes | None) -> ModuleType:
    """api.py from this file's folder (agentsim itself is not importable here): the code the
    parent compiled, if it sent it (saves compiling it at every run), else the file."""
    path = HERE + "api.py"
    if compiled:
        code = marshal.loads(compiled)
    else:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
    api = ModuleType("agentsim_skill_api")
    api.__file__ = path
    sys.modules[api.__name__] = api
    exec(code, vars(api))
    return api


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


def main() -> None:
    msg = marshal.loads(sys.stdin.buffer.read())
    api = _load_api(msg.get("api"))
    limits = msg["limits"]
    _set_limits(limits)
    wanted = [m for m in msg.get("imports", ALLOWED_MODULES) if m in ALLOWED_MODULES]
    lazy = [d for m in wanted for d in LAZY_DEPENDENCIES.get(m, ())]
    for name in (*LAZY_ALWAYS, *wanted, *lazy):
        try:
            __import__(name)
        except ImportError:
            continue
    if "random" in sys.modules:
        sys.modules["random"].seed(int(msg.get("seed", 0)))
    views = _module_views(ALLOWED_MODULES)
    code = compile(msg["code"], "<skill>", "exec")
    entry = str(msg["entry"])
    world = api.WorldProxy(msg["snapshot"], int(limits["max_steps"]))
    reserve = bytearray(2 * 1024 * 1024)  # freed on MemoryError, to report it
    sys.stdout = io.StringIO()
    sys.stdin = io.StringIO()

    stage = ["setup"]
    refused: list[str] = []

    def refuse(message: str) -> Refused:
        if not refused:
            refused.append(message)
        return Refused(message)

    def hook(event: str, args: tuple) -> None:
        message = _refusal(event, args)
        if stage[0] == "exec" and event == "exec":
            stage[0] = "running"
            return
        if message is None and stage[0] == "running" and event == "object.__getattr__":
            message = "access to frames and code is not allowed"  # gi_frame, tb_frame ...
        if message is not None:
            raise refuse(message)

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = str(name).split(".")[0]
        if type(fromlist) is list and not fromlist and level == 0 \
                and name in INTERNAL_IMPORTS and name in sys.modules:
            # C code of a whitelisted module importing its helper lazily through the
            # builtins' __import__ (datetime.strptime imports _strptime): PyImport_Import
            # passes an empty list, an import statement None or a tuple
            return sys.modules[name]
        if level != 0 or top not in ALLOWED_MODULES or str(name) not in views:
            raise refuse(f"import of {top!r} is not allowed")
        return views[str(name) if fromlist else top]

    def forbidden(fname: str, message: str | None = None):
        def call(*_args, **_kwargs):
            raise refuse(message or f"{fname}() is not allowed")
        call.__name__ = fname
        return call

    def skill_print(*values, sep=" ", end="\n", file=None, flush=False):
        world.log(str(sep).join(str(v) for v in values))

    import builtins
    safe = {name: getattr(builtins, name) for name in (
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
    for name in ("exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr",
                 "delattr", "input", "breakpoint", "memoryview", "help", "exit", "quit",
                 "dir", "type", "object", "super", "classmethod", "staticmethod", "property"):
        safe[name] = forbidden(name)
    safe["open"] = forbidden("open", "opening files is not allowed")
    safe["__import__"] = guarded_import
    safe["print"] = skill_print
    safe["ActionError"] = api.ActionError
    env = {"__builtins__": safe, "__name__": "skill", "ActionError": api.ActionError}

    result: dict = {"ok": False, "steps": [], "returned": None, "log": [], "error": None,
                    "kind": None, "line": None}
    err: BaseException | None = None
    sys.addaudithook(hook)
    stage[0] = "exec"  # the hook lets this one exec through, then the skill is running
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
        stage[0] = "after"
    if err is not None:
        result["line"] = _skill_line(err)
        if result["kind"] == "exception" and result["line"] is None \
                and isinstance(err, TypeError):
            result["kind"] = "invalid"  # the call itself: arguments that do not fit
    if refused:
        result.update(ok=False, kind="forbidden", error=refused[0])
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


if __name__ == "__main__":
    main()
