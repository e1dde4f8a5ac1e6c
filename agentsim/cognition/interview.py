"""Interviews: an agent answers a question in character from what it remembers."""

from __future__ import annotations

from dataclasses import dataclass

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize, memory_vars, recall
from agentsim.cognition.schemas import InterviewAnswer
from agentsim.memory.record import MemoryKind, ScoredMemory


@dataclass(frozen=True)
class Answer:
    agent: str
    question: str
    answer: str
    memories: list[ScoredMemory]  # what the answer drew on, with the score of each

    @property
    def sources(self) -> list[str]:
        return [m.record.source for m in self.memories if m.record.source]


async def interview(
    agent: Agent, question: str, ctx: Context, *, remember: bool = False, k: int = 8
) -> Answer:
    """Answer without changing the simulation unless `remember` is set."""
    found = await recall(agent, question, ctx, k=k, touch=remember)
    out = await ctx.llm.ask(
        "interview",
        {
            "persona": agent.persona_vars(ctx.world_name),
            "now": f"{ctx.now:%A %H:%M}",
            "question": question,
            "memories": memory_vars(found, ctx.places),
        },
        schema=InterviewAnswer,
        agent=agent.id,
    )
    used = [m for m in found if m.record.id in set(out.memory_ids)] or found[:0]
    if remember:
        await memorize(
            agent,
            [Experience(MemoryKind.chat, f'I was asked "{question}" and said: {out.answer}')],
            ctx,
        )
    return Answer(agent.id, question, out.answer, used)
