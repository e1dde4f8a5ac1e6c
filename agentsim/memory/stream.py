"""An agent's memory stream: columnar storage for fast, exact scoring of every memory."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np

from agentsim.memory.record import MemoryKind, MemoryRecord, ScoredMemory
from agentsim.memory.retrieval import score, top_k
from agentsim.world.schema import ScheduledEvent

_EPOCH = datetime(2000, 1, 1)
_CODE = {k: i for i, k in enumerate(MemoryKind)}
NOTABLE = 7


def _secs(t: datetime) -> float:
    return (t - _EPOCH).total_seconds()


def _time(s: float) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(seconds=float(s))


class MemoryStream:
    """Memories of one agent. Numbers live in numpy arrays (grown by doubling); texts and
    structure in lists. Records are built on demand and are immutable snapshots."""

    def __init__(self, agent: str, dim: int, capacity: int = 64):
        self.agent = agent
        self.dim = dim
        self._n = 0
        self._emb = np.zeros((capacity, dim), dtype=np.float32)
        self._imp = np.zeros(capacity, dtype=np.int16)
        self._created = np.zeros(capacity, dtype=np.float64)
        self._accessed = np.zeros(capacity, dtype=np.float64)
        self._kcode = np.zeros(capacity, dtype=np.int8)
        self._text: list[str] = []
        self._kind: list[MemoryKind] = []
        self._evidence: list[tuple[int, ...]] = []
        self._source: list[str | None] = []
        self._event: list[ScheduledEvent | None] = []
        self._about: list[tuple[str, ...]] = []
        self._by_text: dict[str, int] = {}
        self._created_at: list[datetime] = []
        self._notable: list[int] = []  # ids with a scheduled event or importance >= 7
        self.importance_since_reflection = 0

    def __len__(self) -> int:
        return self._n

    def _grow(self) -> None:
        cap = max(64, 2 * self._emb.shape[0])
        for name in ("_emb", "_imp", "_created", "_accessed", "_kcode"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

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
        if self._n == self._emb.shape[0]:
            self._grow()
        i = self._n
        importance = int(min(10, max(1, importance)))
        self._emb[i] = embedding
        self._imp[i] = importance
        self._created[i] = self._accessed[i] = _secs(created)
        self._kcode[i] = _CODE[MemoryKind(kind)]
        self._text.append(text)
        self._kind.append(MemoryKind(kind))
        self._evidence.append(tuple(evidence))
        self._source.append(source)
        self._event.append(event)
        self._about.append(tuple(about))
        self._by_text.setdefault(text, importance)
        self._created_at.append(created)
        if event is not None or importance >= NOTABLE:
            self._notable.append(i)
        self._n += 1
        if kind is not MemoryKind.reflection:  # reflections must not trigger reflections
            self.importance_since_reflection += importance
        return self.get(i)

    def importance_of(self, text: str) -> int | None:
        """The importance this agent gave the same text before, if it has seen it."""
        return self._by_text.get(text)

    def get(self, i: int) -> MemoryRecord:
        if not 0 <= i < self._n:
            raise IndexError(f"{self.agent} has no memory {i}")
        created = self._created_at[i]
        accessed = created if self._accessed[i] == self._created[i] else _time(self._accessed[i])
        return MemoryRecord(
            id=i,
            agent=self.agent,
            kind=self._kind[i],
            text=self._text[i],
            created=created,
            last_accessed=accessed,
            importance=int(self._imp[i]),
            evidence=self._evidence[i],
            source=self._source[i],
            event=self._event[i],
            about=self._about[i],
            embedding=self._emb[i],
        )

    def records(self, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        return [self.get(i) for i in range(self._n) if kinds is None or self._kind[i] in kinds]

    def notable(self) -> list[MemoryRecord]:
        """Memories that tell of a scheduled event or have importance >= 7 (news candidates)."""
        return [self.get(i) for i in self._notable]

    def recent(self, n: int, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        """The n newest memories, oldest first."""
        out: list[MemoryRecord] = []
        for i in range(self._n - 1, -1, -1):
            if len(out) == n:
                break
            if kinds is None or self._kind[i] in kinds:
                out.append(self.get(i))
        return out[::-1]

    def search(self, text: str, kinds: set[MemoryKind] | None = None) -> list[MemoryRecord]:
        needle = text.lower()
        return [
            self.get(i)
            for i in range(self._n)
            if needle in self._text[i].lower() and (kinds is None or self._kind[i] in kinds)
        ]

    def events_known(self, on_or_after: datetime | None = None) -> list[ScheduledEvent]:
        """Distinct scheduled events the agent knows of, in order of first learning."""
        seen: dict[tuple, ScheduledEvent] = {}
        for ev in self._event:
            if ev is None or (on_or_after is not None and ev.end < on_or_after):
                continue
            seen.setdefault((ev.title, ev.start, ev.place), ev)
        return list(seen.values())

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
        """Top-k memories by the paper's score, best first. Scores every candidate exactly;
        `touch` marks the retrieved ones as accessed now, as in the paper."""
        n = self._n
        if n == 0:
            return []
        cand = None
        if kinds is not None:
            codes = np.array([_CODE[MemoryKind(k)] for k in kinds], dtype=np.int8)
            cand = np.flatnonzero(np.isin(self._kcode[:n], codes))
            if cand.size == 0:
                return []
        emb, imp, acc = self._emb[:n], self._imp[:n], self._accessed[:n]
        if cand is not None:
            emb, imp, acc = emb[cand], imp[cand], acc[cand]
        hours = np.maximum(0.0, (_secs(now) - acc) / 3600.0)
        total, rec, impn, rel = score(emb, imp, hours, query_embedding, weights, decay)
        best = top_k(total, k)
        w = tuple(float(x) for x in weights)
        out = []
        for j in best:
            i = int(cand[j]) if cand is not None else int(j)
            out.append(ScoredMemory(self.get(i), float(total[j]), float(rec[j]),
                                    float(impn[j]), float(rel[j]), w))
        if touch:
            t = _secs(now)
            for s in out:
                self._accessed[s.record.id] = t
        return out

    # -- state -----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        n = self._n
        state = {
            "agent": self.agent,
            "dim": self.dim,
            "importance_since_reflection": self.importance_since_reflection,
            "text": list(self._text),
            "kind": [str(k) for k in self._kind],
            "evidence": [list(e) for e in self._evidence],
            "source": list(self._source),
            "event": [e.model_dump(mode="json") if e else None for e in self._event],
            "about": [list(a) for a in self._about],
        }
        arrays = {
            "embeddings": self._emb[:n].copy(),
            "importance": self._imp[:n].copy(),
            "created": self._created[:n].copy(),
            "accessed": self._accessed[:n].copy(),
        }
        return state, arrays

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> MemoryStream:
        n = len(state["text"])
        s = cls(state["agent"], state["dim"], capacity=max(64, n))
        s._n = n
        s._emb[:n] = arrays["embeddings"]
        s._imp[:n] = arrays["importance"]
        s._created[:n] = arrays["created"]
        s._accessed[:n] = arrays["accessed"]
        s._text = list(state["text"])
        s._kind = [MemoryKind(k) for k in state["kind"]]
        s._kcode[:n] = [_CODE[k] for k in s._kind]
        s._evidence = [tuple(e) for e in state["evidence"]]
        s._source = list(state["source"])
        s._event = [ScheduledEvent.model_validate(e) if e else None for e in state["event"]]
        s._about = [tuple(a) for a in state["about"]]
        s._created_at = [_time(t) for t in s._created[:n]]
        for i, (text, imp) in enumerate(zip(s._text, s._imp[:n], strict=True)):
            s._by_text.setdefault(text, int(imp))
            if s._event[i] is not None or imp >= NOTABLE:
                s._notable.append(i)
        s.importance_since_reflection = state["importance_since_reflection"]
        return s
