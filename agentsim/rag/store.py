"""The knowledge base: a world's `knowledge/` documents, chunked, embedded with the simulation's
own embedder and kept in a chromadb collection, searched with citations.

    kb = KnowledgeBase.from_world(world, embed, embedder_name="hash-384", path=rundir.knowledge)
    hits = await kb.asearch("How much is the lavender scone?", k=3)
    hits[0].citation.chunk      # "knowledge/hobbs_cafe_menu.md#2"

Indexing is lazy (the first search) and idempotent: each chunk carries a hash of its
document's text, the chunker and the embedder, so a resumed or replayed run re-uses what is
stored and only a changed document is embedded again. chromadb is imported on first use, with
telemetry off and never its default embedding function (which would download a model): we
always pass our own vectors. With a `path` the collection persists there (one writer per path:
a second process opening the same path can block for minutes); without one it lives in memory.

Search ranks chromadb's candidates again by exact cosine similarity, ties broken by chunk id,
so the same query always gives the same chunks in the same order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentsim.rag.chunk import Chunk, chunk_text, document_title, sentences

Embed = Callable[[Sequence[str]], Awaitable[np.ndarray]]
CHUNKER_VERSION = "1"
EXACT_UP_TO = 512  # collections this small are searched exhaustively


@dataclass(frozen=True)
class Citation:
    """Where a fact comes from: a document, a chunk of it, its heading, a short quote."""

    document: str  # "knowledge/hobbs_cafe_menu.md"
    chunk: str  # "knowledge/hobbs_cafe_menu.md#2"
    title: str  # "Hobbs Cafe Menu › Pastries"
    quote: str = ""

    def __str__(self) -> str:
        return self.chunk

    def to_dict(self) -> dict[str, str]:
        return {"document": self.document, "chunk": self.chunk, "title": self.title,
                "quote": self.quote}


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with its cosine similarity to it."""

    chunk: Chunk
    score: float

    @property
    def citation(self) -> Citation:
        return cite(self.chunk)

    def to_vars(self) -> dict[str, Any]:
        """As prompt variables: id, title, text, score."""
        return {"id": self.chunk.id, "document": self.chunk.document, "title": self.chunk.title,
                "text": self.chunk.text, "score": round(self.score, 4)}


def cite(chunk: Chunk, quote: str = "") -> Citation:
    if not quote:
        first = sentences(chunk.text)[:1]
        quote = first[0] if first else ""
    if len(quote) > 160:
        quote = quote[:157].rsplit(" ", 1)[0] + "..."
    return Citation(chunk.document, chunk.id, chunk.title, quote)


def open_collection(name: str, path: Path | None) -> Any:
    """A chromadb collection of cosine space with no embedding function of its own (we always
    pass vectors), persisted at `path` or in memory; telemetry off. Imports chromadb, which
    imports more of itself as a client opens: all behind the one import lock (this runs on
    worker threads)."""
    from agentsim.preload import IMPORT_LOCK, heavy_import

    with IMPORT_LOCK:
        chromadb = heavy_import("chromadb")
        Settings = heavy_import("chromadb.config").Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
        else:
            client = chromadb.EphemeralClient(settings=settings)
        return client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


class KnowledgeBase:
    def __init__(self, texts: dict[str, str], embed: Embed, *, embedder_name: str,
                 path: Path | None = None):
        """`texts`: document id (its path under the world folder) -> text."""
        self.embed = embed
        self.embedder_name = embedder_name
        self.path = Path(path) if path is not None else None
        self._texts = dict(sorted(texts.items()))
        self._chunks: dict[str, Chunk] = {}
        self._by_doc: dict[str, list[Chunk]] = {}
        self._titles: dict[str, str] = {}
        self._hash: dict[str, str] = {}
        for doc, text in self._texts.items():
            cs = chunk_text(doc, text)
            self._by_doc[doc] = cs
            self._chunks.update((c.id, c) for c in cs)
            self._titles[doc] = document_title(doc, text)
            self._hash[doc] = _digest(CHUNKER_VERSION, embedder_name, text)
        self._collection: Any = None
        self._lock: asyncio.Lock | None = None
        self.indexed = 0  # chunks embedded by this instance (0 when all were stored already)

    @classmethod
    def from_world(cls, world: Any, embed: Embed, *, embedder_name: str,
                   path: Path | None = None) -> KnowledgeBase:
        texts = {doc: p.read_text(encoding="utf-8") for doc, p in world.documents.items()}
        return cls(texts, embed, embedder_name=embedder_name, path=path)

    # -- what is in it -----------------------------------------------------------------------
    def documents(self) -> list[str]:
        return list(self._texts)

    def title(self, document: str) -> str:
        return self._titles[document]

    def chunks(self, document: str | None = None) -> list[Chunk]:
        if document is None:
            return list(self._chunks.values())
        return list(self._by_doc.get(document, []))

    def chunk(self, chunk_id: str) -> Chunk:
        return self._chunks[chunk_id]

    def __contains__(self, document: str) -> bool:
        return document in self._texts

    def __len__(self) -> int:
        return len(self._chunks)

    # -- the chromadb collection -------------------------------------------------------------
    def _name(self) -> str:
        if self.path is not None:  # one knowledge base per run directory
            return f"knowledge-{_digest(self.embedder_name)}"
        # In memory, chromadb shares collections across clients of one process: name the
        # collection by its whole content, so two simulations share only identical ones.
        return f"knowledge-{_digest(self.embedder_name, *sorted(self._hash.values()))}"

    def _open(self) -> Any:
        return open_collection(self._name(), self.path)

    async def ready(self) -> None:
        """Open the collection and embed whatever is missing or changed (once)."""
        if self._collection is not None:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._collection is None:
                # chromadb takes seconds to import and open: not on the event loop (a live
                # view keeps answering keys meanwhile)
                col = await asyncio.to_thread(self._open)
                await self._sync(col)
                self._collection = col

    async def _sync(self, col: Any) -> None:
        stored = col.get(include=["metadatas"])
        have: dict[str, str] = {}  # chunk id -> document hash stored with it
        for cid, meta in zip(stored["ids"], stored["metadatas"] or [], strict=False):
            have[cid] = str((meta or {}).get("hash", ""))
        stale = [cid for cid, h in have.items()
                 if cid not in self._chunks or h != self._hash[self._chunks[cid].document]]
        if stale:
            col.delete(ids=stale)
        gone = set(stale)
        todo = [c for c in self._chunks.values() if c.id not in have or c.id in gone]
        if not todo:
            return
        vectors = np.asarray(await self.embed([c.embed_text() for c in todo]), dtype=np.float32)
        col.add(
            ids=[c.id for c in todo],
            embeddings=vectors,
            documents=[c.text for c in todo],
            metadatas=[{"document": c.document, "n": c.n, "title": c.title,
                        "hash": self._hash[c.document]} for c in todo],
        )
        self.indexed += len(todo)

    # -- search ------------------------------------------------------------------------------
    async def asearch(self, query: str, k: int = 3,
                      documents: Iterable[str] | None = None,
                      exclude: Iterable[str] = ()) -> list[Hit]:
        """The `k` chunks closest to `query` (optionally only from `documents`, and not the
        chunk ids in `exclude`)."""
        [vec] = await self.embed([query])
        return await self.asearch_vector(vec, k, documents=documents, exclude=exclude)

    async def asearch_vector(self, vector: np.ndarray, k: int = 3,
                             documents: Iterable[str] | None = None,
                             exclude: Iterable[str] = ()) -> list[Hit]:
        await self.ready()
        return self.search(vector, k, documents=documents, exclude=exclude)

    def search(self, query_vec: np.ndarray, k: int = 3,
               documents: Iterable[str] | None = None,
               exclude: Iterable[str] = ()) -> list[Hit]:
        """Like `asearch_vector`, once the index is ready (`await kb.ready()`)."""
        if self._collection is None:
            raise RuntimeError("KnowledgeBase.search before ready(): use asearch")
        docs = sorted(set(documents)) if documents is not None else None
        skip = set(exclude)
        pool = sum(len(self._by_doc.get(d, [])) for d in docs) if docs is not None \
            else len(self._chunks)
        if pool == 0 or k <= 0:
            return []
        n = pool if pool <= EXACT_UP_TO else min(pool, 4 * (k + len(skip)) + 16)
        where = None
        if docs is not None:
            where = {"document": docs[0]} if len(docs) == 1 else {"document": {"$in": docs}}
        q = np.asarray(query_vec, dtype=np.float32).reshape(1, -1)
        found = self._collection.query(query_embeddings=q, n_results=n, where=where,
                                       include=["embeddings"])
        ids = found["ids"][0]
        if not ids:
            return []
        emb = np.asarray(found["embeddings"][0], dtype=np.float32)
        qn = q[0] / max(float(np.linalg.norm(q[0])), 1e-12)
        norms = np.maximum(np.linalg.norm(emb, axis=1), 1e-12)
        scores = (emb @ qn) / norms
        ranked = sorted(
            ((round(float(s), 6), cid) for s, cid in zip(scores, ids, strict=True)
             if cid not in skip and cid in self._chunks),
            key=lambda t: (-t[0], self._chunks[t[1]].document, self._chunks[t[1]].n),
        )
        return [Hit(self._chunks[cid], s) for s, cid in ranked[:k]]
