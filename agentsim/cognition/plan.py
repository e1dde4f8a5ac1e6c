"""Planning, as in the paper: a day plan in broad strokes, decomposed into hour-long chunks and
then into 5-15 minute actions only when they are reached; revised when the agent learns of
something happening today.

Day plans and replans go through the self-refine loop (`agentsim.cognition.refine`): the plan
is checked against the world (`plan_checks`: places exist, walks fit, times make sense) and
critiqued by the LLM against named criteria (`plan_critique`); while either finds fault and
`Settings.refine_rounds` allows, the LLM improves it with the history of attempts
(`plan_refine`). The trace is a `Refined` event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, event_vars, memorize, memory_vars
from agentsim.cognition.plan_checks import CRITERIA, PlanChecks, check_plan
from agentsim.cognition.refine import (
    Attempt,
    Feedback,
    Refinement,
    by_reference,
    refine,
    trace_fields,
)
from agentsim.cognition.summary import recall_yesterday
from agentsim.contracts import (
    DAY_PLAN,
    DECOMPOSE,
    PLAN_CRITIQUE,
    PLAN_REFINE,
    REPLAN,
    Contract,
    DayPlanVars,
    DecomposeVars,
    PlanCritiqueVars,
    PlanFrameVars,
    PlanRefineVars,
    ReplanVars,
)
from agentsim.contracts.outputs import DayPlan, PlanCritique, PlanItem
from agentsim.events import PlanMade, Refined
from agentsim.memory.record import MemoryKind
from agentsim.world.schema import ScheduledEvent

HOUR_CHUNK_OVER = 60  # items longer than this are split into hour-long chunks first
STEP_CHUNK_OVER = 15  # chunks longer than this are split into 5-15 minute actions


def _at(day: date, hhmm: str | time) -> datetime:
    t = hhmm if isinstance(hhmm, time) else time.fromisoformat(hhmm)
    return datetime.combine(day, t)


def _fmt(a: Action) -> str:
    return f"{a.start:%H:%M} {a.activity} @ {a.place}"


PLACES_CAP = 24  # places listed in a planning prompt
MEMORIES_SCANNED = 40  # recent memories searched for the places they name


def relevant_places(agent: Agent, ctx: Context, also: list[str] | tuple[str, ...] = (),
                    cap: int = PLACES_CAP) -> list[dict[str, str]]:
    """The places a planning prompt lists: the areas the resident knows, each with its rooms,
    grouped by area (`area`: the area's id; the area's own entry comes first in its group).

    Known are the areas of its home and of where it is, of `also` (today's events, the plan
    at hand), of its routine (work among them), of the events it knows of and of the places
    its recent memories name, in that order of relevance; not every place in town, so the
    prompt does not grow with the world (issue 17). At most `cap` entries: the areas and
    the named places first, then the other rooms of those areas while there is room."""
    places = ctx.places
    p = agent.persona
    wanted: list[str] = [p.home, agent.destination or agent.location, *also,
                         *(r.place for r in p.daily_routine),
                         *(e.place for e in agent.memory.events_known(None))]
    recent = agent.memory.recent(MEMORIES_SCANNED)
    wanted += [r.event.place for r in recent if r.event is not None]
    text = " ".join(r.text.lower() for r in recent)
    if text:
        wanted += places.areas_named_in(text)
    named = [x for x in dict.fromkeys(wanted) if x in places]
    areas = list(dict.fromkeys(places.area_of(x) for x in named))
    groups = {a: list(dict.fromkeys([a, *(n for n in named if places.area_of(n) == a),
                                     *places.children(a)])) for a in areas}
    first = [x for a in areas for x in groups[a] if x == a or x in named][:cap]
    rest = [x for a in areas for x in groups[a] if x not in first]  # while there is room
    keep = {*first, *rest[:cap - len(first)]}
    return [{"id": x, "name": places.name(x), "area": a}
            for a in areas for x in groups[a] if x in keep]


CRITERIA_QUESTIONS = {
    "places exist": "is every item at a place on the list of places?",
    "reachable in time": "can each place be reached on foot from the one before within the "
                         "time the one before lasts (the first from the starting place, from "
                         "the start of the day)?",
    "coherent times": "do the start times strictly increase, within the day's hours?",
    "fits the persona": "does it suit who this is: their work, their usual routine, the events "
                        "they know of today that they would go to, their goals?",
}


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
    """On waking: today's plan from the agent's summary description (in the persona; rebuilt
    before this by `cognition.summary.describe`), a summary of yesterday, the memories and
    reflections of yesterday retrieved for today (as the paper conditions the day plan on the
    summary description and the previous day), and the events the agent knows of.

    The plan as first answered is used at once; its critique and refinement run while the
    tick goes on and the refined plan, if it differs, replaces it when the tick settles
    (`Context.settle`), as does the memory of the plan (`_refine_later`)."""
    p = agent.persona
    day = ctx.now.date()
    recalled = await recall_yesterday(agent, ctx)
    variables = DayPlanVars(
        persona=agent.persona_vars(ctx.world_name),
        date=f"{ctx.now:%A, %B} {day.day}, {day.year}",
        date_iso=day.isoformat(),
        wake=p.wake.strftime("%H:%M"),
        sleep=p.sleep.strftime("%H:%M"),
        routine=[
            {
                "start": r.start.strftime("%H:%M"),
                "activity": r.activity,
                "place": r.place,
                "place_name": ctx.places.name(r.place),
            }
            for r in p.daily_routine
        ],
        yesterday=agent.yesterday,
        events=[event_vars(e, ctx.places.name(e.place)) for e in events_today(agent, ctx)],
        places=relevant_places(agent, ctx, [e.place for e in events_today(agent, ctx)]),
        goals=list(p.goals),
        recalled=memory_vars(recalled, ctx.places),
    )
    frame = {"origin": p.home, "day_start": variables.wake, "day_end": variables.sleep,
             "events": variables.events}

    def use(plan: DayPlan) -> list[Action]:
        agent.day_plan = _to_actions(agent, plan.items, day, ctx)
        agent.plan_date = day
        agent.hour_plan, agent.steps = [], []
        ctx.emit(PlanMade, agent=agent.id, level="day", items=[_fmt(a) for a in agent.day_plan])
        return agent.day_plan

    first = await DAY_PLAN.ask(ctx.llm, variables, agent=agent.id)
    made = use(first)

    async def settled(final: DayPlan, changed: bool) -> None:
        if changed and agent.day_plan is made:  # (a plan revised since is left as it is)
            use(final)
        summary = "; ".join(f"{a.start:%H:%M} {a.activity}" for a in agent.day_plan)
        await memorize(agent, [Experience(
            MemoryKind.plan, f"My plan for {variables.date}: {summary}", importance=5)], ctx)

    await _refine_later(agent, ctx, DAY_PLAN, variables, frame, first, kind="day_plan",
                        settled=settled)


async def replan(agent: Agent, observation: str, reaction: str, memories: list,
                 ctx: Context) -> bool:
    """Regenerate the rest of today's plan after reacting to `observation` (the paper's
    re-planning), from the memories retrieved for it (`agentsim.cognition.react`). The plan
    as first answered is used now; its refinement is deferred (`_refine_later`). False when
    the answer had nothing from now on (the plan is kept as it was)."""
    now_hm = ctx.now.strftime("%H:%M")
    remaining = [a for a in agent.day_plan if a.end > ctx.now]
    mem = memory_vars(memories, ctx.places)
    variables = ReplanVars(
        persona=agent.persona_vars(ctx.world_name),
        date=f"{ctx.now:%A, %B} {ctx.now.day}",
        date_iso=ctx.now.date().isoformat(),
        now=now_hm,
        remaining=[
            {"start": max(a.start, ctx.now).strftime("%H:%M"), "activity": a.activity,
             "place": a.place}
            for a in remaining
        ],
        observation=observation,
        reaction=reaction,
        memories=mem,
        places=relevant_places(agent, ctx, [a.place for a in remaining]),
    )
    frame = {"origin": agent.destination or agent.location, "day_start": now_hm,
             "day_end": agent.persona.sleep.strftime("%H:%M"),
             "events": [m["event"] for m in mem if m["event"]]}

    def use(plan: DayPlan) -> bool:
        items = [i for i in plan.items if i.start >= now_hm]
        if not items:
            return False  # nothing usable from now on: keep the plan as it was
        kept = [a for a in agent.day_plan if a.start < ctx.now]
        new = _to_actions(agent, items, ctx.now.date(), ctx)
        if kept and new:
            kept[-1] = Action(kept[-1].activity, kept[-1].place, kept[-1].start, new[0].start)
        agent.day_plan = [a for a in kept if a.end > a.start] + new
        agent.hour_plan, agent.steps = [], []
        ctx.emit(PlanMade, agent=agent.id, level="revised", items=[_fmt(a) for a in new])
        return True

    first = await REPLAN.ask(ctx.llm, variables, agent=agent.id)
    used = use(first)
    made = agent.day_plan

    async def settled(final: DayPlan, changed: bool) -> None:
        if changed and agent.day_plan is made:  # (a plan revised since is left as it is)
            use(final)

    await _refine_later(agent, ctx, REPLAN, variables, frame, first, kind="replan",
                        settled=settled)
    return used


async def _refine_later(agent: Agent, ctx: Context,
                        contract: Contract[DayPlanVars, DayPlan] | Contract[ReplanVars, DayPlan],
                        variables: DayPlanVars | ReplanVars, frame: dict[str, Any],
                        first: DayPlan, *, kind: str,
                        settled: Callable[[DayPlan, bool], Awaitable[None]]) -> None:
    """Run `first`, the plan just answered by `contract` (day_plan or replan), through the
    self-refine loop (see the module docstring) off the tick's critical path: the critique
    and refinement are deferred (`Context.defer`) and, when the tick settles, the `Refined`
    trace is emitted and `settled(final, changed)` applies the outcome. `frame` gives where
    the plan starts (`origin`), its hours and the events it should respect. With
    `refine_rounds` 0 there is no loop: `settled(first, False)` runs at once."""
    rounds = ctx.settings.refine_rounds
    if rounds < 1:
        await settled(first, False)
        return

    async def generate() -> DayPlan:
        return first  # already answered (and in use)

    p = agent.persona
    base = PlanFrameVars(
        persona=variables.persona,
        date=variables.date,
        date_iso=ctx.now.date().isoformat(),
        day_start=frame["day_start"],
        day_end=frame["day_end"],
        origin={"id": frame["origin"], "name": ctx.places.name(frame["origin"])},
        home=p.home,
        routine=[{"start": r.start.strftime("%H:%M"), "activity": r.activity,
                  "place": r.place} for r in p.daily_routine],
        events=frame["events"],
        goals=list(p.goals),
    ).dump()
    judged: list[tuple[PlanChecks, PlanCritique]] = []  # per attempt, for the refiner

    def plan_vars(plan: DayPlan) -> list[dict[str, str]]:
        return [{"start": i.start, "activity": i.activity, "place": i.place,
                 "place_name": ctx.places.name(i.place) if i.place in ctx.places
                 else "not a known place"} for i in plan.items]

    async def feedback(plan: DayPlan) -> Feedback:
        checks = check_plan(plan.items, ctx.places, origin=frame["origin"],
                            earliest=frame["day_start"], latest=frame["day_end"])
        critic = await PLAN_CRITIQUE.ask(ctx.llm, PlanCritiqueVars(
            **base, plan=plan_vars(plan), checks=checks.to_vars(),
            criteria=[{"name": c, "question": CRITERIA_QUESTIONS[c]} for c in CRITERIA]),
            agent=agent.id)
        judged.append((checks, critic))
        return combine(checks, critic)

    async def improve(latest: DayPlan, history: list[Attempt[DayPlan]]) -> DayPlan:
        past = [{"plan": plan_vars(a.output), "feedback": a.feedback.to_dict(),
                 "checks": judged[n][0].to_vars(),
                 "critic": [c.model_dump() for c in judged[n][1].criteria]}
                for n, a in enumerate(history)]
        return await PLAN_REFINE.ask(ctx.llm, PlanRefineVars(
            **base, places=_with(variables.places, [i.place for i in latest.items], ctx),
            plan=plan_vars(latest), history=past), agent=agent.id)

    async def apply(trace: Refinement[DayPlan]) -> None:
        request, lists = by_reference(variables.dump(), ("places",), agent.lists_kept)
        ctx.emit(Refined, agent=agent.id,
                 **trace_fields(trace, contract.id, request, lists=lists))
        await settled(trace.final, trace.final is not first)

    ctx.defer(refine(generate, feedback, improve, kind=kind, max_rounds=rounds), apply)


def _with(places: list[dict[str, str]], ids: list[str], ctx: Context) -> list[dict[str, str]]:
    """`places` and, first after them, the known places among `ids` not listed yet."""
    listed = {p["id"] for p in places}
    more = [x for x in dict.fromkeys(ids) if x in ctx.places and x not in listed]
    return [*places, *({"id": x, "name": ctx.places.name(x), "area": ctx.places.area_of(x)}
                       for x in more)]


def combine(checks: PlanChecks, critic: PlanCritique) -> Feedback:
    """One verdict from the computed checks and the critic: satisfied only if both are; the
    score is the product of theirs; the issues are the failed criteria, computed ones first."""
    failed = [c.criterion for c in critic.criteria if not c.passed]
    issues = tuple(dict.fromkeys([*checks.failed, *failed]))
    satisfied = checks.passed and critic.satisfied
    notes = checks.problems() + [f"{c.criterion}: {c.reason}" for c in critic.criteria
                                 if not c.passed and c.criterion not in checks.failed]
    if not satisfied and critic.critique and not notes:
        notes.append(critic.critique)
    return Feedback(score=checks.score * critic.score, satisfied=satisfied,
                    critique="; ".join(notes), issues=issues)


def _current(actions: list[Action], now: datetime) -> Action | None:
    for a in actions:
        if a.start <= now < a.end:
            return a
    return None


async def _decompose(
    agent: Agent, parent: Action, granularity: Literal["hour", "minutes"], ctx: Context
) -> list[Action]:
    minutes = int((parent.end - parent.start).total_seconds() // 60)
    # Objects are used by 5-15 minute actions; hour-long chunks are listed without them.
    objects = ctx.places.objects_in(parent.place) if granularity == "minutes" else []
    variables = DecomposeVars(
        # the seed persona: with the daily summary in it the same routine item would render
        # a new request every day (see the object states below)
        persona=agent.persona_vars(ctx.world_name, summary=False),
        item={
            "start": parent.start.strftime("%H:%M"),
            "end": parent.end.strftime("%H:%M"),
            "activity": parent.activity,
            "place": parent.place,
            "place_name": ctx.places.name(parent.place),
        },
        minutes_total=minutes,
        granularity=granularity,
        # Object states are left out on purpose: the same routine item then renders the same
        # request every day, so a shared cache can reuse it.
        objects=[{"id": o.id, "name": o.name, "states": list(o.states)} for o in objects],
    )
    out = await DECOMPOSE.ask(ctx.llm, variables, agent=agent.id)
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
