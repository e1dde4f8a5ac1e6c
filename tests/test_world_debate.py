"""worlds/debate on the offline mind: it runs, writes its measures to the run directory, the
report shows them, a resumed run matches an uninterrupted one, and the debaters' answers come
from their stated rule, never from the answer key."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from agentsim.cli_run import _build
from agentsim.contracts import DebateAnswerVars
from agentsim.events import Measured
from agentsim.experiment import Simulation
from agentsim.llm.offline import OfflineMind
from agentsim.llm.offline.debate import arithmetic
from agentsim.options import RunOptions
from agentsim.protocols.debate import Debate, majority, read_questions
from agentsim.report import write_report
from agentsim.rundir import RunDir

DEBATE = Path(__file__).resolve().parents[1] / "worlds" / "debate"


def test_the_question_set_is_bundled_with_its_answer_key():
    qs = read_questions(DEBATE / "questions.yaml")
    assert len(qs) == 20 and len({q.id for q in qs}) == 20
    for q in qs:  # each arithmetic answer is right (the key is checked, not trusted)
        value = arithmetic(q.question)
        if value is not None:
            assert str(int(value)) == q.answer, q.id


def test_a_debate_run_writes_its_measures(tmp_path):
    sim = Simulation.load(str(DEBATE), seed=0, embedder="hash", out=str(tmp_path / "run"))
    sim.run(ticks=6)  # two questions, three rounds each
    sim.close()
    folder = sim.run_dir.path
    rows = list(csv.DictReader((folder / "measures.csv").read_text().splitlines()))
    answers = [r for r in rows if r["kind"] == "answer"]
    assert len(answers) == 2 * 3 * 4  # questions x rounds x debaters
    assert {r["question"] for r in rows} == {"q01", "q02"}
    summary = json.loads((folder / "measures.json").read_text())
    assert summary["protocol"] == "debate" and summary["questions"] == 2
    right = [r["correct"] == "True" for r in answers if r["round"] == "0"]
    assert summary["single_agent"] == sum(right) / len(right)
    assert set(summary["majority_accuracy_by_round"]) == {"0", "1", "2"}
    # each round was said to the group: one conversation of four a tick
    talks = [e for e in sim.events if e.type == "conversation"]
    assert len(talks) == 6 and all(len(t.participants) == 4 for t in talks)
    report = write_report(folder)
    text = report.read_text()
    assert "## Measures (debate)" in text and "| single agent |" in text
    assert (report.parent / "measures.png").is_file()


def test_the_offline_debaters_follow_their_stated_rule_without_the_answer_key():
    assert not {"answer", "reference", "aliases"} & set(DebateAnswerVars.model_fields)
    mind = OfflineMind()
    careful = {"id": "a", "name": "Ada Okafor", "age": 41, "innate": ["careful"],
               "background": "", "lifestyle": "", "occupation": "actuary", "world": "w"}

    def ask(question, rnd=0, previous=None, others=(), persona=careful, seed=0):
        return mind.answer("debate_answer", {"persona": persona, "question": question,
                                             "round": rnd, "previous": previous,
                                             "others": list(others)}, seed)

    # a factual question has no arithmetic to work out: the offline debater does not know it
    assert ask("What is the capital city of Australia?")["answer"] == "I don't know"
    # a careful persona slips about 10% of the time, a hasty one about half the time
    hasty = {**careful, "name": "Ben Larsen", "innate": ["hasty"]}
    wrong = {"careful": 0, "hasty": 0}
    for seed in range(200):
        wrong["careful"] += ask("What is 17 * 23?", seed=seed)["answer"] != "391"
        wrong["hasty"] += ask("What is 17 * 23?", persona=hasty, seed=seed)["answer"] != "391"
    assert 5 <= wrong["careful"] <= 40 and 70 <= wrong["hasty"] <= 130
    # revising: toward the answer most gave, never toward one fewer gave
    others = [{"speaker": "B", "text": "391 -- x"}, {"speaker": "C", "text": "391 -- y"}]
    moved = sum(ask("What is 17 * 23?", 1, "390", others, seed=s)["answer"] == "391"
                for s in range(100))
    assert 55 <= moved <= 85  # p = 0.7
    lonely = [{"speaker": "B", "text": "392 -- x"}, {"speaker": "C", "text": "391 -- y"}]
    assert all(ask("What is 17 * 23?", 1, "390", lonely, seed=s)["answer"] == "390"
               for s in range(30))


def test_majority_ties_go_to_the_first_given():
    assert majority(["12", "13", "13", "12"]) == "12"
    assert majority(["7", "Seven", "seven"]) == "Seven"


def test_resuming_a_debate_mid_question_matches_an_uninterrupted_run(tmp_path):
    whole = Simulation.load(str(DEBATE), seed=4, embedder="hash", out=str(tmp_path / "whole"))
    whole.run(ticks=5)
    whole.close()
    part = Simulation.load(str(DEBATE), seed=4, embedder="hash", out=str(tmp_path / "part"))
    part.checkpoint_every = 2
    part.run(ticks=3)
    part.close()
    for c in sorted((part.run_dir.path / "checkpoints").glob("tick-*"))[1:]:
        shutil.rmtree(c)  # keep only tick 2's: the first question's talk is under way
    rd = RunDir.open(part.run_dir.path)
    resumed = _build(RunOptions(world=str(DEBATE), seed=4, embedder="hash"), rd, None)
    resumed.attach(rd, resumed=True)
    assert resumed.clock.tick == 2 and isinstance(resumed.protocol, Debate)
    resumed.run(ticks=3)
    resumed.close()
    lines = [x for x in rd.events_path.read_text().splitlines() if '"run_resumed"' not in x]
    assert lines == whole.run_dir.events_path.read_text().splitlines()
    assert [e.values for e in resumed.events if isinstance(e, Measured)] == [
        e.values for e in whole.events if isinstance(e, Measured)]
    assert (rd.path / "measures.csv").read_text() == (
        whole.run_dir.path / "measures.csv").read_text()


def test_the_llm_judge_is_asked_when_the_world_says_so(tmp_path):
    import yaml

    folder = tmp_path / "w"
    shutil.copytree(DEBATE, folder)
    spec = yaml.safe_load((folder / "world.yaml").read_text())
    spec["protocol"].update(judge="llm", limit=1)
    (folder / "world.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    sim = Simulation.load(str(folder), seed=0, embedder="hash")
    sim.run(ticks=4)  # one question: three rounds, then the protocol is done
    assert sim.protocol.finished
    rows = [e.values for e in sim.events if isinstance(e, Measured)]
    assert len(rows) == 3 * (4 + 1)  # rounds x (answers + the majority)
    assert sim.llm.usage.summary()["by_template"]["answer_judge"]["calls"] == len(rows)
    # on the offline mind the LLM judge's rule is the normalised match
    assert all(r["correct"] == (r.get("answer", r.get("majority")) == "391") for r in rows)


def test_validate_names_the_protocol(tmp_path):
    from click.testing import CliRunner

    from agentsim.cli import main

    out = CliRunner().invoke(main, ["validate", str(DEBATE)])
    assert out.exit_code == 0 and out.output.strip().endswith(", protocol debate")
