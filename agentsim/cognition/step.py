"""One agent's turn in a tick, in the order of the paper: perceive -> remember (importance
scored in one call) and react -> the next action from the plan. A reaction that revises the
plan takes the next action from the new plan (a task is done with a skill when one works;
reading what is at hand when the next action is a reading one).

A tick waits on the longest chain of model calls in a row (issue 17), so what does not depend
on another runs beside it: the next action (decomposing the plan) does not depend on what was
seen this tick; the reaction does not wait for the importance of what was seen (what to react
to is chosen, and retrieved for, before anything new is stored: `react.consider`), and a
reflection that falls due runs beside the reaction. A day plan's critique and refinement are
deferred to the end of the tick (`plan._refine_later`). And the next tick's step is run
ahead on a copy of the agent (`foresee`) while this tick's conversations go on, for the
requests it will make (`agentsim.llm.foresight`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import memorize, scored
from agentsim.cognition.perceive import WorldView, experiences, notice, perceive
from agentsim.cognition.plan import next_action, plan_day, replan
from agentsim.cognition.react import Opening, Reacted, _talkable, consider, react_to
from agentsim.cognition.read import documents_for, read_if_reading
from agentsim.cognition.reflect import reflect, should_reflect
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.skill_use import use_skills
from agentsim.cognition.summary import describe
from agentsim.cognition.unplanned import routine_action, routine_day
from agentsim.events import FellAsleep, WokeUp


@dataclass(frozen=True)
class Intent:
    """What an agent means to do this tick; the engine resolves all intents together."""

    agent: str
    action: Action
    talk_to: str | None = None
    opening: Opening | None = None  # what a reaction's talk says first (to `talk_to`)


def is_bedtime(agent: Agent, now: datetime) -> bool:
    p = agent.persona
    return not (p.wake <= now.time() < p.sleep)


async def step(agent: Agent, view: WorldView, rel: Relationships, ctx: Context) -> Intent:
    if is_bedtime(agent, ctx.now):
        if agent.awake:
            go_to_sleep(agent, ctx)
        return Intent(agent.id, _sleeping(agent, ctx))
    reacted, action = await _decide(agent, view, rel, ctx)
    action = await use_skills(agent, action, view, ctx)
    await read_if_reading(agent, action, ctx)
    return _intent(agent, reacted, action, view)


async def _decide(agent: Agent, view: WorldView, rel: Relationships,
                  ctx: Context) -> tuple[Reacted, Action]:
    """The model's part of an awake agent's step: waking (summary, day plan), remembering,
    reflecting, reacting and the next action from the plan."""
    if not agent.awake or agent.plan_date != ctx.now.date():
        agent.awake = True
        ctx.emit(WokeUp, agent=agent.id)
        await describe(agent, ctx)  # today's summary description, before the day plan
        if ctx.settings.planning:  # the ablation switches: Settings.observation/reflection/planning
            await plan_day(agent, ctx)
        else:
            routine_day(agent, ctx)

    new = notice(agent, perceive(agent, view, ctx.places, ctx.settings.attention))
    memo, mind, hands = ctx.branch(), ctx.branch(), ctx.branch()

    async def remember_and_reflect() -> None:
        if ctx.settings.observation:
            await memorize(agent, experiences(new, view), memo)
        if ctx.settings.reflection and should_reflect(agent, memo):
            await reflect(agent, memo)

    async def remember_and_react() -> Reacted:
        # What to react to needs nothing scored this tick, and its retrieval is done before
        # anything new is stored (`react.consider`): so the reaction is asked beside the
        # importance of what was seen, and a reflection that falls due beside the reaction.
        considered = await consider(agent, new, view, rel, mind)
        reacted, _ = await asyncio.gather(react_to(agent, considered, mind, revise=False),
                                          remember_and_reflect())
        return reacted

    async def next_step() -> Action | None:
        return (await next_action(agent, hands) if ctx.settings.planning
                else routine_action(agent, hands))

    # What the agent does next follows its plan, not this tick's observations; so deciding
    # it runs beside remembering and reacting (their events joined in this fixed order).
    reacted, planned = await asyncio.gather(remember_and_react(), next_step())
    ctx.join(memo, mind, hands)
    action = planned or _idle(agent, ctx)
    if reacted.revise is not None and await replan(agent, *reacted.revise, ctx):
        action = await next_action(agent, ctx) or action  # the plan changed from now on
    return reacted, action


async def foresee(agent: Agent, view: WorldView, rel: Relationships, ctx: Context, *,
                  whole: bool, decided: Callable[[Intent], None] | None = None) -> None:
    """The next tick's step of `agent` on a throwaway copy, for the model calls it makes
    (`agentsim.llm.foresight`): `ctx` is the next tick's, asking through a foresight. `agent`
    and `rel` are changed: pass copies. With `whole` the step up to its action (the wake,
    remembering, the reaction, the next action, a replan); else only the calls that do not
    read what this tick's conversation changes (the agent is in one): the importance of what
    it will see and its next action. Skills and reading are left to the tick itself.

    A whole step hands `decided` the intent it came to (before its deferred plan critique,
    which the tick applies only once its talks are over), unless a skill or a reading could
    still change the resident or its action (`_as_decided`): what the next tick's
    conversations are guessed from (`agentsim.ahead`)."""
    try:
        if is_bedtime(agent, ctx.now):
            if whole and decided is not None:
                if agent.awake:
                    go_to_sleep(agent, ctx)
                decided(Intent(agent.id, _sleeping(agent, ctx)))
            return
        if whole:
            reacted, action = await _decide(agent, view, rel, ctx)
            if decided is not None and _as_decided(agent, action, ctx):
                decided(_intent(agent, reacted, action, view))
            await asyncio.gather(*(work for work, _ in ctx.deferred))  # a plan's critique
        elif agent.awake and agent.plan_date == ctx.now.date() and ctx.settings.observation:
            new = notice(agent, perceive(agent, view, ctx.places, ctx.settings.attention))
            await asyncio.gather(scored(agent, experiences(new, view), ctx),
                                 next_action(agent, ctx) if ctx.settings.planning
                                 else asyncio.sleep(0))
    finally:
        ctx.cancel_deferred()


def _as_decided(agent: Agent, action: Action, ctx: Context) -> bool:
    """Whether the step ends with the action its decision came to, its resident as the
    decision left it: no skill may take the task over (`use_skills` would return at once)
    and nothing is read (`read_if_reading`). What `foresee` leaves to the tick."""
    return (action.skill is not None or not _skills_may_act(agent, ctx)) \
        and not documents_for(agent, action, ctx)


def _skills_may_act(agent: Agent, ctx: Context) -> bool:
    learning = agent.learning
    return ctx.skills is not None and ctx.settings.skills and not (
        learning.day == ctx.now.date().isoformat()
        and learning.tasks >= ctx.settings.skill_tasks_per_day)


def could_talk(agent: Agent, view: WorldView, ctx: Context, *, besides: str | None = None) -> bool:
    """Whether `agent`'s step at `ctx.now` from `view` could come to an intent to talk,
    known before it runs (False only where it cannot): `react.choose` considers a talk only
    with someone newly seen (`notice`, read here without changing what the agent has seen),
    whom it may talk to now, and not while on its way; besides that only a skill's line
    (`_says_to`: with skills on at all, as a running step may be using one). `besides` is a
    partner whose talk is still going on (soon in the agent's cooldown). What
    `agentsim.ahead` guesses the next tick's talks with."""
    if is_bedtime(agent, ctx.now):
        return False
    if (ctx.skills is not None and ctx.settings.skills) or any(a.say_to for a in agent.steps):
        return True
    me = view.agents.get(agent.id)
    if me is None or me.moving:
        return False
    seen = perceive(agent, view, ctx.places, ctx.settings.attention)
    return any(p.about is not None and p.about != besides and p.key not in agent.last_seen
               and _talkable(agent, view.agents.get(p.about), ctx) for p in seen)


def _intent(agent: Agent, reacted: Reacted, action: Action, view: WorldView) -> Intent:
    """The step's intent: to talk to whom its reaction chose (with the line it opens with),
    else to whom a skill's step speaks."""
    if reacted.talk_to is not None:
        return Intent(agent.id, action, reacted.talk_to, reacted.opening)
    return Intent(agent.id, action, _says_to(agent, action, view))


def _says_to(agent: Agent, action: Action, view: WorldView) -> str | None:
    """A skill's `say` step: talk to that person if they are awake and in the same place."""
    other = view.agents.get(action.say_to) if action.say_to else None
    if other is None or not other.awake or other.place != agent.location:
        return None
    return other.id


def go_to_sleep(agent: Agent, ctx: Context) -> None:
    agent.awake = False
    talked = sorted(n for n, t in agent.last_talk.items() if t.date() == ctx.now.date())
    done = "; ".join(a.activity for a in agent.day_plan[:8])
    agent.yesterday = f"I {done}." + (f" I talked with {', '.join(talked)}." if talked else "")
    agent.hour_plan, agent.steps = [], []
    ctx.emit(FellAsleep, agent=agent.id)


def _sleeping(agent: Agent, ctx: Context) -> Action:
    return Action("sleeping", agent.persona.home, ctx.now, ctx.now + ctx.tick_delta)


def _idle(agent: Agent, ctx: Context) -> Action:
    return Action("taking a break", agent.location, ctx.now, ctx.now + ctx.tick_delta)
