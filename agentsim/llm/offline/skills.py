"""The offline mind's skills: choosing a known skill, writing a new one from the action API's
primitives, fixing it from the feedback, verifying a run, and proposing curriculum tasks.

    skill_choose   the candidate whose description shares the most content words with the
                   task (at least CHOOSE_OVERLAP, counting the object's name and state); its
                   arguments filled by parameter name (place, object, state, minutes, activity)
    skill_write    a reusable function: walk to the place, set the object to the state (or
                   spend the minutes there), return the object's state
    skill_fix      the same, rebuilt with what the feedback names (the object's real place,
                   an allowed state, a free name) corrected
    skill_verify   success when the task's object ends in the task's state (and, with no
                   object, when the agent ends at the task's place)
    curriculum     the next (object, state) around the agent that fits its learning goal and
                   that it has not managed yet (nor failed twice), the best fit first

Everything is a function of the variables: the same request always gets the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentsim.contracts import (
    CurriculumVars,
    SkillBaseVars,
    SkillChooseVars,
    SkillFixVars,
    SkillVerifyVars,
    SkillWriteVars,
)

CHOOSE_OVERLAP = 2
_WORD = re.compile(r"[a-z]+")
_STOP = {
    "the", "a", "an", "to", "for", "at", "in", "on", "of", "with", "and", "or", "my", "her",
    "his", "their", "some", "it", "its", "into", "from", "up", "down", "out", "by", "is", "be",
    "being", "use", "using", "uses", "go", "goes", "set", "sets", "state", "place", "there",
    "then", "while", "new", "this", "that", "one", "get", "gets",
}
# goal words -> object or state words they point to, for the curriculum
_RELATED = {
    "bake": {"oven", "baking"}, "bread": {"oven", "baking"}, "pastry": {"oven", "baking"},
    "cook": {"stove", "cooking"}, "meal": {"stove", "cooking"}, "soup": {"stove", "cooking"},
    "coffee": {"coffee", "brewing"}, "barista": {"coffee", "brewing"},
    "piano": {"piano", "played"}, "music": {"piano", "keyboard", "played", "jukebox"},
    "jazz": {"piano", "played"}, "song": {"piano", "keyboard", "played"},
    "paint": {"easel"}, "painting": {"easel"}, "draw": {"tablet", "easel"},
    "photograph": {"camera"}, "photo": {"camera"}, "garden": {"flower", "tended"},
    "flower": {"flower", "tended"}, "stream": {"computer", "streaming"},
    "write": {"desk"}, "writing": {"desk"}, "study": {"desk", "shelf"},
}


def _stem(w: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 3 and w[-1] == w[-2] else w


def words(*texts: Any) -> set[str]:
    out: set[str] = set()
    for t in texts:
        out |= {_stem(w) for w in _WORD.findall(str(t or "").lower()) if w not in _STOP}
    return out


_NAME_STOP = {"the", "a", "an", "to", "for", "at", "in", "on", "of", "with", "and", "my", "her",
              "his", "their", "some", "it", "its", "into", "from", "by", "while", "then"}


def _slug(text: str, n: int = 4) -> str:
    ws = [w for w in _WORD.findall(text.lower()) if w not in _NAME_STOP][:n]
    name = "_".join(ws) or "do_task"
    return name if name[0].isalpha() else f"do_{name}"


# -- choosing -----------------------------------------------------------------------------------
def _args_for(params: Sequence[str], task: Mapping[str, Any]) -> dict[str, Any]:
    by = {"place": task.get("place"), "object": task.get("object"), "state": task.get("state"),
          "minutes": task.get("minutes"), "activity": task.get("text")}
    return {p: by[p] for p in params if by.get(p) is not None}


def skill_choose(v: SkillChooseVars, seed: int) -> dict:
    task = v.task or {}
    want = words(task.get("text"), task.get("object_name"), task.get("state"))
    best, best_key = None, (0, 0.0, "")
    for c in v.candidates or []:
        overlap = len(want & words(c.get("name", "").replace("_", " "), c.get("description")))
        key = (overlap, float(c.get("score") or 0.0), c.get("name", ""))
        if overlap >= CHOOSE_OVERLAP and key[:2] > best_key[:2]:
            best, best_key = c, key
    if best is None:
        return {"skill": None, "args": {}, "reason": "none of my skills does this"}
    return {"skill": best["name"], "args": _args_for(best.get("parameters") or [], task),
            "reason": f"{best['name']} is for this ({best_key[0]} words in common)"}


# -- writing and fixing -------------------------------------------------------------------------
def _object(v: SkillBaseVars, oid: str | None) -> Mapping[str, Any] | None:
    return next((o for o in v.objects or [] if o.get("id") == oid), None)


def _compose(name: str, task: Mapping[str, Any], place: str, obj: Mapping[str, Any] | None,
             state: str | None, place_name: str) -> dict:
    activity = str(task.get("text") or "doing the task").strip()
    minutes = max(5, min(120, int(task.get("minutes") or 10)))
    if obj is not None and state:
        description = (f"{activity[:1].upper()}{activity[1:]} at {place_name}, with the "
                       f"{obj['name']} {state}.")
        body = [
            "    if world.location != place:",
            "        world.move_to(place)",
            "    if world.state_of(object) != state:",
            "        world.use(object, state, minutes=minutes, activity=activity)",
            "    else:",
            "        world.wait(minutes, activity)",
            "    return world.state_of(object)",
        ]
        params = (f"place={place!r}, object={obj['id']!r}, state={state!r}, "
                  f"minutes={minutes}, activity={activity!r}")
        args = {"place": place, "object": obj["id"], "state": state, "minutes": minutes,
                "activity": activity}
    else:
        description = f"{activity[:1].upper()}{activity[1:]} at {place_name}."
        body = [
            "    if world.location != place:",
            "        world.move_to(place)",
            "    world.wait(minutes, activity)",
            "    return world.location",
        ]
        params = f"place={place!r}, minutes={minutes}, activity={activity!r}"
        args = {"place": place, "minutes": minutes, "activity": activity}
    doc = description.replace('"', "'")
    code = "\n".join([f"def {name}(world, {params}):", f'    """{doc}"""', *body]) + "\n"
    return {"name": name, "description": description, "code": code, "args": args}


def skill_write(v: SkillWriteVars, seed: int) -> dict:
    task = v.task or {}
    obj = _object(v, task.get("object"))
    place = task.get("place") or (v.here or {}).get("place", "")
    name = _slug(str(task.get("text") or ""))
    return _compose(name, task, place, obj, task.get("state"),
                    task.get("place_name") or place)


def skill_fix(v: SkillFixVars, seed: int) -> dict:
    task = v.task or {}
    history = v.history or []
    last = history[-1] if history else {}
    critique = str((last.get("feedback") or {}).get("critique", "")).lower()
    args = dict(last.get("args") or {})
    obj = _object(v, args.get("object") or task.get("object")) or _object(v, task.get("object"))
    place = args.get("place") or task.get("place")
    state = args.get("state") or task.get("state")
    if obj is not None and ("not here" in critique or "not at" in critique
                            or "no place" in critique or "unknown place" in critique
                            or "is at" in critique):
        place = obj["place"]  # go where the object really is
    if obj is not None and obj.get("states") and state not in obj["states"]:
        state = task.get("state") if task.get("state") in obj["states"] else next(
            (s for s in obj["states"] if s != obj.get("state")), obj["states"][0])
    name = _slug(str(task.get("text") or ""))
    taken = "name is taken" in critique
    if taken:
        name = f"{name}_{_slug(str(place), 2)}"
    names = [h.get("name") for h in history]
    if taken and name in names:
        name = f"{name}_{len(history) + 1}"
    place_name = task.get("place_name") if place == task.get("place") else place
    return _compose(name, task, str(place), obj, state, str(place_name or place))


# -- verifying ----------------------------------------------------------------------------------
def skill_verify(v: SkillVerifyVars, seed: int) -> dict:
    task = v.task or {}
    changes = v.changes or {}
    oid, want = task.get("object"), task.get("state")
    if oid and want:
        after = changes.get("task_object_after")
        if after == want:
            return {"success": True, "critique": ""}
        return {"success": False,
                "critique": f"the {task.get('object_name') or oid} is {after}, not {want}"}
    where = changes.get("location_after_id")
    if task.get("place") and where != task.get("place"):
        return {"success": False, "critique": f"ended at {changes.get('location_after')}, not "
                                              f"at {task.get('place_name') or task['place']}"}
    if not changes.get("minutes"):
        return {"success": False, "critique": "nothing was done"}
    return {"success": True, "critique": ""}


# -- curriculum ---------------------------------------------------------------------------------
def _goal_words(goals: Sequence[str]) -> set[str]:
    ws = words(*goals)
    for w in list(ws):
        ws |= {_stem(x) for x in _RELATED.get(w, ())}
    return ws


def _task_text(goal: str, option: Mapping[str, Any], state: str) -> str:
    topic = re.sub(r"^\s*(learn|practi[cs]e|master|get better at|improve)\s+(to\s+|at\s+)?",
                   "", goal, flags=re.IGNORECASE).strip().rstrip(".")
    return f"practise {topic}: get the {option['object_name']} {state}"


def curriculum(v: CurriculumVars, seed: int) -> dict:
    goals = list(v.goals or [])
    if not goals:
        return {"task": None, "reason": "no learning goal"}
    want = _goal_words(goals)
    progress = v.progress or {}
    done = set(progress.get("done") or [])
    failed = list(progress.get("failed") or [])
    ranked = []
    for o in v.options or []:
        for state in o.get("states") or []:
            if state == (o.get("states") or [None])[0]:
                continue  # the resting state is not a task
            fit = len(want & words(o.get("object_name"), state))
            if fit:
                ranked.append((-fit, o["object"], state, o))
    ranked.sort(key=lambda t: t[:3])
    for _, _, state, o in ranked:
        for goal in goals:
            text = _task_text(goal, o, state)
            if text in done or failed.count(text) >= 2:
                continue  # managed already, or failed twice: try something else
            return {"task": text, "place": o["place"], "object": o["object"], "state": state,
                    "reason": f"the {o['object_name']} fits my goal to {goal}"}
    return {"task": None, "reason": "nothing around here that I have not managed yet"}
