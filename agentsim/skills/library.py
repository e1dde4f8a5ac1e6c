"""The skill library (after Voyager): skills are code plus a description; descriptions are
embedded and kept in a chromadb collection, and a task retrieves the closest skills (scored
exactly over every description while the library is small; over chromadb's nearest
candidates once it is large).

    lib = SkillLibrary(embed, embedder_name="minilm-384", path=run_dir / "skills")
    lib.extend(load_seed_skills(world.root / "skills"))      # worlds/<world>/skills/*.py
    hits = await lib.aretrieve("bake bread for the cafe", k=5)
    added = await lib.aadd(new_skill)                        # None when a near-duplicate
    lib.record("bake_bread", ok=True)                        # use and success counts

Seed skills are the functions of a world's `skills/*.py` files; learned skills are written by
the LLM during a run, verified, and kept in `skills.jsonl` of the run and of the shared
library a later run of the same world may start from when asked (`SharedLibrary`,
`--skills-from`: see `agentsim.skills.start`). The chromadb
collection is an index only: the JSON lines are the record, so a library can always be built
again, and only one process ever writes a given chromadb path.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from agentsim.errors import UserError

Embed = Callable[[Sequence[str]], Awaitable[np.ndarray]]
EXACT_UP_TO = 512
NEAR_DUPLICATE = 0.95  # cosine similarity of descriptions at which a new skill is not kept
NAME = re.compile(r"^[a-z_][a-z0-9_]{1,60}$")


@dataclass
class Skill:
    """A named function over the world's action API (`agentsim.skills.api`)."""

    name: str
    description: str
    code: str
    parameters: list[dict[str, Any]] = field(default_factory=list)  # {name, default, type}
    provenance: str = ""  # "seed:skills/cafe.py" | "learned:<run>:<agent>:<tick>"
    uses: int = 0
    successes: int = 0

    @property
    def seed(self) -> bool:
        return self.provenance.startswith("seed:")

    def signature(self) -> str:
        """`bake_bread(loaves=2)`: how the LLM sees it."""
        params = ", ".join(p["name"] if "default" not in p else f"{p['name']}={p['default']!r}"
                           for p in self.parameters)
        return f"{self.name}({params})"

    def to_vars(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "signature": self.signature(), "parameters": [p["name"] for p in self.parameters],
                "uses": self.uses, "successes": self.successes}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Skill:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def parse_skills(code: str, where: str, *, require_doc: bool = True) -> list[Skill]:
    """Every top-level function of `code` whose first parameter is `world`, as a Skill whose
    code is the function's source. `where` names the file in errors and in provenance. A seed
    skill needs a docstring (its description); a learned one has its description apart."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise UserError(f"syntax error: {e.msg} (line {e.lineno})", path=where) from None
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        args = node.args
        if not args.args or args.args[0].arg != "world":
            continue
        doc = ast.get_docstring(node) or ("" if require_doc else node.name.replace("_", " "))
        if not doc:
            raise UserError("a skill needs a docstring: its description", path=where,
                            field=node.name)
        if not NAME.match(node.name):
            raise UserError("a skill's name is lower_case with underscores", path=where,
                            field=node.name)
        params = args.args[1:]
        defaults = [None] * (len(params) - len(args.defaults)) + list(args.defaults)
        parameters = []
        for a, d in zip(params, defaults, strict=True):
            p: dict[str, Any] = {"name": a.arg}
            if a.annotation is not None:
                p["type"] = ast.unparse(a.annotation)
            if d is not None:
                p["default"] = _literal(d)
            parameters.append(p)
        source = ast.get_source_segment(code, node) or ast.unparse(node)
        out.append(Skill(node.name, " ".join(doc.split()), source, parameters,
                         provenance=f"seed:{where}"))
    return out


def load_seed_skills(folder: Path, world_root: Path | None = None) -> list[Skill]:
    """The skills of a world's `skills/*.py` files, checked as a skill written by the LLM is
    (`agentsim.skills.sandbox.check_code`); a bad one is a one-line error naming the file."""
    from agentsim.skills.check import check_code

    if not folder.is_dir():
        return []
    skills: dict[str, Skill] = {}
    for f in sorted(folder.glob("*.py")):
        where = str(f.relative_to(world_root)) if world_root else f.name
        text = f.read_text(encoding="utf-8")
        for s in parse_skills(text, where):
            if s.name in skills:
                raise UserError(f"skill {s.name!r} is defined twice", path=where,
                                field=s.name)
            problem = check_code(s.code, s.name)
            if problem:  # its line in the file, not in the function's own source
                start = next(n.lineno for n in ast.parse(text).body
                             if isinstance(n, ast.FunctionDef) and n.name == s.name)
                problem = re.sub(r"\(line (\d+)\)$", lambda m, first=start:
                                 f"(line {int(m.group(1)) + first - 1})", problem)
                raise UserError(problem, path=where, field=s.name)
            skills[s.name] = s
    return list(skills.values())


def _normalized(code: str) -> str:
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return " ".join(code.split())


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=8).hexdigest()


class SkillLibrary:
    """Skills by name, with their descriptions indexed in chromadb (our own embeddings)."""

    def __init__(self, embed: Embed, *, embedder_name: str, path: Path | None = None):
        self.embed = embed
        self.embedder_name = embedder_name
        self.path = Path(path) if path is not None else None
        self.skills: dict[str, Skill] = {}
        self._vectors: dict[str, np.ndarray] = {}  # unit vectors of the descriptions
        self._codes: dict[str, str] = {}  # normalized code, for near-duplicates
        self._collection: Any = None
        self._indexed: set[str] = set()
        self._lock = asyncio.Lock()
        self._merged: dict[str, tuple[int, int]] = {}  # counts already in the shared library
        self._version: str | None = None

    @property
    def version(self) -> str:
        """A digest of the skills' names and code: it changes when a skill is learned,
        inherited or replaced, not when one is used (`skill_use` retries a failed task only
        once the library changed)."""
        if self._version is None:
            self._version = _digest(*(f"{n}\0{s.code}" for n, s in sorted(self.skills.items())))
        return self._version

    def __contains__(self, name: object) -> bool:
        return name in self.skills

    def __len__(self) -> int:
        return len(self.skills)

    def __getitem__(self, name: str) -> Skill:
        return self.skills[name]

    def extend(self, skills: Iterable[Skill]) -> None:
        """Add skills as they are (seed or inherited): later ones replace same-named ones."""
        self._version = None
        for s in skills:
            self.skills[s.name] = s
            self._vectors.pop(s.name, None)
            self._codes.pop(s.name, None)
            self._indexed.discard(s.name)

    def _code_of(self, skill: Skill) -> str:
        """The skill's code, normalized (its syntax tree), computed once per skill."""
        if skill.name not in self._codes:
            self._codes[skill.name] = _normalized(skill.code)
        return self._codes[skill.name]

    def learned(self) -> list[Skill]:
        return [s for s in self.skills.values() if not s.seed]

    # -- the index ---------------------------------------------------------------------------
    def _name(self) -> str:
        if self.path is not None:
            return f"skills-{_digest(self.embedder_name)}"
        return f"skills-{_digest(self.embedder_name, str(id(self)))}"

    async def _ready(self) -> None:
        async with self._lock:
            if self._collection is None:
                from agentsim.rag.store import open_collection

                self._collection = open_collection(self._name(), self.path)
            todo = [s for s in self.skills.values() if s.name not in self._indexed]
            if not todo:
                return
            vecs = np.asarray(await self.embed([s.description for s in todo]), dtype=np.float32)
            for s, v in zip(todo, vecs, strict=True):
                self._vectors[s.name] = v / max(float(np.linalg.norm(v)), 1e-12)
            self._collection.upsert(
                ids=[s.name for s in todo], embeddings=vecs,
                documents=[s.description for s in todo],
                metadatas=[{"provenance": s.provenance, "hash": _digest(s.description)}
                           for s in todo])
            self._indexed.update(s.name for s in todo)

    async def aretrieve(self, task: str, k: int = 5) -> list[tuple[Skill, float]]:
        """The `k` skills whose descriptions are closest to `task`, with cosine similarity;
        ties broken by name, so the same task always gets the same list."""
        if not self.skills or k <= 0:
            return []
        await self._ready()
        [q] = await self.embed([task])
        q = np.asarray(q, dtype=np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        if len(self.skills) <= EXACT_UP_TO:  # every vector is at hand: score them all
            names: list[str] = list(self.skills)
        else:  # chromadb's nearest candidates, scored again exactly
            found = self._collection.query(query_embeddings=q.reshape(1, -1),
                                           n_results=max(4 * k, 64))
            names = [x for x in found["ids"][0] if x in self.skills]
        ranked = sorted(((round(float(self._vectors[x] @ q), 6), x) for x in names),
                        key=lambda t: (-t[0], t[1]))
        return [(self.skills[x], s) for s, x in ranked[:k]]

    async def near_duplicate(self, skill: Skill) -> Skill | None:
        """An existing skill the new one would duplicate: the same name, the same code, or a
        description at least NEAR_DUPLICATE similar."""
        if skill.name in self.skills:
            return self.skills[skill.name]
        code = _normalized(skill.code)
        for s in self.skills.values():
            if self._code_of(s) == code:
                return s
        hits = await self.aretrieve(skill.description, k=1)
        if hits and hits[0][1] >= NEAR_DUPLICATE:
            return hits[0][0]
        return None

    def to_embed(self, skills: Iterable[Skill]) -> list[str]:
        """The descriptions `aadd` of `skills`, in turn, will embed: those of skills that share
        neither a name nor the code with one kept or one before them (`near_duplicate` settles
        those without a vector); one found too similar by its vector is embedded all the same.
        The engine sends them ahead in one call: `aadd` itself goes skill by skill."""
        names, codes = set(self.skills), {self._code_of(s) for s in self.skills.values()}
        out = []
        for s in skills:  # in order: of two with one name (or code) the first is kept
            code = _normalized(s.code)
            if s.name not in names and code not in codes:
                out.append(s.description)
            names.add(s.name)
            codes.add(code)
        return out

    async def aadd(self, skill: Skill) -> Skill | None:
        """Keep a new skill unless it is a near-duplicate; returns it, or None."""
        if await self.near_duplicate(skill) is not None:
            return None
        self.extend([skill])
        await self._ready()
        return skill

    def record(self, name: str, ok: bool) -> None:
        s = self.skills.get(name)
        if s is not None:
            s.uses += 1
            s.successes += int(ok)

    def fork(self) -> SkillLibrary:
        """An independent copy in memory (a forked simulation learns on its own)."""
        twin = SkillLibrary(self.embed, embedder_name=self.embedder_name)
        twin.extend(replace(s) for s in self.skills.values())
        twin._merged = dict(self._merged)
        return twin

    # -- state -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Learned skills whole, and every skill's counts (seed code comes from the world)."""
        return {"learned": [s.to_dict() for s in self.learned()],
                "counts": {n: [s.uses, s.successes] for n, s in sorted(self.skills.items())},
                "merged": {n: list(c) for n, c in sorted(self._merged.items())}}

    def set_state(self, state: dict[str, Any]) -> None:
        self.extend(Skill.from_dict(d) for d in state.get("learned", []))
        for name, (uses, ok) in state.get("counts", {}).items():
            if name in self.skills:
                self.skills[name].uses, self.skills[name].successes = uses, ok
        self._merged = {n: (c[0], c[1]) for n, c in state.get("merged", {}).items()}

    def write_jsonl(self, path: Path) -> None:
        """Every skill with its counts in this run, one JSON object a line."""
        write_skills(path, self.skills.values())

    def merge_into(self, shared: SharedLibrary) -> int:
        """Merge this run's skills and the counts added since the last merge into `shared`."""
        now = {n: (s.uses, s.successes) for n, s in self.skills.items()}
        delta = {n: (u - self._merged.get(n, (0, 0))[0], k - self._merged.get(n, (0, 0))[1])
                 for n, (u, k) in now.items()}
        new = shared.merge(self.skills.values(), {n: d for n, d in delta.items() if d[0]})
        self._merged = now
        return new


def read_jsonl(path: Path) -> list[Skill]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(Skill.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as e:
                raise UserError(f"line {n} is not a skill ({e})", path=path) from None
    return out


class SharedLibrary:
    """The skills of a world that persist across runs: a JSON-lines file that runs merge into
    when they stop, and that a later run starts from only when asked (`--skills-from`),
    under a file lock, so parallel runs (a sweep) never lose each other's skills. A skill keeps
    its first code; use and success counts add up over runs."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def read(self) -> list[Skill]:
        return read_jsonl(self.path)

    def merge(self, skills: Iterable[Skill], delta: dict[str, tuple[int, int]]) -> int:
        """Add the `skills` not there yet (with zero counts), then add `delta` (name -> uses,
        successes this run added since its last merge); returns how many skills were new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            _lock(lock)
            have = {s.name: s for s in read_jsonl(self.path)}
            new = 0
            for s in skills:
                if s.name not in have:
                    have[s.name] = replace(s, uses=0, successes=0)
                    new += 1
            for name, (uses, ok) in delta.items():
                if name in have:
                    have[name].uses += uses
                    have[name].successes += ok
            write_skills(self.path, have.values())
        return new


def _lock(f: Any) -> None:
    """An exclusive lock on an open file, released when it closes (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:  # Windows: runs sharing a library there must not end at once
        return
    fcntl.flock(f, fcntl.LOCK_EX)


def write_skills(path: Path, skills: Iterable[Skill]) -> None:
    """One skill a line, sorted by name, written atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n"
                           for s in sorted(skills, key=lambda s: s.name)), encoding="utf-8")
    tmp.replace(path)
