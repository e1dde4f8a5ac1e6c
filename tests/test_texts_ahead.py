"""The texts a tick will embed, foreseen at its start (`agentsim.cognition.texts_ahead`): they go
to the model in one call, the stages that need them find them there, and nothing a run does
changes."""

from __future__ import annotations

from pathlib import Path

from agentsim.cognition.texts_ahead import tick_texts, waking_queries
from agentsim.experiment import Simulation
from agentsim.memory.embed import BatchingEmbedder

SMALLVILLE = Path(__file__).resolve().parent.parent / "worlds" / "smallville"


def _run(monkeypatch, prefetch: bool, hours: float = 2.0):
    """Smallville for `hours` on the offline mind: its events, the batcher's stats, and per
    tick the texts foreseen and the texts the stages asked for."""
    foreseen: dict[int, list[str]] = {}
    asked: dict[int, set[str]] = {}
    real_prefetch, real_embed = BatchingEmbedder.prefetch, BatchingEmbedder.embed

    def spy_prefetch(self, texts):
        foreseen.setdefault(sim.clock.tick, []).extend(texts)
        return real_prefetch(self, texts) if prefetch else 0

    async def spy_embed(self, texts):
        asked.setdefault(sim.clock.tick, set()).update(texts)
        return await real_embed(self, texts)

    monkeypatch.setattr(BatchingEmbedder, "prefetch", spy_prefetch)
    monkeypatch.setattr(BatchingEmbedder, "embed", spy_embed)
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash")
    sim.embed.__self__.offload = False  # calls on the loop: their count never hangs on timing
    sim.run(hours=hours)
    stats = dict(sim.embed.__self__.stats)
    events = [e.to_json() for e in sim.events]
    sim.close()
    return events, stats, foreseen, asked


def test_foreseeing_changes_no_event_and_saves_calls(monkeypatch):
    events, stats, foreseen, asked = _run(monkeypatch, prefetch=True)
    before, old, _, _ = _run(monkeypatch, prefetch=False)
    assert events == before  # byte for byte
    assert stats["calls"] < old["calls"] * 0.75, (stats, old)
    # what goes unused is only a person the agent might have reacted to and did not
    unused = [x for tick, t in foreseen.items() for x in set(t) - asked.get(tick, set())]
    total = sum(map(len, foreseen.values()))
    assert total > 100 and len(unused) <= total / 20, unused
    assert all(". " in x and x.split(". ", 1)[1].startswith(x.split(". ", 1)[0])
               for x in unused), unused
    assert stats["texts"] <= old["texts"] + len(unused)


def test_waking_queries_are_those_the_morning_retrieves_with(monkeypatch):
    """An agent waking at 06:00 asks for its summary description's three questions and
    yesterday's two look-back queries: all foreseen."""
    _, _, foreseen, asked = _run(monkeypatch, prefetch=True, hours=0.5)
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash")
    ctx = sim._context()
    isabella = sim.agents["isabella_rodriguez"]
    assert waking_queries(isabella, ctx) == []  # nothing to retrieve from yet
    sim._sync(sim._seed_memories())
    queries = waking_queries(isabella, ctx)
    assert queries[0] == "Isabella Rodriguez's core characteristics" and len(queries) == 5
    first = min(asked)
    assert set(queries) <= asked[first] and set(queries) <= set(foreseen[first])
    texts = tick_texts([isabella], sim.world_view(), ctx)
    assert texts[:5] == queries
    sim.close()
