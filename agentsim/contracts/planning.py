"""Contracts of the planning prompts: the day plan, a revised plan after news, the critic and
the refiner of a plan (self-refine), and the decomposition of a plan item into steps.

The routine has two shapes, as it always had: `day_plan` shows each entry's place name, the
critic and the refiner see start, activity and place only (their rendered text depends on it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import DayPlan, Decomposition, PlanCritique
from agentsim.contracts.shapes import (
    Attempt,
    Check,
    Criterion,
    Event,
    Memory,
    ObjectView,
    Persona,
    Place,
    PlanEntry,
)


class DayPlanVars(Vars):
    persona: Persona
    date: str  # "Tuesday, February 14, 2023"
    date_iso: str
    wake: str  # HH:MM
    sleep: str
    routine: list[PlanEntry]  # with place_name
    yesterday: str
    events: list[Event]
    places: list[Place]
    goals: list[str]
    # yesterday's memories and reflections retrieved for today's plan, best first
    # (`cognition.summary.recall_yesterday`); the summary description comes in `persona`
    recalled: list[Memory] = Field(default_factory=list)


class ReplanVars(Vars):
    """The paper's re-planning after a reaction: what was noticed, the reaction, and the
    memories retrieved for it (nothing structured is handed over: an event is in the plan
    only if the model finds it in these)."""

    persona: Persona
    date: str
    date_iso: str
    now: str
    remaining: list[PlanEntry]
    observation: str
    reaction: str
    memories: list[Memory]
    places: list[Place]


class PlanFrameVars(Vars):
    """What the critic and the refiner both see of the plan's day (not a template's own)."""

    persona: Persona
    date: str
    date_iso: str
    day_start: str
    day_end: str
    origin: Place  # where the plan starts
    home: str
    routine: list[PlanEntry]  # start, activity, place
    events: list[Event]
    goals: list[str]


class PlanCritiqueVars(PlanFrameVars):
    plan: list[PlanEntry]  # with place_name
    checks: list[Check]  # PlanChecks.to_vars()
    criteria: list[Criterion]


class PlanRefineVars(PlanFrameVars):
    places: list[Place]
    plan: list[PlanEntry]
    history: list[Attempt]  # plan, feedback, checks, critic per earlier attempt


class DecomposeVars(Vars):
    persona: Persona
    item: dict[str, str]  # start, end, activity, place, place_name
    minutes_total: int
    granularity: Literal["hour", "minutes"]
    objects: list[ObjectView]  # id, name, states


def _frame() -> dict[str, object]:
    return {"persona": s.PERSONA, "date": "Tuesday, February 14, 2023",
            "date_iso": "2023-02-14", "day_start": "06:00", "day_end": "22:00",
            "origin": s.PLACES[0], "home": "isabella_apartment", "routine": s.ROUTINE,
            "events": [s.PARTY], "goals": ["make the party a success"]}


DAY_PLAN: Contract[DayPlanVars, DayPlan] = Contract(
    "day_plan", DayPlanVars, DayPlan, budget=1800,
    trim={"places": "first", "events": "first", "goals": "first", "recalled": "first"},
    example=lambda: DayPlanVars(
        persona=s.PERSONA, date="Tuesday, February 14, 2023", date_iso="2023-02-14",
        wake="06:00", sleep="22:00", routine=s.ROUTINE_NAMED,
        yesterday="I served many customers.", events=[s.PARTY], places=s.PLACES,
        goals=["make the party a success"], recalled=s.MEMORIES))

REPLAN: Contract[ReplanVars, DayPlan] = Contract(
    "replan", ReplanVars, DayPlan, budget=1200,
    trim={"places": "first", "remaining": "first", "memories": "first"},
    example=lambda: ReplanVars(
        persona=s.PERSONA, date="Tuesday, February 14", date_iso="2023-02-14", now="10:00",
        remaining=s.ROUTINE[1:],
        observation='Tom Moreno said to me: "Have you heard? There\'s a Valentine\'s Day party '
                    'at Hobbs Cafe on February 14 from 17:00 to 19:00."',
        reaction="I would like to go to the party.", memories=s.MEMORIES, places=s.PLACES))

PLAN_CRITIQUE: Contract[PlanCritiqueVars, PlanCritique] = Contract(
    "plan_critique", PlanCritiqueVars, PlanCritique, budget=1600,
    shown="none",  # the template lists the criteria: SmolLM2 answered 36 of 38 without one
    trim={"events": "first", "routine": "first", "goals": "first"},
    example=lambda: PlanCritiqueVars(**_frame(), plan=s.PLAN, checks=s.CHECKS, criteria=[
        {"name": "fits the persona", "question": "Does it suit this person's day?"}]))

PLAN_REFINE: Contract[PlanRefineVars, DayPlan] = Contract(
    "plan_refine", PlanRefineVars, DayPlan, budget=1800,
    trim={"places": "first", "history": "last", "events": "first", "goals": "first",
          "routine": "first"},
    example=lambda: PlanRefineVars(**_frame(), places=s.PLACES, plan=s.PLAN, history=[
        {"plan": s.PLAN, "feedback": s.FEEDBACK, "checks": s.CHECKS, "critic": [
            {"criterion": "fits the persona", "passed": False,
             "reason": "the party is missing"}]}]))

DECOMPOSE: Contract[DecomposeVars, Decomposition] = Contract(
    "decompose", DecomposeVars, Decomposition, budget=900, trim={"objects": "first"},
    example=lambda: DecomposeVars(
        persona=s.PERSONA, item={"start": "08:00", "end": "09:00",
                                 "activity": "serve customers", "place": "hobbs_cafe",
                                 "place_name": "Hobbs Cafe"},
        minutes_total=60, granularity="minutes",
        objects=[{"id": "coffee_machine", "name": "coffee machine",
                  "states": ["idle", "brewing"]}]))
