"""Reflection: when recent memories are important enough, ask the salient questions, retrieve
for each, and write insights that cite their evidence. Reflections are memories too.

Sizes as in the paper (Sec. 4.2), from `Settings`: the questions are asked of the
`reflection_recent` (100) most recent memories, `reflection_questions` (3) of them, and each
question's retrieved memories (earlier reflections among them) yield up to
`reflection_insights` (5) insights. The paper does not say how many memories a question
retrieves; its code retrieves 30 per focal point (`EVIDENCE_K`). An insight the agent already
holds word for word is not stored again."""

from __future__ import annotations

import asyncio

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

EVIDENCE_K = 30  # memories retrieved per question (the paper's code: new_retrieve n_count=30)


def should_reflect(agent: Agent, ctx: Context) -> bool:
    return agent.memory.importance_since_reflection >= ctx.settings.reflection_threshold


async def reflect(agent: Agent, ctx: Context) -> None:
    """Ask the questions, then for each retrieve its evidence (in question order, each
    retrieval marking what it found as accessed) and ask for its insights, the questions'
    insight calls all at once; the new insights are then remembered together (one importance
    call). So a reflection waits on three model calls in a row, however many questions and
    insights (issue 17); a question's evidence is what the agent held before this reflection,
    not the insights another question of it brings."""
    settings = ctx.settings
    persona = agent.persona_vars(ctx.world_name)
    recent = agent.memory.recent(settings.reflection_recent)
    n_questions, n_insights = settings.reflection_questions, settings.reflection_insights
    questions = await REFLECT_QUESTIONS.ask(ctx.llm, ReflectQuestionsVars(
        persona=persona, memories=memory_vars(recent, ctx.places), n=n_questions),
        agent=agent.id)
    agent.memory.reset_reflection_counter()
    asked = [(q, found) for q in questions.questions[:n_questions]
             if (found := await recall(agent, q, ctx, k=EVIDENCE_K))]
    answers = await asyncio.gather(*(REFLECT_INSIGHTS.ask(ctx.llm, ReflectInsightsVars(
        persona=persona, question=question, memories=memory_vars(found, ctx.places),
        n=n_insights), agent=agent.id) for question, found in asked))
    new: dict[str, tuple[str, Experience]] = {}  # text -> (question, insight), first kept
    for (question, found), answer in zip(asked, answers, strict=True):
        allowed = {s.record.id for s in found}
        for insight in answer.insights[:n_insights]:
            if insight.text in new or agent.memory.importance_of(insight.text) is not None:
                continue  # an insight it already had: nothing new to remember
            evidence = tuple(sorted({i for i in insight.evidence if i in allowed}))
            about = tuple(sorted({n for s in found if s.record.id in evidence
                                  for n in s.record.about}))
            new[insight.text] = (question, Experience(MemoryKind.reflection, insight.text,
                                                      about=about, evidence=evidence))
    await memorize(agent, [exp for _, exp in new.values()], ctx)
    for question, exp in new.values():
        ctx.emit(Reflected, agent=agent.id, question=question, insight=exp.text,
                 evidence=list(exp.evidence))
    agent.memory.reset_reflection_counter()
