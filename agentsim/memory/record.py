"""A memory record: one entry of an agent's memory stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from agentsim.world.schema import ScheduledEvent


class MemoryKind(StrEnum):
    observation = "observation"
    chat = "chat"
    plan = "plan"
    reflection = "reflection"
    reading = "reading"


@dataclass(frozen=True)
class MemoryRecord:
    id: int  # per agent, 0, 1, 2, ... in creation order
    agent: str
    kind: MemoryKind
    text: str
    created: datetime
    last_accessed: datetime
    importance: int  # 1..10
    evidence: tuple[int, ...] = ()  # memory ids this one rests on (reflections)
    source: str | None = None  # citation, e.g. "knowledge/newsletter.md#2" or "Isabella Rodriguez"
    event: ScheduledEvent | None = None  # a scheduled event this memory tells of
    about: tuple[str, ...] = ()  # names of the people it concerns
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ScoredMemory:
    """A retrieved memory with the parts of its score, so a user can see why it came up.

    `recency`, `importance` and `relevance` are min-max normalised over the candidates (0..1);
    `score` = weights[0]*recency + weights[1]*importance + weights[2]*relevance.
    """

    record: MemoryRecord
    score: float
    recency: float
    importance: float
    relevance: float
    weights: tuple[float, float, float]

    def explain(self) -> str:
        wr, wi, wv = self.weights
        return (
            f"{self.score:.2f} = {wr * self.recency:.2f} recency"
            f" + {wi * self.importance:.2f} importance + {wv * self.relevance:.2f} relevance"
        )
