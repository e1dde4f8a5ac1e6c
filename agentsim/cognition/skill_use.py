"""Skills in the tick, after Voyager: when an agent's next step is a task (it changes an
object, or the curriculum proposed it), retrieve the closest skills, let the LLM call one or
write a new one, run the code in the sandbox, verify the change, and keep what works.

    task -> retrieve top k skills -> skill_choose
         -> a known skill: sandbox run -> self-verification (skill_verify) -> counted
         -> none, or it failed: self-refine (skill_write, then skill_fix with the errors and
            critiques, up to `skill_rounds`) -> verified skills join the library at tick end
    the run's primitive steps (move_to, use, say, wait, read) become the agent's next actions

A task the agent failed before with nothing changed since (`unchanged_key`: the task, what
a skill would see around it, the library) is not tried again: with the same inputs the choice,
the code written, its run and its verdict would be the same again (on the offline mind
exactly; on a model most likely), so the whole move is skipped and said so (`skill_skipped`).

A skill never touches the live world: it runs against a snapshot (what the agent can see and
where things are), and its calls become actions that the engine resolves like any other over
the next ticks. A skill that breaks the rules (imports os, opens a file, loops forever,
allocates gigabytes) is stopped by the sandbox; the error goes to the event log and the agent
goes on with its plain plan step.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agentsim.cognition.agent import Action, Agent
from agentsim.cognition.context import Context
from agentsim.cognition.curriculum import next_lesson, record_lesson
from agentsim.cognition.perceive import WorldView
from agentsim.cognition.refine import Attempt, Feedback, refine, trace_fields
from agentsim.cognition.task import Task
from agentsim.contracts import (
    SKILL_CHOOSE,
    SKILL_FIX,
    SKILL_VERIFY,
    SKILL_WRITE,
    SkillBaseVars,
    SkillChooseVars,
    SkillFixVars,
    SkillVerifyVars,
    SkillWriteVars,
)
from agentsim.contracts.outputs import SkillCode, SkillVerdict
from agentsim.errors import UserError
from agentsim.events import Refined, SkillSkipped, SkillUsed
from agentsim.skills.api_doc import API_DOC
from agentsim.skills.library import Skill, parse_skills
from agentsim.skills.sandbox import Limits, SandboxResult, run_skill
from agentsim.skills.snapshot import Crowd, world_snapshot
from agentsim.skills.wall import wall_status


def is_task(action: Action) -> bool:
    """A plan step is a task for the skill library when it changes an object's state."""
    return action.skill is None and action.object is not None and action.object_state is not None


# -- what the sandbox sees ----------------------------------------------------------------
def snapshot(agent: Agent, view: WorldView, ctx: Context) -> dict[str, Any]:
    """The world as the agent can act on it, as JSON data for `agentsim.skills.api`."""
    kb = ctx.knowledge
    return world_snapshot(
        ctx.places, agent=agent.id, name=agent.name, location=agent.location,
        time=ctx.now.isoformat(), states=view.objects, crowd=_crowd(view),
        documents={d: kb.title(d) for d in kb.documents()} if kb else {})


_CROWD: list[Any] = [None, None]  # [the last view, its people as a Crowd]


def _crowd(view: WorldView) -> Crowd:
    """Every resident as {id: {"name", "place"}} for the view of this tick (read-only),
    built once for all the agents of a tick rather than once per agent."""
    if _CROWD[0] is not view:
        _CROWD[:] = [view, Crowd({s.id: {"name": s.name, "place": s.place}
                                  for s in view.agents.values()})]
    return _CROWD[1]


def _task_vars(task: Task, snap: dict[str, Any], ctx: Context) -> dict[str, Any]:
    obj = snap["objects"].get(task.object) if task.object else None
    return {"text": task.text, "place": task.place, "place_name": ctx.places.describe(task.place),
            "object": task.object, "object_name": obj["name"] if obj else None,
            "state": task.state, "minutes": task.minutes, "source": task.source}


def _objects_vars(task: Task, agent: Agent, snap: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects at the task's place and where the agent is, and the task's object wherever
    (found through the places' own lists: the whole town's objects are never scanned)."""
    objects, places = snap["objects"], snap["places"]
    ids = {oid for p in (task.place, agent.location) if p in places
           for oid in places[p]["objects"] if oid in objects}
    if task.object in objects:
        ids.add(task.object)
    return [{"id": oid, "name": o["name"], "place": o["place"], "state": o["state"],
             "states": o["states"]}
            for oid in sorted(ids) for o in (objects[oid],)]


def _people_at(where: set[str], snap: dict[str, Any]) -> list[tuple[str, str]]:
    """(place, id) of the others at those places, sorted: from the tick's crowd by place
    (`Crowd.by_place`), when the snapshot has one (else every person is looked at)."""
    crowd = getattr(snap, "crowd", None)
    if crowd is None:
        return sorted((p["place"], pid) for pid, p in snap["people"].items()
                      if p["place"] in where)
    return sorted((place, pid) for place in where for pid in crowd.by_place.get(place, ())
                  if pid != snap["agent"])


def _here(agent: Agent, ctx: Context) -> dict[str, str]:
    return {"place": agent.location, "place_name": ctx.places.describe(agent.location)}


# -- running and verifying ----------------------------------------------------------------
@dataclass
class Outcome:
    run: SandboxResult
    verdict: SkillVerdict | None  # None when the run itself failed

    @property
    def ok(self) -> bool:
        return self.run.ok and self.verdict is not None and self.verdict.success

    @property
    def why(self) -> str:
        if not self.run.ok:
            return self.run.error or "the skill failed"
        return self.verdict.critique if self.verdict else ""


def _step_text(s: dict[str, Any], snap: dict[str, Any]) -> str:
    op = s.get("op")
    if op == "move_to":
        return f"walked to {snap['places'].get(s['place'], {}).get('name', s['place'])}"
    if op == "use":
        name = snap["objects"].get(s["object"], {}).get("name", s["object"])
        return f"{s.get('activity') or 'used the ' + name}: {name} -> {s['state']}"
    if op == "say":
        return f"said to {snap['people'].get(s['person'], {}).get('name', s['person'])}: " \
               f"{s['text']}"
    if op == "read":
        return f"read {snap['documents'].get(s['document'], s['document'])}"
    return f"{s.get('activity') or 'waited'} ({s.get('minutes', 0)} min)"


def _changes_vars(run: SandboxResult, snap: dict[str, Any], task: Task) -> dict[str, Any]:
    c = run.changes or {}
    objects = c.get("objects", {})
    object_after = None
    if task.object:
        object_after = objects[task.object][1] if task.object in objects else \
            snap["objects"].get(task.object, {}).get("state")
    before, after = c.get("location", [snap["location"], snap["location"]])
    names = snap["places"]
    return {
        "location_before": names.get(before, {}).get("name", before),
        "location_after": names.get(after, {}).get("name", after),
        "location_after_id": after,
        "objects": [{"id": oid, "name": snap["objects"].get(oid, {}).get("name", oid),
                     "old": old, "new": new}
                    for oid, (old, new) in sorted(c.get("objects", {}).items())],
        "said": [{"person": snap["people"].get(p, {}).get("name", p), "text": t}
                 for p, t in c.get("said", [])],
        "read": list(c.get("read", [])),
        "minutes": c.get("minutes", 0),
        "task_object_after": object_after,
    }


def _limits(ctx: Context) -> Limits:
    s = ctx.settings
    return Limits(seconds=s.skill_seconds, memory_mb=s.skill_memory_mb, seed=ctx.sandbox_seed)


def may_write_skills(ctx: Context) -> bool:
    """Whether code a model writes may run here: behind the sandbox's wall, or where the user
    allowed it to run without (`Settings.allow_unsandboxed_skills`)."""
    return wall_status().available or ctx.settings.allow_unsandboxed_skills


async def attempt(agent: Agent, task: Task, name: str, code: str, args: dict[str, Any],
                  snap: dict[str, Any], ctx: Context, *, seed: bool = False) -> Outcome:
    """Run the skill in the sandbox; if it ran, ask the critic whether the task is done.
    `seed`: the world's own code, which runs without the wall too."""
    run = await run_skill(code, name, dict(args), snap, _limits(ctx), model_written=not seed,
                          allow_unsandboxed=ctx.settings.allow_unsandboxed_skills, warm=True)
    if not run.ok:
        return Outcome(run, None)
    verdict = await SKILL_VERIFY.ask(ctx.llm, SkillVerifyVars(
        world=ctx.world_name,
        task=_task_vars(task, snap, ctx),
        skill=name,
        steps=[_step_text(s, snap) for s in run.steps],
        changes=_changes_vars(run, snap, task),
        returned=str(run.returned)[:200],
    ), agent=agent.id)
    return Outcome(run, verdict)


# -- steps to actions ---------------------------------------------------------------------
def to_actions(agent: Agent, skill: str, steps: Sequence[dict[str, Any]], ctx: Context,
               snap: dict[str, Any]) -> list[Action]:
    """The run's primitive steps as the agent's actions from now on. Each lasts a whole number
    of ticks, so every step is current at some tick and none is skipped."""
    tick = ctx.tick_delta
    t, place, out = ctx.now, agent.location, []
    for s in steps:
        minutes = max(1, int(s.get("minutes", 5)))
        span = tick * max(1, math.ceil(timedelta(minutes=minutes) / tick))
        op = s.get("op")
        if op == "move_to":
            place = s["place"]
            a = Action(f"walking to {ctx.places.name(place)}", place, t, t + span, skill=skill)
        elif op == "use":
            name = snap["objects"][s["object"]]["name"]
            a = Action(s.get("activity") or f"using the {name}", s.get("place", place), t,
                       t + span, s["object"], s["state"], skill=skill)
        elif op == "say":
            who = snap["people"].get(s["person"], {}).get("name", s["person"])
            a = Action(f"telling {who}: {s['text']}", place, t, t + span, skill=skill,
                       say_to=s["person"])
        elif op == "read":
            title = snap["documents"].get(s["document"], s["document"])
            a = Action(f"reading {title}", place, t, t + span, skill=skill,
                       document=s["document"])
        else:
            a = Action(s.get("activity") or "waiting", place, t, t + span, skill=skill)
        out.append(a)
        t += span
    return out


def splice(agent: Agent, actions: list[Action], ctx: Context) -> Action:
    """Put the skill's actions in place of the agent's steps from now, within the current item
    of the day plan; the plan's own steps resume after them. Returns the action for now."""
    item = next((a for a in agent.day_plan if a.start <= ctx.now < a.end), None)
    if item is not None:
        actions = [a for a in actions if a.start < item.end]
    end = actions[-1].end
    rest = [Action(a.activity, a.place, max(a.start, end), a.end, a.object, a.object_state)
            for a in agent.steps if a.end > end]
    agent.steps = actions + rest
    return actions[0]


# -- the whole move -----------------------------------------------------------------------
def _skill_of(code: SkillCode, provenance: str) -> Skill | None:
    try:
        found = [s for s in parse_skills(code.code, "skill", require_doc=False)
                 if s.name == code.name]
    except UserError:  # it ran, so it parses; a name the library refuses is not kept
        return None
    if not found:
        return None
    s = found[0]
    s.description = " ".join(code.description.split()) or s.description
    s.provenance = provenance
    return s


FAILED_KEPT = 64  # failed tasks an agent remembers (the oldest forgotten first)


def unchanged_key(agent: Agent, task: Task, snap: dict[str, Any], version: str,
                  ctx: Context) -> str:
    """What a new attempt at `task` would start from, as a digest: the task as the prompts
    show it (text, place, object, state, minutes, source), where the agent is, the objects
    the prompts list with their states (at the task's place, where the agent is, the task's
    object), who is at those places (what `people_here` and `say` read), and the skill
    library's version (a skill learned since may be the one that works). Left out: the clock
    and the persona's daily summary, which change every tick or day and which no task's
    outcome hangs on in practice; counting them would make every attempt look new."""
    objects = _objects_vars(task, agent, snap)
    people = _people_at({task.place, agent.location}, snap)
    data = [_task_vars(task, snap, ctx), agent.location, objects, people, version]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _failed(agent: Agent, key: str, ctx: Context) -> None:
    """Remember that the attempt keyed `key` failed (the newest `FAILED_KEPT` are kept)."""
    failed = agent.learning.failed
    failed.pop(key, None)
    failed[key] = ctx.now.isoformat()
    while len(failed) > FAILED_KEPT:
        del failed[next(iter(failed))]


async def perform(agent: Agent, task: Task, view: WorldView, ctx: Context
                  ) -> tuple[list[Action] | None, str | None]:
    """Do `task` with a skill. Returns (actions, skill name), or (None, None) if no skill
    worked; every run is an event (`skill_used`), every new-skill loop a `refined` one, and
    a task skipped as failed before with nothing changed a `skill_skipped` one."""
    lib = ctx.skills
    assert lib is not None
    snap = snapshot(agent, view, ctx)
    key = unchanged_key(agent, task, snap, lib.version, ctx)
    if key in agent.learning.failed:
        when = agent.learning.failed[key]
        ctx.emit(SkillSkipped, agent=agent.id, task=task.text, failed_at=when,
                 reason=f"failed at {when[11:16]} with the same task, surroundings and "
                        "skill library")
        return None, None
    actions, name = await _perform(agent, task, snap, ctx)
    if actions is None:
        _failed(agent, key, ctx)
    return actions, name


async def _perform(agent: Agent, task: Task, snap: dict[str, Any], ctx: Context
                   ) -> tuple[list[Action] | None, str | None]:
    lib = ctx.skills
    assert lib is not None
    hits = await lib.aretrieve(task.text, k=ctx.settings.skill_k)
    persona = agent.persona_vars(ctx.world_name)
    tvars = _task_vars(task, snap, ctx)
    here = _here(agent, ctx)
    candidates = [{**s.to_vars(), "score": round(score, 3)} for s, score in hits]
    choice = await SKILL_CHOOSE.ask(ctx.llm, SkillChooseVars(
        persona=persona, now=f"{ctx.now:%H:%M}", here=here,
        task=tvars, candidates=candidates,
    ), agent=agent.id)

    failure = None
    if choice.skill and choice.skill in lib:
        skill = lib[choice.skill]
        out = await attempt(agent, task, skill.name, skill.code, choice.args, snap, ctx,
                            seed=skill.seed)
        ctx.uses.append((skill.name, out.ok))  # counted at tick end
        _used(ctx, agent, skill.name, task, out, choice.args, new=False)
        if out.ok:
            return to_actions(agent, skill.name, out.run.steps, ctx, snap), skill.name
        failure = f"{skill.name}({choice.args}) {out.why}"
    if not may_write_skills(ctx):  # no new code: it could not run here
        return None, None

    objects = _objects_vars(task, agent, snap)
    base = SkillBaseVars(persona=persona, here=here, task=tvars, api=API_DOC,
                         objects=objects).dump()
    write_vars = SkillWriteVars(
        **base, failure=failure,
        examples=[{"name": s.name, "description": s.description, "code": s.code}
                  for s, _ in hits[:2]])
    outcomes: list[Outcome] = []  # one per attempt, in order

    async def generate() -> SkillCode:
        return await SKILL_WRITE.ask(ctx.llm, write_vars, agent=agent.id)

    async def feedback(code: SkillCode) -> Feedback:
        if code.name in lib:
            out = Outcome(SandboxResult(False, [], {}, error=(
                f"skill {code.name}: that name is taken by a known skill; pick a new name"),
                error_kind="invalid"), None)
        else:
            out = await attempt(agent, task, code.name, code.code, code.args, snap, ctx)
        outcomes.append(out)
        _used(ctx, agent, code.name, task, out, code.args, new=True)
        kind = out.run.error_kind or ("verified" if out.ok else "critique")
        return Feedback(1.0 if out.ok else (0.5 if out.run.ok else 0.0), out.ok, out.why, (kind,))

    async def improve(code: SkillCode, history: Sequence[Attempt[SkillCode]]) -> SkillCode:
        return await SKILL_FIX.ask(ctx.llm, SkillFixVars(**base, history=[
            {"code": a.output.code, "args": a.output.args, "feedback": a.feedback.to_dict()}
            for a in history]), agent=agent.id)

    trace = await refine(generate, feedback, improve, kind="skill",
                         max_rounds=ctx.settings.skill_rounds)
    ctx.emit(Refined, agent=agent.id,
             **trace_fields(trace, SKILL_WRITE.id, write_vars.dump()))
    if not trace.satisfied:
        return None, None
    code, out = trace.final, outcomes[-1]  # a satisfied loop ends on its final attempt
    skill = _skill_of(code, f"learned:{ctx.world_name}:{agent.id}:{ctx.now.isoformat()}")
    if skill is not None:
        skill.uses, skill.successes = 1, 1
        ctx.learned.append((agent.id, skill, trace.rounds))
    return to_actions(agent, code.name, out.run.steps, ctx, snap), code.name


def _used(ctx: Context, agent: Agent, name: str, task: Task, out: Outcome,
          args: dict[str, Any], *, new: bool) -> None:
    ctx.emit(SkillUsed, agent=agent.id, skill=name, task=task.text, ok=out.ok,
             args=args, steps=len(out.run.steps), new=new,
             error=None if out.ok else out.why, error_kind=out.run.error_kind
             or (None if out.ok else "critique"))


async def use_skills(agent: Agent, action: Action, view: WorldView, ctx: Context) -> Action:
    """The step's hook: a task from the curriculum or the plan is done with a skill when one
    works; otherwise the plain action stands."""
    if ctx.skills is None or not ctx.settings.skills or action.skill is not None:
        return action
    learning = agent.learning
    learning.today(ctx.now.date().isoformat())
    if learning.tasks >= ctx.settings.skill_tasks_per_day:
        return action
    task = await next_lesson(agent, view, ctx)
    if task is None:
        key = f"{action.start.isoformat()}|{action.activity}"
        if not is_task(action) or learning.tried == key:
            return action
        learning.tried = key
        task = Task.from_action(action)
    learning.tasks += 1
    actions, name = await perform(agent, task, view, ctx)
    if task.source == "curriculum":
        record_lesson(agent, task, actions is not None, name, ctx)
    if not actions:
        return action
    return splice(agent, actions, ctx)
