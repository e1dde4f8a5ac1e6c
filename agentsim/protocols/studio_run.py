"""The studio's test runs: a module's code and the world's tests, run in the skill sandbox.

    test_names(source)      the tests a file defines (top-level `def test_*()`), in order
    plain_code(text)        code without the Markdown fence a model may put around it
    program(code, tests)    the module, then the tests, then a runner: one program
    await run_tests(code, tests, names, ...)   -> Run, a plain dict

The code never runs in agentsim's own process: the program goes to
`agentsim.skills.sandbox.run_skill`, the sandbox the skills use (behind the wall where the
machine has it: bubblewrap namespaces and a seccomp filter, no files, no network; its static
check refuses open(), imports outside a short list, ...). The tests come after the module, so
the module cannot redefine them; the runner comes last, catches each test's failure and
returns [name, error] per test ("" when it passed). A run the sandbox refuses or ends (a
syntax error, a forbidden call, a time limit) fails every test, with the sandbox's one-line
error. A `Run` is {passed, total, failures: [{test, error}], error}."""

from __future__ import annotations

import ast
from typing import Any

from agentsim.skills.sandbox import Limits, check_code, run_skill

ENTRY = "run_tests"  # the runner's name (a skill's entry point: its first parameter is world)
ERROR_CHARS = 200  # of a test's error kept


def test_names(source: str) -> list[str]:
    """The names of the tests `source` defines, in order; ValueError when it cannot be parsed
    or defines none."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ValueError(f"syntax error: {e.msg} (line {e.lineno})") from None
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name.startswith("test_") and not n.args.args and not n.args.posonlyargs]
    if not names:
        raise ValueError("defines no test (a top-level def test_...() without arguments)")
    return names


def plain_code(text: str) -> str:
    """Code as a model may write it, without the Markdown fence around it (```python ...
    ```); code without a fence is returned as it is."""
    lines = text.strip("\n").splitlines()
    if len(lines) >= 2 and lines[0].lstrip().startswith("```") \
            and lines[-1].strip() == "```":
        return "\n".join(lines[1:-1]) + "\n"
    return text


def program(code: str, tests: str, names: list[str]) -> str:
    """The module, the tests and the runner, as one program for the sandbox."""
    pairs = ", ".join(f"[{n!r}, {n}]" for n in names)
    runner = f'''

def {ENTRY}(world):
    results = []
    for name, test in [{pairs}]:
        try:
            test()
            results.append([name, ""])
        except AssertionError as e:
            results.append([name, ("assertion failed: " + str(e)) if str(e)
                            else "assertion failed"])
        except Exception as e:
            results.append([name, repr(e)])
    return results
'''
    return f"{code.rstrip()}\n\n\n# -- the tests --\n{tests.rstrip()}\n\n# -- the runner --{runner}"


def refused(code: str, tests: str, names: list[str]) -> str | None:
    """Why the sandbox's static check refuses `code` with these tests, or None."""
    return check_code(program(code, tests, names), ENTRY)


def failed_run(names: list[str], error: str) -> dict[str, Any]:
    """A run in which nothing passed, for one reason."""
    return {"passed": 0, "total": len(names), "error": error,
            "failures": [{"test": n, "error": error} for n in names]}


async def run_tests(code: str, tests: str, names: list[str], snapshot: dict[str, Any],
                    limits: Limits, *, allow_unsandboxed: bool = False) -> dict[str, Any]:
    """Run the world's tests on `code` in the sandbox; the Run it gave."""
    result = await run_skill(program(code, tests, names), ENTRY, {}, snapshot, limits,
                             model_written=True, allow_unsandboxed=allow_unsandboxed)
    if not result.ok:
        error = (result.error or "the sandbox gave no result").removeprefix(f"skill {ENTRY}: ")
        return failed_run(names, f"{result.error_kind}: {error}"[:ERROR_CHARS])
    got: dict[str, str] = {}
    for item in result.returned if isinstance(result.returned, list) else []:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            got.setdefault(item[0], " ".join(item[1].split())[:ERROR_CHARS])
    failures = [{"test": n, "error": got.get(n, "no result")} for n in names
                if got.get(n, "no result")]
    return {"passed": len(names) - len(failures), "total": len(names), "error": "",
            "failures": failures}
