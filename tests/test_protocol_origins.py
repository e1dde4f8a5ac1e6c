"""Protocol measures say which answers came from the model: every row that counts an answer
carries its origin, and a model run's accuracy over the model's own answers leaves out what the
offline mind answered as a fallback. A request-level fake model (no network) fails one
debater's calls, so the fallback answers them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agentsim.contracts import DEBATE_ANSWER, UNKNOWN, Answered
from agentsim.experiment import Simulation
from agentsim.llm.base import Completion, Prompt
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.protocols.classroom import Classroom
from agentsim.protocols.debate import Debate
from agentsim.protocols.judge import RULE, Judged, judge
from agentsim.protocols.measures import SCRIPTED, answer_origins, report_section
from agentsim.protocols.studio import Studio
from agentsim.testing import test_client

ROOT = Path(__file__).resolve().parents[1]
DEBATE = ROOT / "worlds" / "debate"
FAILS = "Ada Okafor"  # the debater whose every call the fake model fails


class Model:
    """A fake model: the offline mind's answers, but every other debater answers "0" (wrong
    on every question) and Ada's calls get no JSON at all (so the fallback answers them)."""

    name = "fake-model"
    model = "fake-model"

    def __init__(self) -> None:
        self.mind = OfflineMind()

    async def complete(self, prompt: Prompt) -> Completion:
        if prompt.template_id == "debate_answer":
            if prompt.variables["persona"]["name"] == FAILS:
                return Completion("I would rather not say.", 10, 5, self.model)
            text = json.dumps({"answer": "0", "reasoning": "a guess"})
        else:
            text = json.dumps(self.mind.answer(prompt.template_id, prompt.variables,
                                               prompt.seed))
        return Completion(text, 10, 5, self.model)

    async def aclose(self) -> None:
        return None


def model_run(**kw):
    return test_client(Model(), PromptLibrary(), fallback=OfflineMind(),
                       fallback_policy="offline", max_retries=0, **kw)


def debate(tmp_path, llm, ticks=3):
    sim = Simulation.load(str(DEBATE), seed=0, embedder="hash", out=str(tmp_path / "run"),
                          llm=llm)
    sim.run(ticks=ticks)  # one question, three rounds
    sim.close()
    rows = [dict(e.values) for e in sim.events if e.type == "measured"]
    return sim, rows


def test_a_fallback_answer_is_marked_and_left_out_of_the_models_accuracy(tmp_path):
    sim, rows = debate(tmp_path, model_run())
    answers = [r for r in rows if r["kind"] == "answer"]
    ada = next(a for a, p in sim.world.personas.items() if p.name == FAILS)
    assert {r["origin"] for r in answers if r["agent"] == ada} == {"fallback"}
    assert {r["origin"] for r in answers if r["agent"] != ada} == {"model"}
    # the offline mind's careful actuary gets 17 * 23 right at first (then goes with the
    # panel); the model's "0" never is
    assert [r["correct"] for r in answers if r["agent"] == ada] == [True, False, False]
    assert not any(r["correct"] for r in answers if r["agent"] != ada)
    s = json.loads((sim.run_dir.path / "measures.json").read_text())
    assert s["single_agent"] == 0.25 and s["single_agent_model"] == 0.0
    assert s["one_agent_accuracy_model_by_round"] == {"0": 0.0, "1": 0.0, "2": 0.0}
    assert s["fallback_answers"] == 3 and s["answers_by_origin"] == {"fallback": 3, "model": 9}
    assert s["model_share"] == 0.75 and s["answered_by"] == "model + fallbacks"
    # the round's majority of the model's own answers: "0", wrong
    rounds = [r for r in rows if r["kind"] == "round"]
    assert [(r["model_answers"], r["majority_model"], r["correct_model"]) for r in rounds] \
        == [(3, "0", False)] * 3
    csv = (sim.run_dir.path / "measures.csv").read_text().splitlines()
    assert "origin" in csv[0].split(",") and "judged_by" in csv[0].split(",")
    body, _ = report_section(sim.events, Debate, tmp_path)
    assert "| single agent model | 0.00 |" in body and "| model share | 0.75 |" in body


def test_a_replay_keeps_the_origin_the_run_recorded(tmp_path):
    log = tmp_path / "llm.jsonl"
    _, first = debate(tmp_path / "a", model_run(recorder=Recorder(log)))
    replay = test_client(Model(), PromptLibrary(), replay=ReplaySource(log))  # no call made
    _, again = debate(tmp_path / "b", replay)
    assert again == first  # a replayed fallback is still a fallback, not "replay"
    assert replay.usage.total.origins == {"replay": len(log.read_text().splitlines())}


def test_a_cached_answer_keeps_who_gave_it_and_a_fallback_is_never_cached(tmp_path):
    cache = tmp_path / "cache.sqlite"
    v = DEBATE_ANSWER.example()

    async def twice(persona: str) -> list[str]:
        mine = v.model_copy(update={"persona": {**v.persona, "name": persona}})
        out = []
        for _ in range(2):
            llm = model_run(cache=ResponseCache(cache))
            out.append((await DEBATE_ANSWER.answer(llm, mine, agent="a")).origin)
            stored = llm.usage.total.cache_hits
            await llm.aclose()
        return [*out, stored]

    # the second answer comes from the cache (a cache hit), still the model's
    assert asyncio.run(twice("Ben Larsen")) == ["model", "model", 1]
    assert asyncio.run(twice(FAILS)) == ["fallback", "fallback", 0]  # never cached


def test_a_fake_with_only_ask_gives_answers_of_unknown_origin():
    class Bare:
        async def ask(self, template_id, variables, *, schema=None, tier="smart",
                      agent=None):
            return schema.model_validate({"answer": "7", "reasoning": "r"})

    got = asyncio.run(DEBATE_ANSWER.answer(Bare(), DEBATE_ANSWER.example()))
    assert isinstance(got, Answered) and got.origin == UNKNOWN and got.value.answer == "7"


def test_an_offline_run_says_its_answers_are_the_scripted_baseline(tmp_path):
    sim = Simulation.load(str(DEBATE), seed=0, embedder="hash", out=str(tmp_path / "run"))
    sim.run(ticks=3)
    sim.close()
    s = json.loads((sim.run_dir.path / "measures.json").read_text())
    assert s["answered_by"] == SCRIPTED and s["model_share"] is None
    assert s["answers_by_origin"] == {"offline": 12}
    assert "single_agent_model" not in s  # no fallback: no second figure


def test_classroom_accuracy_over_the_models_answers_only():
    rows = [{"kind": "quiz", "phase": p, "agent": a, "question": "q", "correct": c,
             "origin": o}
            for p, a, c, o in [("before", "ann", False, "model"), ("before", "bob", True,
                                                                  "fallback"),
                               ("after", "ann", True, "model"), ("after", "bob", True,
                                                                 "fallback"),
                               ("after", "ann", False, "repaired")]]
    s = Classroom.summarise(rows)
    assert s["class_score_before"] == 0.5 and s["class_score_before_model"] == 0.0
    assert s["class_score_after"] == 2 / 3 and s["class_score_after_model"] == 0.5
    assert s["fallbacks_by_student"] == {"ann": 0, "bob": 2}
    assert s["model_share"] == 3 / 5
    assert answer_origins([])["answered_by"] is None



def test_the_llm_judges_verdict_says_who_gave_it():
    class Judge(Model):
        async def complete(self, prompt: Prompt) -> Completion:
            return Completion("no verdict here", 10, 5, self.model)

    failing = test_client(Judge(), PromptLibrary(), fallback=OfflineMind(),
                          fallback_policy="offline", max_retries=0)
    v = asyncio.run(judge("llm", "What is 17 * 23?", ["391"], "391", failing))
    assert v == Judged(True, "fallback")
    assert asyncio.run(judge("normalised", "q", ["391"], "391.0", failing)) == \
        Judged(True, RULE)


def test_studio_counts_fallback_candidates_apart():
    it = [{"kind": "iteration", "iteration": i, "passed": p, "total": 4,
           "candidate_passed": c, "accepted": a, "candidate_origin": o}
          for i, p, c, a, o in [(0, 0, None, None, None), (1, 4, 4, True, "fallback"),
                                (2, 4, 1, False, "model")]]
    s = Studio.summarise(it)
    assert s["candidate_by_round"] == {1: 1.0, 2: 0.25}
    assert s["candidate_model_by_round"] == {2: 0.25}
    assert s["accepted_fallbacks"] == 1 and s["model_share"] == 0.5


class Failing(Model):
    """The offline mind's answers as a model's, but `template` asked for `name` gets no JSON."""

    def __init__(self, template: str, name: str) -> None:
        super().__init__()
        self.template, self.name_ = template, name

    async def complete(self, prompt: Prompt) -> Completion:
        persona = prompt.variables.get("persona") or {}
        if prompt.template_id == self.template and persona.get("name") == self.name_:
            return Completion("I would rather not say.", 10, 5, self.model)
        text = json.dumps(self.mind.answer(prompt.template_id, prompt.variables, prompt.seed))
        return Completion(text, 10, 5, self.model)


def run_with(world: str, backend: Model, tmp_path, ticks: int):
    llm = test_client(backend, PromptLibrary(), fallback=OfflineMind(),
                      fallback_policy="offline", max_retries=0)
    sim = Simulation.load(str(ROOT / "worlds" / world), seed=0, embedder="hash",
                          out=str(tmp_path / "run"), llm=llm)
    sim.run(ticks=ticks)
    sim.close()
    s = json.loads((sim.run_dir.path / "measures.json").read_text())
    return [dict(e.values) for e in sim.events if e.type == "measured"], s


def test_a_students_fallback_quiz_answers_are_marked(tmp_path):
    rows, s = run_with("classroom", Failing("interview", "Sam Okoro"), tmp_path, ticks=1)
    quiz = [r for r in rows if r["kind"] == "quiz"]
    assert {r["origin"] for r in quiz if r["agent"] == "sam_okoro"} == {"fallback"}
    assert {r["origin"] for r in quiz if r["agent"] != "sam_okoro"} == {"model"}
    mine = [r["correct"] for r in quiz if r["agent"] != "sam_okoro"]
    assert s["class_score_before_model"] == sum(mine) / len(mine)
    assert s["fallbacks_by_student"]["sam_okoro"] == len(quiz) // 4


def test_a_fallback_candidate_is_marked(tmp_path):
    rows, s = run_with("studio", Failing("code_change", "Ravi Mehta"), tmp_path, ticks=1)
    it = [r for r in rows if r["kind"] == "iteration"]
    assert [r.get("candidate_origin") for r in it] == [None, "fallback"]  # 0: the starter
    assert it[1]["review_origin"] == "model" and it[1]["report_origin"] == "model"
    assert s["fallback_answers"] == 1 and s["model_share"] == 0.0
    assert s["candidate_model_by_round"] == {}
