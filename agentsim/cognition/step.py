"""One agent's turn in a tick, in the order of the paper:
perceive -> remember (importance scored in one call) -> reflect when due -> plan or react
(a task is done with a skill when one works; reading what is at hand when the next action is
a reading one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import memorize
from agentsim.cognition.perceive import WorldView, experiences, notice, perceive
from agentsim.cognition.plan import next_action, plan_day
from agentsim.cognition.react import maybe_react
from agentsim.cognition.read import read_if_reading
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


def is_bedtime(agent: Agent, now: datetime) -> bool:
    p = agent.persona
    return not (p.wake <= now.time() < p.sleep)


async def step(agent: Agent, view: WorldView, rel: Relationships, ctx: Context) -> Intent:
    if is_bedtime(agent, ctx.now):
        if agent.awake:
            go_to_sleep(agent, ctx)
        return Intent(agent.id, _sleeping(agent, ctx))
    if not agent.awake or agent.plan_date != ctx.now.date():
        agent.awake = True
        ctx.emit(WokeUp, agent=agent.id)
        await describe(agent, ctx)  # today's summary description, before the day plan
        if ctx.settings.planning:  # the ablation switches: Settings.observation/reflection/planning
            await plan_day(agent, ctx)
        else:
            routine_day(agent, ctx)

    new = notice(agent, perceive(agent, view, ctx.places, ctx.settings.attention))
    if ctx.settings.observation:
        await memorize(agent, experiences(new, view), ctx)
    if ctx.settings.reflection and should_reflect(agent, ctx):
        await reflect(agent, ctx)
    action = (await next_action(agent, ctx) if ctx.settings.planning
              else routine_action(agent, ctx)) or _idle(agent, ctx)
    action = await use_skills(agent, action, view, ctx)
    await read_if_reading(agent, action, ctx)
    reacted = await maybe_react(agent, new, view, rel, ctx)
    if reacted.replanned:  # the plan changed from now on: what to do now follows it
        action = await next_action(agent, ctx) or action
    talk_to = reacted.talk_to or _says_to(agent, action, view)
    return Intent(agent.id, action, talk_to)


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
