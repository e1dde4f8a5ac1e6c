"""Interviews: an agent answers a question in character from what it remembers and, when the
world has documents, from the passages of them that bear on the question, citing them."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize, memory_vars, recall
from agentsim.contracts import INTERVIEW, InterviewVars
from agentsim.memory.record import MemoryKind, ScoredMemory
from agentsim.rag.chunk import best_units
from agentsim.rag.store import Citation, Hit, cite


@dataclass(frozen=True)
class Answer:
    agent: str
    question: str
    answer: str
    memories: list[ScoredMemory]  # what the answer drew on, with the score of each
    citations: list[Citation] = field(default_factory=list)  # document passages it cited

    @property
    def sources(self) -> list[str]:
        """Where the answer comes from: memory sources (people, documents read) and the
        document passages it cites ("knowledge/hobbs_cafe_menu.md#4"), each once."""
        found = [m.record.source for m in self.memories if m.record.source]
        return list(dict.fromkeys([*found, *(c.chunk for c in self.citations)]))


async def knowledge_for(question: str, ctx: Context) -> list[Hit]:
    """The world's document passages closest to the question ([] without documents)."""
    if ctx.knowledge is None or ctx.settings.knowledge_k <= 0:
        return []
    return await ctx.knowledge.asearch(question, k=ctx.settings.knowledge_k)


async def interview(
    agent: Agent, question: str, ctx: Context, *, remember: bool = False, k: int = 8
) -> Answer:
    """Answer without changing the simulation unless `remember` is set."""
    found = await recall(agent, question, ctx, k=k, touch=remember)
    hits = await knowledge_for(question, ctx)
    out = await INTERVIEW.ask(ctx.llm, InterviewVars(
        persona=agent.persona_vars(ctx.world_name),
        now=f"{ctx.now:%A %H:%M}",
        question=question,
        memories=memory_vars(found, ctx.places),
        knowledge=[h.to_vars() for h in hits],
    ), agent=agent.id)
    used = [m for m in found if m.record.id in set(out.memory_ids)] or found[:0]
    by_id = {h.chunk.id: h.chunk for h in hits}
    citations = [cite(by_id[s], " ".join(best_units(by_id[s].text, question, 1)))
                 for s in dict.fromkeys(out.sources) if s in by_id]
    if remember:
        await memorize(
            agent,
            [Experience(MemoryKind.chat, f'I was asked "{question}" and said: {out.answer}')],
            ctx,
        )
    return Answer(agent.id, question, out.answer, used, citations)
