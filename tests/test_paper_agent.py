"""The paper's agent, completed (Park et al. 2023): the summary description rebuilt daily from
retrieved memories, the day plan conditioned on it and on yesterday's retrieved memories and
reflections, and reflection at the paper's sizes. Requests are checked at the level of the
variables each template is asked with (a fake LLM records them)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.plan import plan_day
from agentsim.cognition.reflect import EVIDENCE_K, reflect
from agentsim.cognition.summary import ASPECTS, describe
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
WORLD = load_world(ROOT / "worlds" / "smallville")
EMB = HashEmbedder()
DAY1 = datetime(2023, 2, 13, 7, 0)
DAY2 = DAY1 + timedelta(days=1)


async def _embed(texts):
    return EMB.embed(list(texts))


def make_agent(aid: str = "isabella_rodriguez") -> Agent:
    p = WORLD.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), p.home, random.Random(0))


def recording(answer=None):
    """A backend answering as the offline mind (or `answer`), keeping every request."""
    mind = OfflineMind()
    return FakeLLM(answer or (lambda tid, v: mind.answer(tid, v, 0)))


def ctx_at(backend: FakeLLM, now: datetime, **settings) -> Context:
    return Context(client_for(backend), _embed, WORLD.places, "Smallville", now, 0,
                   Settings(**settings))


def asked(backend: FakeLLM, template: str) -> list[dict]:
    return [dict(p.variables) for p in backend.calls if p.template_id == template]


async def remember(agent: Agent, text: str, when: datetime, kind=MemoryKind.observation,
                   importance: int = 5) -> None:
    await memorize(agent, [Experience(kind, text, importance=importance)],
                   ctx_at(recording(), when))


async def test_summary_is_rebuilt_each_day_from_memories():
    agent = make_agent()
    await remember(agent, "Isabella Rodriguez is serving coffee at Hobbs Cafe", DAY1)
    backend = recording()
    await describe(agent, ctx_at(backend, DAY1))
    first = asked(backend, "summary")
    assert [v["aspect"] for v in first] == [a for a, _ in ASPECTS]
    assert [v["question"] for v in first] == [q.format(name=agent.name) for _, q in ASPECTS]
    assert agent.summary and agent.summary_date == DAY1.date()
    assert all("summary" not in v["persona"] for v in first)  # rebuilt from memory alone

    # Later the same day nothing is asked again: the summary is cached for the day.
    await remember(agent, "Isabella Rodriguez painted a mural of the sea", DAY1.replace(hour=15))
    await describe(agent, ctx_at(backend, DAY1.replace(hour=16)))
    assert len(asked(backend, "summary")) == 3

    # The next day it is rebuilt, and the memory added on day 1 is among what it retrieves.
    before = agent.summary
    await describe(agent, ctx_at(backend, DAY2))
    second = asked(backend, "summary")[3:]
    assert len(second) == 3 and agent.summary_date == DAY2.date()
    assert any("mural of the sea" in m["text"] for v in second for m in v["memories"])
    assert "mural of the sea" in agent.summary and agent.summary != before
    # ... and yesterday's summary never feeds today's
    assert all("summary" not in v["persona"] for v in second)


async def test_summary_shows_in_every_prompt_persona():
    agent = make_agent()
    assert "summary" not in agent.persona_vars("Smallville")
    agent.summary = "Isabella is warm. Isabella recalls: I love the cafe."
    persona = agent.persona_vars("Smallville")
    assert persona["summary"] == agent.summary
    text = PromptLibrary().render("importance", {"persona": persona, "observations": ["x"]})
    assert any(agent.summary in m["content"] for m in text)
    bare = PromptLibrary().render("importance", {
        "persona": agent.persona_vars("Smallville", summary=False), "observations": ["x"]})
    assert not any("recalls" in m["content"] for m in bare)


async def test_day_plan_sees_the_summary_and_yesterdays_memories_and_reflections():
    agent = make_agent()
    old = DAY1 - timedelta(days=1)
    await remember(agent, "Isabella Rodriguez read a long novel", old.replace(hour=20))
    await remember(agent, "Isabella Rodriguez agreed to cater Klaus's lecture", DAY1, importance=8)
    await remember(agent, "I think the cafe is where the town meets",
                   DAY1.replace(hour=21), kind=MemoryKind.reflection, importance=7)
    backend = recording()
    ctx = ctx_at(backend, DAY2)
    await describe(agent, ctx)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    [v] = asked(backend, "day_plan")
    assert v["persona"]["summary"] == agent.summary != ""
    texts = [m["text"] for m in v["recalled"]]
    assert "Isabella Rodriguez agreed to cater Klaus's lecture" in texts
    assert "I think the cafe is where the town meets" in texts  # a reflection of yesterday
    assert "Isabella Rodriguez read a long novel" not in texts  # the day before: not yesterday
    assert {m["kind"] for m in v["recalled"]} >= {"observation", "reflection"}
    rendered = PromptLibrary().render("day_plan", v)
    assert any("What you remember of yesterday" in m["content"] and
               "where the town meets" in m["content"] for m in rendered)


async def test_day_plan_prompt_keeps_to_its_budget_with_many_memories():
    agent = make_agent()
    for i in range(60):
        await remember(agent, f"Isabella Rodriguez served customer number {i} a long order of "
                       "pastries, coffee and sandwiches for the office party downtown",
                       DAY1 + timedelta(minutes=5 * i))
    backend = recording()
    ctx = ctx_at(backend, DAY2)
    await describe(agent, ctx)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    [v] = asked(backend, "day_plan")
    library = PromptLibrary()
    assert len(v["recalled"]) > 0
    assert library.tokens(library.render("day_plan", v)) <= library.budget("day_plan")


async def test_reflection_asks_three_questions_of_the_last_100_memories_with_5_insights():
    agent = make_agent("klaus_mueller")
    for i in range(120):
        await remember(agent, f"Klaus Mueller noted research fact {i}",
                       DAY1 + timedelta(minutes=i), importance=3)
    questions = ["What is Klaus studying?", "Who does Klaus see?", "What worries Klaus?"]

    def answer(tid, v):
        if tid == "reflect_questions":
            return {"questions": [*questions, "A fourth question?"]}
        if tid == "reflect_insights":
            ids = [m["id"] for m in v["memories"]]
            return {"insights": [{"text": f"{v['question']} insight {j}", "evidence": ids[j:j + 2]}
                                 for j in range(5)]}
        return OfflineMind().answer(tid, v, 0)

    backend = recording(answer)
    await reflect(agent, ctx_at(backend, DAY1 + timedelta(hours=3)))
    [q] = asked(backend, "reflect_questions")
    assert q["n"] == 3
    assert [m["id"] for m in q["memories"]] == list(range(20, 120))  # the 100 most recent
    ins = asked(backend, "reflect_insights")
    assert [v["question"] for v in ins] == questions  # 3 questions, the fourth ignored
    assert all(v["n"] == 5 and len(v["memories"]) == EVIDENCE_K == 30 for v in ins)
    stored = agent.memory.records(kinds={MemoryKind.reflection})
    assert len(stored) == 15  # 5 insights for each of 3 questions
    assert all(r.evidence for r in stored)


async def test_reflection_sizes_are_settings():
    agent = make_agent("klaus_mueller")
    for i in range(12):
        await remember(agent, f"Klaus Mueller noted fact {i}", DAY1 + timedelta(minutes=i))
    backend = recording()
    await reflect(agent, ctx_at(backend, DAY1 + timedelta(hours=1), reflection_recent=10,
                                reflection_questions=2, reflection_insights=1))
    [q] = asked(backend, "reflect_questions")
    assert (q["n"], len(q["memories"])) == (2, 10)
    ins = asked(backend, "reflect_insights")
    assert len(ins) <= 2 and all(v["n"] == 1 for v in ins)
    assert len(agent.memory.records(kinds={MemoryKind.reflection})) <= 2


async def test_state_round_trips_the_summary():
    agent = make_agent()
    await remember(agent, "Isabella Rodriguez is baking", DAY1)
    await describe(agent, ctx_at(recording(), DAY1))
    state, arrays = agent.get_state()
    back = Agent.from_state(agent.persona, state, arrays)
    assert back.summary == agent.summary != ""
    assert back.summary_date == agent.summary_date == DAY1.date()
    # checkpoints written before summaries existed still load, with none
    old = {k: v for k, v in state.items() if k not in ("summary", "summary_date")}
    assert Agent.from_state(agent.persona, old, arrays).summary == ""


def test_offline_summary_rule_quotes_only_the_persona_and_the_memories_given():
    from agentsim.contracts import SUMMARY

    mind = OfflineMind()
    memories = [{"id": i, "text": f"I fixed bicycle number {i}", "kind": "observation",
                 "importance": 3, "about": [], "source": None, "event": None} for i in range(3)]
    said = {a: mind.answer("summary", SUMMARY.sample(aspect=a, memories=memories), 0)["statement"]
            for a, _ in ASPECTS}
    assert said["core"].startswith("Isabella is friendly and outgoing.")
    assert "owner of Hobbs Cafe" in said["occupation"]
    # each aspect quotes a different one of the memories retrieved, best first
    assert [next(i for i in range(3) if f"number {i}." in said[a]) for a, _ in ASPECTS] == [0, 1, 2]
    assert mind.answer("summary", SUMMARY.sample(aspect="feeling", memories=[]), 0) == {
        "statement": "Isabella has little to go on yet."}


def test_a_run_rebuilds_the_summary_on_waking_before_the_day_plan(tmp_path):
    from agentsim import Simulation

    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=0, embedder="hash",
                          out=str(tmp_path))
    sim.run(hours=1)
    woke = {e.agent for e in sim.events if e.type == "woke_up"}
    assert woke
    for aid in woke:
        agent = sim.agents[aid]
        assert agent.summary and agent.summary_date == sim.clock.now.date()
    plans = [e for e in sim.events if e.type == "refined" and e.kind == "day_plan"]
    assert plans and all(e.request["variables"]["persona"]["summary"] ==
                         sim.agents[e.agent].summary for e in plans)
