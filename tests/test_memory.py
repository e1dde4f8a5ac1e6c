"""The memory stream and the paper's retrieval, pinned on hand-made memories; the embedders."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agentsim.memory.embed import (
    BatchingEmbedder,
    CachedEmbedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    embed_threads,
    make_embedder,
)
from agentsim.memory.embed_cache import shared_cache_dir
from agentsim.memory.record import MemoryKind
from agentsim.memory.retrieval import FLAT, minmax, score, top_k
from agentsim.memory.stream import MemoryStream
from agentsim.world.schema import ScheduledEvent

T0 = datetime(2023, 2, 13, 8)
NOW = T0 + timedelta(hours=20)
OBS, CHAT, REFL = MemoryKind.observation, MemoryKind.chat, MemoryKind.reflection


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def hand_made() -> MemoryStream:
    s = MemoryStream("ann", dim=2, capacity=1)  # capacity 1: adding grows the arrays
    s.add(OBS, "old and on topic", T0, 2, unit(1, 0))
    s.add(OBS, "important", T0 + timedelta(hours=10), 9, unit(0, 1))
    s.add(CHAT, "recent and near the topic", T0 + timedelta(hours=20), 5, unit(1, 1))
    s.add(OBS, "opposite", T0 + timedelta(hours=15), 3, unit(-1, 0))
    return s


# Worked by hand for the query (1, 0) at NOW (T0 + 20 h), decay 0.995:
#   hours since access   20, 10, 0, 5
#   0.995 ** hours       0.904610480, 0.951110130, 1, 0.975248753
#   recency (min-max)    0, 0.487471269, 1, 0.740524463   = (x - 0.904610480) / 0.095389520
#   importance 2,9,5,3   0, 1, 3/7, 1/7                   = (x - 2) / 7
#   cosine 1,0,.7071,-1  1, 0.5, 0.853553391, 0           = (x + 1) / 2
RECENCY = [0.0, 0.487471269, 1.0, 0.740524463]
IMPORTANCE = [0.0, 1.0, 0.428571429, 0.142857143]
RELEVANCE = [1.0, 0.5, 0.853553391, 0.0]
TOTAL = [1.0, 1.987471269, 2.282124819, 0.883381606]


def test_retrieval_formula_by_hand():
    got = hand_made().retrieve(unit(1, 0), NOW, k=4, touch=False)
    assert [m.record.id for m in got] == [2, 1, 0, 3]
    for m in got:
        i = m.record.id
        assert m.recency == pytest.approx(RECENCY[i], abs=1e-6)
        assert m.importance == pytest.approx(IMPORTANCE[i], abs=1e-6)
        assert m.relevance == pytest.approx(RELEVANCE[i], abs=1e-6)
        assert m.score == pytest.approx(TOTAL[i], abs=1e-6)
    assert got[1].explain() == "1.99 = 0.49 recency + 1.00 importance + 0.50 relevance"


def test_weights_by_hand():
    got = hand_made().retrieve(unit(1, 0), NOW, k=4, weights=(1, 2, 0.5), touch=False)
    # 0 + 0 + 0.5; 0.487471 + 2 + 0.25; 1 + 0.857143 + 0.426777; 0.740524 + 0.285714 + 0
    assert [m.record.id for m in got] == [1, 2, 3, 0]
    assert [m.score for m in got] == pytest.approx(
        [2.737471269, 2.283919552, 1.026238748, 0.5], abs=1e-6)
    assert got[0].weights == (1.0, 2.0, 0.5)
    top = hand_made().retrieve(unit(1, 0), NOW, k=1, weights=(0, 0, 1), touch=False)
    assert top[0].record.text == "old and on topic"


def test_score_is_the_pure_vectorised_formula():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(1000, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    imp = rng.integers(1, 11, 1000).astype(np.int8)
    hours = rng.uniform(0, 100, 1000)
    total, rec, im, rel = score(emb, imp, hours, emb[0], weights=(0.5, 1, 2))
    assert all(p.dtype == np.float32 and p.shape == (1000,) for p in (total, rec, im, rel))
    for part, raw in ((rec, 0.995 ** hours), (im, imp.astype(float)), (rel, emb @ emb[0])):
        want = (raw - raw.min()) / (raw.max() - raw.min())
        np.testing.assert_allclose(part, want, atol=1e-6)
    np.testing.assert_allclose(total, 0.5 * rec + im + 2 * rel, atol=1e-6)


def test_relevance_runs_blas_on_one_thread_and_restores_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from agentsim.memory.retrieval import _one_blas_thread

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    before = blas_threads()
    with _one_blas_thread, _one_blas_thread:  # re-entrant
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
    hand_made().retrieve(unit(1, 0), NOW)
    assert blas_threads() == before


def test_flat_components_are_zero():
    # one memory: every component is flat, so 0
    s = MemoryStream("ann", dim=2)
    assert s.retrieve(unit(1, 0), T0) == []
    s.add(OBS, "only", T0, 3, unit(1, 0))
    [m] = s.retrieve(unit(0, 1), T0 + timedelta(hours=5), k=10)
    assert (m.score, m.recency, m.importance, m.relevance) == (0.0, 0.0, 0.0, 0.0)
    # identical embeddings in a large matmul differ by float noise; it must not count
    rng = np.random.default_rng(1)
    v = unit(*rng.normal(size=384))
    s = MemoryStream("ann", dim=384)
    for i in range(7):  # 7 identical rows give a spread of ~1e-8 here (BLAS remainder rows)
        s.add(OBS, f"same {i}", T0, 4, v)
    q = unit(*rng.normal(size=384))
    got = s.retrieve(q, NOW, k=5)
    assert [m.record.id for m in got] == [0, 1, 2, 3, 4]
    assert {m.score for m in got} == {0.0}
    assert list(minmax(np.array([0.5, 0.5 + FLAT / 2]))) == [0.0, 0.0]  # within FLAT: flat
    assert list(minmax(np.array([0.5, 0.5 + 2 * FLAT]))) == [0.0, 1.0]


def test_top_k_ties_are_deterministic():
    total = np.array([1.0, 3.0, 3.0, 2.0, 3.0], dtype=np.float32)
    assert list(top_k(total, 2)) == [1, 2]  # three tie for first: the lowest indices win
    assert list(top_k(total, 3)) == [1, 2, 4]
    assert list(top_k(total, 10)) == [1, 2, 4, 3, 0]  # k > N: all, best first
    assert list(top_k(total, 0)) == [] and list(top_k(total[:0], 3)) == []
    rng = np.random.default_rng(2)
    total = rng.integers(0, 5, 10_000).astype(np.float32)  # thousands of ties
    for k in (1, 7, 100):
        want = sorted(range(len(total)), key=lambda i: (-total[i], i))[:k]
        assert list(top_k(total, k)) == want


def test_k_larger_than_the_stream():
    got = hand_made().retrieve(unit(1, 0), NOW, k=50, touch=False)
    assert [m.record.id for m in got] == [2, 1, 0, 3]


def test_touch_updates_last_access_and_recency():
    s = hand_made()
    later = T0 + timedelta(hours=30)
    [m] = s.retrieve(unit(1, 0), later, k=1, weights=(0, 0, 1))
    assert m.record.id == 0 and m.record.last_accessed == T0  # as it was scored
    assert s.get(0).last_accessed == later
    assert s.get(1).last_accessed == T0 + timedelta(hours=10)
    # memory 0 is now the most recently accessed
    top = s.retrieve(unit(1, 0), later, k=1, weights=(1, 0, 0), touch=False)[0]
    assert top.record.id == 0 and top.recency == 1.0
    s.retrieve(unit(0, 1), later + timedelta(hours=1), k=2, touch=False)
    assert [r.last_accessed for r in s.records()][1:] == [r.created for r in s.records()][1:]


def test_kinds_filter_search_and_recent():
    s = hand_made()
    s.add(REFL, "Ann reflects on TOPICS", NOW, 6, unit(1, 0))
    assert [m.record.id for m in s.retrieve(unit(1, 0), NOW, kinds={CHAT})] == [2]
    got = s.retrieve(unit(1, 0), NOW, kinds={CHAT, REFL}, touch=False)
    assert sorted(m.record.kind for m in got) == [CHAT, REFL]
    assert s.retrieve(unit(1, 0), NOW, kinds={MemoryKind.plan}) == []
    # scores are normalised over the candidates only
    [m] = s.retrieve(unit(1, 0), NOW, kinds={CHAT})
    assert m.score == 0.0
    assert [r.id for r in s.search("TOPIC")] == [0, 2, 4]
    assert [r.id for r in s.search("TOPIC", kinds={REFL})] == [4]
    assert [r.id for r in s.recent(2)] == [3, 4]
    assert [r.id for r in s.recent(2, kinds={OBS})] == [1, 3]
    assert s.recent(0) == [] and len(s.recent(99)) == len(s) == 5
    assert [r.id for r in s.records({OBS})] == [0, 1, 3]
    with pytest.raises(ValueError, match="shape"):
        s.add(OBS, "bad", NOW, 3, np.zeros(3))


def test_reflection_counter():
    s = MemoryStream("ann", dim=2)
    s.add(OBS, "a", T0, 8, unit(1, 0))
    s.add(CHAT, "b", T0, 6, unit(1, 0))
    s.add(REFL, "c", T0, 9, unit(1, 0), evidence=(0, 1))
    assert s.importance_since_reflection == 14  # reflections do not count
    s.reset_reflection_counter()
    assert s.importance_since_reflection == 0
    s.add(OBS, "d", T0, 12, unit(1, 0))  # clamped to 10
    assert s.importance_since_reflection == 10 and s.get(3).importance == 10


def test_events_known_dedups():
    s = MemoryStream("ann", dim=2)
    party = ScheduledEvent(title="party", place="cafe", start=T0, end=T0 + timedelta(hours=2))
    talk = ScheduledEvent(title="talk", place="library", start=T0 + timedelta(hours=5),
                          end=T0 + timedelta(hours=6))
    same_party = ScheduledEvent(title="party", place="cafe", start=T0,
                                end=T0 + timedelta(hours=3), host="Isabella")
    s.add(OBS, "a", T0, 8, unit(1, 0), event=party)
    s.add(CHAT, "b", T0, 6, unit(1, 0), event=talk)
    s.add(CHAT, "c", T0, 6, unit(1, 0), event=same_party)  # same (title, start, place)
    s.add(OBS, "d", T0, 3, unit(1, 0))
    assert s.events_known() == [party, talk]
    assert s.events_known(T0 + timedelta(hours=1)) == [party, talk]
    assert s.events_known(T0 + timedelta(hours=2)) == [talk]  # the party, as first learnt, is over
    assert s.events_known(T0 + timedelta(hours=6)) == []


def test_state_round_trip():
    s = hand_made()
    s.add(REFL, "insight", T0, 7, unit(1, 2), evidence=(0, 1), about=("Bob",))
    party = ScheduledEvent(title="party", place="cafe", start=T0, end=T0 + timedelta(hours=2))
    s.add(CHAT, "party!", T0 + timedelta(microseconds=1), 8, unit(2, 1), source="Bob", event=party)
    s.retrieve(unit(1, 1), NOW + timedelta(seconds=0.5), k=2)  # touch two of them
    state, arrays = s.get_state()
    state = json.loads(json.dumps(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf) as npz:
        t = MemoryStream.from_state(state, dict(npz))
    assert len(t) == len(s) and t.records() == s.records()
    assert t.importance_since_reflection == s.importance_since_reflection
    assert t.events_known() == [party] and t.importance_of("insight") == 7
    for r, u in zip(s.records(), t.records(), strict=True):
        np.testing.assert_array_equal(r.embedding, u.embedding)
    later = NOW + timedelta(hours=40)
    for kinds in (None, {OBS, CHAT}):
        a = s.retrieve(unit(1, 1), later, k=4, kinds=kinds, touch=False)
        b = t.retrieve(unit(1, 1), later, k=4, kinds=kinds, touch=False)
        assert a == b


def test_timezone_aware_times():
    s = MemoryStream("ann", dim=2)
    t0 = datetime(2023, 2, 13, 8, tzinfo=UTC)
    s.add(OBS, "a", t0, 3, unit(1, 0))
    s.add(OBS, "b", t0 + timedelta(hours=5), 3, unit(1, 0))
    got = s.retrieve(unit(1, 0), t0 + timedelta(hours=6), weights=(1, 0, 0))
    assert [m.record.id for m in got] == [1, 0]
    t = MemoryStream.from_state(*s.get_state())
    assert t.records() == s.records() and t.get(1).last_accessed.tzinfo is not None


# -- embedders --------------------------------------------------------------------------------
def test_hash_embedder_is_deterministic_and_similar_texts_are_close():
    e = HashEmbedder()
    texts = ["a cup of coffee", "drinking coffee", "the election for mayor", ""]
    v = e.embed(texts)
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    a, b, c, _ = v
    assert a @ b > a @ c + 0.2
    np.testing.assert_array_equal(HashEmbedder().embed(texts[:1])[0], a)
    # the same vectors in another process with another string-hash seed
    code = ("from agentsim.memory.embed import HashEmbedder;"
            "print(HashEmbedder().embed(['a cup of coffee'])[0].tobytes().hex())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "123"}, check=True, cwd=".").stdout
    assert out.strip() == a.tobytes().hex()


def test_importing_embed_does_not_load_torch():
    code = ("import sys, agentsim.memory.embed;"
            "print(any(m in sys.modules for m in ('torch', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class Counting(HashEmbedder):
    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return super().embed(texts)


def test_cached_embedder_hits_and_persists(tmp_path):
    inner = Counting()
    c1 = CachedEmbedder(inner, tmp_path / "e.sqlite")
    v = c1.embed(["y", "x", "y"])
    assert inner.calls == [["x", "y"]]  # deduplicated and sorted, in one call
    assert c1.stats == {"calls": 1, "texts": 2, "hits": 1}
    np.testing.assert_array_equal(v[0], v[2])
    # stored at float16 precision, renormalised
    want = HashEmbedder().embed(["y"])[0].astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(v[0], want / np.linalg.norm(want), atol=1e-7)
    c1.embed(["x", "z"])
    assert inner.calls[-1] == ["z"] and c1.stats == {"calls": 2, "texts": 3, "hits": 2}
    assert c1.embed([]).shape == (0, 384)
    c1.close()

    inner2 = Counting()
    c2 = CachedEmbedder(inner2, tmp_path / "e.sqlite")
    np.testing.assert_array_equal(c2.embed(["y", "x"]), v[:2])  # from the file, no call
    assert inner2.calls == [] and c2.stats["hits"] == 2
    c2.embed(["w"])
    assert inner2.calls == [["w"]]


def test_the_shared_cache_serves_another_run_without_the_model(tmp_path):
    """A text embedded by one run is not embedded again by the next (the cache shared across
    runs), and becomes part of that run's own record; an opened run only reads its file."""
    shared = tmp_path / "shared"
    first = CachedEmbedder(Counting(), tmp_path / "run1.sqlite", shared=shared)
    v = first.embed(["a cup of coffee", "tea"])
    first.close()
    inner = Counting()
    second = CachedEmbedder(inner, tmp_path / "run2.sqlite", shared=shared)
    np.testing.assert_array_equal(second.embed(["tea", "a cup of coffee"]), v[::-1])
    assert inner.calls == [] and second.stats["hits"] == 2
    second.close()
    inner = Counting()
    alone = CachedEmbedder(inner, tmp_path / "run2.sqlite")  # no shared cache: its own file
    np.testing.assert_array_equal(alone.embed(["tea"]), v[1:])
    assert inner.calls == []
    alone.close()

    inner = Counting()
    opened = CachedEmbedder(inner, tmp_path / "run1.sqlite", read_only=True)
    assert opened.cached(["tea"]) and not opened.cached(["milk"])
    opened.embed(["tea", "milk"])
    assert inner.calls == [["milk"]]
    opened.close()
    reread = CachedEmbedder(Counting(), tmp_path / "run1.sqlite", read_only=True)
    assert not reread.cached(["milk"])  # nothing was written to the finished run
    reread.close()
    ghost = CachedEmbedder(Counting(), tmp_path / "none.sqlite", read_only=True)
    assert ghost.embed(["tea"]).shape == (1, 384) and not (tmp_path / "none.sqlite").exists()


def test_where_the_shared_cache_lives(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTSIM_EMBED_CACHE", str(tmp_path / "c"))
    assert shared_cache_dir() == tmp_path / "c"
    assert make_embedder("minilm")._dbs[0].conn is not None
    assert (tmp_path / "c" / "embeddings.sqlite").exists()
    assert make_embedder("hash")._dbs == []  # cheaper than a lookup: never cached across runs
    for off in ("off", "0", ""):
        monkeypatch.setenv("AGENTSIM_EMBED_CACHE", off)
        assert shared_cache_dir() is None
    monkeypatch.delenv("AGENTSIM_EMBED_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert shared_cache_dir() == tmp_path / "xdg" / "agentsim" / "embeddings"


def test_embed_threads(monkeypatch):
    monkeypatch.delenv("AGENTSIM_EMBED_THREADS", raising=False)
    assert embed_threads() == 1 and embed_threads(3) == 3
    monkeypatch.setenv("AGENTSIM_EMBED_THREADS", "2")
    assert embed_threads() == 2 and SentenceTransformerEmbedder().threads == 2
    assert embed_threads(1) == 1


def test_make_embedder():
    e = make_embedder("hash")
    assert isinstance(e, CachedEmbedder) and e.name == "hash-384" and e.dim == 384
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("word2vec")


async def test_batching_embedder_makes_one_call_for_concurrent_callers():
    inner = Counting()
    b = BatchingEmbedder(inner)
    requests = [[f"text {i}", "shared"] for i in range(10)] + [[]]
    out = await asyncio.gather(*(b.embed(r) for r in requests))
    # "shared", asked 10 times, is sent once
    assert len(inner.calls) == 1 and len(inner.calls[0]) == 11
    assert b.stats == {"calls": 1, "requests": 11, "texts": 11, "hits": 9, "prefetched": 0}
    for texts, rows in zip(requests, out, strict=True):
        assert rows.shape == (len(texts), 384)
        np.testing.assert_array_equal(rows, HashEmbedder().embed(texts))
    await b.embed(["later"])  # the next loop turn is the next batch
    assert len(inner.calls) == 2


async def test_requests_made_while_the_model_works_go_in_one_next_call():
    """One call in flight at a time: whatever arrives meanwhile, over many loop turns, is
    embedded together once it is done, not as one call per turn queued behind it."""
    release = threading.Event()

    class Slow(Counting):
        def embed(self, texts):
            if not self.calls:
                assert release.wait(60)  # a hang guard only
            return super().embed(texts)

    inner = Slow()
    b = BatchingEmbedder(inner)
    first = asyncio.ensure_future(b.embed(["first"]))
    await asyncio.sleep(0.01)  # the first call is in flight
    later = []
    for i in range(5):  # five requests, each in a loop turn of its own
        later.append(asyncio.ensure_future(b.embed([f"later {i}"])))
        await asyncio.sleep(0)
    release.set()
    rows = await asyncio.gather(first, *later)
    assert inner.calls == [["first"], [f"later {i}" for i in range(5)]]
    for i, r in enumerate(rows[1:]):
        np.testing.assert_array_equal(r, HashEmbedder().embed([f"later {i}"]))
    assert b.stats == {"calls": 2, "requests": 6, "texts": 6, "hits": 0, "prefetched": 0}
    b.close()


async def test_batching_embedder_survives_cancellation_and_errors():
    inner = Counting()
    b = BatchingEmbedder(inner)
    doomed = asyncio.ensure_future(b.embed(["doomed"]))
    await asyncio.sleep(0)  # it is now waiting for the flush
    doomed.cancel()
    kept = await b.embed(["kept"])
    assert kept.shape == (1, 384) and inner.calls[-1] == ["kept"]

    class Failing(HashEmbedder):
        def embed(self, texts):
            raise RuntimeError("model crashed")

    bad = BatchingEmbedder(Failing())
    results = await asyncio.gather(bad.embed(["a"]), bad.embed(["b"]), return_exceptions=True)
    assert [str(r) for r in results] == ["model crashed", "model crashed"]


async def test_prefetched_and_cached_texts_make_no_call_of_their_own():
    """A text prefetched, or asked for while a call for it is on its way, waits for that
    call; one the cache holds is served at once. The rows are the cache's own vectors."""
    inner = Counting()
    cached = CachedEmbedder(inner)
    b = BatchingEmbedder(cached)
    assert b.prefetch(["seen", "heard"]) == 2
    assert b.prefetch(["seen"]) == 0  # queued already
    rows = await b.embed(["heard", "seen"])  # the prefetch's call, not one of its own
    assert inner.calls == [["heard", "seen"]] and b.stats["calls"] == 1
    again = await b.embed(["seen", "new"])  # "seen" from the cache, "new" alone
    assert inner.calls[-1] == ["new"] and b.stats["calls"] == 2
    np.testing.assert_array_equal(rows[1], again[0])
    np.testing.assert_array_equal(again, cached.embed(["seen", "new"]))
    assert await b.embed(["heard"]) is not None and b.stats["calls"] == 2
    assert b.stats == {"calls": 2, "requests": 3, "texts": 3, "hits": 4, "prefetched": 2}
    assert cached.peek(["seen", "nowhere"])[1] is None
    b.close()


# The one test of the real bundled model; it runs in the normal suite (a few seconds).
@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.mark.slow
def test_minilm_embedder_loads_the_bundled_model(minilm):
    v = minilm.embed(["a cup of coffee", "drinking coffee", "the election for mayor"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    a, b, c = v
    assert float(a @ b) > float(a @ c) + 0.2
    import torch

    assert torch.get_num_threads() == 1  # next to the simulation, not against it


def test_minilm_vectors_do_not_depend_on_the_batch(minilm):
    """Texts in one call (of different lengths, and of the same length: "coffee" and "tea"
    differ in a batch of two) give exactly the vectors each gets alone, so how a tick's texts
    happen to be batched never changes a vector."""
    texts = ["coffee", "a cup of coffee at Hobbs Cafe", "I know Tom Moreno (neighbour)",
             "Isabella Rodriguez is planning a Valentine's Day party at Hobbs Cafe on "
             "February 14th from 5pm to 7pm", "the election for mayor", "tea"]
    together = minilm.embed(texts)
    alone = np.concatenate([minilm.embed([t]) for t in texts])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(minilm.embed(texts[::-1]), alone[::-1])


def test_the_numpy_encoder_matches_the_model(minilm):
    from agentsim.memory.minilm_numpy import NumpyMiniLM

    texts = ["coffee", "What do you think about the party at Hobbs Cafe?", "word " * 400]
    np.testing.assert_allclose(NumpyMiniLM().embed(texts), minilm.embed(texts), atol=1e-6)


def test_an_opened_run_embeds_a_new_question_without_torch(tmp_path):
    """Interviewing a finished run: the memories hold their vectors, a question the run's file
    or the shared cache holds comes from there, and a new one is embedded without torch (and
    stored nowhere)."""
    known = CachedEmbedder(HashEmbedder(), tmp_path / "run.sqlite")
    known.embed(["asked before"])
    known.close()
    code = f"""
import sys, numpy as np
from pathlib import Path
from agentsim.memory.embed import HashEmbedder, LookupEmbedder, make_embedder, make_lookup
from agentsim.memory.embed_cache import CachedEmbedder
e = make_lookup("minilm", Path({str(tmp_path / "run.sqlite")!r}))
v = e.embed(["a new question", "a new question"])
assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-3)
assert e.stats == {{"calls": 1, "texts": 2, "hits": 0}}, e.stats
assert not e.cached.cached(["a new question"])  # stored nowhere
assert "torch" not in sys.modules and "sentence_transformers" not in sys.modules
# a text the run's file holds comes from it (here a hash run's, looked up as it is)
h = LookupEmbedder(CachedEmbedder(HashEmbedder(), Path({str(tmp_path / "run.sqlite")!r}),
                                  read_only=True), None)
assert h.embed(["asked before"]).shape == (1, 384) and h.stats["hits"] == 1
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


async def test_batching_embedder_keeps_the_event_loop_free_while_the_model_works():
    """The model runs on a worker thread: here it can only finish once the event loop has run
    another coroutine (which it could not if the model blocked the loop)."""
    loop_ran = threading.Event()

    class NeedsTheLoop(HashEmbedder):
        def embed(self, texts):
            assert loop_ran.wait(60), "the event loop was blocked while embedding"
            return super().embed(texts)

    async def other_work():
        await asyncio.sleep(0.01)
        loop_ran.set()

    b = BatchingEmbedder(NeedsTheLoop())
    rows, _ = await asyncio.gather(b.embed(["a", "b"]), other_work())
    np.testing.assert_array_equal(rows, HashEmbedder().embed(["a", "b"]))
    b.close()
    inline = BatchingEmbedder(HashEmbedder(), offload=False)
    np.testing.assert_array_equal(await inline.embed(["a"]), HashEmbedder().embed(["a"]))


def test_a_record_is_kept_until_its_memory_is_accessed_and_shows_what_it_was_built_with():
    s = MemoryStream("ann", dim=2, capacity=1)
    first = s.add(OBS, "kept", T0, 4, unit(1, 0))
    assert s.get(0) is first and s.recent(1)[0] is first  # built once, asked for often
    s.add(OBS, "grows the arrays", T0, 4, unit(0, 1))  # capacity 1 -> 2: new arrays
    again = s.get(0)
    assert again == first and again is not first  # rebuilt over the new arrays
    np.testing.assert_array_equal(again.embedding, unit(1, 0))
    [scored] = s.retrieve(unit(1, 0), NOW, k=1)
    assert scored.record.id == 0 and scored.record.last_accessed == T0  # as it was scored
    touched = s.get(0)
    assert touched.last_accessed == NOW and first.last_accessed == T0  # a new snapshot
    restored = MemoryStream.from_state(*s.get_state())
    assert restored.get(0) == touched and restored.get(0).last_accessed == NOW


def test_the_state_converts_only_new_memories_and_is_that_of_a_stream_built_at_once():
    event = ScheduledEvent(title="Party", start=T0, end=T0 + timedelta(hours=2),
                           place="cafe", host="ann")
    s = hand_made()
    before, _ = s.get_state()
    s.add(REFL, "a thought", T0 + timedelta(hours=21), 6, unit(1, 2), evidence=[0, 2],
          source="ann", event=event, about=["Bob"])
    s.retrieve(unit(1, 0), NOW, k=2)  # two memories accessed again
    after, arrays = s.get_state()
    assert len(before["text"]) == len(after["text"]) - 1  # the earlier state is unchanged
    whole = MemoryStream.from_state(json.loads(json.dumps(after)), arrays)
    assert whole.get_state()[0] == after  # as a stream that never saved before gives it
    assert after["evidence"][-1] == [0, 2] and after["event"][-1]["title"] == "Party"
