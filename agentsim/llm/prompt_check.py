"""The prompt templates checked when a run starts, so a broken one is one line naming its file
(exit code 2), not a traceback in the middle of a run.

    every .j2 file     reads as UTF-8 and parses (Jinja2 syntax)
    every include      names a template that exists
    every template     uses no variable that agentsim never passes it
    every template id  the code asks for (`cognition.schemas.TEMPLATES`) has a file

What the code passes is read from agentsim's own source (`agentsim.cognition`, where every
`llm.ask(...)` is): where a call names its template and spells out its variables as a dict
literal, those keys; elsewhere (variables built in another function), any key of any dict
literal there, which still catches a misspelt or an unknown variable. A variable the template
only uses behind `is defined` is optional. Names a template sets itself (`set`, `for`, macro
arguments) are not variables, and an included partial sees them too.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from agentsim.errors import UserError
from agentsim.llm.prompts import PromptLibrary


class PromptTemplateError(UserError):
    """A prompt template that cannot work: bad syntax, a missing include, an unknown
    variable, or no file for a template the code asks for."""


def check_prompts(library: PromptLibrary | None = None, code: Path | None = None) -> None:
    """Raises PromptTemplateError (one line, naming the file) for the first problem found."""
    library = library or PromptLibrary()
    directory = library.directory
    trees: dict[str, nodes.Template] = {}
    for path in sorted(directory.glob("*.j2")):
        trees[path.name] = _parse(library.env, path)
    exact, anywhere = _passed(code or Path(__file__).resolve().parent.parent / "cognition")
    for tid in library.ids():
        if not anywhere:  # no source to read (e.g. an install without .py files): no check
            break
        used, optional = _variables(f"{tid}.j2", trees, directory, frozenset())
        known = exact.get(tid) or anywhere
        unknown = sorted(used - known - optional)
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            raise PromptTemplateError(
                f"uses {'a variable' if len(unknown) == 1 else 'variables'} agentsim does not "
                f"pass to it: {names}", path=library.path(tid))
    from agentsim.cognition.schemas import TEMPLATES

    for tid in sorted(TEMPLATES):
        if f"{tid}.j2" not in trees:
            raise PromptTemplateError(f"no prompt template {tid}.j2, which agentsim asks for",
                                      path=directory)


def _parse(env: jinja2.Environment, path: Path) -> nodes.Template:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PromptTemplateError(f"not UTF-8 text ({e.reason} at byte {e.start})",
                                  path=path) from None
    try:
        return env.parse(source, name=path.name, filename=str(path))
    except jinja2.TemplateSyntaxError as e:
        raise PromptTemplateError(f"template syntax error: {e.message}",
                                  path=f"{path}:{e.lineno}") from None


def _variables(name: str, trees: dict[str, nodes.Template], directory: Path,
               seen: frozenset[str], outer: frozenset[str] = frozenset()
               ) -> tuple[set[str], set[str]]:
    """The variables template `name` and what it includes read from outside, and those of
    them it only reads behind `is defined`. `outer`: names the including template sets."""
    tree = trees[name]
    own = _assigned(tree) | outer
    used = set(meta.find_undeclared_variables(tree)) - own
    optional = {t.node.name for t in tree.find_all(nodes.Test)
                if t.name in ("defined", "undefined") and isinstance(t.node, nodes.Name)}
    for ref in meta.find_referenced_templates(tree):
        if ref is None:  # a computed name: nothing to follow
            continue
        if ref not in trees:
            raise PromptTemplateError(f"includes {ref}, which does not exist",
                                      path=directory / name)
        if ref in seen:
            continue
        more, more_optional = _variables(ref, trees, directory, seen | {name}, own)
        used |= more
        optional |= more_optional
    return used, optional


def _assigned(tree: nodes.Template) -> frozenset[str]:
    """Names the template binds itself: `set`, `for` targets, macro names and arguments."""
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    names |= {m.name for m in tree.find_all(nodes.Macro)}
    return frozenset(names)


@functools.cache
def _passed(code: Path) -> tuple[dict[str, set[str]], set[str]]:
    """From the source in `code`: the variables each template is certainly given (only for
    templates every call of which spells them out) and every dict-literal key anywhere."""
    exact: dict[str, set[str]] = {}
    vague: set[str] = set()
    anywhere: set[str] = set()
    for path in sorted(code.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                anywhere |= {k.value for k in node.keys
                             if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id == "dict":
                    anywhere |= {k.arg for k in node.keywords if k.arg}
                if isinstance(node.func, ast.Attribute) and node.func.attr == "ask" \
                        and node.args and isinstance(node.args[0], ast.Constant):
                    tid = node.args[0].value
                    arg = node.args[1] if len(node.args) > 1 else None
                    if isinstance(arg, ast.Dict) and all(
                            isinstance(k, ast.Constant) for k in arg.keys):
                        exact.setdefault(tid, set()).update(k.value for k in arg.keys)
                    else:
                        vague.add(tid)
    return {t: keys for t, keys in exact.items() if t not in vague}, anywhere
