"""Large worlds for scale runs: Smallville's places copied into districts, personas varied.

    python -m agentsim.world.generate --residents 1000 --out DIR [--seed 0] [--base WORLD]

A world of N residents has ceil(N / 25) districts. District 1 is the base world as it is
(so `--residents 25` is Smallville itself); district k > 1 copies every area, room, object
and path with ids suffixed `_k` and area names suffixed ` k`, and its residents are the base
personas moved into the copy: new names (first and last names drawn by the seed, unique in
the town), shuffled traits, ages a few years apart, and every mention of a base resident's
name or of a base area's name in their texts (routines, memories, relationships) rewritten
to the district's. Districts sit on a grid and their first areas are joined by paths, so the
town is one walkable graph whose size grows with N. The base world's knowledge/ and skills/
folders are copied as they are (district copies post the same documents).

The same seed and N give the same files byte for byte; the result passes `agentsim validate`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentsim.world.loader import WorldDef, build_world, load_world, write_world
from agentsim.world.schema import PathSpec, PersonaSpec, PlaceKind, PlaceSpec, WorldSpec

BASE = Path(__file__).resolve().parents[2] / "worlds" / "smallville"
DISTRICT_GAP = 12  # walking minutes between neighbouring districts' first areas
CELL = (40, 30)  # map cells between districts on the grid

_FIRST = ("Ada Alma Amir Anya Basil Bea Cal Cora Dara Dev Eli Elsa Emil Faye Finn Gia Hana "
         "Hugo Ines Ivan Jada Joel Kai Kira Lars Lena Leo Lila Malo Maya Milo Nadia Nico "
         "Noor Omar Opal Otto Pia Quinn Rafa Rhea Rosa Ruben Sana Saul Tara Teo Uma Uri Vera "
         "Vik Wren Yara Yusuf Zane Zoe Ari Bo Cleo Dante Edie Femi Gus Hira Idris Juno Kofi "
         "Lior Mina Nell Oren Priya Remy Sol Tomas Una Wade Xena Yoko")
_LAST = ("Abbott Achebe Alvarez Baker Bianchi Brandt Castro Chen Costa Dahl Diaz Dubois Eklund "
        "Ferreira Fischer Garcia Gupta Haddad Hansen Ibsen Ito Jensen Kapoor Kato Keller Kim "
        "Kowalski Larsen Levi Lindqvist Mbeki Moreau Murphy Nakamura Novak Nunez Okafor Olsen "
        "Ortiz Park Petrov Quist Reyes Rossi Sato Silva Singh Sousa Tanaka Torres Ueda Varga "
        "Vogel Walsh Weber Xu Yamada Yilmaz Zhou Zielinski Adler Bauer Cruz Duval Engel "
        "Farouk Grant Holm Iqbal Jovanovic Kruger Lowe Mendez Nolan Osei Pryce Rahman "
        "Sokolov Thorne Ulloa Vance Wolfe")
_TRAITS = ("friendly curious patient generous witty shy bold careful cheerful thoughtful "
          "ambitious calm stubborn kind talkative reserved creative practical warm "
          "adventurous organised dreamy loyal sceptical")
FIRST, LAST, TRAITS = _FIRST.split(), _LAST.split(), _TRAITS.split()


def generate(residents: int, *, seed: int = 0, base: str | Path = BASE) -> WorldDef:
    """A checked world of `residents` residents grown from the `base` world folder."""
    if residents < 1:
        raise ValueError("residents must be at least 1")
    world = load_world(base)
    per = len(world.personas)
    districts = math.ceil(residents / per)
    rng = random.Random(seed)
    names = _names(rng, residents - min(residents, per), {p.name for p in world.personas.values()})
    spec = _grow(world.spec, districts)
    personas: dict[str, PersonaSpec] = {}
    base_items = list(world.personas.items())
    area_names = {a: world.places.name(a) for a in world.places.areas()}
    for k in range(1, districts + 1):
        chosen = base_items[:min(per, residents - (k - 1) * per)]
        if k == 1:
            personas.update(chosen)
            continue
        renamed = {p.name: names.pop() for _, p in chosen}
        for aid, p in chosen:
            personas[f"{aid}_{k}"] = _moved(p, k, renamed, area_names, world, rng)
    return build_world(spec, personas, world.path)


def write(world: WorldDef, out: str | Path, base: str | Path = BASE) -> Path:
    """Write `world` to `out` with the base world's knowledge/ and skills/ folders."""
    root = Path(out)
    if root.exists():
        shutil.rmtree(root)
    write_world(world, root)
    for extra in ("knowledge", "skills"):
        if (Path(base) / extra).is_dir():
            shutil.copytree(Path(base) / extra, root / extra)
    return root


# -- places ---------------------------------------------------------------------------------
def _grow(spec: WorldSpec, districts: int) -> WorldSpec:
    areas = list(spec.places.children)
    width = max(1, math.ceil(math.sqrt(districts)))
    children = list(areas)
    paths = list(spec.paths)
    hub = areas[0].id
    for k in range(2, districts + 1):
        col, row = (k - 1) % width, (k - 1) // width
        children += [_copy_place(a, k, (col * CELL[0], row * CELL[1])) for a in areas]
        paths += [PathSpec(a=f"{p.a}_{k}", b=f"{p.b}_{k}", minutes=p.minutes)
                  for p in spec.paths]
        left = k - 1 if col > 0 else None
        up = k - width if row > 0 else None
        for other in (left, up):
            if other is not None:
                paths.append(PathSpec(a=_suffix(hub, other), b=f"{hub}_{k}",
                                      minutes=DISTRICT_GAP))
    name = spec.name if districts == 1 else f"Greater {spec.name}"
    places = spec.places.model_copy(update={"children": children})
    return spec.model_copy(update={"name": name, "places": places, "paths": paths})


def _suffix(pid: str, k: int) -> str:
    return pid if k == 1 else f"{pid}_{k}"


def _copy_place(p: PlaceSpec, k: int, offset: tuple[int, int]) -> PlaceSpec:
    update: dict[str, Any] = {
        "id": f"{p.id}_{k}",
        "objects": [o.model_copy(update={"id": f"{o.id}_{k}"}) for o in p.objects],
        "children": [_copy_place(c, k, offset) for c in p.children],
    }
    if p.kind is PlaceKind.area:
        update["name"] = f"{p.name} {k}"
        if p.position is not None:
            update["position"] = (p.position[0] + offset[0], p.position[1] + offset[1])
    return p.model_copy(update=update)


# -- personas -------------------------------------------------------------------------------
def _names(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    """n distinct names not in `taken`, in the order they are handed out (pop from the end)."""
    pool = [f"{f} {last}" for f in FIRST for last in LAST]
    if n > len(pool) - len(taken):
        pool += [f"{f} {chr(65 + i)}. {last}" for i in range(26) for f in FIRST for last in LAST]
    rng.shuffle(pool)
    out = [x for x in pool if x not in taken][:n]
    if len(out) < n:
        raise ValueError(f"cannot name {n} residents uniquely")
    return out[::-1]


def _moved(p: PersonaSpec, k: int, renamed: dict[str, str], area_names: dict[str, str],
           world: WorldDef, rng: random.Random) -> PersonaSpec:
    """Persona `p` living in district k: ids suffixed, names of people and areas rewritten,
    relationships only with residents of the district that exist."""
    words = {**renamed, **{n: f"{n} {k}" for n in area_names.values() if n != world.spec.name}}
    sub = _replacer(words)
    data = p.model_dump(mode="json")
    data = json.loads(sub(json.dumps(data)))
    data["name"] = renamed[p.name]
    first_old, first_new = p.name.split()[0], renamed[p.name].split()[0]
    for key in ("background", "lifestyle"):
        data[key] = re.sub(rf"\b{re.escape(first_old)}\b", first_new, data[key])
    data["home"] = f"{p.home}_{k}"
    for item in data["daily_routine"]:
        item["place"] = f"{item['place']}_{k}"
    data["relationships"] = [r for r in data["relationships"] if r["name"] in renamed.values()]
    for m in data["memories"]:
        ev = m.get("event")
        if ev:
            ev["place"] = f"{ev['place']}_{k}"
            if ev.get("host") and ev["host"] not in renamed.values():
                ev["host"] = None
    traits = list(TRAITS)
    rng.shuffle(traits)
    data["innate"] = traits[:len(p.innate)]
    data["age"] = max(18, min(90, p.age + rng.randint(-6, 6)))
    return PersonaSpec.model_validate(data)


def _replacer(words: dict[str, str]) -> Callable[[str], str]:
    if not words:
        return lambda s: s
    pattern = re.compile("|".join(rf"\b{re.escape(w)}\b"
                                  for w in sorted(words, key=len, reverse=True)))
    return lambda s: pattern.sub(lambda m: words[m.group(0)], s)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m agentsim.world.generate",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--residents", type=int, required=True)
    ap.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", default=str(BASE), help="world folder to grow (Smallville)")
    args = ap.parse_args(argv)
    world = generate(args.residents, seed=args.seed, base=args.base)
    root = write(world, args.out, args.base)
    print(f"{root}: {len(world.personas)} residents, {len(world.places.ids())} places")


if __name__ == "__main__":
    main()
