"""Breaking a plan item into hour-long chunks or 5-15 minute actions.

"hour": chunks of 60 minutes, the last one the remainder (a remainder under 5 minutes joins the
chunk before), labelled "(getting started)", "(continuing)", "(wrapping up)".

"minutes": steps of 10-15 minutes (multiples of 5, summing to the total) drawn from a small
script for the kind of activity (coffee, cooking, eating out, reading, painting, music,
serving, exercise, desk work, sleep, anything else). When the place has an object that fits
the activity, the steps that use it set it to a fitting state, and the activity's last step
puts it back to its idle state. A chunk labelled "(getting started)" or "(continuing)" is
not the end of the activity, so it leaves the object in use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsim.contracts import DecomposeVars
from agentsim.llm.offline.wording import strip_phase

STEP_TARGET = 12.5  # minutes per step aimed at
MAX_STEPS = 16
MAX_STEP = 90
PHASES = ("getting started", "continuing", "wrapping up")


@dataclass(frozen=True)
class Script:
    """How an activity of one kind goes. Phrases may use {act} (the activity) and {meal}."""

    words: tuple[str, ...]  # activity words that select this script
    objects: tuple[str, ...]  # object-name words that fit, best first
    states: tuple[str, ...]  # fitting "in use" states, best first
    first: tuple[str, bool]  # (phrase, uses the object)
    middle: tuple[tuple[str, bool], ...]
    last: str  # puts the object back to idle
    needs_object: bool = False  # only applies when a fitting object is there


SCRIPTS: list[Script] = [
    Script(("sleep", "nap", "napping", "asleep"), ("bed",), ("in use", "occupied", "sleeping"),
           ("get into bed", True), (("sleep", True),), "wake up and get out of bed"),
    Script(("piano", "guitar", "violin", "music", "sing", "song", "compose", "composing"),
           ("piano", "guitar", "violin", "keyboard", "instrument", "drum"),
           ("being played", "playing", "in use"),
           ("warm up and tune the instrument", True),
           (("practise scales", True), ("play through a piece", True),
            ("work on a tricky passage", True)),
           "put the instrument away"),
    Script(("paint", "draw", "sketch", "art", "artwork"), ("easel", "canvas", "art"),
           ("in use", "painting"),
           ("set up the easel and paints", True),
           (("sketch the outline", True), ("paint", True), ("step back and look at the work",
                                                            False)),
           "clean the brushes and put the paints away"),
    Script(("coffee", "brew", "espresso", "latte", "tea"), ("coffee", "espresso", "kettle"),
           ("brewing", "in use", "on"),
           ("grind the beans and start brewing", True),
           (("pour a fresh cup", True), ("sip the coffee", False)),
           "rinse out the pot"),
    Script(("bake", "baking"), ("oven", "stove"), ("baking", "in use", "on"),
           ("heat the oven and mix the dough", True),
           (("bake", True), ("check on the oven", True)),
           "take everything out of the oven and clean up"),
    Script(("cook", "prepare", "preparing", "breakfast", "lunch", "dinner", "meal", "supper",
            "brunch", "eat"),
           ("stove", "oven", "cooktop", "grill", "kitchen"), ("cooking", "in use", "on"),
           ("cook {meal}", True), (("eat {meal}", False), ("enjoy {meal} slowly", False)),
           "wash the dishes", needs_object=True),
    Script(("breakfast", "lunch", "dinner", "meal", "supper", "brunch", "eat"), (), (),
           ("order {meal}", False), (("eat {meal}", False), ("enjoy {meal} slowly", False)),
           "finish {meal}"),
    Script(("serve", "serving", "bar", "drink", "bartend", "customer", "counter", "cashier"),
           ("tap", "bar", "counter", "register"), ("in use", "pouring", "serving", "open"),
           ("wipe down the counter and get set up", True),
           (("serve customers", True), ("pour drinks", True), ("chat with the customers", False)),
           "tidy up behind the counter"),
    Script(("read", "study", "research", "book", "learn", "homework", "library", "class"),
           ("desk", "book", "shelf", "table"), ("in use", "occupied", "open"),
           ("sit down and open the books", True),
           (("read carefully", True), ("take notes", True), ("think over what I read", False)),
           "put the books away"),
    Script(("walk", "jog", "jogging", "exercise", "exercising", "stroll", "workout", "gym"), (), (),
           ("head out", False), (("{act}", False), ("stop to enjoy the view", False)),
           "head back"),
    Script(("write", "writing", "work", "email", "computer", "office", "plan", "planning", "desk"),
           ("computer", "desk", "laptop", "typewriter"), ("in use", "on"),
           ("get settled and look over the to-do list", True),
           (("{act}", True), ("take a short break", False), ("{act}", True)),
           "wrap up and tidy the workspace"),
]
GENERIC = Script((), (), (), ("get ready to {act}", False), (("{act}", False),), "finish up")

MEAL_WORDS = ("breakfast", "brunch", "lunch", "dinner", "supper")
EATERIES = ("cafe", "café", "restaurant", "bar", "pub", "diner", "bistro", "canteen")


def _has_word(text: str, words: Sequence[str]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}(s|es|ed|ing)?\b", text) for w in words)


def _script(
    activity: str, place_name: str, objects: Sequence[Mapping[str, Any]]
) -> tuple[Script, Mapping | None]:
    low = activity.lower()
    eating_out = _has_word(place_name.lower(), EATERIES) and not _has_word(low, ("cook",))
    for s in SCRIPTS:
        if not _has_word(low, s.words):
            continue
        obj = _fitting_object(s, objects)
        if s.needs_object and (obj is None or eating_out):
            continue
        return s, obj
    return GENERIC, None


def _fitting_object(s: Script, objects: Sequence[Mapping[str, Any]]) -> Mapping | None:
    for word in s.objects:
        for o in objects:
            if word in f"{o.get('name', '')} {o.get('id', '')}".lower().replace("_", " "):
                return o
    return None


def _states(s: Script, obj: Mapping[str, Any]) -> tuple[str | None, str]:
    """(the state while in use, the idle state) the object may take."""
    allowed = [str(x) for x in obj.get("states") or []]
    if not allowed:
        return "in use", "idle"
    idle = "idle" if "idle" in allowed else allowed[0]
    busy = next((x for x in s.states if x in allowed), None)
    if busy is None:
        busy = next((x for x in allowed if x != idle), None)
    return busy, idle


def _hour_sizes(total: int) -> list[int]:
    chunk = 60 if total <= MAX_STEPS * 60 else min(MAX_STEP, 5 * math.ceil(total / MAX_STEPS / 5))
    n, rem = divmod(total, chunk)
    sizes = [chunk] * n
    if rem >= 5 or not sizes:
        sizes.append(rem)
    else:
        sizes[-1] += rem
    while len(sizes) > MAX_STEPS:
        sizes[-2:] = [sizes[-2] + sizes[-1]]
    return [max(5, min(MAX_STEP, x)) for x in sizes]


def _minute_sizes(total: int, n: int) -> list[int]:
    units, rem = divmod(total, 5)
    base, extra = divmod(units, n)
    sizes = [5 * (base + (1 if i < extra else 0)) for i in range(n)]
    sizes[-1] += rem
    return sizes


def _hour(activity: str, total: int) -> dict:
    sizes = _hour_sizes(total)
    if len(sizes) == 1:
        return {"steps": [{"minutes": sizes[0], "activity": activity}]}
    labels = [PHASES[0]] + [PHASES[1]] * (len(sizes) - 2) + [PHASES[2]]
    return {"steps": [{"minutes": m, "activity": f"{activity} ({label})"}
                      for m, label in zip(sizes, labels, strict=True)]}


def _minutes(
    activity: str, total: int, place_name: str, objects: Sequence[Mapping[str, Any]]
) -> dict:
    act, phase = strip_phase(activity)
    s, obj = _script(act, place_name, objects)
    if total < 5:
        return {"steps": [{"minutes": 5, "activity": act}]}
    n = round(total / STEP_TARGET)
    n = max(1, math.ceil(total / (MAX_STEP - 5)), min(n, MAX_STEPS, total // 5))
    with_first = phase in (None, PHASES[0])
    with_last = phase in (None, PHASES[2])
    if obj is not None and n == 1 and total >= 10 and with_last:
        n = 2  # use it, then put it back
    phrases: list[tuple[str, bool, bool]] = []  # (phrase, uses object, puts it back)
    if n == 1:
        phrases = [(act, s.first[1] and not with_last, False)]
    else:
        first = s.first
        if s is GENERIC and act.split(" ", 1)[0].endswith("ing"):
            first = ("get started", False)
        head = [(*first, False)] if with_first else []
        tail = [(s.last, False, True)] if with_last else []
        k = n - len(head) - len(tail)
        if k < 0:
            head, k = [], n - len(tail)
        body = [(*s.middle[i % len(s.middle)], False) for i in range(k)]
        phrases = head + body + tail
    meal = next((w for w in MEAL_WORDS if w in act.lower()), "a meal")
    busy, idle = _states(s, obj) if obj is not None else (None, "idle")
    steps = []
    for minutes, (phrase, uses, back) in zip(_minute_sizes(total, n), phrases, strict=True):
        step: dict[str, Any] = {"minutes": minutes,
                                "activity": phrase.format(act=act, meal=meal)}
        if obj is not None and ((uses and busy is not None) or back):
            step["object"] = obj.get("id")
            step["object_state"] = idle if back else busy
        steps.append(step)
    return {"steps": steps}


def decompose(v: DecomposeVars, seed: int) -> dict:
    item = v.item or {}
    activity = str(item.get("activity") or "go about the day")
    total = int(v.minutes_total or 0)
    if v.granularity == "hour":
        return _hour(strip_phase(activity)[0], max(5, total))
    place_name = str(item.get("place_name") or item.get("place") or "")
    return _minutes(activity, total, place_name, v.objects or [])
