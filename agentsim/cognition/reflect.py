"""Reflection: when recent memories are important enough, ask the salient questions, retrieve
for each, and write insights that cite their evidence. Reflections are memories too."""

from __future__ import annotations

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize, memory_vars, recall
from agentsim.contracts import (
    REFLECT_INSIGHTS,
    REFLECT_QUESTIONS,
    ReflectInsightsVars,
    ReflectQuestionsVars,
)
from agentsim.events import Reflected
from agentsim.memory.record import MemoryKind

RECENT = 100
QUESTIONS = 3
INSIGHTS_PER_QUESTION = 2


def should_reflect(agent: Agent, ctx: Context) -> bool:
    return agent.memory.importance_since_reflection >= ctx.settings.reflection_threshold


async def reflect(agent: Agent, ctx: Context) -> None:
    persona = agent.persona_vars(ctx.world_name)
    recent = agent.memory.recent(RECENT)
    questions = await REFLECT_QUESTIONS.ask(ctx.llm, ReflectQuestionsVars(
        persona=persona, memories=memory_vars(recent, ctx.places), n=QUESTIONS),
        agent=agent.id)
    agent.memory.reset_reflection_counter()
    for question in questions.questions[:QUESTIONS]:
        found = await recall(agent, question, ctx, k=8)
        if not found:
            continue
        answer = await REFLECT_INSIGHTS.ask(ctx.llm, ReflectInsightsVars(
            persona=persona, question=question, memories=memory_vars(found, ctx.places),
            n=INSIGHTS_PER_QUESTION), agent=agent.id)
        allowed = {s.record.id for s in found}
        for insight in answer.insights[:INSIGHTS_PER_QUESTION]:
            if agent.memory.importance_of(insight.text) is not None:
                continue  # an insight it already had: nothing new to remember
            evidence = tuple(sorted({i for i in insight.evidence if i in allowed}))
            about = tuple(sorted({n for s in found if s.record.id in evidence
                                  for n in s.record.about}))
            await memorize(
                agent,
                [Experience(MemoryKind.reflection, insight.text, about=about, evidence=evidence)],
                ctx,
            )
            ctx.emit(Reflected, agent=agent.id, question=question, insight=insight.text,
                     evidence=list(evidence))
    agent.memory.reset_reflection_counter()
