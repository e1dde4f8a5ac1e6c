"""Planning, as in the paper: a day plan in broad strokes, decomposed into hour-long chunks and
then into 5-15 minute actions only when they are reached; revised when the agent learns of
something happening today.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, event_vars, memorize
from agentsim.cognition.schemas import DayPlan, Decomposition, PlanItem
from agentsim.events import PlanMade
from agentsim.memory.record import MemoryKind
from agentsim.world.schema import ScheduledEvent

HOUR_CHUNK_OVER = 60  # items longer than this are split into hour-long chunks first
STEP_CHUNK_OVER = 15  # chunks longer than this are split into 5-15 minute actions


def _at(day: date, hhmm: str | time) -> datetime:
    t = hhmm if isinstance(hhmm, time) else time.fromisoformat(hhmm)
    return datetime.combine(day, t)


def _fmt(a: Action) -> str:
    return f"{a.start:%H:%M} {a.activity} @ {a.place}"


def _places(ctx: Context) -> list[dict[str, str]]:
    return [{"id": p, "name": ctx.places.name(p)} for p in ctx.places.ids()]


def events_today(agent: Agent, ctx: Context) -> list[ScheduledEvent]:
    day = ctx.now.date()
    return [e for e in agent.memory.events_known(None) if e.start.date() == day and e.end > ctx.now]


def _to_actions(agent: Agent, items: list[PlanItem], day: date, ctx: Context) -> list[Action]:
    """Plan items (start, activity, place) to back-to-back actions; unknown places go home."""
    items = sorted(items, key=lambda i: i.start)
    bedtime = _at(day, agent.persona.sleep)
    actions: list[Action] = []
    for n, item in enumerate(items):
        start = _at(day, item.start)
        end = _at(day, items[n + 1].start) if n + 1 < len(items) else bedtime
        if end <= start:
            continue
        place = item.place if item.place in ctx.places else agent.persona.home
        actions.append(Action(item.activity, place, start, end))
    return actions


async def plan_day(agent: Agent, ctx: Context) -> None:
    """On waking: today's plan from the persona, yesterday and the events the agent knows of."""
    p = agent.persona
    day = ctx.now.date()
    variables: dict[str, Any] = {
        "persona": agent.persona_vars(ctx.world_name),
        "date": f"{ctx.now:%A, %B} {day.day}, {day.year}",
        "date_iso": day.isoformat(),
        "wake": p.wake.strftime("%H:%M"),
        "sleep": p.sleep.strftime("%H:%M"),
        "routine": [
            {
                "start": r.start.strftime("%H:%M"),
                "activity": r.activity,
                "place": r.place,
                "place_name": ctx.places.name(r.place),
            }
            for r in p.daily_routine
        ],
        "yesterday": agent.yesterday,
        "events": [event_vars(e, ctx.places.name(e.place)) for e in events_today(agent, ctx)],
        "places": _places(ctx),
        "goals": list(p.goals),
    }
    plan = await ctx.llm.ask("day_plan", variables, schema=DayPlan, agent=agent.id)
    agent.day_plan = _to_actions(agent, plan.items, day, ctx)
    agent.plan_date = day
    agent.hour_plan, agent.steps = [], []
    ctx.emit(PlanMade, agent=agent.id, level="day", items=[_fmt(a) for a in agent.day_plan])
    summary = "; ".join(f"{a.start:%H:%M} {a.activity}" for a in agent.day_plan)
    await memorize(
        agent,
        [Experience(MemoryKind.plan, f"My plan for {variables['date']}: {summary}", importance=5)],
        ctx,
    )


async def replan(agent: Agent, news: ScheduledEvent, ctx: Context) -> None:
    """Revise the rest of today's plan after learning of something happening today."""
    now_hm = ctx.now.strftime("%H:%M")
    remaining = [a for a in agent.day_plan if a.end > ctx.now]
    variables = {
        "persona": agent.persona_vars(ctx.world_name),
        "date": f"{ctx.now:%A, %B} {ctx.now.day}",
        "now": now_hm,
        "remaining": [
            {"start": max(a.start, ctx.now).strftime("%H:%M"), "activity": a.activity,
             "place": a.place}
            for a in remaining
        ],
        "news": event_vars(news, ctx.places.name(news.place)),
        "places": _places(ctx),
    }
    plan = await ctx.llm.ask("replan", variables, schema=DayPlan, agent=agent.id)
    items = [i for i in plan.items if i.start >= now_hm]
    if not items:
        return  # nothing usable from now on: keep the plan as it was
    kept = [a for a in agent.day_plan if a.start < ctx.now]
    new = _to_actions(agent, items, ctx.now.date(), ctx)
    if kept and new:
        kept[-1] = Action(kept[-1].activity, kept[-1].place, kept[-1].start, new[0].start)
    agent.day_plan = [a for a in kept if a.end > a.start] + new
    agent.hour_plan, agent.steps = [], []
    ctx.emit(PlanMade, agent=agent.id, level="revised", items=[_fmt(a) for a in new])


def _current(actions: list[Action], now: datetime) -> Action | None:
    for a in actions:
        if a.start <= now < a.end:
            return a
    return None


async def _decompose(
    agent: Agent, parent: Action, granularity: str, ctx: Context
) -> list[Action]:
    minutes = int((parent.end - parent.start).total_seconds() // 60)
    objects = ctx.places.objects_in(parent.place)
    variables = {
        "persona": agent.persona_vars(ctx.world_name),
        "item": {
            "start": parent.start.strftime("%H:%M"),
            "end": parent.end.strftime("%H:%M"),
            "activity": parent.activity,
            "place": parent.place,
            "place_name": ctx.places.name(parent.place),
        },
        "minutes_total": minutes,
        "granularity": granularity,
        # Object states are left out on purpose: the same routine item then renders the same
        # request every day, so a shared cache can reuse it.
        "objects": [{"id": o.id, "name": o.name, "states": list(o.states)} for o in objects],
    }
    out = await ctx.llm.ask("decompose", variables, schema=Decomposition, agent=agent.id)
    valid = {o.id: o for o in objects}
    # Rescale so the steps fill the parent exactly, whatever the model's arithmetic.
    total = sum(s.minutes for s in out.steps)
    actions, t = [], parent.start
    for n, s in enumerate(out.steps):
        end = parent.end if n == len(out.steps) - 1 else t + timedelta(
            minutes=round(s.minutes * minutes / total)
        )
        if end <= t:
            continue
        obj = s.object if s.object in valid else None
        state = s.object_state if obj and (not valid[obj].states or s.object_state in
                                           valid[obj].states) else None
        actions.append(Action(s.activity, parent.place, t, min(end, parent.end), obj, state))
        t = end
        if t >= parent.end:
            break
    return actions or [parent]


async def next_action(agent: Agent, ctx: Context) -> Action | None:
    """The 5-15 minute action for now, decomposing the plan lazily: day item -> hour -> steps."""
    item = _current(agent.day_plan, ctx.now)
    if item is None:
        return None
    if not agent.hour_plan or not (agent.hour_plan[0].start <= ctx.now < agent.hour_plan[-1].end):
        if (item.end - item.start) > timedelta(minutes=HOUR_CHUNK_OVER):
            agent.hour_plan = await _decompose(agent, item, "hour", ctx)
            ctx.emit(PlanMade, agent=agent.id, level="hour",
                     items=[_fmt(a) for a in agent.hour_plan])
        else:
            agent.hour_plan = [item]
        agent.steps = []
    chunk = _current(agent.hour_plan, ctx.now) or item
    if not agent.steps or not (agent.steps[0].start <= ctx.now < agent.steps[-1].end):
        if (chunk.end - chunk.start) > timedelta(minutes=STEP_CHUNK_OVER):
            agent.steps = await _decompose(agent, chunk, "minutes", ctx)
        else:
            agent.steps = [chunk]
    return _current(agent.steps, ctx.now) or chunk
