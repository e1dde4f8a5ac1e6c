"""The reaction (issue 17): what to react to needs nothing scored this tick, so the reaction
is asked beside the importance of what was seen; a reaction that starts a conversation says
its first line, which is the conversation's first turn (not asked again)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.perceive import Seen, WorldView, perceive
from agentsim.cognition.plan import plan_day
from agentsim.cognition.react import Opening, choose, consider, react_to
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.step import step
from agentsim.events import Conversation
from agentsim.experiment import Simulation
from agentsim.llm.factory import build_llm, client_for
from agentsim.llm.offline import OfflineMind
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
WORLD = load_world(ROOT / "worlds" / "smallville")
EMB = HashEmbedder()
NOW = datetime(2023, 2, 13, 10, 0)
MIND = OfflineMind()


async def _embed(texts):
    return EMB.embed(list(texts))


def _agent(aid: str) -> Agent:
    p = WORLD.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), "hobbs_cafe_counter", random.Random(0))


def _ctx(fn, now: datetime = NOW, **settings) -> tuple[Context, FakeLLM]:
    fake = FakeLLM(fn)
    return Context(client_for(fake), _embed, WORLD.places, "Smallville", now, 0,
                   Settings(**settings)), fake


def _offline(tid, v):
    return MIND.answer(tid, v, 0)


def _seen(agent: Agent, activity: str = "drinking coffee") -> Seen:
    return Seen(agent.id, agent.name, agent.location,
                WORLD.places.area_of(agent.location), activity, activity, True, False)


def _view(*agents: Agent) -> WorldView:
    return WorldView(agents={a.id: _seen(a) for a in agents}, objects={})


def _busy(agent: Agent, now: datetime = NOW) -> Agent:
    agent.action = Action("working", agent.location, now, now + timedelta(minutes=10))
    return agent


async def test_the_reaction_is_asked_beside_the_importance_of_what_was_seen(in_flight_gate):
    """Isabella sees Tom: her `react` and her `importance` requests are held until both are
    in flight at once, so a step that scored before reacting could not go on."""
    gate = in_flight_gate(2, hang_guard=20)

    async def fn(tid, v):
        if tid in ("importance", "react"):
            await gate.hold()
        if tid == "react":
            return {"react": False, "reason": "busy"}
        return _offline(tid, v)

    isabella, tom = _agent("isabella_rodriguez"), _agent("tom_moreno")
    ctx, fake = _ctx(fn)
    await plan_day(isabella, ctx)
    await ctx.settle()
    isabella.awake = True
    _busy(isabella)
    intent = await step(isabella, _view(isabella, tom), Relationships(), ctx)
    gate.check()
    assert intent.talk_to is None
    assert {"importance", "react"} <= set(fake.templates())
    # what she saw is remembered all the same, scored
    assert [r.importance for r in isabella.memory.records({MemoryKind.observation})
            if "Tom Moreno" in r.text]


async def test_the_reaction_retrieves_what_was_remembered_before_this_tick():
    """The reaction's memories are retrieved before this tick's observations are stored:
    the observation is in its prompt, never among its memories."""
    isabella, tom = _agent("isabella_rodriguez"), _agent("tom_moreno")
    asked = []

    def fn(tid, v):
        if tid == "react":
            asked.append(v)
            return {"react": False, "reason": "busy"}
        return _offline(tid, v)

    ctx, _ = _ctx(fn)
    await memorize(isabella, [Experience(MemoryKind.observation, "Tom Moreno likes jazz",
                                         about=("Tom Moreno",), importance=4)], ctx)
    isabella.awake, isabella.plan_date = True, NOW.date()
    _busy(isabella)
    await step(isabella, _view(isabella, tom), Relationships(), ctx)
    [v] = asked
    assert v["observation"].startswith("Tom Moreno is")
    assert [m["text"] for m in v["memories"]] == ["Tom Moreno likes jazz"]
    assert any(r.text == v["observation"] for r in isabella.memory.records())


async def test_what_was_heard_is_considered_before_a_person_seen_and_people_by_closeness():
    isabella, tom, klaus = (_agent(a) for a in ("isabella_rodriguez", "tom_moreno",
                                                "klaus_mueller"))
    _busy(isabella)
    view = _view(isabella, tom, klaus)
    new = perceive(isabella, view, WORLD.places, 10)
    rel = Relationships()
    rel.after_conversation("Isabella Rodriguez", "Klaus Mueller", "a friend", 0.4)
    ctx, _ = _ctx(_offline)
    observed, other = choose(isabella, new, view, rel, ctx)
    assert other.id == "klaus_mueller" and observed.startswith("Klaus Mueller is")
    # something heard last tick, important enough, comes first (its importance is known)
    heard = _ctx(_offline, now=NOW - timedelta(minutes=5))[0]
    await memorize(isabella, [Experience(
        MemoryKind.chat, 'Maria Lopez said to me: "the cafe floods at noon"',
        about=("Maria Lopez",), source="Maria Lopez", importance=7)], heard)
    observed, other = choose(isabella, new, view, rel, ctx)
    assert other is None and observed.text.startswith("Maria Lopez said to me")


@pytest.mark.parametrize("answer, expected", [
    ({"opening": "Morning, Tom! Busy day?", "shares_memory_id": 0},
     Opening("Morning, Tom! Busy day?", 0)),
    ({"opening": "Hi  Tom,\nhow are you?", "shares_memory_id": 99},  # not a memory given
     Opening("Hi Tom, how are you?", None)),
    ({"opening": "n/a"}, None),  # not words: the first turn is asked instead
    ({"opening": "12:30"}, None),
    ({}, None),
])
async def test_a_reaction_that_starts_a_talk_says_its_first_line(answer, expected):
    isabella, tom = _agent("isabella_rodriguez"), _agent("tom_moreno")
    _busy(isabella)
    ctx, _ = _ctx(lambda tid, v: {"react": True, "reason": "say hello", **answer}
                  if tid == "react" else _offline(tid, v))
    await memorize(isabella, [Experience(MemoryKind.observation, "Tom Moreno likes jazz",
                                         about=("Tom Moreno",), importance=4)],
                   _ctx(_offline, now=NOW - timedelta(hours=1))[0])
    view = _view(isabella, tom)
    new = perceive(isabella, view, WORLD.places, 10)
    considered = await consider(isabella, new, view, Relationships(), ctx)
    reacted = await react_to(isabella, considered, ctx, revise=False)
    assert reacted.talk_to == "tom_moreno"
    assert reacted.opening == expected


def _talk_llm(calls):
    def fn(tid, v):
        calls.append((tid, dict(v)))
        if tid == "converse_turn":
            return {"utterance": f"Line {v['turn']}.", "end_conversation": v["turn"] >= 2}
        if tid == "dialogue_critique":
            return {"satisfied": True, "score": 0.9, "critique": ""}
        return _offline(tid, v)
    return fn


async def test_the_first_line_is_the_conversations_first_turn_and_not_asked_again():
    isabella, tom = _agent("isabella_rodriguez"), _agent("tom_moreno")
    calls: list = []
    ctx, _ = _ctx(_talk_llm(calls))
    await converse(isabella, tom, Relationships(), ctx, Opening("Hi Tom! Jazz tonight?", 3))
    [conv] = [e for e in ctx.events if isinstance(e, Conversation)]
    assert [(t.speaker, t.text) for t in conv.turns] == [
        ("isabella_rodriguez", "Hi Tom! Jazz tonight?"), ("tom_moreno", "Line 1."),
        ("isabella_rodriguez", "Line 2.")]
    assert conv.turns[0].shares_memory == 3
    assert [v["turn"] for t, v in calls if t == "converse_turn"] == [1, 2]
    [turn1] = [v for t, v in calls if t == "converse_turn" and v["turn"] == 1]
    assert turn1["transcript"][0] == {"speaker": "Isabella Rodriguez",
                                      "text": "Hi Tom! Jazz tonight?", "cites": None}
    # Tom keeps what she said first, as any line said to him
    assert any(r.text == 'Isabella Rodriguez said to me: "Hi Tom! Jazz tonight?"'
               for r in tom.memory.records())


async def test_with_refined_dialogue_the_first_line_is_the_first_draft_judged():
    isabella, tom = _agent("isabella_rodriguez"), _agent("tom_moreno")
    calls: list = []
    ctx, _ = _ctx(_talk_llm(calls), refine_dialogue=2)
    await converse(isabella, tom, Relationships(), ctx, Opening("Hi Tom! Jazz tonight?"))
    critiques = [v for t, v in calls if t == "dialogue_critique"]
    assert critiques[0]["utterance"] == "Hi Tom! Jazz tonight?"
    assert [v["turn"] for t, v in calls if t == "converse_turn"] == [1, 2]
    [conv] = [e for e in ctx.events if isinstance(e, Conversation)]
    assert conv.turns[0].text == "Hi Tom! Jazz tonight?"


def test_a_tick_opens_each_reactions_talk_with_its_line():
    """Through the engine, on the offline mind: every conversation a reaction started opens
    with the line the reaction said (the offline mind always says one), and no first turn
    is asked of `converse_turn`."""
    requests: list = []

    class Recording:
        def __init__(self):
            self.edges = build_llm("offline")  # usage, describe, budget, state, close

        def __getattr__(self, name):
            return getattr(self.edges, name)

        async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
            data = MIND.answer(template_id, variables, 0)
            requests.append((template_id, agent, variables, data))
            return schema.model_validate(data) if schema else data

    sim = Simulation.load(str(ROOT / "worlds" / "smallville"), seed=1, embedder="hash",
                          llm=Recording(), settings={"skills": False})
    sim.clock.tick = 12  # 08:00
    sim.run(hours=2)
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    sim.close()
    assert talks
    openings = {(a, d["opening"]) for t, a, _, d in requests if t == "react" and d["react"]
                and d.get("opening")}
    assert all((c.turns[0].speaker, c.turns[0].text) in openings for c in talks)
    assert not [v for t, _, v, _ in requests if t == "converse_turn" and v["turn"] == 0]
