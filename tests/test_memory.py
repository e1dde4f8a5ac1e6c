"""The memory stream and the paper's retrieval, pinned on hand-made memories."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import numpy as np
import pytest

from agentsim.memory.embed import BatchingEmbedder, CachedEmbedder, HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.retrieval import score, top_k
from agentsim.memory.stream import MemoryStream
from agentsim.world.schema import ScheduledEvent

T0 = datetime(2023, 2, 13, 8)


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def hand_made() -> MemoryStream:
    s = MemoryStream("ann", dim=2)
    s.add(MemoryKind.observation, "old and dull", T0, 2, unit(1, 0))
    s.add(MemoryKind.observation, "important", T0 + timedelta(hours=10), 9, unit(0, 1))
    s.add(MemoryKind.chat, "recent and on topic", T0 + timedelta(hours=20), 5, unit(1, 1))
    return s


def test_retrieval_formula_by_hand():
    s = hand_made()
    now = T0 + timedelta(hours=20)
    q = unit(1, 0)
    got = {m.record.text: m for m in s.retrieve(q, now, k=3, touch=False)}
    # recency 0.995**h for h = 20, 10, 0 -> min-max normalised
    rec = np.array([0.995 ** 20, 0.995 ** 10, 1.0])
    rec = (rec - rec.min()) / (rec.max() - rec.min())
    imp = (np.array([2, 9, 5]) - 2) / 7
    rel = np.array([1.0, 0.0, np.sqrt(0.5)])
    want = rec + imp + rel
    for i, text in enumerate(["old and dull", "important", "recent and on topic"]):
        m = got[text]
        assert m.recency == pytest.approx(rec[i], abs=1e-6)
        assert m.importance == pytest.approx(imp[i], abs=1e-6)
        assert m.relevance == pytest.approx(rel[i], abs=1e-6)
        assert m.score == pytest.approx(want[i], abs=1e-6)
    order = [m.record.text for m in s.retrieve(q, now, k=3, touch=False)]
    assert order == ["recent and on topic", "important", "old and dull"]
    assert got["important"].explain() == (
        f"{want[1]:.2f} = {rec[1]:.2f} recency + {imp[1]:.2f} importance + 0.00 relevance")


def test_weights_change_the_order():
    s = hand_made()
    now = T0 + timedelta(hours=20)
    top = s.retrieve(unit(1, 0), now, k=1, weights=(0, 0, 1), touch=False)[0]
    assert top.record.text == "old and dull"
    top = s.retrieve(unit(1, 0), now, k=1, weights=(0, 1, 0), touch=False)[0]
    assert top.record.text == "important"


def test_touch_updates_last_access_and_recency():
    s = hand_made()
    now = T0 + timedelta(hours=30)
    [m] = s.retrieve(unit(1, 0), now, k=1, weights=(0, 0, 1))
    assert s.get(m.record.id).last_accessed == now
    assert s.get(1).last_accessed == T0 + timedelta(hours=10)


def test_edge_cases_and_ties():
    s = MemoryStream("ann", dim=2)
    assert s.retrieve(unit(1, 0), T0) == []
    s.add(MemoryKind.observation, "only", T0, 3, unit(1, 0))
    [m] = s.retrieve(unit(1, 0), T0, k=10)
    assert m.score == 0.0  # one candidate: every component is flat
    for i in range(5):
        s.add(MemoryKind.observation, f"same {i}", T0, 3, unit(1, 0))
    ids = [m.record.id for m in s.retrieve(unit(1, 0), T0, k=3)]
    assert ids == [0, 1, 2]  # ties go to the older memory
    total = np.array([1.0, 3.0, 3.0, 2.0], dtype=np.float32)
    assert list(top_k(total, 2)) == [1, 2]
    assert list(top_k(total, 10)) == [1, 2, 3, 0]


def test_kinds_filter_search_and_recent():
    s = hand_made()
    assert [m.record.kind for m in s.retrieve(unit(1, 0), T0, kinds={MemoryKind.chat})] == [
        MemoryKind.chat]
    assert [r.text for r in s.search("TOPIC")] == ["recent and on topic"]
    assert [r.id for r in s.recent(2)] == [1, 2]


def test_reflection_counter_and_events():
    s = MemoryStream("ann", dim=2)
    party = ScheduledEvent(title="party", place="cafe", start=T0, end=T0 + timedelta(hours=2))
    s.add(MemoryKind.observation, "a", T0, 8, unit(1, 0), event=party)
    s.add(MemoryKind.chat, "b", T0, 6, unit(1, 0), event=party)
    s.add(MemoryKind.reflection, "c", T0, 9, unit(1, 0))
    assert s.importance_since_reflection == 14  # reflections do not count
    assert s.events_known() == [party]
    assert s.events_known(T0 + timedelta(hours=3)) == []
    s.reset_reflection_counter()
    assert s.importance_since_reflection == 0


def test_state_round_trip():
    s = hand_made()
    s.add(MemoryKind.reflection, "insight", T0, 7, unit(1, 2), evidence=(0, 1), about=("Bob",))
    state, arrays = s.get_state()
    t = MemoryStream.from_state(state, arrays)
    assert t.records() == s.records()
    now = T0 + timedelta(hours=40)
    a = s.retrieve(unit(1, 1), now, touch=False)
    b = t.retrieve(unit(1, 1), now, touch=False)
    assert [(m.record.id, m.score) for m in a] == [(m.record.id, m.score) for m in b]
    assert t.importance_of("insight") == 7


def test_score_is_pure_and_vectorised():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(1000, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    imp = rng.integers(1, 11, 1000)
    hours = rng.uniform(0, 100, 1000)
    q = emb[0]
    total, rec, im, rel = score(emb, imp, hours, q)
    for part in (rec, im, rel):
        assert part.min() == 0.0 and part.max() == pytest.approx(1.0)
    np.testing.assert_allclose(total, rec + im + rel, rtol=1e-6)


def test_hash_embedder():
    e = HashEmbedder()
    a, b, c = e.embed(["a cup of coffee", "drinking coffee", "the election for mayor"])
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert a @ b > a @ c
    np.testing.assert_array_equal(e.embed(["a cup of coffee"])[0], a)


def test_cached_embedder_persists(tmp_path):
    class Counting(HashEmbedder):
        calls = 0

        def embed(self, texts):
            Counting.calls += 1
            return super().embed(texts)

    c1 = CachedEmbedder(Counting(), tmp_path / "e.sqlite")
    v = c1.embed(["x", "y", "x"])
    assert Counting.calls == 1 and c1.stats["texts"] == 2
    c2 = CachedEmbedder(Counting(), tmp_path / "e.sqlite")
    np.testing.assert_array_equal(c2.embed(["y"]), v[1:2])
    assert Counting.calls == 1


async def test_batching_embedder_makes_one_call_for_concurrent_callers():
    calls = []

    class Recording(HashEmbedder):
        def embed(self, texts):
            calls.append(list(texts))
            return super().embed(texts)

    b = BatchingEmbedder(Recording())
    out = await asyncio.gather(*(b.embed([f"text {i}", "shared"]) for i in range(10)))
    assert len(calls) == 1 and len(calls[0]) == 20
    assert all(o.shape == (2, 384) for o in out)


def test_minilm_embedder_loads_the_bundled_model():
    from agentsim.memory.embed import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder()
    a, b, c = e.embed(["a cup of coffee", "drinking coffee", "the election for mayor"])
    assert a.shape == (384,) and float(a @ b) > float(a @ c) + 0.2
