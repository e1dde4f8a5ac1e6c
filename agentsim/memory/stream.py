"""An agent's memory stream: columnar arrays, so every memory can be scored exactly and fast."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from agentsim.memory.record import MemoryKind, MemoryRecord, ScoredMemory
from agentsim.memory.retrieval import combine, relevance, top_k
from agentsim.world.schema import ScheduledEvent

_EPOCH = datetime(2000, 1, 1)  # sim-time seconds count from here (naive times are taken as UTC)
_CODE = {k: i for i, k in enumerate(MemoryKind)}
NOTABLE = 7  # importance from which a memory is news worth passing on
_SAVED = ("kind", "created", "evidence", "event", "about")  # columns a memory never changes in


def _secs(t: datetime) -> float:
    return (t - (_EPOCH if t.tzinfo is None else _EPOCH.replace(tzinfo=UTC))).total_seconds()


class MemoryStream:
    """The memories of one agent, with ids 0, 1, 2, ... in creation order.

    Numbers live in numpy arrays grown by doubling (embeddings, importance, created and
    last-accessed times as float64 seconds); texts and structure in Python lists, together with
    the exact datetimes. Records are built on demand and are immutable snapshots, kept once
    built (`_records`) until the memory is accessed again or the arrays grow: cognition asks
    for the same newest memories at nearly every step."""

    def __init__(self, agent: str, dim: int, capacity: int = 64):
        self.agent = agent
        self.dim = dim
        self._n = 0
        capacity = max(1, capacity)
        self._emb = np.zeros((capacity, dim), dtype=np.float32)
        self._imp = np.zeros(capacity, dtype=np.int8)
        self._created = np.zeros(capacity, dtype=np.float64)
        self._accessed = np.zeros(capacity, dtype=np.float64)
        self._kcode = np.zeros(capacity, dtype=np.int8)
        self._text: list[str] = []
        self._kind: list[MemoryKind] = []
        self._evidence: list[tuple[int, ...]] = []
        self._source: list[str | None] = []
        self._event: list[ScheduledEvent | None] = []
        self._about: list[tuple[str, ...]] = []
        self._created_at: list[datetime] = []
        self._accessed_at: list[datetime] = []
        self._by_text: dict[str, int] = {}  # first importance given to each text
        self._notable: list[int] = []  # ids with a scheduled event or importance >= NOTABLE
        self._records: list[MemoryRecord | None] = []  # built records, None: not (or no longer)
        # the JSON-able columns of `get_state` for the memories converted so far
        self._saved: dict[str, list[Any]] = {k: [] for k in _SAVED}
        self.importance_since_reflection = 0

    def __len__(self) -> int:
        return self._n

    def _grow(self) -> None:
        cap = 2 * self._emb.shape[0]
        for name in ("_emb", "_imp", "_created", "_accessed", "_kcode"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)
        # a kept record's embedding is a view of the old array: let it go with them
        self._records = [None] * self._n

    def add(
        self,
        kind: MemoryKind,
        text: str,
        created: datetime,
        importance: int,
        embedding: np.ndarray,
        evidence: Iterable[int] = (),
        source: str | None = None,
        event: ScheduledEvent | None = None,
        about: Iterable[str] = (),
    ) -> MemoryRecord:
        """Append a memory (importance is clamped to 1..10). Every kind but reflections adds its
        importance to `importance_since_reflection`: reflections must not trigger reflections."""
        kind = MemoryKind(kind)
        vec = np.asarray(embedding, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise ValueError(f"embedding of shape {vec.shape}, expected ({self.dim},)")
        if self._n == self._emb.shape[0]:
            self._grow()
        i = self._n
        importance = min(10, max(1, int(importance)))
        self._emb[i] = vec
        self._imp[i] = importance
        self._kcode[i] = _CODE[kind]
        self._created[i] = self._accessed[i] = _secs(created)
        self._created_at.append(created)
        self._accessed_at.append(created)
        self._text.append(text)
        self._kind.append(kind)
        self._evidence.append(tuple(evidence))
        self._source.append(source)
        self._event.append(event)
        self._about.append(tuple(about))
        self._records.append(None)
        self._by_text.setdefault(text, importance)
        if event is not None or importance >= NOTABLE:
            self._notable.append(i)
        self._n += 1
        if kind is not MemoryKind.reflection:
            self.importance_since_reflection += importance
        return self.get(i)

    def get(self, i: int) -> MemoryRecord:
        if not 0 <= i < self._n:
            raise IndexError(f"{self.agent} has no memory {i}")
        record = self._records[i]
        if record is None:
            record = self._records[i] = self._record(i)
        return record

    def _record(self, i: int) -> MemoryRecord:
        vec = self._emb[i].view()
        vec.flags.writeable = False
        return MemoryRecord(
            id=i,
            agent=self.agent,
            kind=self._kind[i],
            text=self._text[i],
            created=self._created_at[i],
            last_accessed=self._accessed_at[i],
            importance=int(self._imp[i]),
            evidence=self._evidence[i],
            source=self._source[i],
            event=self._event[i],
            about=self._about[i],
            embedding=vec,
        )

    def _ids(self, kinds: set[MemoryKind] | None) -> range | list[int]:
        if kinds is None:
            return range(self._n)
        return [i for i, kind in enumerate(self._kind) if kind in kinds]

    def records(self, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        return [self.get(i) for i in self._ids(kinds)]

    def recent(self, n: int, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        """The n newest memories (of `kinds`), oldest first."""
        ids = self._ids(kinds)
        return [self.get(i) for i in ids[max(0, len(ids) - n):]] if n > 0 else []

    def search(self, text: str, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        """Memories whose text contains `text`, ignoring case, oldest first."""
        needle = text.casefold()
        return [self.get(i) for i in self._ids(kinds) if needle in self._text[i].casefold()]

    def importance_of(self, text: str) -> int | None:
        """The importance this agent gave the same text before, if it has seen it."""
        return self._by_text.get(text)

    def notable(self) -> list[MemoryRecord]:
        """Memories that tell of a scheduled event or have importance >= 7 (news to pass on)."""
        return [self.get(i) for i in self._notable]

    def events_known(self, on_or_after: datetime | None = None) -> list[ScheduledEvent]:
        """Distinct scheduled events told of by memories, by (title, start, place), as first
        learnt and in that order; with `on_or_after`, only those not over by then (end > it)."""
        seen: dict[tuple[str, datetime, str], ScheduledEvent] = {}
        for ev in self._event:
            if ev is not None:
                seen.setdefault((ev.title, ev.start, ev.place), ev)
        return [e for e in seen.values() if on_or_after is None or e.end > on_or_after]

    def reset_reflection_counter(self) -> None:
        self.importance_since_reflection = 0

    def retrieve(
        self,
        query_embedding: np.ndarray,
        now: datetime,
        k: int = 10,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        kinds: set[MemoryKind] | None = None,
        decay: float = 0.995,
        touch: bool = True,
    ) -> list[ScoredMemory]:
        """The k best memories (of `kinds`) by the paper's score, best first; every candidate is
        scored exactly. With `touch`, the returned ones count as accessed `now` from here on (the
        returned records still show the access time they were scored with)."""
        n = self._n
        cosine = relevance(self._emb[:n], query_embedding)
        importance, accessed = self._imp[:n], self._accessed[:n]
        cand = None
        if kinds is not None:
            codes = [_CODE[MemoryKind(kind)] for kind in kinds]
            cand = np.flatnonzero(np.isin(self._kcode[:n], codes))
            cosine, importance, accessed = cosine[cand], importance[cand], accessed[cand]
        hours = np.subtract(_secs(now), accessed)
        hours /= 3600.0
        np.maximum(hours, 0.0, out=hours)  # `now` before the last access counts as no time
        total, recency, imp, rel = combine(cosine, importance, hours, weights, decay)
        best = top_k(total, k)
        ids = best if cand is None else cand[best]
        w = (float(weights[0]), float(weights[1]), float(weights[2]))
        out = [
            ScoredMemory(self.get(int(i)), float(total[j]), float(recency[j]), float(imp[j]),
                         float(rel[j]), w)
            for i, j in zip(ids, best, strict=True)
        ]
        if touch:
            self._accessed[ids] = _secs(now)
            for i in ids:
                self._accessed_at[i] = now
                self._records[i] = None
        return out

    # -- state -----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A JSON-able dict (times as ISO strings) and the arrays for an npz.

        Memories never change once added but for their last access, so their JSON-able
        columns are kept from one call to the next and only the memories added since are
        converted (a checkpoint per sim-hour of a thousand residents' streams); the lists
        returned are new each time (the items within, lists and dicts, are shared)."""
        done = self._saved
        for i in range(len(done["kind"]), self._n):
            done["kind"].append(str(self._kind[i]))
            done["created"].append(self._created_at[i].isoformat())
            done["evidence"].append(list(self._evidence[i]))
            ev = self._event[i]
            done["event"].append(ev.model_dump(mode="json") if ev else None)
            done["about"].append(list(self._about[i]))
        state = {
            "agent": self.agent,
            "dim": self.dim,
            "importance_since_reflection": self.importance_since_reflection,
            "text": list(self._text),
            "kind": list(done["kind"]),
            "created": list(done["created"]),
            "last_accessed": [t.isoformat() for t in self._accessed_at],
            "evidence": list(done["evidence"]),
            "source": list(self._source),
            "event": list(done["event"]),
            "about": list(done["about"]),
        }
        arrays = {
            "embeddings": self._emb[: self._n].copy(),
            "importance": self._imp[: self._n].copy(),
        }
        return state, arrays

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> MemoryStream:
        n = len(state["text"])
        s = cls(state["agent"], state["dim"], capacity=max(64, n))
        columns = zip(
            state["kind"], state["text"], state["created"], arrays["importance"],
            arrays["embeddings"], state["evidence"], state["source"], state["event"],
            state["about"], strict=True,
        )
        for kind, text, created, imp, vec, evidence, source, event, about in columns:
            ev = ScheduledEvent.model_validate(event) if event else None
            s.add(kind, text, datetime.fromisoformat(created), int(imp), vec, evidence, source,
                  ev, about)
        s._accessed_at = [datetime.fromisoformat(t) for t in state["last_accessed"]]
        s._records = [None] * n
        s._accessed[:n] = [_secs(t) for t in s._accessed_at]
        s.importance_since_reflection = state["importance_since_reflection"]
        return s
