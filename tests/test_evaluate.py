"""`agentsim evaluate`: the ablation switches change what agents do, the battery is templated
per resident, the judge's rankings feed TrueSkill, and the table is written (offline, on the
tiny world, a sim hour or two)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.evaluate.battery import QUESTIONS, batteries, battery
from agentsim.evaluate.conditions import BY_NAME, CONDITIONS, pick
from agentsim.evaluate.rating import trueskill
from agentsim.evaluate.report import BASELINE, markdown
from agentsim.evaluate.runner import evaluate, setup_from
from agentsim.experiment import Simulation
from agentsim.llm.offline import OfflineMind
from agentsim.memory.record import MemoryKind
from agentsim.world.loader import load_world

load = Simulation.load

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny_world"
SMALLVILLE = ROOT / "worlds" / "smallville"


def _run(condition: str, hours: float = 2.0):
    sim = load(str(TINY), seed=0, llm="offline", embedder="hash", skill_library=None)
    sim.settings = sim.settings.replace(**BY_NAME[condition].switches())
    sim.run(hours=hours)
    return sim


def _kinds(sim) -> dict[MemoryKind, int]:
    out: dict[MemoryKind, int] = {}
    for a in sim.agents.values():
        for r in a.memory.records():
            out[r.kind] = out.get(r.kind, 0) + 1
    return out


def test_switches_default_to_the_full_agent():
    sim = load(str(TINY), seed=0, llm="offline", embedder="hash", skill_library=None)
    assert (sim.settings.observation, sim.settings.reflection, sim.settings.planning) == \
        (True, True, True)
    assert BY_NAME["full"].switches() == {"observation": True, "reflection": True,
                                          "planning": True}
    sim.close()


def test_conditions_differ_in_what_the_agents_do():
    full = _run("full")
    no_plan = _run("no_reflection_planning")
    no_obs = _run("no_observation_reflection_planning")
    # full: day plans (remembered and logged); without planning none, yet agents still act
    assert _kinds(full).get(MemoryKind.plan, 0) > 0
    assert any(e.type == "plan_made" for e in full.events)
    assert _kinds(no_plan).get(MemoryKind.plan, 0) == 0
    assert not any(e.type in ("plan_made", "refined") for e in no_plan.events)
    assert any(e.type == "moved" for e in no_plan.events)
    assert all(a.day_plan for a in no_plan.agents.values() if a.awake)
    # without observation, only seed memories (and the relationships seeded as memories) are
    # observations: nothing perceived is kept
    seeds = sum(len(p.memories) + len(p.relationships) for p in load_world(TINY).personas.values())
    assert _kinds(full)[MemoryKind.observation] > seeds
    assert _kinds(no_obs)[MemoryKind.observation] == seeds
    for sim in (full, no_plan, no_obs):
        sim.close()


def test_no_reflection_means_no_reflection_memories():
    def low(sim):  # reflect at the first chance, so the full agent certainly does
        sim.settings = sim.settings.replace(reflection_threshold=1)
        return sim

    full = low(load(str(TINY), seed=0, llm="offline", embedder="hash", skill_library=None))
    off = load(str(TINY), seed=0, llm="offline", embedder="hash", skill_library=None)
    off.settings = low(off).settings.replace(reflection=False)
    for sim in (full, off):
        sim.run(hours=1)
    assert _kinds(full).get(MemoryKind.reflection, 0) > 0
    assert any(e.type == "reflected" for e in full.events)
    assert _kinds(off).get(MemoryKind.reflection, 0) == 0
    assert not any(e.type == "reflected" for e in off.events)
    full.close()
    off.close()


def test_the_battery_is_templated_per_resident():
    world = load_world(SMALLVILLE)
    isabella = battery(world, "isabella_rodriguez", seed=0)
    sam = battery(world, "sam_moore", seed=0)
    assert len(isabella) == len(QUESTIONS) == 25
    assert [q.category for q in isabella].count("reactions") == 5
    assert isabella[0].text == "Give an introduction of yourself."
    assert "Your breakfast is burning! What would you do?" in [q.text for q in isabella]
    names = {p.name for p in world.personas.values()}
    who = [q.text for q in isabella if q.text.startswith("Who is ") and "election" not in q.text]
    assert len(who) == 3 and all(t[7:-1] in names - {"Isabella Rodriguez"} for t in who)
    # another resident gets other people; its own name never; the same seed, the same questions
    assert [q.text for q in isabella] != [q.text for q in sam]
    assert not any("Sam Moore" in q.text for q in sam)
    assert battery(world, "sam_moore", seed=0) == sam
    assert [q.id for q in isabella] == [q.id for q in sam]
    # people the resident has a relationship with come first
    known = {r.name for r in world.personas["isabella_rodriguez"].relationships}
    assert who[0][7:-1] in known
    assert len(batteries(world, ["sam_moore", "isabella_rodriguez"])) == 50


def test_the_offline_judge_ranks_by_its_stated_rule():
    answer = OfflineMind().answer("judge_rank", {
        "persona": {"name": "Ann Lee"}, "question": "Who is Bob Park?",
        "answers": [{"label": "A", "text": "No idea.", "evidence": 0},
                    {"label": "B", "text": "Bob is a customer of mine at the cafe.",
                     "evidence": 2},
                    {"label": "C", "text": "Bob comes by every day for coffee and a chat.",
                     "evidence": 2}]})
    assert answer["ranking"] == ["C", "B", "A"]  # evidence first, then more distinct words
    assert answer["reason"].startswith("rule baseline")


def test_rankings_feed_trueskill():
    names = ["full", "no_reflection", "none"]
    ratings = trueskill(names, [["full", "no_reflection", "none"]] * 10)
    assert ratings["full"].mu > ratings["no_reflection"].mu > ratings["none"].mu
    assert ratings["full"].sigma < 25 / 3 and ratings["full"].matches == 10
    flipped = trueskill(names, [["none", "no_reflection", "full"]] * 10)
    assert flipped["none"].mu > flipped["full"].mu
    untouched = trueskill(names, [])
    assert untouched["full"].mu == pytest.approx(25.0)


def test_conditions_by_name():
    assert [c.name for c in pick(None)] == [c.name for c in CONDITIONS]
    assert [c.name for c in pick("no_reflection,full")] == ["no_reflection", "full"]
    with pytest.raises(Exception, match="unknown condition 'nope'"):
        pick("full,nope")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    r = evaluate(str(TINY), hours=1, seed=0, llm="offline", embedder="hash", out=out,
                 subjects={"party": "party"})
    return r, out


def test_an_evaluation_ranks_every_question_and_rates_every_condition(result):
    r, _ = result
    names = [c["name"] for c in r["conditions"]]
    assert names == [c.name for c in CONDITIONS]
    assert len(r["interviews"]) == 3 * 25
    for item in r["interviews"]:
        assert sorted(item["ranking"]) == sorted(names)
        assert set(item["answers"]) == set(names)
    total = sum(c["trueskill"]["mu"] for c in r["conditions"])
    assert 90 < total < 101  # every condition played every match, around the prior mean
    assert len({round(c["trueskill"]["mu"], 6) for c in r["conditions"]}) > 1
    assert all(c["trueskill"]["matches"] == 75 for c in r["conditions"])
    full, *_, none = r["conditions"]
    assert full["memory_kinds"].get("plan", 0) > 0 and none["memory_kinds"].get("plan", 0) == 0
    assert full["measures"]["diffusion"]["party"]["knowers_start"] >= 1  # the host
    assert r["offline_baseline"] and "rule baseline" in r["note"]


def test_the_table_sets_our_figures_beside_the_papers(result):
    r, out = result
    from agentsim.evaluate.report import write

    paths = write(r, out, "agentsim evaluate tiny")
    text = (out / "evaluation.md").read_text()
    assert text == markdown(r, "agentsim evaluate tiny")
    assert BASELINE in text and "29.89" in text and "21.21" in text and "5 of 12" in text
    assert "| full architecture | 29.89 |" in text
    assert "0.167 -> 0.74" in text and "4% -> 52%" in text
    saved = json.loads((out / "evaluation.json").read_text())
    assert saved["command"] == "agentsim evaluate tiny" and saved["offline_baseline"]
    assert out / "evaluation.json" in paths


def test_a_run_directory_gives_the_defaults(tmp_path):
    sim = load(str(TINY), seed=3, llm="offline", embedder="hash", out=str(tmp_path),
               skill_library=None)
    sim.run(hours=1)
    run = sim.run_dir.path
    sim.close()
    s = setup_from(str(run))
    assert (s.seed, s.hours, s.embedder) == (3, 1.0, "hash")
    assert Path(s.world).resolve() == TINY.resolve()
    assert setup_from(str(run), hours=2, seed=5).hours == 2


def test_the_command_end_to_end(tmp_path):
    out = tmp_path / "ev"
    r = CliRunner().invoke(main, ["evaluate", str(TINY), "--hours", "1", "--embedder", "hash",
                                  "--llm", "offline", "--conditions",
                                  "full,no_observation_reflection_planning",
                                  "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "scripted rule baseline" in r.output
    saved = json.loads((out / "evaluation.json").read_text())
    assert [c["name"] for c in saved["conditions"]] == ["full",
                                                        "no_observation_reflection_planning"]
    assert "| no observation, no reflection, no planning | 22.95 |" in \
        (out / "evaluation.md").read_text()
    assert len(list((out / "runs").iterdir())) == 2


def test_the_command_names_a_bad_condition_in_one_line(tmp_path):
    r = CliRunner().invoke(main, ["evaluate", str(TINY), "--conditions", "full,nope",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "unknown condition 'nope'" in r.output
