"""The texts a tick will embed, foreseen at its start, so they go to the model in one call.

A tick's embeddings come in stages that wait on each other: a waking agent retrieves for its
summary description (three queries, one after the other) and for yesterday's look back (two
more), then what it perceives is remembered, then a reaction retrieves for what it chose to
consider. Asked for as each stage gets to them, these are about five calls to the model in a
row on a waking tick and two or three on any other (issue 17). Yet all of them follow from the
world at the start of the tick: the summary's and the look back's questions from the agent's
name and the date, the observations from what it perceives (`perceive` and `notice`, here
without marking anything seen), the reaction's queries from the people it sees, and the skill
library's query for a task the plan already has for now. So the
engine hands `tick_texts` to `BatchingEmbedder.prefetch` before the agents step: one call
embeds them all, and each stage later finds its vectors cached or on their way.

What cannot be foreseen still costs calls of its own: a conversation's queries after its
first turn and its memories (the lines are not said yet), a plan's memory (the plan is not
made yet), reflections (their questions and insights come from the model), and the one query
a reaction picks among candidates it does not know yet (a chat heard, considered for its
importance, about someone not in view is retrieved by its own text, which is cached already).
A text foreseen but never asked for (a person seen whom the agent reacts to less than to
another) costs an encode and nothing else: vectors depend on the text alone, so what is
foreseen never changes what a run does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.perceive import WorldView, perceive
from agentsim.cognition.react import REACT_MIN_IMPORTANCE, _talkable
from agentsim.cognition.skill_use import is_task
from agentsim.cognition.step import is_bedtime
from agentsim.cognition.summary import ASPECTS
from agentsim.cognition.task import Task
from agentsim.memory.record import MemoryKind

__all__ = ["seen_texts", "task_query", "tick_texts", "waking_queries"]


def tick_texts(agents: Iterable[Agent], view: WorldView, ctx: Context) -> list[str]:
    """Every agent's texts to embed this tick that the world at its start tells (see the
    module docstring), in agent order, each once."""
    out: dict[str, None] = {}
    for agent in agents:
        if is_bedtime(agent, ctx.now):
            continue
        out.update(dict.fromkeys(waking_queries(agent, ctx)))
        out.update(dict.fromkeys(seen_texts(agent, view, ctx)))
        out.update(dict.fromkeys(task_query(agent, ctx)))
    return list(out)


def waking_queries(agent: Agent, ctx: Context) -> list[str]:
    """A waking agent's queries: its summary description's (`summary.describe`, once a day)
    and, when it plans, yesterday's look back (`summary.recall_yesterday`)."""
    today = ctx.now.date()
    if (agent.awake and agent.plan_date == today) or len(agent.memory) == 0:
        return []
    out = []
    if agent.summary_date != today:
        out += [query.format(name=agent.name) for _, query in ASPECTS]
    if ctx.settings.planning:
        date = f"{ctx.now:%A, %B} {ctx.now.day}"
        out += [f"{agent.name}'s plan for {date}",
                f"Important recent events for {agent.name}'s life"]
    return out


def seen_texts(agent: Agent, view: WorldView, ctx: Context) -> list[str]:
    """What the agent will remember seeing (the observations new since last tick) and the
    queries a reaction to a person in view would retrieve with (`react.choose`)."""
    new = [p for p in perceive(agent, view, ctx.places, ctx.settings.attention)
           if p.key not in agent.last_seen]
    out = [p.text for p in new] if ctx.settings.observation else []
    me = view.agents.get(agent.id)
    if agent.action is None or me is None or me.moving:
        return out
    people: dict[str, Any] = {}
    for p in new:
        other = view.agents.get(p.about) if p.about else None
        if other is not None and _talkable(agent, other, ctx):
            people[other.name] = other
            out.append(f"{other.name}. {p.text}")
    since = ctx.now - ctx.tick_delta
    for rec in agent.memory.recent(64):  # a chat heard about someone in view
        if (rec.kind is MemoryKind.chat and rec.source and since <= rec.created < ctx.now
                and rec.importance >= REACT_MIN_IMPORTANCE and rec.about
                and rec.about[0] in people):
            out.append(f"{rec.about[0]}. {rec.text}")
    return out


def task_query(agent: Agent, ctx: Context) -> list[str]:
    """The skill library's query for the task the agent's plan has for now, when the plan's
    steps already cover now (no decomposing to wait for) and the step is a task the agent
    has not handed to the library yet (`skill_use.use_skills`). A curriculum's lesson or a
    reaction's new plan, which the tick may yet bring, are not foreseen."""
    if ctx.skills is None or not ctx.settings.skills or not ctx.settings.planning:
        return []
    learning, now = agent.learning, ctx.now
    used = learning.tasks if learning.day == now.date().isoformat() else 0
    if used >= ctx.settings.skill_tasks_per_day or agent.plan_date != now.date():
        return []
    covered = [plan for plan in (agent.day_plan, agent.hour_plan, agent.steps)
               if any(a.start <= now < a.end for a in plan)]
    if len(covered) < 3 or not (agent.steps[0].start <= now < agent.steps[-1].end):
        return []
    action = next(a for a in agent.steps if a.start <= now < a.end)
    if not is_task(action) or learning.tried == f"{action.start.isoformat()}|{action.activity}":
        return []
    return [Task.from_action(action).text]
