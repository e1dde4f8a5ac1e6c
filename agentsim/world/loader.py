"""Load and check a world folder. Every mistake is one line naming the file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from agentsim.errors import UserError
from agentsim.world.places import PlaceGraph
from agentsim.world.schema import PersonaSpec, PlaceSpec, WorldSpec

M = TypeVar("M", bound=BaseModel)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser, when PyYAML has it


@dataclass(frozen=True)
class WorldDef:
    path: Path
    spec: WorldSpec
    personas: dict[str, PersonaSpec]  # by agent id (the file stem), sorted
    places: PlaceGraph


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise UserError(f"YAML syntax error{where}: {problem}", path=path) from None
    except OSError as e:
        raise UserError(f"cannot read file ({e.strerror})", path=path) from None


def _parse(model: type[M], data: Any, path: Path) -> M:
    if not isinstance(data, dict):
        raise UserError("expected a mapping of fields at the top level", path=path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise UserError(f"{msg}{more}", path=path, field=_loc(err["loc"])) from None


def _walk(p: PlaceSpec, loc: str):
    yield p, loc
    for i, c in enumerate(p.children):
        yield from _walk(c, f"{loc}.children[{i}]")


def load_world(path: str | Path) -> WorldDef:
    root = Path(path)
    if not root.is_dir():
        raise UserError("no such world folder", path=root)
    wfile = root / "world.yaml"
    if not wfile.is_file():
        raise UserError("missing world.yaml in the world folder", path=root)
    spec = _parse(WorldSpec, _read_yaml(wfile), wfile)
    _check_places(spec, wfile)
    places = PlaceGraph(spec)

    afiles = sorted((root / "agents").glob("*.yaml")) if (root / "agents").is_dir() else []
    if not afiles:
        raise UserError("no agents: add agents/<id>.yaml files", path=root / "agents")
    personas: dict[str, PersonaSpec] = {}
    files: dict[str, Path] = {}
    for f in afiles:
        if not f.stem.replace("_", "").isalnum() or f.stem != f.stem.lower():
            raise UserError("agent file names must be lowercase ids like jane_doe.yaml", path=f)
        personas[f.stem] = _parse(PersonaSpec, _read_yaml(f), f)
        files[f.stem] = f
    _check_personas(personas, files, places)
    return WorldDef(root, spec, dict(sorted(personas.items())), places)


def _check_places(spec: WorldSpec, wfile: Path) -> None:
    seen: dict[str, str] = {}
    objects: dict[str, str] = {}
    for p, loc in _walk(spec.places, "places"):
        if p.id in seen:
            raise UserError(f"duplicate place id {p.id!r} (also at {seen[p.id]})", path=wfile,
                            field=f"{loc}.id")
        seen[p.id] = loc
        for i, o in enumerate(p.objects):
            if o.id in objects:
                raise UserError(f"duplicate object id {o.id!r}", path=wfile,
                                field=f"{loc}.objects[{i}].id")
            objects[o.id] = loc
    for i, path in enumerate(spec.paths):
        for end in ("a", "b"):
            pid = getattr(path, end)
            if pid not in seen or pid == spec.places.id:
                raise UserError(f"no place {pid!r}", path=wfile, field=f"paths[{i}].{end}")
    graph = PlaceGraph(spec)
    ids = graph.ids()
    if ids:
        cut = graph.unreachable_from(ids[0])
        if cut:
            raise UserError(f"place {cut[0]!r} cannot be reached from {ids[0]!r}: add a path",
                            path=wfile, field=f"{seen[cut[0]]}")


def _check_personas(personas: dict[str, PersonaSpec], files: dict[str, Path],
                    places: PlaceGraph) -> None:
    names: dict[str, str] = {}
    for aid, p in personas.items():
        if p.name in names:
            raise UserError(f"two agents are named {p.name!r} (also {names[p.name]}.yaml)",
                            path=files[aid], field="name")
        names[p.name] = aid
    for aid, p in personas.items():
        f = files[aid]
        if p.home not in places:
            raise UserError(f"no place {p.home!r} in world.yaml", path=f, field="home")
        for i, r in enumerate(p.daily_routine):
            if r.place not in places:
                raise UserError(f"no place {r.place!r} in world.yaml", path=f,
                                field=f"daily_routine[{i}].place")
        for i, r in enumerate(p.relationships):
            if r.name not in names:
                raise UserError(f"no agent named {r.name!r} in this world", path=f,
                                field=f"relationships[{i}].name")
        for i, m in enumerate(p.memories):
            if m.event is not None and m.event.place not in places:
                raise UserError(f"no place {m.event.place!r} in world.yaml", path=f,
                                field=f"memories[{i}].event.place")
