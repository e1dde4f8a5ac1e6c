"""The answer models, declared with the prompt contracts in `agentsim.contracts.outputs` and
re-exported here for code that imports them from cognition. `TEMPLATES` maps each template id
to its output model and tier, read from the contracts (`agentsim.contracts.CONTRACTS`)."""

from __future__ import annotations

from typing import Any

from agentsim.contracts import CONTRACTS
from agentsim.contracts.outputs import (
    HHMM,
    ID,
    Activity,
    ConversationMemory,
    CriterionVerdict,
    CurriculumTask,
    DayPlan,
    Decomposition,
    DialogueCritique,
    ImportanceScores,
    Insight,
    Insights,
    InterviewAnswer,
    MemoryId,
    Out,
    PlanCritique,
    PlanItem,
    Question,
    Questions,
    Reaction,
    Score,
    SkillChoice,
    SkillCode,
    SkillVerdict,
    Step,
    Turn,
    importance_scores,
)

TEMPLATES: dict[str, tuple[Any, str]] = {c.id: (c.output, c.tier) for c in CONTRACTS.values()}

__all__ = [
    "HHMM", "ID", "TEMPLATES", "Activity", "ConversationMemory", "CriterionVerdict",
    "CurriculumTask", "DayPlan", "Decomposition", "DialogueCritique", "ImportanceScores",
    "Insight", "Insights", "InterviewAnswer", "MemoryId", "Out", "PlanCritique", "PlanItem",
    "Question", "Questions", "Reaction", "Score", "SkillChoice", "SkillCode", "SkillVerdict",
    "Step", "Turn", "importance_scores",
]
