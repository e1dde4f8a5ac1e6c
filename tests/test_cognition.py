"""Cognition on hand-made situations: plan decomposition, reflection, conversation."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.plan import next_action, plan_day
from agentsim.cognition.reflect import reflect, should_reflect
from agentsim.cognition.relationships import Relationships
from agentsim.events import Conversation, Learned, PlanMade, Reflected
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world
from agentsim.world.schema import ScheduledEvent

ROOT = Path(__file__).resolve().parent.parent
WORLD = load_world(ROOT / "worlds" / "smallville")
EMB = HashEmbedder()


async def _embed(texts):
    return EMB.embed(list(texts))


def make_agent(aid: str) -> Agent:
    p = WORLD.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), p.home)


def make_ctx(fn=None, now=datetime(2023, 2, 13, 8, 0), threshold=150) -> Context:
    mind = OfflineMind()
    backend = FakeLLM(fn or (lambda tid, v: mind.answer(tid, v, 0)))
    return Context(client_for(backend), _embed, WORLD.places, "Smallville", now, 0,
                   Settings(reflection_threshold=threshold))


async def test_plan_day_then_hour_then_minutes():
    plans = {
        "day_plan": {"items": [
            {"start": "07:00", "activity": "open the cafe", "place": "hobbs_cafe_counter"},
            {"start": "10:00", "activity": "go to the moon", "place": "the_moon"},
            {"start": "12:00", "activity": "have lunch", "place": "hobbs_cafe_kitchen"},
        ]},
    }
    seen = []

    def fn(tid, v):
        seen.append((tid, v))
        if tid == "decompose" and v["granularity"] == "hour":
            return {"steps": [{"minutes": 60, "activity": "do a"},
                              {"minutes": 60, "activity": "do b"},
                              {"minutes": 60, "activity": "do c"}]}
        if tid == "decompose":
            return {"steps": [{"minutes": 15, "activity": "brew", "object": "nope"},
                              {"minutes": 45, "activity": "serve"}]}
        return plans.get(tid) or OfflineMind().answer(tid, v, 0)

    agent = make_agent("isabella_rodriguez")
    ctx = make_ctx(fn)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    assert [a.start.time() for a in agent.day_plan] == [time(7), time(10), time(12)]
    # The critic finds the unknown place; the refinement puts the routine's place instead.
    assert agent.day_plan[1].place == "hobbs_cafe_counter"
    assert agent.day_plan[-1].end.time() == agent.persona.sleep
    assert any(isinstance(e, PlanMade) and e.level == "day" for e in ctx.events)
    assert agent.memory.records(kinds={MemoryKind.plan})

    action = await next_action(agent, ctx)  # 08:00: chunk b (08:00-09:00), first step
    assert [h.activity for h in agent.hour_plan] == ["do a", "do b", "do c"]
    assert agent.hour_plan[1].start.hour == 8
    assert action.activity == "brew" and action.object is None  # unknown object dropped
    assert (action.end - action.start).total_seconds() == 15 * 60
    assert agent.steps[-1].end == agent.hour_plan[1].end
    granularities = [v["granularity"] for t, v in seen if t == "decompose"]
    assert granularities == ["hour", "minutes"]


async def test_reflection_trigger_and_evidence():
    agent = make_agent("klaus_mueller")
    ctx = make_ctx(threshold=20)
    await memorize(agent, [Experience(MemoryKind.observation, f"Maria Lopez is studying {i}",
                                      about=("Maria Lopez",), importance=4) for i in range(4)],
                   ctx)
    assert not should_reflect(agent, ctx)
    await memorize(agent, [Experience(MemoryKind.observation, "Maria Lopez smiled at me",
                                      about=("Maria Lopez",), importance=6)], ctx)
    assert should_reflect(agent, ctx)
    before = len(agent.memory)
    await reflect(agent, ctx)
    refl = agent.memory.records(kinds={MemoryKind.reflection})
    assert refl and len(agent.memory) > before
    for r in refl:
        assert r.evidence and all(e < before or agent.memory.get(e).kind == MemoryKind.reflection
                                  for e in r.evidence)
    assert [e for e in ctx.events if isinstance(e, Reflected)]
    assert agent.memory.importance_since_reflection < 20
    # Later reflections can build on earlier ones: reflections are retrievable memories.
    assert any(s.record.kind == MemoryKind.reflection for s in agent.memory.retrieve(
        EMB.embed(["Maria Lopez"])[0], ctx.now, k=20))


async def test_a_reflection_waits_on_three_model_calls_in_a_row(in_flight_gate):
    """The questions, then every question's insights at once (each held until all three are
    in flight), then one importance call for all the new insights; an insight two
    questions bring is remembered once."""
    gate = in_flight_gate(3, hang_guard=20)
    mind = OfflineMind()
    asked: list[str] = []

    async def fn(tid, v):
        asked.append(tid)
        if tid == "reflect_questions":
            return {"questions": ["What does Maria like?", "Who is Maria?", "Why study?"]}
        if tid == "reflect_insights":
            await gate.hold()
            return {"insights": [{"text": "Maria Lopez studies hard", "evidence": [0, 1]},
                                 {"text": f"Maria Lopez and {v['question']}", "evidence": [2]}]}
        return mind.answer(tid, v, 0)

    agent = make_agent("klaus_mueller")
    ctx = make_ctx(fn, threshold=20)
    await memorize(agent, [Experience(MemoryKind.observation, f"Maria Lopez is studying {i}",
                                      about=("Maria Lopez",), importance=6) for i in range(4)],
                   ctx)
    asked.clear()
    await reflect(agent, ctx)
    gate.check()
    assert asked.count("importance") == 1
    texts = [r.text for r in agent.memory.records(kinds={MemoryKind.reflection})]
    assert texts == ["Maria Lopez studies hard", "Maria Lopez and What does Maria like?",
                     "Maria Lopez and Who is Maria?", "Maria Lopez and Why study?"]
    assert [e.question for e in ctx.events if isinstance(e, Reflected)] == [
        "What does Maria like?", "What does Maria like?", "Who is Maria?", "Why study?"]


async def test_the_listener_remembers_what_was_said_not_the_speakers_event():
    """Issue 14: information travels only through what is said. The turn's provenance (which
    memory it drew on) stays in the event; the listener keeps the words, with the speaker."""
    isabella, tom = make_agent("isabella_rodriguez"), make_agent("tom_moreno")
    tom.location = isabella.location
    mind = OfflineMind()
    said = ("Tom! I'm hosting a Valentine's Day party at Hobbs Cafe on February 14 from 17:00 "
            "to 19:00, would you like to come?")

    def fn(tid, v):
        if tid == "converse_turn" and v["turn"] == 0:
            return {"utterance": said, "shares_memory_id": 0, "end_conversation": False}
        if tid == "converse_turn":
            return {"utterance": "Thanks, I'll think about it.", "end_conversation": True}
        return mind.answer(tid, v, 0)

    ctx = make_ctx(fn, now=datetime(2023, 2, 13, 9, 0))
    party = ScheduledEvent(title="Valentine's Day party", place="hobbs_cafe",
                           start=datetime(2023, 2, 14, 17), end=datetime(2023, 2, 14, 19),
                           host="Isabella Rodriguez")
    await memorize(isabella, [Experience(MemoryKind.observation, "I am planning a party",
                                         importance=8, event=party)], ctx)
    rel = Relationships.from_personas(WORLD.personas)
    await converse(isabella, tom, rel, ctx)
    [conv] = [e for e in ctx.events if isinstance(e, Conversation)]
    assert conv.turns[0].shares_memory == 0  # provenance, for analysis
    assert not [r for r in tom.memory.records() if r.event is not None]  # no copied event
    heard = [r for r in tom.memory.records() if r.source == "Isabella Rodriguez"]
    assert [r.text for r in heard] == [f'Isabella Rodriguez said to me: "{said}"']
    assert heard[0].kind is MemoryKind.chat and heard[0].about == ("Isabella Rodriguez",)
    assert not [e for e in ctx.events if isinstance(e, Learned)]
    assert rel.get("Tom Moreno", "Isabella Rodriguez")["conversations"] == 1
    # Isabella keeps what Tom said to her the same way
    assert [r.text for r in isabella.memory.records() if r.source == "Tom Moreno"] == [
        'Tom Moreno said to me: "Thanks, I\'ll think about it."']


async def test_interview_answers_from_memory_without_changing_it():
    """Rendered through the real prompt files (StrictUndefined catches a missing variable)."""
    agent = make_agent("sam_moore")
    ctx = make_ctx()
    await memorize(agent, [Experience(MemoryKind.observation, "I am running for mayor")], ctx)
    from agentsim.cognition.interview import interview

    n = len(agent.memory)
    ans = await interview(agent, "What are you running for?", ctx)
    assert ans.answer
    assert ans.memories and ans.memories[0].record.text == "I am running for mayor"
    assert len(agent.memory) == n
    await interview(agent, "What are you running for?", ctx, remember=True)
    assert len(agent.memory) == n + 1
