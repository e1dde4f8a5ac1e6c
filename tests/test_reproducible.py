"""Reproducible by default: separate invocations with the same seed and the same starting
skills write byte-identical events, whatever earlier runs learned; learning across runs is
the explicit `--skills-from RUN_OR_LIBRARY`, recorded in the manifest with a content hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import pytest

from agentsim.errors import UserError
from agentsim.rundir import run_dirs
from agentsim.skills.library import read_jsonl
from agentsim.skills.start import content_hash, learned_from

pytestmark = pytest.mark.slow  # five runs, each in a process of its own

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny_world"
# five hours of Tinytown on the offline mind: a skill is learned and used (tick 9 on)
RUN = ["run", str(TINY), "--headless", "--embedder", "hash", "--llm", "offline", "--hours", "5",
       "--seed", "3"]


def start(*args: object) -> tuple[subprocess.Popen, Path, set[Path], IO[bytes]]:
    """`agentsim ARGS...` started in a process of its own (see `finish`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = Path(args[args.index("--out") + 1])
    err = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish)
    proc = subprocess.Popen([sys.executable, "-m", "agentsim", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=err)
    return proc, out, set(run_dirs(out)), err


def finish(started: tuple[subprocess.Popen, Path, set[Path], IO[bytes]]) -> Path:
    """Waits for a started `agentsim`; returns the run directory it made."""
    proc, out, before, err = started
    with err:
        proc.wait(timeout=600)
        err.seek(0)
        assert proc.returncode == 0, err.read().decode(errors="replace")
    [new] = set(run_dirs(out)) - before
    return new


def agentsim(*args: object) -> Path:
    """`agentsim ARGS...` in a process of its own; returns the run directory it made."""
    return finish(start(*args))


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    # runs that do not depend on each other go two at a time
    first, elsewhere = start(*RUN, "--out", out / "a"), start(*RUN, "--out", out / "b")
    first, elsewhere = finish(first), finish(elsewhere)
    # the same --out: the first run's learned skills are in a/skill_library by now
    again = start(*RUN, "--out", out / "a")
    from_run = start(*RUN, "--out", out / "d", "--skills-from", first)
    again, from_run = finish(again), finish(from_run)
    library = out / "a" / "skill_library" / "tiny_world.jsonl"
    from_library = agentsim(*RUN, "--out", out / "c", "--skills-from", library)
    return {"first": first, "again": again, "elsewhere": elsewhere, "library": library,
            "from_library": from_library, "from_run": from_run}


def test_same_seed_and_starting_skills_give_byte_identical_events(runs):
    # events hold no run id or wall-clock time: the whole files are compared, byte for byte
    first = (runs["first"] / "events.jsonl").read_bytes()
    assert b'"skill_learned"' in first and b'"skill_used"' in first  # skills are at play
    assert (runs["again"] / "events.jsonl").read_bytes() == first
    assert (runs["elsewhere"] / "events.jsonl").read_bytes() == first


def test_a_run_never_reads_the_shared_library_unasked(runs):
    learned = [s for s in read_jsonl(runs["library"]) if not s.seed]
    assert learned  # the first run kept what it learned, for a later --skills-from
    for name in ("first", "again", "elsewhere"):
        assert manifest(runs[name])["skills_from"] is None
        assert manifest(runs[name])["options"]["skills_from"] is None
        assert not (runs[name] / "skills_inherited.jsonl").exists()


def test_skills_from_a_library_or_a_run_is_recorded_with_its_content_hash(runs):
    start = learned_from(runs["library"])
    assert start and all(s.uses == 0 and s.successes == 0 for s in start)
    for name, source in (("from_library", runs["library"]), ("from_run", runs["first"])):
        m = manifest(runs[name])
        assert m["options"]["skills_from"] == str(source)
        assert m["skills_from"] == {"source": str(source), "skills": len(start),
                                    "sha256": content_hash(start)}
        assert read_jsonl(runs[name] / "skills_inherited.jsonl") == start
    # starting from the learned skill changes the run: it is used, never learned again
    events = (runs["from_library"] / "events.jsonl").read_bytes()
    assert b'"skill_learned"' not in events
    assert (runs["from_run"] / "events.jsonl").read_bytes() == events


def test_content_hash_is_of_the_skills_not_their_order_or_counts(runs):
    start = learned_from(runs["library"])
    assert content_hash(list(reversed(start))) == content_hash(start)
    assert len(content_hash(start)) == 64
    changed = [type(s)(**{**s.to_dict(), "description": s.description + "!"}) for s in start]
    assert content_hash(changed) != content_hash(start)


def test_skills_from_in_python_and_its_errors(runs, tmp_path):
    from agentsim import Simulation

    sim = Simulation.load(str(TINY), llm="offline", embedder="hash",
                          skills_from=str(runs["first"]))
    try:
        assert sim.starting_skills == manifest(runs["from_run"])["skills_from"]
        assert {s.name for s in learned_from(runs["first"])} <= set(sim.skills.skills)
    finally:
        sim.close()
    bare = Simulation.load(str(TINY), llm="offline", embedder="hash")
    try:
        assert bare.starting_skills is None and not bare.skills.learned()
    finally:
        bare.close()
    with pytest.raises(UserError, match="--skills-from: no such run directory"):
        Simulation.load(str(TINY), llm="offline", embedder="hash", out=str(tmp_path / "runs"),
                        skills_from=str(tmp_path / "nowhere"))
    assert not (tmp_path / "runs").exists()  # checked before a run directory is made
    with pytest.raises(UserError, match=r"--skills-from: .*skills\.jsonl"):
        Simulation.load(str(TINY), llm="offline", embedder="hash", skills_from=str(tmp_path))
    with pytest.raises(UserError, match="needs the skill library"):
        Simulation.load(str(TINY), llm="offline", embedder="hash", skills=False,
                        skills_from=str(runs["first"]))
