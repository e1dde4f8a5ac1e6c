"""Contracts of the skill prompts (Voyager): choose a known skill for a task, write a new one,
fix it after a failed run, verify a run did the task, and propose the next task to learn."""

from __future__ import annotations

from typing import Any

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import CurriculumTask, SkillChoice, SkillCode, SkillVerdict
from agentsim.contracts.shapes import Attempt, Here, ObjectView, Persona, TaskView


class SkillChooseVars(Vars):
    persona: Persona
    now: str
    here: Here
    task: TaskView
    candidates: list[dict[str, Any]]  # Skill.to_vars() and a retrieval score


class SkillBaseVars(Vars):
    """What writing and fixing a skill both see (not a template's own)."""

    persona: Persona
    here: Here
    task: TaskView
    api: str  # the action API's documentation
    objects: list[ObjectView]


class SkillWriteVars(SkillBaseVars):
    failure: str | None  # why a known skill failed, if one was tried
    examples: list[dict[str, str]]  # name, description, code of similar skills


class SkillFixVars(SkillBaseVars):
    history: list[Attempt]  # code, args, feedback per earlier attempt


class SkillVerifyVars(Vars):
    world: str
    task: TaskView
    skill: str
    steps: list[str]
    changes: dict[str, Any]  # location before/after, objects changed, said, read, minutes
    returned: str


class CurriculumVars(Vars):
    persona: Persona
    now: str
    here: Here
    goals: list[str]
    progress: dict[str, list[str]]  # done, failed
    skills: list[str]
    options: list[dict[str, Any]]  # object, object_name, place, place_name, state, states


def _base() -> dict[str, Any]:
    return {"persona": s.PERSONA, "here": s.HERE, "task": s.TASK,
            "api": "world.go(place) walks there; world.use(object, state) changes it.",
            "objects": [s.OVEN]}


SKILL_CHOOSE: Contract[SkillChooseVars, SkillChoice] = Contract(
    "skill_choose", SkillChooseVars, SkillChoice, budget=1200, trim={"candidates": "first"},
    example=lambda: SkillChooseVars(
        persona=s.PERSONA, now="08:00", here=s.HERE, task=s.TASK, candidates=[
            {"name": "bake", "description": "Bake in the cafe oven.",
             "signature": "bake(minutes=30)", "parameters": ["minutes"], "uses": 2,
             "successes": 2, "score": 0.61}]))

SKILL_WRITE: Contract[SkillWriteVars, SkillCode] = Contract(
    "skill_write", SkillWriteVars, SkillCode, budget=2400,
    trim={"examples": "first", "objects": "first"},
    example=lambda: SkillWriteVars(**_base(), failure=None, examples=[
        {"name": "bake", "description": "Bake in the cafe oven.", "code": s.CODE}]))

SKILL_FIX: Contract[SkillFixVars, SkillCode] = Contract(
    "skill_fix", SkillFixVars, SkillCode, budget=2600,
    trim={"history": "last", "objects": "first"},
    example=lambda: SkillFixVars(**_base(), history=[
        {"code": s.CODE, "args": {"minutes": 30}, "feedback": {
            "score": 0.0, "satisfied": False, "critique": "the oven is still idle",
            "issues": ["critique"]}}]))

SKILL_VERIFY: Contract[SkillVerifyVars, SkillVerdict] = Contract(
    "skill_verify", SkillVerifyVars, SkillVerdict, budget=1000, trim={"steps": "last"},
    example=lambda: SkillVerifyVars(
        world="Smallville", task=s.TASK, skill="bake",
        steps=["walked to kitchen", "oven: idle -> baking"],
        changes={"location_before": "counter", "location_after": "kitchen",
                 "location_after_id": "hobbs_cafe_kitchen",
                 "objects": [{"id": "cafe_oven", "name": "oven", "old": "idle",
                              "new": "baking"}],
                 "said": [], "read": [], "minutes": 35, "task_object_after": "baking"},
        returned="None"))

CURRICULUM: Contract[CurriculumVars, CurriculumTask] = Contract(
    "curriculum", CurriculumVars, CurriculumTask, budget=1200,
    trim={"options": "first", "skills": "first"},
    example=lambda: CurriculumVars(
        persona=s.PERSONA, now="08:00", here=s.HERE, goals=["learn to bake bread"],
        progress={"done": [], "failed": []}, skills=["brew_coffee"],
        options=[{"object": "cafe_oven", "object_name": "oven", "place": "hobbs_cafe_kitchen",
                  "place_name": "kitchen", "state": "idle", "states": ["idle", "baking"]}]))
