"""What each prompt in `prompts/` must answer: one pydantic model per template id.

These models are the contract between cognition, the LLM backends and the offline mind.
`TEMPLATES` maps each template id to its output model and default tier.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImportanceScores(Out):
    """One poignancy score (1 mundane .. 10 life-changing) per observation, in order."""

    scores: list[int] = Field(description="one integer 1-10 per observation, same order")

    @field_validator("scores")
    @classmethod
    def _clamp(cls, v: list[int]) -> list[int]:
        return [min(10, max(1, int(s))) for s in v]


class PlanItem(Out):
    start: str = Field(description="24-hour time HH:MM")
    activity: str
    place: str = Field(description="a place id from the list given")

    @field_validator("start")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        v = v.strip()
        if not _HHMM.match(v):
            raise ValueError("start must be HH:MM")
        h, m = v.split(":")
        return f"{int(h):02d}:{m}"


class DayPlan(Out):
    items: list[PlanItem] = Field(min_length=1, max_length=12)


class Step(Out):
    minutes: int = Field(ge=5, le=90)
    activity: str
    object: str | None = Field(None, description="id of an object used, if any")
    object_state: str | None = Field(None, description="the state that object takes, if any")


class Decomposition(Out):
    steps: list[Step] = Field(min_length=1, max_length=16)


class Reaction(Out):
    react: bool = Field(description="true to start a conversation now")
    reason: str = ""


class Turn(Out):
    utterance: str
    shares_memory_id: int | None = Field(
        None, description="id of the memory whose news this utterance passes on, if any"
    )
    end_conversation: bool = False
    cites: str | None = Field(
        None, description="id of the document passage this utterance passes a fact from, if any"
    )


class ConversationMemory(Out):
    summary: str = Field(description="one sentence, first person, what the conversation was about")
    relationship: str = Field(description="one sentence: how I now see the other person")
    closeness_change: float = Field(0.0, ge=-0.3, le=0.3)


class Questions(Out):
    questions: list[str] = Field(min_length=1, max_length=5)


class Insight(Out):
    text: str
    evidence: list[int] = Field(default_factory=list, description="ids of supporting memories")


class Insights(Out):
    insights: list[Insight] = Field(min_length=1, max_length=5)


class InterviewAnswer(Out):
    answer: str
    memory_ids: list[int] = Field(default_factory=list, description="ids of memories drawn on")
    sources: list[str] = Field(
        default_factory=list, description="ids of the document passages drawn on, e.g. doc.md#2"
    )


class SkillChoice(Out):
    """Which known skill does the task, with what arguments; no skill: write a new one."""

    skill: str | None = Field(None, description="name of a skill from the list, or null")
    args: dict[str, Any] = Field(default_factory=dict, description="arguments for the call")
    reason: str = ""

    @field_validator("skill", mode="before")
    @classmethod
    def _none(cls, v: Any) -> Any:
        """"none", "null" or "" mean no skill; "brew_coffee()" means brew_coffee."""
        if isinstance(v, str):
            v = v.strip().removesuffix("()")
            return None if v.lower() in ("", "none", "null") else v
        return v

    @field_validator("args", mode="before")
    @classmethod
    def _args(cls, v: Any) -> Any:
        return _json_object(v)


def _json_object(v: Any) -> Any:
    """Arguments sent as a JSON text, or as null, read as an object."""
    if v is None:
        return {}
    if isinstance(v, str):
        try:
            parsed = json.loads(v or "{}")
        except json.JSONDecodeError:
            return v
        return parsed if isinstance(parsed, dict) else v
    return v


_SKILL_NAME = re.compile(r"^[a-z_][a-z0-9_]{1,60}$")
_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.DOTALL)
_WORLD_FUNCTION = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(\s*world\b", re.MULTILINE)


class SkillCode(Out):
    """A new skill: a Python function over the action API, and how to call it for this task."""

    name: str = Field(description="the function's name, lower_case_with_underscores")
    description: str = Field(description="one sentence: what the skill does, for retrieval")
    code: str = Field(description="the whole function: def name(world, ...): with a docstring")
    args: dict[str, Any] = Field(default_factory=dict, description="arguments for this task")

    @field_validator("code")
    @classmethod
    def _unfence(cls, v: str) -> str:
        """Models often wrap code in a Markdown fence: keep what is inside."""
        m = _FENCE.search(v)
        return (m.group(1) if m else v).strip("\n") + "\n"

    @field_validator("args", mode="before")
    @classmethod
    def _args(cls, v: Any) -> Any:
        return _json_object(v)

    @model_validator(mode="after")
    def _named_as_defined(self) -> SkillCode:
        """The name is the function the code defines: a model that names it one way and
        defines it another means the function it wrote (when it wrote just one)."""
        self.name = self.name.strip()
        defined = _WORLD_FUNCTION.findall(self.code)
        if self.name not in defined and len(set(defined)) == 1:
            self.name = defined[0]
        if not _SKILL_NAME.match(self.name):
            raise ValueError("name must be lower_case_with_underscores")
        return self


class SkillVerdict(Out):
    """Self-verification: did the world change as the task asked?"""

    success: bool
    critique: str = Field("", description="what is missing or wrong, if not a success")


class CurriculumTask(Out):
    """The next task for a learning goal, or none for now."""

    task: str | None = Field(None, description="the task, an imperative sentence, or null")
    place: str | None = Field(None, description="id of the place it is done at")
    object: str | None = Field(None, description="id of the object it uses, if any")
    state: str | None = Field(None, description="the state that object should take, if any")
    reason: str = ""
class CriterionVerdict(Out):
    criterion: str = Field(description="the criterion's name, as given")
    passed: bool
    reason: str = Field("", description="one sentence: why it passes or fails")


class PlanCritique(Out):
    """A critic's verdict on a day plan: each named criterion, a score, and whether the plan is
    good enough to keep as it is."""

    criteria: list[CriterionVerdict] = Field(min_length=1, max_length=8)
    score: float = Field(description="0 (unusable) to 1 (nothing to improve)")
    satisfied: bool = Field(description="true if the plan can be kept as it is")
    critique: str = Field("", description="what to change, briefly; empty if nothing")

    @field_validator("score")
    @classmethod
    def _unit(cls, v: float) -> float:
        return min(1.0, max(0.0, float(v)))


class DialogueCritique(Out):
    """A critic's verdict on one turn of dialogue."""

    score: float = Field(ge=0, le=1, description="0 poor .. 1 just right")
    satisfied: bool = Field(description="true if the turn is good as it is")
    failed: list[str] = Field(default_factory=list, description="names of criteria it fails")
    critique: str = Field("", description="one sentence: what to change, if anything")


TEMPLATES: dict[str, tuple[type[Out], str]] = {
    "importance": (ImportanceScores, "fast"),
    "day_plan": (DayPlan, "smart"),
    "replan": (DayPlan, "smart"),
    "plan_critique": (PlanCritique, "smart"),
    "plan_refine": (DayPlan, "smart"),
    "decompose": (Decomposition, "smart"),
    "react": (Reaction, "fast"),
    "converse_turn": (Turn, "smart"),
    "conversation_memory": (ConversationMemory, "fast"),
    "reflect_questions": (Questions, "smart"),
    "reflect_insights": (Insights, "smart"),
    "interview": (InterviewAnswer, "smart"),
    "dialogue_critique": (DialogueCritique, "fast"),
    "dialogue_refine": (Turn, "smart"),
    "skill_choose": (SkillChoice, "smart"),
    "skill_write": (SkillCode, "smart"),
    "skill_fix": (SkillCode, "smart"),
    "skill_verify": (SkillVerdict, "smart"),
    "curriculum": (CurriculumTask, "smart"),
}
