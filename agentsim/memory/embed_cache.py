"""Embeddings cached by content: in memory, in the run directory, and in a cache shared by
every run on the machine.

A vector is keyed by sha256(model name, NUL, text), so the same text under the same model is
embedded once per machine, not once per run: a second run of a world, a sweep's workers, or an
interview whose question was asked before never load the model for it. The run directory's
own file (`embeddings.sqlite`) stays the record a resume or a replay reads, so a run's vectors
never depend on what the shared cache happens to hold later.

The shared cache lives in `$AGENTSIM_EMBED_CACHE` (a folder), else
`$XDG_CACHE_HOME/agentsim/embeddings` (`~/.cache/agentsim/embeddings`); set the variable to
`off` to keep none. It is only a cache: a write it refuses (read-only disk, a lock held too
long by another process) is skipped, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agentsim.memory.embed import Embedder

CACHE_ENV = "AGENTSIM_EMBED_CACHE"
_OFF = {"off", "0", "none", "false", "no"}


def shared_cache_dir() -> Path | None:
    """Where the cache shared across runs lives, or None when it is switched off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF or not value.strip() else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "agentsim" / "embeddings"


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))


class _Db:
    """One sqlite file of vectors (`vec(key TEXT PRIMARY KEY, v BLOB)`)."""

    def __init__(self, path: Path, *, writable: bool, strict: bool):
        self.writable, self.strict = writable, strict
        if writable:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        else:  # another process may own it (a run still going): only read
            self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                        isolation_level=None, check_same_thread=False)

    def read(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                query = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(chunk))})"
                for key, blob in self.conn.execute(query, chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.Error:
            if self.strict:
                raise
        return found

    def write(self, rows: list[tuple[str, bytes]]) -> None:
        if not self.writable:
            return
        try:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?)", rows)
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if self.strict:  # the run's own record must hold every vector
                raise

    def close(self) -> None:
        self.conn.close()


class CachedEmbedder:
    """Caches vectors by text, in memory and in sqlite files: `path` (the run directory's,
    written, or only read with `read_only`) and `shared` (the cache shared across runs), so a
    resumed or replayed run sees exactly the vectors of the original. Only uncached texts
    reach the inner embedder (so a model loads only when a text is new): in one call,
    deduplicated and sorted. Vectors are rounded to float16 precision and renormalised before
    they are stored, so tiny differences between batch compositions cannot change a result.

    `stats`: calls (to the inner embedder), texts (sent to it), hits (texts served from cache).
    """

    def __init__(self, inner: Embedder, path: Path | None = None, *,
                 shared: Path | None = None, read_only: bool = False):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.stats = {"calls": 0, "texts": 0, "hits": 0}
        self._mem: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self._dbs: list[_Db] = []
        if path is not None and (not read_only or Path(path).is_file()):
            self._dbs.append(_Db(Path(path), writable=not read_only, strict=not read_only))
        if shared is not None:
            # an unwritable cache folder: no shared cache
            with contextlib.suppress(OSError, sqlite3.Error):
                self._dbs.append(_Db(Path(shared) / "embeddings.sqlite", writable=True,
                                     strict=False))

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.inner.name}\0{text}".encode("utf-8", "surrogatepass")
                              ).hexdigest()

    def _load(self, keys: list[str]) -> None:
        """Copy what the sqlite files hold of `keys` into memory; a vector found only in the
        shared cache is written to the run's own file too (it is now part of this run)."""
        wanted = list(keys)
        for db in self._dbs:
            if not wanted:
                return
            found = db.read(wanted)
            if found and db is not self._dbs[0]:
                self._dbs[0].write([(k, v.tobytes()) for k, v in found.items()])
            self._mem.update(found)
            wanted = [k for k in wanted if k not in found]

    def _store(self, texts: list[str], keys: list[str]) -> None:
        self.stats["calls"] += 1
        self.stats["texts"] += len(texts)
        vecs = np.asarray(self.inner.embed(texts))
        if vecs.shape != (len(texts), self.dim):
            raise ValueError(f"{self.name} gave {vecs.shape}, expected ({len(texts)}, {self.dim})")
        vecs = _normalise(vecs.astype(np.float16).astype(np.float32))
        self._mem.update(zip(keys, vecs, strict=True))
        rows = [(k, v.tobytes()) for k, v in zip(keys, vecs, strict=True)]
        for db in self._dbs:
            db.write(rows)

    def lookup(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Each text's cached vector, or None; never calls the model."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            unknown = [k for k in keys if k not in self._mem]
            if unknown:
                self._load(unknown)
            return [self._mem.get(k) for k in keys]

    def peek(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Each text's vector if it is in memory already, else None: no file is read and no
        lock taken, so the event loop may ask while the model works on another thread (a
        vector enters memory whole, after its call). `BatchingEmbedder` serves from it."""
        mem = self._mem
        return [mem.get(self._key(t)) for t in texts]

    def cached(self, texts: Sequence[str]) -> bool:
        """Whether every text's vector is cached (embedding them would not call the model)."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            unknown = [k for k in keys if k not in self._mem]
            if unknown:
                self._load(unknown)
            return all(k in self._mem for k in keys)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        with self._lock:
            unknown = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._mem}
            if unknown and self._dbs:
                self._load(list(unknown))
            missing = sorted({t for k, t in unknown.items() if k not in self._mem})
            self.stats["hits"] += len(texts) - len(missing)
            if missing:
                self._store(missing, [self._key(t) for t in missing])
            if not keys:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._mem[k] for k in keys])

    def close(self) -> None:
        for db in self._dbs:
            db.close()
        self._dbs = []
