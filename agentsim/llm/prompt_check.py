"""The prompt templates checked when a run starts, so a broken one is one line naming its file
(exit code 2), not a traceback in the middle of a run.

    every .j2 file     reads as UTF-8 and parses (Jinja2 syntax)
    every include      names a template that exists
    every template     uses no variable its contract does not declare
    every contract     has its template file (`agentsim.contracts.CONTRACTS`)

What a template is passed is its contract's variables model (`Contract.variables`): the only way
agentsim asks a template is `Contract.ask`, with an instance of that model. A variable the
template only uses behind `is defined` is optional. Names a template sets itself (`set`, `for`,
macro arguments) are not variables, and an included partial sees them too. A template no
contract names is never asked, so its variables are not checked.

`direct_asks` is the check for the code side (run by the tests): no module of agentsim outside
the contracts and the LLM layer calls `llm.ask(...)` itself, by a template id or with a
`schema=`/`tier=` of its own, which would bypass the contract.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from agentsim.contracts import CONTRACTS
from agentsim.errors import UserError
from agentsim.llm.prompts import PromptLibrary

PACKAGE = Path(__file__).resolve().parent.parent  # agentsim/
# Where `llm.ask` may be called directly: the contracts (`Contract.ask`) and the LLM layer,
# which implements it (and whose wrappers pass the call on).
ASK_ALLOWED = ("contracts", "llm")


class PromptTemplateError(UserError):
    """A prompt template that cannot work: bad syntax, a missing include, an unknown
    variable, or no file for a template the code asks for."""


def check_prompts(library: PromptLibrary | None = None) -> None:
    """Raises PromptTemplateError (one line, naming the file) for the first problem found."""
    library = library or PromptLibrary()
    directory = library.directory
    trees: dict[str, nodes.Template] = {}
    for path in sorted(directory.glob("*.j2")):
        trees[path.name] = _parse(library.env, path)
    for tid in library.ids():
        contract = CONTRACTS.get(tid)
        if contract is None:
            continue
        used, optional = _variables(f"{tid}.j2", trees, directory, frozenset())
        unknown = sorted(used - set(contract.variables.model_fields) - optional)
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            raise PromptTemplateError(
                f"uses {'a variable' if len(unknown) == 1 else 'variables'} agentsim does not "
                f"pass to it: {names} (its contract passes "
                f"{', '.join(contract.variables.model_fields)})", path=library.path(tid))
    for tid in sorted(CONTRACTS):
        if f"{tid}.j2" not in trees:
            raise PromptTemplateError(f"no prompt template {tid}.j2, which agentsim asks for",
                                      path=directory)


def direct_asks(package: Path = PACKAGE) -> list[str]:
    """`path:line` of every call in `package` (outside `ASK_ALLOWED`) that asks the LLM for a
    template without its contract: `x.ask("template_id", ...)` or `x.ask(..., schema=...)`."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in ASK_ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "ask"):
                continue
            by_id = bool(node.args) and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str)
            own = {k.arg for k in node.keywords} & {"schema", "tier", "template_id"}
            if by_id or own:
                found.append(f"{package.name}/{rel.as_posix()}:{node.lineno}")
    return found


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
