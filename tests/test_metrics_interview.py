"""Measuring by asking (agentsim.surveys): diffusion and network density by interview, each
"yes" checked against the resident's memories, on Smallville at tick 0 with the offline mind
and the hash embedder (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentsim.cognition.knowing import HALLUCINATED, KNOWS, person_aliases
from agentsim.contracts.knowing import names
from agentsim.evaluate.measures import candidacy, interview_measures
from agentsim.experiment import Simulation
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.testing.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = str(ROOT / "worlds" / "smallville")
PARTY = "Valentine's Day party"


def holders(sim: Simulation, holds) -> set[str]:
    """The residents with a memory whose text, or event title, satisfies `holds`."""
    return {aid for aid, a in sim.agents.items()
            if any(holds(r.text) or (r.event is not None and holds(r.event.title))
                   for r in a.memory.records())}


@pytest.fixture(scope="module")
def sim():
    s = Simulation.load(SMALLVILLE, seed=0, llm="offline", embedder="hash")
    yield s
    s.close()


def test_at_tick_0_only_the_residents_whose_memories_hold_the_party_know_it(sim):
    d = sim.metrics.diffusion(PARTY, by="interview")
    assert sim.clock.tick == 0 and len(d) == 1
    row = d.iloc[0]
    expected = holders(sim, lambda t: PARTY.casefold() in t.casefold())
    assert expected and len(expected) < len(sim.agents)  # the Gazette is read by nobody yet
    assert set(row["who"]) == expected and row["knowers"] == len(expected)
    assert row["total"] == 25 and row["hallucinated"] == 0 and row["hallucinators"] == []
    assert row["share"] == len(expected) / 25
    for p in row["probes"]:
        assert (p.verdict == KNOWS) == (p.agent in expected)
        assert set(p.valid) <= set(p.evidence)


def test_the_candidacy_by_interview_is_checked_with_its_predicate(sim):
    d = sim.metrics.diffusion(candidacy, by="interview", topic="Sam Moore running for mayor",
                              aliases=["mayor", "Smallville mayoral election"]).iloc[0]
    assert set(d["who"]) == holders(sim, candidacy) and d["hallucinated"] == 0
    with pytest.raises(ValueError, match="topic"):
        sim.metrics.diffusion(candidacy, by="interview")


def test_a_yes_without_valid_evidence_is_a_hallucination_not_knowing():
    mind = OfflineMind()

    def fn(tid, v):
        if tid != "knows_about" or v["persona"]["id"] == "isabella_rodriguez":
            return mind.answer(tid, v, 0)
        # everyone else says yes: citing a memory it does not have, or one not about the party
        bogus = 999 if v["persona"]["id"] < "m" else 0
        return {"knows": True, "answer": "Yes, everyone is talking about it.",
                "evidence": [bogus]}

    s = Simulation.load(SMALLVILLE, seed=0, llm=client_for(FakeLLM(fn)), embedder="hash")
    row = s.metrics.diffusion(PARTY, by="interview").iloc[0]
    assert row["who"] == ["isabella_rodriguez"] and row["knowers"] == 1
    assert row["hallucinated"] == 24 and "isabella_rodriguez" not in row["hallucinators"]
    made_up = [p for p in row["probes"] if p.agent != "isabella_rodriguez"]
    assert all(p.says and p.verdict == HALLUCINATED and p.valid == () for p in made_up)
    assert {p.evidence for p in made_up} == {(999,), (0,)}
    s.close()


def test_density_by_interview_at_tick_0_is_what_the_memories_support(sim):
    d = sim.metrics.density(by="interview").iloc[0]
    everyone = {aid: p.name for aid, p in sim.world.personas.items()}
    expected = set()
    for a in sim.agents:
        for b, name in everyone.items():
            aliases = person_aliases(name, everyone.values())
            if b != a and holders(sim, lambda t, al=aliases: names(t, al)) >= {a}:
                expected.add((a, b))
    assert d["asked"] == 25 * 24 and d["hallucinated"] == 0
    assert set(d["edges"]) == expected and d["known"] == len(expected)
    assert d["density"] == len(expected) / 600 and 0 < d["density"] < 1
    # the conversation-based measure is still there, by name
    assert sim.metrics.density(by="conversations").equals(sim.metrics.density_over_time())


def test_density_can_sample_and_asking_does_not_change_the_run():
    a = Simulation.load(SMALLVILLE, seed=4, llm="offline", embedder="hash")
    b = Simulation.load(SMALLVILLE, seed=4, llm="offline", embedder="hash")
    for s in (a, b):
        s.clock.tick = 12  # 08:00: everyone is up
    small = a.metrics.density(by="interview", sample=3).iloc[0]
    assert small["asked"] == 25 * 3
    assert a.metrics.density(by="interview", sample=3).iloc[0]["edges"] == small["edges"]
    start = interview_measures(a)  # what evaluate asks before a condition's run
    assert set(start) == {"diffusion", "density"} and start["density"]["asked"] == 600
    for s in (a, b):
        s.run(ticks=3)
    assert [e.to_json() for e in a.events] == [e.to_json() for e in b.events]
    for s in (a, b):
        s.close()


def test_person_aliases_use_a_first_name_only_when_it_is_unique():
    assert person_aliases("Tom Moreno", ["Tom Moreno", "Jane Moreno"]) == ["Tom Moreno", "Tom"]
    assert person_aliases("Tom Moreno", ["Tom Moreno", "Tom Lee"]) == ["Tom Moreno"]
