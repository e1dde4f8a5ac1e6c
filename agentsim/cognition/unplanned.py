"""The day of an agent without planning (the paper's "no planning" ablation, Park et al. 2023
Sec. 6): it still wakes, perceives, reacts and talks every tick, but makes no day plan, never
decomposes one and never revises one. What it does at a time is the item of its persona's
routine for that time, as the seed description writes it (the paper's agents act from their
description too before any plan exists). Nothing here calls the LLM or writes a plan memory,
so an ablated run has no `plan` memories and no `plan_made` events.

Switched by `Settings.planning` (see `agentsim.cognition.step`)."""

from __future__ import annotations

from datetime import datetime

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context


def routine_day(agent: Agent, ctx: Context) -> None:
    """Today's routine as back-to-back actions, from waking to bedtime; unknown places are home."""
    p = agent.persona
    day = ctx.now.date()
    items = sorted(p.daily_routine, key=lambda r: r.start)
    bedtime = datetime.combine(day, p.sleep)
    actions: list[Action] = []
    for n, r in enumerate(items):
        start = datetime.combine(day, r.start)
        end = datetime.combine(day, items[n + 1].start) if n + 1 < len(items) else bedtime
        if end <= start:
            continue
        place = r.place if r.place in ctx.places else p.home
        actions.append(Action(r.activity, place, start, end))
    agent.day_plan = actions
    agent.plan_date = day
    agent.hour_plan, agent.steps = [], []


def routine_action(agent: Agent, ctx: Context) -> Action | None:
    """The routine item for now, undivided (None between items: the agent idles)."""
    for a in agent.day_plan:
        if a.start <= ctx.now < a.end:
            return a
    return None
