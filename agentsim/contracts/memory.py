"""Contracts of the memory prompts: how important an observation is, and reflection (the
questions recent memories raise, and the insights retrieved memories support)."""

from __future__ import annotations

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import ImportanceScores, Insights, Questions, importance_scores
from agentsim.contracts.shapes import Memory, Persona


class ImportanceVars(Vars):
    persona: Persona
    observations: list[str]


class ReflectQuestionsVars(Vars):
    persona: Persona
    memories: list[Memory]
    n: int


class ReflectInsightsVars(Vars):
    persona: Persona
    question: str
    memories: list[Memory]
    n: int


IMPORTANCE: Contract[ImportanceVars, ImportanceScores] = Contract(
    "importance", ImportanceVars, ImportanceScores, tier="fast", budget=1200,
    shown="none",  # a grammar of integers is enough: SmolLM2 answered 32 of 32 without one
    sized=lambda v: importance_scores(len(v.observations)),  # a wrong count is re-asked
    example=lambda: ImportanceVars(persona=s.PERSONA, observations=[
        "Tom Moreno is drinking coffee", "the coffee machine is brewing"]))

REFLECT_QUESTIONS: Contract[ReflectQuestionsVars, Questions] = Contract(
    "reflect_questions", ReflectQuestionsVars, Questions, budget=3200,  # 100 memories
    trim={"memories": "last"},
    example=lambda: ReflectQuestionsVars(persona=s.PERSONA, memories=s.MEMORIES, n=3))

REFLECT_INSIGHTS: Contract[ReflectInsightsVars, Insights] = Contract(
    "reflect_insights", ReflectInsightsVars, Insights, budget=2000,  # 30 memories
    trim={"memories": "first"},
    example=lambda: ReflectInsightsVars(persona=s.PERSONA, question="What matters to Tom?",
                                        memories=s.MEMORIES, n=5))
