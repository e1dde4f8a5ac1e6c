"""What a run's skill library starts from besides the world's seed skills: nothing, unless
the user asks for the learned skills of an earlier run or of a library (`--skills-from`).

A run is reproducible by default: the same world, seed and starting skills give the same
events, whatever other runs have learned since. Learning across runs is an explicit choice,
recorded in the manifest with the content hash of the skills the run started from
(`content_hash`: sha256 over their canonical JSON), so two runs can be seen to have started
from the same skills.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentsim.errors import UserError
from agentsim.skills.library import Skill, read_jsonl, write_skills

RUN_RECORD = "skills.jsonl"  # a run directory's skills, written at each checkpoint


def source_file(source: str | Path) -> Path:
    """The JSON-lines file `source` names: a run directory's skills.jsonl, or a library file
    (e.g. runs/skill_library/smallville.jsonl)."""
    path = Path(source)
    if path.is_dir():
        path = path / RUN_RECORD
        if not path.exists():
            raise UserError("the run has no skills.jsonl (no checkpoint yet, or skills off)",
                            path=source, field="--skills-from")
    elif not path.exists():
        raise UserError("no such run directory or skill library", path=source,
                        field="--skills-from")
    return path


def learned_from(source: str | Path) -> list[Skill]:
    """The learned skills of `source` as a new run starts from them: no seed skills (those
    come from the world), use counts at zero, sorted by name."""
    return sorted((replace(s, uses=0, successes=0) for s in read_jsonl(source_file(source))
                   if not s.seed), key=lambda s: s.name)


def content_hash(skills: list[Skill]) -> str:
    """sha256 over the skills' canonical JSON (sorted by name, keys sorted, no spaces)."""
    blob = json.dumps([s.to_dict() for s in sorted(skills, key=lambda s: s.name)],
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def record(source: str | None, skills: list[Skill]) -> dict[str, Any]:
    """The manifest's `skills_from`: where the starting skills came from, how many, and
    their content hash."""
    return {"source": source, "skills": len(skills), "sha256": content_hash(skills)}


def write_start(path: Path, skills: list[Skill]) -> None:
    """Keep the skills a run starts from in its directory, so a resume or a replay starts from
    the same ones whatever the source holds by then."""
    write_skills(path, skills)
