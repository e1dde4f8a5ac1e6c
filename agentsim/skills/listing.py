"""What `agentsim skills WORLD_OR_RUN` lists: a run's library as its last checkpoint left it,
or a world's seed skills with the skills its runs learned (the shared library)."""

from __future__ import annotations

from pathlib import Path

from agentsim.errors import UserError
from agentsim.skills.library import Skill, load_seed_skills, read_jsonl


def _order(skills: list[Skill]) -> list[Skill]:
    return sorted(skills, key=lambda s: (not s.seed, -s.uses, s.name))


def list_skills(target: str, runs: str = "runs") -> tuple[list[Skill], str]:
    """(skills, where they were read from) for a run directory or a world."""
    path = Path(target)
    if (path / "manifest.json").exists():
        from agentsim.rundir import RunDir, world_of

        rd = RunDir.open(path)
        record = path / "skills.jsonl"
        if record.exists():
            return _order(read_jsonl(record)), str(path)
        world = world_of(rd.read_manifest())  # no checkpoint yet: what the run started with
        return _order(load_seed_skills(world.path / "skills", world.path)), str(path)
    from agentsim.resources import resolve_world
    from agentsim.world.loader import load_world

    world = load_world(resolve_world(target))
    seeds = {s.name: s for s in load_seed_skills(world.path / "skills", world.path)}
    shared = Path(runs) / "skill_library" / f"{world.path.name}.jsonl"
    skills = dict(seeds)
    for s in read_jsonl(shared):
        if s.name in seeds:  # the world's current code, the counts of every run
            seeds[s.name].uses, seeds[s.name].successes = s.uses, s.successes
        else:
            skills[s.name] = s
    if not skills:
        raise UserError("no skills: the world has no skills/ folder and no run learned any",
                        path=world.path)
    # the library runs learned into is named only when there is one
    return _order(list(skills.values())), (f"{world.path} (+ {shared})" if shared.exists()
                                           else str(world.path))
