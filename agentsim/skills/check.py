"""The static check of a skill's code: nothing runs. The first layer of the sandbox
(`agentsim.skills.sandbox`), and how a world's seed skills are validated.

    check_code(code, entry)   the one-line reason the code is refused, or None

Refused: a syntax error; no function `entry` whose first parameter is `world`; an import
outside a small whitelist; names starting with "__", attributes starting with "_" and the
frame and code attributes (`gi_frame`, `f_back`, `tb_frame`, ...), also where they hide: in
`match` class patterns (`case Box(__dict__=d)`) and the fields of a literal format string
("{0.__globals__}"); `update_wrapper`/`wraps` given attribute lists; and
open/exec/eval/compile/getattr/... .
"""

from __future__ import annotations

import _string
import ast
import functools
import re
import warnings

ALLOWED_MODULES = frozenset({"math", "random", "itertools", "functools", "statistics", "re",
                             "string", "collections", "datetime", "json"})
FORBIDDEN_CALLS = frozenset({"open", "exec", "eval", "compile", "globals", "locals", "vars",
                             "getattr", "setattr", "delattr", "input", "breakpoint",
                             "memoryview"})
# attributes that lead from ordinary objects to frames, code and other modules' globals
FORBIDDEN_ATTRIBUTES = frozenset({"gi_frame", "gi_code", "gi_yieldfrom", "cr_frame",
                                  "cr_code", "cr_await", "ag_frame", "ag_code", "ag_await",
                                  "f_back", "f_globals", "f_locals", "f_builtins", "f_code",
                                  "tb_frame", "tb_next", "co_code", "get_field", "mro",
                                  "Formatter", "vformat"})


def _parse(code: str) -> ast.Module:
    """The code's syntax tree, without the warnings LLM-written code often causes (an
    invalid escape sequence in a regular expression) reaching the simulation's output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code, filename="<skill>")


@functools.lru_cache(maxsize=1024)
def _static_check(code: str, entry: str) -> tuple[str, str] | None:
    """(error_kind, one-line error) for code that must not run, else None. Cached: the same
    skill is run again and again."""
    prefix = f"skill {entry}:"
    try:
        tree = _parse(code)
    except SyntaxError as err:
        return "invalid", f"{prefix} syntax error: {err.msg} (line {err.lineno})"
    except (ValueError, MemoryError, RecursionError) as err:
        return "invalid", f"{prefix} the code cannot be parsed: {type(err).__name__}"

    def refuse(what: str, node: ast.AST) -> tuple[str, str]:
        return "forbidden", f"{prefix} {what} is not allowed (line {node.lineno})"

    # the first offence in reading order (ast.walk goes breadth first)
    nodes = sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")),
                   key=lambda n: (n.lineno, n.col_offset, n.end_col_offset or 0))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top not in ALLOWED_MODULES:
                    return refuse(f"import of {top!r}", node)
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if node.level or top not in ALLOWED_MODULES:
                return refuse(f"import of {'.' * node.level + top!r}", node)
            for alias in node.names:
                if alias.name.startswith("_") or alias.name == "*" \
                        or alias.name in FORBIDDEN_ATTRIBUTES:
                    return refuse(f"import of {alias.name!r} from {top!r}", node)
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                return refuse(f"the name {node.id!r}", node)
            if node.id in FORBIDDEN_CALLS:
                return refuse(f"{node.id}()", node)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                return refuse(f"the attribute {node.attr!r}", node)
            if node.attr in FORBIDDEN_ATTRIBUTES:
                return refuse(f"the attribute {node.attr!r}", node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name.startswith("__"):
                return refuse(f"the name {node.name!r}", node)
        elif isinstance(node, ast.arg):
            if node.arg.startswith("__"):
                return refuse(f"the name {node.arg!r}", node)
        elif isinstance(node, ast.keyword):
            if node.arg and node.arg.startswith("__"):
                return refuse(f"the name {node.arg!r}", node)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names = [n for n in node.names if n.startswith("__")]
            if names:
                return refuse(f"the name {names[0]!r}", node)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) \
                and node.name and node.name.startswith("__"):
            return refuse(f"the name {node.name!r}", node)
        elif isinstance(node, ast.MatchClass):  # case Box(__dict__=d) reads the attribute
            bad = [a for a in node.kwd_attrs
                   if a.startswith("_") or a in FORBIDDEN_ATTRIBUTES]
            if bad:
                return refuse(f"the attribute {bad[0]!r}", node)
        elif isinstance(node, ast.Call):
            problem = _call_problem(node)
            if problem:
                return refuse(problem, node)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None:
        return "invalid", f"{prefix} no function named {entry!r} (define def {entry}(world, ...))"
    params = [*fn.args.posonlyargs, *fn.args.args]
    if not params or params[0].arg != "world":
        return "invalid", (f"{prefix} the first parameter of {entry} must be `world` "
                           f"(line {fn.lineno})")
    return None


def _call_problem(node: ast.Call) -> str | None:
    """What a call hides from the attribute check: a format string whose fields read private
    attributes ("{0.__globals__}"), or update_wrapper/wraps told to copy other attributes."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map") \
            and isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
        try:
            fields = [f for _t, f, _s, _c in _string.formatter_parser(func.value.value) if f]
        except ValueError:
            return None  # str.format raises the same at run time
        for field_name in fields:
            parts = re.split(r"[.\[\]]", field_name)[1:]
            bad = [x for x in parts if x.startswith("_") or x in FORBIDDEN_ATTRIBUTES]
            if bad:
                return f"the attribute {bad[0]!r} in a format string"
    name = func.attr if isinstance(func, ast.Attribute) else \
        func.id if isinstance(func, ast.Name) else None
    if name in ("update_wrapper", "wraps") and (
            any(k.arg in ("assigned", "updated") for k in node.keywords)
            or len(node.args) > (2 if name == "update_wrapper" else 1)):
        return f"{name}() with attribute lists"
    return None


def check_code(code: str, entry: str) -> str | None:
    """The one-line reason `code` must not run as skill `entry`, or None. Nothing is run:
    a syntax error, no function `entry` whose first parameter is `world`, an import outside
    the whitelist, a name or attribute that leads out of the sandbox, or a forbidden call."""
    found = _static_check(code, entry)
    return found[1] if found else None


@functools.lru_cache(maxsize=1024)
def _imports(code: str, whitelisted: bool = True) -> tuple[str, ...]:
    """The whitelisted modules `code` imports, for the child to load before it is locked
    (all it imports, for the tests of the wall with the Python layers off)."""
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return tuple(sorted(ALLOWED_MODULES))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return tuple(sorted(names & ALLOWED_MODULES if whitelisted else names))
