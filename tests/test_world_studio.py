"""worlds/studio on the offline mind: a team of three writes word_count; every candidate runs
against the world's tests in the skill sandbox (never in this process), the measures are
written and reported, a bad protocol section is one line, a resumed run matches an
uninterrupted one, and the offline team follows its stated rules without reading the tests."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentsim.cli_run import _build
from agentsim.contracts import CodeChangeVars
from agentsim.errors import UserError
from agentsim.events import Conversation, Measured, TickEnded
from agentsim.experiment import Simulation
from agentsim.llm.offline import OfflineMind
from agentsim.options import RunOptions
from agentsim.protocols import studio_run
from agentsim.protocols.studio import Studio, read_sketches
from agentsim.report import write_report
from agentsim.rundir import RunDir
from agentsim.skills.sandbox import Limits
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "worlds" / "studio"
TESTS = (STUDIO / "tests.py").read_text()
NAMES = studio_run.test_names(TESTS)
LIMITS = Limits(seconds=5.0)
TEAM = {"grace_okonkwo": "lead", "ravi_mehta": "developer", "ines_duarte": "tester"}


def run_tests(code: str, limits: Limits = LIMITS) -> dict:
    return asyncio.run(studio_run.run_tests(code, TESTS, NAMES, {}, limits))


def test_the_sketches_pass_what_their_code_says_in_the_sandbox():
    """The bank's variants are what the README says: one right, the others buggy."""
    sketches = read_sketches(STUDIO / "sketches")
    passed = {k["name"]: run_tests(k["code"])["passed"] for k in sketches}
    assert len(NAMES) == 8
    assert passed == {"forgets_to_add": 2, "letters_and_apostrophes": 8, "letters_only": 7,
                      "lower_split": 5, "split_only": 3, "stopwords_from_disk": 0,
                      "strip_punctuation": 7}
    starter = run_tests((STUDIO / "starter.py").read_text())
    assert starter["passed"] == 1 and starter["failures"][0] == {
        "test": "test_one_word", "error": "assertion failed"}


def test_the_code_runs_behind_the_sandbox_not_in_this_process(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    # reading a file outside: refused by the sandbox's check, every test fails with its line
    reads = run_tests(f"def word_count(text):\n    return {{'x': open({str(secret)!r}).read()}}")
    assert reads["passed"] == 0 and reads["error"].startswith("forbidden: open()")
    assert all(f["error"] == reads["error"] for f in reads["failures"])
    # nor through an import the sandbox does not admit
    sneaky = run_tests("import pathlib\n\ndef word_count(text):\n    return {}")
    assert sneaky["passed"] == 0 and "import of 'pathlib'" in sneaky["error"]
    # code that never ends is ended by the sandbox's time limit (here it would hang the test)
    loops = run_tests("def word_count(text):\n    while True:\n        pass",
                      Limits(seconds=1.0))
    assert loops["passed"] == 0 and loops["error"].startswith("timeout:")
    # an exception in one test fails that test only
    half = run_tests("def word_count(text):\n    if not text:\n        return {}\n"
                     "    return 1 / 0")
    assert half["passed"] == 1 and half["failures"][0]["error"].startswith("ZeroDivisionError")


def test_a_studio_run_goes_through_the_sandbox_and_writes_its_measures(tmp_path, monkeypatch):
    programs: list[str] = []
    real = studio_run.run_skill

    async def spy(code, entry, *args, **kw):
        programs.append(code)
        return await real(code, entry, *args, **kw)

    monkeypatch.setattr(studio_run, "run_skill", spy)
    sim = Simulation.load(str(STUDIO), seed=0, embedder="hash", out=str(tmp_path / "run"))
    sim.run(until=lambda s: s.protocol.finished)
    sim.close()
    rows = [e.values for e in sim.events if isinstance(e, Measured)]
    its = [r for r in rows if r["kind"] == "iteration"]
    assert [r["iteration"] for r in its] == list(range(len(its)))
    n = len(its) - 1  # iterations after the starter's run
    assert 1 <= n <= 6
    # the starter's run, then one candidate a tick: each through the sandbox, with the tests
    assert len(programs) == 1 + n and all(TESTS.rstrip() in p for p in programs)
    assert its[0]["passed"] == 1 and its[0]["candidate_passed"] is None
    for before, now in itertools.pairwise(its):  # the lead's offline gate
        assert now["accepted"] == (now["candidate_passed"] > before["passed"])
        assert now["passed"] == (now["candidate_passed"] if now["accepted"] else before["passed"])
    # one moderated talk a tick: lead, developer, lead, tester; counted as the tick's talk
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    assert len(talks) == n and all(set(t.participants) == set(TEAM) for t in talks)
    assert [TEAM[t.speaker] for t in talks[0].turns] == ["lead", "developer", "lead", "tester"]
    ended = [e for e in sim.events if isinstance(e, TickEnded)]
    assert [e.conversations for e in ended[:n]] == [1] * n
    messages = [r for r in rows if r["kind"] == "message"]
    assert [(r["agent"], r["role"]) for r in messages[:4]] == [
        ("grace_okonkwo", "lead"), ("ravi_mehta", "developer"), ("grace_okonkwo", "lead"),
        ("ines_duarte", "tester")]
    # what was said is remembered by the team
    heard = [r.text for r in sim.agents["ravi_mehta"].memory.records()]
    assert any(t.startswith('Ines Duarte said to the group: "') for t in heard)
    folder = sim.run_dir.path
    csv_rows = list(csv.DictReader((folder / "measures.csv").read_text().splitlines()))
    assert len(csv_rows) == len(rows)
    summary = json.loads((folder / "measures.json").read_text())
    assert summary["protocol"] == "studio" and summary["tests"] == 8
    assert summary["messages_by_role"] == {"lead": 2 * n, "developer": n, "tester": n}
    assert summary["shared_module_by_round"] == {str(r["iteration"]): r["passed"] / 8
                                                 for r in its}
    assert summary["passed_at_end"] == its[-1]["passed"]
    report = write_report(folder)
    text = report.read_text()
    assert "## Measures (studio)" in text and "| passed at end |" in text
    assert "| key | messages by role | words by role |" in text
    assert "| round | shared module | candidate |" in text
    assert (report.parent / "measures.png").is_file()


def test_the_offline_developer_draws_sketches_and_never_reads_the_tests():
    assert not {"tests", "answer", "expected"} & set(CodeChangeVars.model_fields)
    mind = OfflineMind()
    sketches = read_sketches(STUDIO / "sketches")
    persona = {"id": "r", "name": "Ravi Mehta", "age": 29, "innate": ["quick"],
               "background": "", "lifestyle": "", "occupation": "developer", "world": "w"}

    def ask(failures, milestone, earlier=(), seed=0):
        return mind.answer("code_change", {
            "persona": persona, "task": "t", "artifact": "", "milestone": milestone,
            "failures": failures, "sketches": sketches, "earlier": list(earlier)}, seed)

    # the same draw whatever the tester reported and the lead asked for
    a = ask([], "Make test_one_word pass.")
    b = ask([{"test": "test_case_is_ignored", "error": "assertion failed"}], "Anything.")
    assert a == b and a["code"] in {k["code"] for k in sketches}
    # no sketch twice until all were tried; every sketch is drawn by some seed
    earlier: list[str] = []
    for _ in sketches:
        earlier.append(ask([], "m", earlier)["summary"])
    assert len(set(earlier)) == len(sketches)
    assert {ask([], "m", seed=s)["summary"] for s in range(60)} == {
        f"Took the sketch {k['name']}." for k in sketches}


def test_the_offline_lead_accepts_exactly_a_candidate_that_passes_more():
    mind = OfflineMind()
    persona = {"id": "g", "name": "Grace Okonkwo", "age": 44, "innate": [], "background": "",
               "lifestyle": "", "occupation": "lead", "world": "w"}

    def review(new, old):
        run = {"passed": new, "total": 8, "error": "", "failures": [
            {"test": "test_case_is_ignored", "error": "assertion failed"}]}
        return mind.answer("code_review", {
            "persona": persona, "task": "t", "milestone": "m", "summary": "s",
            "candidate": run, "artifact": {**run, "passed": old, "failures": []}}, 0)

    assert review(5, 4)["accept"] and review(5, 4)["milestone"] == (
        "Make test_case_is_ignored pass.")
    assert not review(4, 4)["accept"] and not review(0, 7)["accept"]
    assert review(3, 4)["milestone"] == "Keep every test passing."


def world_with(tmp_path: Path, **changes) -> Path:
    folder = tmp_path / "w"
    shutil.copytree(STUDIO, folder)
    spec = yaml.safe_load((folder / "world.yaml").read_text())
    spec["protocol"].update(changes)
    (folder / "world.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"iterations": 0}, "protocol.iterations", "greater than or equal to 1"),
    ({"developer": "Zed"}, "protocol.developer", "no agent named 'Zed'"),
    ({"tester": "Ravi Mehta"}, "protocol.tester", "three different agents"),
    ({"tests": "nope.py"}, "protocol.tests", "no file 'nope.py' in the world folder"),
    ({"starter": "nope.py"}, "protocol.starter", "no file 'nope.py'"),
    ({"sketches": "drafts"}, "protocol.sketches", "no folder 'drafts'"),
    ({"reviewer": "x"}, "protocol.reviewer", "unknown field"),
])
def test_a_bad_studio_section_is_one_line_naming_the_file_and_field(tmp_path, changes, field,
                                                                    message):
    folder = world_with(tmp_path, **changes)
    with pytest.raises(UserError) as err:
        load_world(folder)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{folder / 'world.yaml'}: {field}: "), line
    assert message in line


def test_tests_the_sandbox_would_refuse_are_a_validation_error(tmp_path):
    folder = world_with(tmp_path)
    (folder / "tests.py").write_text("import os\n\n\ndef test_x():\n    assert os.sep\n")
    with pytest.raises(UserError, match=r"protocol\.tests: tests.py with starter.py: the "
                                        r"sandbox refuses them: import of 'os'"):
        load_world(folder)
    (folder / "tests.py").write_text("def helper():\n    pass\n")
    with pytest.raises(UserError, match=r"protocol\.tests: tests.py: defines no test"):
        load_world(folder)
    run = subprocess.run([sys.executable, "-m", "agentsim", "validate", str(folder)],
                         capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "world.yaml: protocol.tests: tests.py: defines no test" in run.stderr


def test_validate_names_the_protocol():
    from click.testing import CliRunner

    from agentsim.cli import main

    out = CliRunner().invoke(main, ["validate", str(STUDIO)])
    assert out.exit_code == 0 and out.output.strip().endswith(", protocol studio")


def test_resuming_a_studio_run_matches_an_uninterrupted_run(tmp_path):
    whole = Simulation.load(str(STUDIO), seed=0, embedder="hash", out=str(tmp_path / "whole"))
    whole.run(ticks=4)
    whole.close()
    part = Simulation.load(str(STUDIO), seed=0, embedder="hash", out=str(tmp_path / "part"))
    part.checkpoint_every = 2
    part.run(ticks=3)
    part.close()
    for c in sorted((part.run_dir.path / "checkpoints").glob("tick-*"))[1:]:
        shutil.rmtree(c)  # keep only tick 2's: two of six iterations done
    rd = RunDir.open(part.run_dir.path)
    resumed = _build(RunOptions(world=str(STUDIO), seed=0, embedder="hash"), rd, None)
    resumed.attach(rd, resumed=True)
    assert resumed.clock.tick == 2 and isinstance(resumed.protocol, Studio)
    assert resumed.protocol.iteration == 2
    resumed.run(ticks=2)
    resumed.close()
    lines = [x for x in rd.events_path.read_text().splitlines() if '"run_resumed"' not in x]
    assert lines == whole.run_dir.events_path.read_text().splitlines()
    assert (rd.path / "measures.csv").read_text() == (
        whole.run_dir.path / "measures.csv").read_text()


def test_a_fenced_candidate_runs_as_its_code():
    fenced = "```python\ndef word_count(text):\n    return {}\n```"
    assert studio_run.plain_code(fenced) == "def word_count(text):\n    return {}\n"
    assert studio_run.plain_code("x = 1\n") == "x = 1\n"
    assert run_tests(studio_run.plain_code(fenced))["passed"] == 1


def test_a_starter_that_passes_every_test_leaves_the_team_nothing_to_do(tmp_path):
    folder = world_with(tmp_path)
    shutil.copy(folder / "sketches" / "letters_and_apostrophes.py", folder / "starter.py")
    sim = Simulation.load(str(folder), seed=0, embedder="hash")
    sim.run(ticks=2)
    rows = [e.values for e in sim.events if isinstance(e, Measured)]
    assert rows == [{"kind": "iteration", "iteration": 0, "passed": 8, "total": 8,
                     "candidate_passed": None, "accepted": None, "summary": "the starter",
                     "error": ""}]
    assert sim.protocol.finished and not any(isinstance(e, Conversation) for e in sim.events)
