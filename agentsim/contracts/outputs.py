"""What each prompt in `prompts/` must answer: the pydantic output models of the contracts.

These models are the answer half of each `agentsim.contracts.Contract` (the variables half is
next to each contract, in the area modules); cognition, the LLM backends and the offline mind
all read them from here. Each builds on `Out` (`agentsim.contracts.answer`).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from agentsim.contracts.answer import Out, norm_text
from agentsim.contracts.plan_criteria import CRITERIA

_HHMM = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
# What the schema asks for (a grammar then writes it). [0-9], not \d: llama.cpp's
# schema-to-grammar converter rejects the escape.
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ID = r"^[A-Za-z0-9_.:#/-]{1,80}$"  # place, object and passage ids
Score = Annotated[int, Field(ge=1, le=10)]


class ImportanceScores(Out):
    """One poignancy score (1 mundane .. 10 life-changing) per observation, in order."""

    scores: list[Score] = Field(description="one integer 1-10 per observation, same order",
                                examples=[[2, 7, 4, 1, 5, 3, 8, 2, 6, 3]])

    @field_validator("scores", mode="before")
    @classmethod
    def _clamp(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for s in v:
            try:
                out.append(min(10, max(1, int(s))))
            except (TypeError, ValueError):
                out.append(s)  # not a number: the int check says so
        return out


@functools.cache
def importance_scores(n: int) -> type[ImportanceScores]:
    """ImportanceScores for exactly `n` observations: a wrong count is a validation error (the
    client re-asks), and a server that enforces the schema writes `n` scores."""
    return create_model(
        "ImportanceScores", __base__=ImportanceScores, __doc__=ImportanceScores.__doc__,
        scores=(list[Score], Field(min_length=n, max_length=n,
                                   description=f"exactly {n} integers 1-10, one per "
                                               f"observation, same order",
                                   examples=[[2, 7, 4, 1, 5, 3, 8, 2, 6, 3]])))


Activity = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]


class PlanItem(Out):
    start: str = Field(pattern=HHMM, description="24-hour time HH:MM", examples=["07:30"])
    activity: Activity = Field(examples=["read in the garden"])
    place: str = Field(pattern=ID, description="a place id from the list given",
                       examples=["home_kitchen"])
    _words = ("activity",)

    @field_validator("start", mode="before")
    @classmethod
    def _hhmm(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        v = v.strip()
        if not _HHMM.match(v):
            raise ValueError(f"start must be a time HH:MM such as 07:30, not {v[:40]!r}")
        h, m = v.split(":")
        return f"{int(h):02d}:{m}"

    @field_validator("place", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v


class DayPlan(Out):
    items: list[PlanItem] = Field(min_length=1, max_length=12, examples=[[
        {"start": "07:00", "activity": "get up and make breakfast", "place": "home_kitchen"},
        {"start": "09:00", "activity": "open the shop", "place": "town_shop"}]])


class Step(Out):
    minutes: int = Field(ge=5, le=90, examples=[15])
    activity: Activity = Field(examples=["make a cup of tea"])
    object: str | None = Field(None, max_length=80, description="id of an object used, if any",
                               examples=["kettle"])
    object_state: str | None = Field(None, max_length=60,
                                     description="the state that object takes, if any",
                                     examples=["on"])
    _words = ("activity",)


class Decomposition(Out):
    steps: list[Step] = Field(min_length=1, max_length=16, examples=[[
        {"minutes": 10, "activity": "make a cup of tea", "object": "kettle",
         "object_state": "on"},
        {"minutes": 20, "activity": "read the newspaper", "object": None,
         "object_state": None}]])


MemoryId = Annotated[int, Field(ge=0)]


class Reaction(Out):
    react: bool = Field(description="true to start a conversation now", examples=[False])
    reason: str = Field("", max_length=400, examples=["we spoke an hour ago"])
    # Starting a conversation: its first line, said at once (the conversation's first turn is
    # not asked again: one model call less before a tick's talk, issue 17).
    opening: str = Field("", max_length=1000,
                         description="if you start a conversation: what you say first",
                         examples=[""])
    shares_memory_id: MemoryId | None = Field(
        None, description="id of the memory whose news what you say first passes on, if any",
        examples=[None])


class Turn(Out):
    utterance: str = Field(max_length=1000,
                           examples=["Morning, Tom! Did you hear the library opens late today?"])
    shares_memory_id: MemoryId | None = Field(
        None, description="id of the memory whose news this utterance passes on, if any",
        examples=[None])
    end_conversation: bool = Field(False, examples=[False])
    cites: str | None = Field(
        None, max_length=120,
        description="id of the document passage this utterance passes a fact from, if any",
        examples=[None])
    _words = ("utterance",)


class ConversationMemory(Out):
    summary: str = Field(min_length=3, max_length=1000,
                         description="one sentence, first person, what the conversation was about",
                         examples=["Tom and I talked about the late opening of the library."])
    relationship: str = Field(min_length=3, max_length=1000,
                              description="one sentence: how I now see the other person",
                              examples=["Tom is a friendly neighbour who keeps me posted."])
    closeness_change: float = Field(0.0, ge=-0.3, le=0.3, examples=[0.1])
    # The summary memory's poignancy, asked here so that remembering a talk is one call in a
    # row, not two (issue 17); None (an older answer) has it scored as any memory is.
    importance: Score | None = Field(
        None, description="how important the conversation is to me: 1 mundane, 10 life-changing",
        examples=[3])
    _words = ("summary", "relationship")

    @field_validator("importance", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        """A score out of range is held to 1-10, as importance scores are."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(1, min(10, round(value)))
        return value


Question = Annotated[str, Field(min_length=3, max_length=1000)]


class Questions(Out):
    questions: list[Question] = Field(min_length=1, max_length=5, examples=[[
        "What does Tom care about most these days?"]])
    _words = ("questions",)


class Insight(Out):
    text: str = Field(min_length=3, max_length=1000,
                      examples=["Tom cares a lot about the people in his street."])
    evidence: list[MemoryId] = Field(default_factory=list, max_length=50,
                                     description="ids of supporting memories", examples=[[3, 8]])
    _words = ("text",)


class Insights(Out):
    insights: list[Insight] = Field(min_length=1, max_length=5)


class InterviewAnswer(Out):
    answer: str = Field(min_length=1, max_length=2000,
                        examples=["I spent the morning at the shop, then had lunch with Tom."])
    memory_ids: list[MemoryId] = Field(default_factory=list, max_length=50,
                                       description="ids of memories drawn on", examples=[[4]])
    sources: list[str] = Field(
        default_factory=list, max_length=50,
        description="ids of the document passages drawn on, e.g. doc.md#2", examples=[[]]
    )
    _words = ("answer",)


class SkillChoice(Out):
    """Which known skill does the task, with what arguments; no skill: write a new one."""

    skill: str | None = Field(None, max_length=80,
                              description="name of a skill from the list, or null",
                              examples=["brew_coffee"])
    args: dict[str, Any] = Field(default_factory=dict, description="arguments for the call",
                                 examples=[{"cups": 1}])
    reason: str = Field("", max_length=400, examples=["it makes coffee"])

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

    name: str = Field(max_length=62, description="the function's name, lower_case_with_underscores",
                      examples=["water_plants"])
    description: str = Field(max_length=300,
                             description="one sentence: what the skill does, for retrieval",
                             examples=["Water the plants in a garden with the watering can."])
    code: str = Field(min_length=1,
                      description="the whole function: def name(world, ...): with a docstring",
                      examples=['def water_plants(world, place="garden"):\n'
                                '    """Water the plants."""\n    world.go(place)\n'])
    args: dict[str, Any] = Field(default_factory=dict, description="arguments for this task",
                                 examples=[{"place": "garden"}])

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

    success: bool = Field(examples=[False])
    critique: str = Field("", max_length=600,
                          description="what is missing or wrong, if not a success",
                          examples=["The kettle is still off."])


class CurriculumTask(Out):
    """The next task for a learning goal, or none for now."""

    task: str | None = Field(None, max_length=300,
                             description="the task, an imperative sentence, or null",
                             examples=["Turn on the kettle in the kitchen."])
    place: str | None = Field(None, max_length=80, description="id of the place it is done at",
                              examples=["home_kitchen"])
    object: str | None = Field(None, max_length=80,
                               description="id of the object it uses, if any",
                               examples=["kettle"])
    state: str | None = Field(None, max_length=60,
                              description="the state that object should take, if any",
                              examples=["on"])
    reason: str = Field("", max_length=400, examples=["I can already fill it"])


class CriterionVerdict(Out):
    criterion: Literal[CRITERIA] = Field(  # type: ignore[valid-type]
        description="the criterion's name, as given", examples=[CRITERIA[0]])
    passed: bool = Field(examples=[True])
    reason: str = Field("", max_length=400, description="one sentence: why it passes or fails",
                        examples=["Every place is on the list."])

    @field_validator("criterion", mode="before")
    @classmethod
    def _name(cls, v: Any) -> Any:
        """'Places exist.' is the criterion 'places exist'."""
        if isinstance(v, str):
            key = norm_text(v)
            return next((c for c in CRITERIA if norm_text(c) == key), v)
        return v


class PlanCritique(Out):
    """A critic's verdict on a day plan: each named criterion, a score, and whether the plan is
    good enough to keep as it is."""

    criteria: list[CriterionVerdict] = Field(min_length=1, max_length=8)
    score: float = Field(ge=0, le=1, description="0 (unusable) to 1 (nothing to improve)",
                         examples=[0.8])
    satisfied: bool = Field(description="true if the plan can be kept as it is", examples=[True])
    critique: str = Field("", max_length=600,
                          description="what to change, briefly; empty if nothing",
                          examples=[""])

    @field_validator("score", mode="before")
    @classmethod
    def _unit(cls, v: Any) -> Any:
        try:
            return min(1.0, max(0.0, float(v)))
        except (TypeError, ValueError):
            return v


class DialogueCritique(Out):
    """A critic's verdict on one turn of dialogue."""

    score: float = Field(ge=0, le=1, description="0 poor .. 1 just right", examples=[0.9])
    satisfied: bool = Field(description="true if the turn is good as it is", examples=[True])
    failed: list[str] = Field(default_factory=list, max_length=20,
                              description="names of criteria it fails", examples=[[]])
    critique: str = Field("", max_length=600,
                          description="one sentence: what to change, if anything",
                          examples=[""])


class JudgeRanking(Out):
    """A judge's ranking of the anonymised answers to one interview question (`agentsim
    evaluate`): their labels, most believable first."""

    ranking: list[Literal["A", "B", "C", "D", "E", "F", "G", "H"]] = Field(
        min_length=1, max_length=8, description="answer labels, most believable first",
        examples=[["B", "A", "C", "D"]])
    reason: str = Field("", max_length=400, examples=["B recalls the party and its host"])
