"""Reading: an agent at a place with documents (or using an object that holds some) reads the
part most relevant to what it is doing, and remembers it with the citation.

    I read in Hobbs Cafe Menu › Pastries: Lavender honey scone: $3.25. ...
        kind=reading, source="knowledge/hobbs_cafe_menu.md#4"

An agent reads when its current action uses an object that holds documents, or when it is at
a place with documents posted and the activity is about reading (read, study, browse, order,
the menu, ...): at most once per item of its day plan, and a chunk it has not read before when
there is one. `read` is also what `Simulation.aread` (and a skill's `read(document)`) calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize
from agentsim.events import Read
from agentsim.memory.record import MemoryKind, MemoryRecord
from agentsim.rag.chunk import best_units
from agentsim.rag.store import Citation, Hit, cite

READING = re.compile(
    r"\b(read\w*|stud(?:y|ies|ying)|research\w*|brows\w*|books?|menu|order\w*|notices?|"
    r"newsletter|gazette|catalog\w*|library|look\w* up|learn\w*)\b",
    re.IGNORECASE,
)
GIST_UNITS = 2


@dataclass(frozen=True)
class Reading:
    """What one read left: the chunks read, their citations, and the memories made."""

    agent: str
    document: str
    hits: list[Hit]
    memories: list[MemoryRecord]

    @property
    def citations(self) -> list[Citation]:
        return [cite(h.chunk, m.text.split(": ", 1)[-1])
                for h, m in zip(self.hits, self.memories, strict=True)]


def _day_item(agent: Agent, now: datetime) -> Action | None:
    return next((a for a in agent.day_plan if a.start <= now < a.end), None)


def documents_for(agent: Agent, action: Action, ctx: Context) -> list[str]:
    """The documents the action reads, [] if none (or if the agent is not there yet)."""
    kb = ctx.knowledge
    if kb is None or agent.location != action.place:
        return []
    docs = [action.document] if action.document else []
    if not docs and action.object:
        docs = ctx.places.object_documents(action.object)
    if not docs:
        item = _day_item(agent, ctx.now)
        doing = f"{action.activity} {item.activity if item else ''}"
        if READING.search(doing):
            docs = ctx.places.documents_at(agent.location)
    return [d for d in docs if d in kb]


def interest(agent: Agent, ctx: Context) -> str:
    """What the agent would look for: what it is doing, its work and its goals."""
    item = _day_item(agent, ctx.now)
    doing = [agent.action.activity] if agent.action else []
    if item is not None:
        doing.append(item.activity)
    p = agent.persona
    return ". ".join([*doing, p.occupation, *p.goals])


async def read_if_reading(agent: Agent, action: Action | None, ctx: Context) -> None:
    """Read, if this action is a reading one and nothing was read yet in this part of the day."""
    if action is None:
        return
    docs = documents_for(agent, action, ctx)
    if not docs:
        return
    item = _day_item(agent, ctx.now)
    since = item.start if item is not None else action.start
    last = agent.memory.recent(1, {MemoryKind.reading})
    if last and last[0].created >= since:
        return
    await read(agent, docs, ctx, query=f"{action.activity}. {interest(agent, ctx)}")


async def read(agent: Agent, documents: list[str], ctx: Context, *, query: str | None = None,
               k: int = 1) -> Reading | None:
    """Read the `k` chunks of `documents` most relevant to `query` (by default the agent's
    current interest), preferring chunks not read before; remember each with its citation."""
    kb = ctx.knowledge
    if kb is None or not documents:
        return None
    query = query or interest(agent, ctx)
    seen = {r.source for r in agent.memory.records({MemoryKind.reading}) if r.source}
    hits = await kb.asearch(query, k=k, documents=documents, exclude=seen) \
        or await kb.asearch(query, k=k, documents=documents)
    if not hits:
        return None
    experiences = []
    for h in hits:
        gist = " ".join(best_units(h.chunk.text, query, GIST_UNITS))
        experiences.append(Experience(MemoryKind.reading, f"I read in {h.chunk.title}: {gist}",
                                      source=h.chunk.id))
    records = await memorize(agent, experiences, ctx)
    document = hits[0].chunk.document
    ctx.emit(Read, agent=agent.id, document=document, title=kb.title(document),
             chunks=[h.chunk.id for h in hits], memory=records[0].id)
    return Reading(agent.id, document, hits, records)
