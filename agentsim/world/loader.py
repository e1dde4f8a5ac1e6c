"""Load and check a world folder. Every mistake is one line naming the file and the field.

    world.yaml          a WorldSpec: name, start, tick length, the place tree, paths
    agents/<id>.yaml    a PersonaSpec each; the file stem is the agent's id
    knowledge/**        documents (*.md, *.txt), optional; each known by its path under the world
                        folder, e.g. "knowledge/gazette.md", which places and objects may list
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agentsim.errors import UserError
from agentsim.world.places import PlaceGraph
from agentsim.world.protocol_section import find_protocol
from agentsim.world.schema import PersonaSpec, PlaceKind, PlaceSpec, WorldSpec

M = TypeVar("M", bound=BaseModel)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """yaml.safe_load's semantics (with the C parser when PyYAML has it, several times
    faster), except that a key given twice in a mapping is an error, not silently the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # `<<: *anchor` keys may be overridden, that is what they are for
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
# The kind of place each kind may contain: town > area > room (rooms may nest).
_CHILD_KINDS = {PlaceKind.town: {PlaceKind.area}, PlaceKind.area: {PlaceKind.room},
                PlaceKind.room: {PlaceKind.room}}


@dataclass(frozen=True)
class WorldDef:
    """A loaded, checked world."""

    path: Path
    spec: WorldSpec
    personas: dict[str, PersonaSpec]  # by agent id (the file stem), sorted
    places: PlaceGraph
    documents: dict[str, Path] = field(default_factory=dict)  # "knowledge/x.md" -> file, sorted
    # the `protocol:` section's options, checked by its protocol's `Options` (None: no protocol)
    protocol: Any = None

    def persona_by_name(self, name: str) -> PersonaSpec | None:
        """The persona with this name (exact match first, then ignoring case), or None."""
        for p in self.personas.values():
            if p.name == name:
                return p
        folded = name.casefold()
        return next((p for p in self.personas.values() if p.name.casefold() == folded), None)


def load_world(path: str | Path) -> WorldDef:
    """Read `path`/world.yaml and `path`/agents/*.yaml; raise UserError on any mistake."""
    root = Path(path)
    if not root.is_dir():
        raise UserError("no such world folder", path=root)
    wfile = root / "world.yaml"
    if not wfile.is_file():
        raise UserError("missing world.yaml in the world folder", path=root)
    spec = _parse(WorldSpec, _read_yaml(wfile), wfile)
    _check_world(spec, wfile)

    adir = root / "agents"
    afiles = sorted(adir.glob("*.yaml")) if adir.is_dir() else []
    if not afiles:
        raise UserError("no agents: add agents/<id>.yaml files", path=adir)
    personas: dict[str, PersonaSpec] = {}
    files: dict[str, Path] = {}
    for f in afiles:
        if not _AGENT_ID.match(f.stem):
            raise UserError("agent file names must be lowercase ids like jane_doe.yaml", path=f)
        personas[f.stem] = _parse(PersonaSpec, _read_yaml(f), f)
        files[f.stem] = f
    return _checked(root, spec, personas, files)


def build_world(spec: WorldSpec, personas: dict[str, PersonaSpec],
                path: str | Path = "<python>") -> WorldDef:
    """A world made in Python, with the checks `load_world` makes (errors name the agent's
    would-be file, `agents/<id>.yaml`, and the field). Save it with `write_world` to run it
    from the command line or in a sweep."""
    root = Path(path)
    for aid in personas:
        if not _AGENT_ID.match(aid):
            raise UserError("agent ids must be lowercase ids like jane_doe", field=aid)
    return _checked(root, spec, personas, {aid: root / "agents" / f"{aid}.yaml"
                                           for aid in personas})


def write_world(world: WorldDef, folder: str | Path) -> Path:
    """Write `world` as a world folder (world.yaml, agents/<id>.yaml); returns the folder."""
    root = Path(folder)
    (root / "agents").mkdir(parents=True, exist_ok=True)

    def dump(model: BaseModel, f: Path) -> None:
        data = model.model_dump(mode="json", exclude_defaults=True)
        f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    dump(world.spec, root / "world.yaml")
    for aid, p in world.personas.items():
        dump(p, root / "agents" / f"{aid}.yaml")
    return root


def _checked(root: Path, spec: WorldSpec, personas: dict[str, PersonaSpec],
             files: dict[str, Path]) -> WorldDef:
    wfile = root / "world.yaml"
    _check_world(spec, wfile)
    places = PlaceGraph(spec)
    if not personas:
        raise UserError("no agents: add agents/<id>.yaml files", path=root / "agents")
    _check_personas(personas, files, places)
    documents = _documents(root)
    _check_documents(spec, documents, wfile)
    protocol = _check_protocol(spec, root, personas) if spec.protocol is not None else None
    return WorldDef(root, spec, dict(sorted(personas.items())), places, documents, protocol)


def _check_world(spec: WorldSpec, wfile: Path) -> None:
    _check_tree(spec, wfile)
    _check_connected(spec, PlaceGraph(spec), wfile)


# -- reading and parsing ------------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise UserError(f"YAML syntax error{where}: {problem}", path=path) from None
    except UnicodeDecodeError as e:
        raise UserError(f"not UTF-8 text (byte {e.start})", path=path) from None
    except OSError as e:
        raise UserError(f"cannot read file ({e.strerror})", path=path) from None


def _loc(loc: tuple[Any, ...]) -> str:
    """('places', 'children', 2, 'id') -> 'places.children[2].id'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _message(err: Any) -> str:
    """A short message for one pydantic error."""
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        at_index = bool(err["loc"]) and isinstance(err["loc"][-1], int)
        return "too few items" if at_index else "required field is missing"
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    scalar = isinstance(value, str | int | float | bool) and len(repr(value)) <= 40
    if kind != "value_error" and scalar:
        msg += f" (got {value!r})"
    return msg


def _parse(model: type[M], data: Any, path: Path) -> M:
    if not isinstance(data, dict):
        raise UserError("expected a mapping of fields at the top level", path=path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise UserError(f"{_message(err)}{more}", path=path, field=_loc(err["loc"])) from None


# -- world.yaml -----------------------------------------------------------------------------


def _walk(p: PlaceSpec, loc: str) -> Iterator[tuple[PlaceSpec, str]]:
    """Every place of the tree with its field path, e.g. 'places.children[2]'."""
    yield p, loc
    for i, c in enumerate(p.children):
        yield from _walk(c, f"{loc}.children[{i}]")


def _check_tree(spec: WorldSpec, wfile: Path) -> None:
    """Kinds nest as town > area > room; place ids and object ids are unique; paths name
    walkable places."""
    seen: dict[str, str] = {}
    objects: dict[str, str] = {}
    for p, loc in _walk(spec.places, "places"):
        for i, c in enumerate(p.children):
            if c.kind not in _CHILD_KINDS[p.kind]:
                raise UserError(f"a {p.kind.value} cannot contain a {c.kind.value}", path=wfile,
                                field=f"{loc}.children[{i}].kind")
        if p.id in seen:
            raise UserError(f"duplicate place id {p.id!r} (also at {seen[p.id]})", path=wfile,
                            field=f"{loc}.id")
        seen[p.id] = loc
        for i, o in enumerate(p.objects):
            if o.id in objects:
                raise UserError(f"duplicate object id {o.id!r} (also at {objects[o.id]})",
                                path=wfile, field=f"{loc}.objects[{i}].id")
            objects[o.id] = f"{loc}.objects[{i}]"
    for i, path in enumerate(spec.paths):
        for end in ("a", "b"):
            pid = getattr(path, end)
            if pid == spec.places.id:
                raise UserError(f"{pid!r} is the town itself, not a walkable place: name an "
                                "area or a room", path=wfile, field=f"paths[{i}].{end}")
            if pid not in seen:
                raise UserError(f"no place {pid!r}", path=wfile, field=f"paths[{i}].{end}")


def _check_connected(spec: WorldSpec, places: PlaceGraph, wfile: Path) -> None:
    ids = places.ids()
    if not ids:
        raise UserError("the town has no areas", path=wfile, field="places.children")
    cut = places.unreachable_from(ids[0])
    if cut:
        locs = {p.id: loc for p, loc in _walk(spec.places, "places")}
        raise UserError(f"place {cut[0]!r} cannot be reached from {ids[0]!r}: add a path",
                        path=wfile, field=f"{locs[cut[0]]}.id")


# -- knowledge/ ------------------------------------------------------------------------------

KNOWLEDGE = "knowledge"
DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt")


def _documents(root: Path) -> dict[str, Path]:
    kdir = root / KNOWLEDGE
    if not kdir.is_dir():
        return {}
    found = {}
    for f in sorted(kdir.rglob("*")):
        if f.is_file() and f.suffix.lower() in DOCUMENT_SUFFIXES:
            try:
                f.read_text(encoding="utf-8")
            except UnicodeDecodeError as e:
                raise UserError(f"not UTF-8 text (byte {e.start})", path=f) from None
            found[f.relative_to(root).as_posix()] = f
    return found


def _check_documents(spec: WorldSpec, documents: dict[str, Path], wfile: Path) -> None:
    """Every document a place or object lists is a file in the world's knowledge/ folder."""

    def check(docs: list[str], loc: str) -> None:
        for i, d in enumerate(docs):
            if d not in documents:
                hint = f" (did you mean {KNOWLEDGE}/{d!s}?)" \
                    if f"{KNOWLEDGE}/{d}" in documents else ""
                raise UserError(f"no document {d!r} in the world's {KNOWLEDGE}/ folder{hint}",
                                path=wfile, field=f"{loc}.documents[{i}]")

    for p, loc in _walk(spec.places, "places"):
        check(p.documents, loc)
        for j, o in enumerate(p.objects):
            check(o.documents, f"{loc}.objects[{j}]")


# -- protocol: ---------------------------------------------------------------------------------


def _check_protocol(spec: WorldSpec, root: Path, personas: dict[str, PersonaSpec]) -> Any:
    """The `protocol:` section's options, validated by the protocol it names (its `Options`
    model, then its `check` of what depends on the world folder: files, agent names)."""
    wfile, section = root / "world.yaml", spec.protocol
    assert section is not None
    try:
        cls = find_protocol(section.name)
    except LookupError as e:
        raise UserError(str(e.args[0]), path=wfile, field="protocol.name") from None
    except (ImportError, AttributeError) as e:
        raise UserError(f"protocol {section.name!r} does not load: {e}", path=wfile,
                        field="protocol.name") from None
    try:
        options = cls.Options.model_validate(section.options())
    except ValidationError as e:
        err = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise UserError(f"{_message(err)}{more}", path=wfile,
                        field=f"protocol.{_loc(err['loc'])}") from None
    for where, problem in cls.check(options, root, [p.name for p in personas.values()]):
        raise UserError(problem, path=wfile, field=f"protocol.{where}")
    return options


# -- agents/*.yaml --------------------------------------------------------------------------


def _check_personas(personas: dict[str, PersonaSpec], files: dict[str, Path],
                    places: PlaceGraph) -> None:
    names: dict[str, str] = {}  # casefolded name -> agent id
    for aid, p in personas.items():
        key = p.name.casefold()
        if key in names:
            raise UserError(f"two agents are named {p.name!r} (also {names[key]}.yaml)",
                            path=files[aid], field="name")
        names[key] = aid
    exact = {p.name for p in personas.values()}

    for aid, p in personas.items():
        f = files[aid]

        def place(pid: str, field: str, f: Path = f) -> None:
            if pid not in places:
                raise UserError(f"no place {pid!r} in world.yaml", path=f, field=field)

        def person(name: str, field: str, f: Path = f) -> None:
            if name not in exact:
                raise UserError(f"no agent named {name!r} in this world", path=f, field=field)

        place(p.home, "home")
        for i, r in enumerate(p.daily_routine):
            place(r.place, f"daily_routine[{i}].place")
        for i, r in enumerate(p.relationships):
            person(r.name, f"relationships[{i}].name")
            if r.name == p.name:
                raise UserError("a relationship with oneself", path=f,
                                field=f"relationships[{i}].name")
        for i, m in enumerate(p.memories):
            if m.event is not None:
                place(m.event.place, f"memories[{i}].event.place")
                if m.event.host is not None:
                    person(m.event.host, f"memories[{i}].event.host")
