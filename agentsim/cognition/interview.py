"""Interviews: an agent answers a question in character from what it remembers, and from the
document passages it has read, citing them.

An interview knows only what the resident knows. The world's documents are a library, not
every resident's mind: the only passages an interview is given are those its retrieved
`reading` memories point to (each reading memory's `source` is the chunk read; the library
holds that chunk's text, so the answer can quote what was read, not just the gist the memory
kept). A resident who never read the menu cannot quote the menu."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize, memory_vars, recall
from agentsim.contracts import INTERVIEW, InterviewVars
from agentsim.memory.record import MemoryKind, ScoredMemory
from agentsim.rag.chunk import Chunk, best_units
from agentsim.rag.store import Citation, cite


@dataclass(frozen=True)
class Answer:
    agent: str
    question: str
    answer: str
    memories: list[ScoredMemory]  # what the answer drew on, with the score of each
    citations: list[Citation] = field(default_factory=list)  # document passages it cited
    origin: str = "unknown"  # who gave the answer (agentsim.contracts.Answered.origin)

    @property
    def sources(self) -> list[str]:
        """Where the answer comes from: memory sources (people, documents read) and the
        document passages it cites ("knowledge/hobbs_cafe_menu.md#4"), each once."""
        found = [m.record.source for m in self.memories if m.record.source]
        return list(dict.fromkeys([*found, *(c.chunk for c in self.citations)]))


def passages_read(found: list[ScoredMemory], ctx: Context) -> list[Chunk]:
    """The chunks the retrieved reading memories point to, each once, in retrieval order
    ([] without documents, or when none of the memories is a reading)."""
    kb = ctx.knowledge
    if kb is None:
        return []
    ids = [m.record.source for m in found
           if m.record.kind is MemoryKind.reading and m.record.source]
    out = []
    for i in dict.fromkeys(ids):
        try:
            out.append(kb.chunk(i))
        except KeyError:  # a document the library no longer holds: the memory's gist stays
            continue
    return out


def _passage_vars(c: Chunk) -> dict[str, Any]:
    return {"id": c.id, "document": c.document, "title": c.title, "text": c.text}


async def interview(
    agent: Agent, question: str, ctx: Context, *, remember: bool = False, k: int = 8
) -> Answer:
    """Answer without changing the simulation unless `remember` is set."""
    found = await recall(agent, question, ctx, k=k, touch=remember)
    read = passages_read(found, ctx)
    extra = {"passages": [_passage_vars(c) for c in read]} if read else {}
    got = await INTERVIEW.answer(ctx.llm, InterviewVars(
        persona=agent.persona_vars(ctx.world_name),
        now=f"{ctx.now:%A %H:%M}",
        question=question,
        memories=memory_vars(found, ctx.places),
        **extra,
    ), agent=agent.id)
    out = got.value
    used = [m for m in found if m.record.id in set(out.memory_ids)] or found[:0]
    by_id = {c.id: c for c in read}  # a source it did not read is dropped
    citations = [cite(by_id[s], " ".join(best_units(by_id[s].text, question, 1)))
                 for s in dict.fromkeys(out.sources) if s in by_id]
    if remember:
        await memorize(
            agent,
            [Experience(MemoryKind.chat, f'I was asked "{question}" and said: {out.answer}')],
            ctx,
        )
    return Answer(agent.id, question, out.answer, used, citations, got.origin)
