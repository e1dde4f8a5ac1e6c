"""An automatic curriculum, after Voyager: an agent whose persona has a learning goal ("learn
to bake bread for the cafe") is proposed its next task from its progress (what it managed,
what failed) and the state of the world around it (the objects in its area and their states).
The task is then done with the skill library like any other (`agentsim.cognition.skill_use`),
and its outcome becomes progress for the next proposal.

At most LESSONS_PER_DAY proposals a day, LESSON_GAP apart, and only when the agent is not on
its way somewhere, so learning fits around the day's plan.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.perceive import WorldView
from agentsim.cognition.task import Task
from agentsim.contracts import CURRICULUM, CurriculumVars

LEARNING = re.compile(r"\b(learn\w*|practi[cs]\w*|master\w*|get better at|improve)\b",
                      re.IGNORECASE)
LESSONS_PER_DAY = 3
LESSON_GAP = timedelta(hours=2)
PROGRESS_SHOWN = 8


def learning_goals(agent: Agent) -> list[str]:
    return [g for g in agent.persona.goals if LEARNING.search(g)]


def options(agent: Agent, view: WorldView, ctx: Context) -> list[dict[str, Any]]:
    """Objects in the agent's area (its rooms included) that can change state."""
    places = ctx.places
    out = []
    for p in places.places_in(places.area_of(agent.location)):
        for o in places.objects_in(p):
            if len(o.states) >= 2:
                out.append({"object": o.id, "object_name": o.name, "place": p,
                            "place_name": places.name(p), "state": view.objects.get(o.id, o.state),
                            "states": list(o.states)})
    return out


def _due(agent: Agent, ctx: Context) -> bool:
    learning = agent.learning
    if learning.lessons >= LESSONS_PER_DAY or agent.route or agent.in_conversation_with:
        return False
    if learning.last_lesson:
        return ctx.now - datetime.fromisoformat(learning.last_lesson) >= LESSON_GAP
    return True


async def next_lesson(agent: Agent, view: WorldView, ctx: Context) -> Task | None:
    """The curriculum's next task for the agent now, or None (no goal, not due, or nothing
    around helps)."""
    goals = learning_goals(agent)
    if not goals or not _due(agent, ctx):
        return None
    around = options(agent, view, ctx)
    if not around:
        return None
    learning = agent.learning
    learning.lessons += 1
    learning.last_lesson = ctx.now.isoformat()
    done = [p["task"] for p in learning.progress if p["ok"]]
    failed = [p["task"] for p in learning.progress if not p["ok"]]
    skills = sorted(ctx.skills.skills) if ctx.skills is not None else []
    out = await CURRICULUM.ask(ctx.llm, CurriculumVars(
        persona=agent.persona_vars(ctx.world_name),
        now=f"{ctx.now:%H:%M}",
        here={"place": agent.location, "place_name": ctx.places.name(agent.location)},
        goals=goals,
        progress={"done": done[-PROGRESS_SHOWN:], "failed": failed[-PROGRESS_SHOWN:]},
        skills=skills,
        options=around,
    ), agent=agent.id)
    if not out.task or out.place not in ctx.places:
        return None
    valid = {o["object"]: o for o in around}
    obj = out.object if out.object in valid else None
    state = out.state if obj and out.state in valid[obj]["states"] else None
    return Task(out.task, out.place, obj, state if obj else None, source="curriculum")


def record_lesson(agent: Agent, task: Task, ok: bool, skill: str | None, ctx: Context) -> None:
    agent.learning.progress.append({"task": task.text, "ok": ok, "skill": skill,
                                    "time": ctx.now.isoformat()})
