"""Dialogue through the self-refine loop: the checks on a turn, the offline critic and
reviser, and conversations whose turns are refined (`Settings.refine_dialogue`)."""

from __future__ import annotations

import itertools
from pathlib import Path

from agentsim.cognition.schemas import Turn
from agentsim.cognition.turn import repeats, turn_problems
from agentsim.contracts import CONVERSE_TURN, DIALOGUE_CRITIQUE, DIALOGUE_REFINE
from agentsim.events import Conversation, Refined
from agentsim.experiment import Simulation
from agentsim.llm.offline import OfflineMind
from agentsim.llm.offline.dialogue import dialogue_critique, dialogue_refine
from agentsim.testing import FakeLLM

SMALLVILLE = Path(__file__).resolve().parent.parent / "worlds" / "smallville"
VARS = CONVERSE_TURN.example().model_copy(update={
    "transcript": [{"speaker": "Tom Moreno", "text": "Did you hear about the party?"}],
    "memories": [{"id": 3, "text": "x"}, {"id": 7, "text": "y"}],
    "fact": {"id": "knowledge/menu.md#2", "title": "Menu", "text": "Scones"}})


def test_turn_checks_name_what_is_wrong():
    good = Turn(utterance="Yes! Isabella told me this morning.", shares_memory_id=7,
                cites="knowledge/menu.md#2")
    assert turn_problems(good, VARS) == []
    assert turn_problems(Turn(utterance="Did you hear about the party?"), VARS) == [
        "it repeats something already said in this conversation"]
    assert "memory 5 is not one of the memories given" in turn_problems(
        Turn(utterance="Sure.", shares_memory_id=5), VARS)
    assert "knowledge/x.md#1 is not the passage given" in turn_problems(
        Turn(utterance="Sure.", cites="knowledge/x.md#1"), VARS)
    assert turn_problems(Turn(utterance="  "), VARS) == ["the turn says nothing"]
    assert "too long" in turn_problems(Turn(utterance="word " * 90), VARS)[0]
    assert repeats("did you hear about the party", "Did you HEAR about the party?!")
    assert not repeats("I baked scones", "Did you hear about the party?")


def test_offline_critic_and_reviser_follow_the_feedback():
    def critique(**over):
        return dialogue_critique(DIALOGUE_CRITIQUE.example().model_copy(update=over), 0)

    def revise(**over):
        return dialogue_refine(DIALOGUE_REFINE.example().model_copy(
            update={"transcript": [], **over}), 0)

    assert critique(problems=[])["satisfied"]
    bad = critique(problems=["it repeats something already said"])
    assert not bad["satisfied"] and bad["failed"] == ["moves on"]
    fixed = revise(other={"name": "Tom Moreno"}, history=[{
        "turn": {"utterance": "Hi", "shares_memory_id": 5, "cites": None,
                 "end_conversation": False},
        "feedback": {"critique": "memory 5 is not one of the memories given"}}])
    assert fixed["shares_memory_id"] is None and fixed["utterance"] == "Hi"
    bye = revise(other={"name": "Tom Moreno"}, history=[{
        "turn": {"utterance": "Hi", "end_conversation": False},
        "feedback": {"critique": "it repeats something already said"}}])
    assert bye["end_conversation"] and "Tom" in bye["utterance"]


def _client(backend):
    import asyncio
    import random

    from agentsim.llm.factory import compose
    from agentsim.llm.prompts import PromptLibrary

    return compose({"smart": backend}, PromptLibrary(), rng=random.Random(0),
                   sleep=lambda s: asyncio.sleep(0))


def test_a_parrot_is_refined_into_a_goodbye():
    """Every first draft repeats the last line: the checks catch it, the reviser ends the talk."""
    mind = OfflineMind()

    def fn(template, v):
        if template == "converse_turn" and v["transcript"]:
            return {"utterance": v["transcript"][-1]["text"]}
        return mind.answer(template, v, 0)

    backend = FakeLLM(fn)
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=_client(backend),
                          skills=False)
    sim.settings = sim.settings.replace(refine_dialogue=2)
    sim.run(hours=3)
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    assert talks
    for c in talks:
        texts = [t.text for t in c.turns]
        assert all(not repeats(b, a) for a, b in itertools.pairwise(texts))
        assert len(c.turns) <= 2  # the second turn was the goodbye
    loops = [e for e in sim.events if isinstance(e, Refined) and e.kind == "dialogue"]
    revised = [e for e in loops if len(e.attempts) == 2]
    assert revised and all(e.stopped == "satisfied" for e in revised)
    assert "dialogue_refine" in backend.templates()
    sim.close()


def test_dialogue_is_not_refined_unless_asked():
    backend = FakeLLM(lambda t, v: OfflineMind().answer(t, v, 0))
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=_client(backend),
                          skills=False)
    sim.run(hours=2)
    assert "dialogue_critique" not in backend.templates()
    assert not any(isinstance(e, Refined) and e.kind == "dialogue" for e in sim.events)
    sim.close()
