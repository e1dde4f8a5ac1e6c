"""The critic and the refiner of day plans (templates plan_critique and plan_refine).

Critique rules:
- The computed criteria ("places exist", "reachable in time", "coherent times") pass or fail
  as the checks given say; the reason is the first problem found.
- "fits the persona" passes when (a) the routine's work item (its longest item away from home)
  is in the plan, at its place or by its activity, or an attended event takes its time;
  (b) every event today the agent goes to (the host always, a guest by the same coin as the
  day plan, `events.attendance`) has an item at its place while it runs; and (c) at least half
  of the routine's places appear in the plan. Goals are not judged by rules.
- Score: the mean over the criteria (a failed computed criterion scores the share of items
  without a problem; a failed persona fit the share of its parts that hold). Satisfied only
  if every criterion passes.

Refine rules, applied to the latest plan with the latest feedback:
- An item the walk does not fit is moved later by the minutes missing (rounded up to 5); if
  the first item moves, an item at the starting place fills the time from the day's start.
- An unknown place becomes the routine's place at that time, or home.
- Times are pulled inside the day; items are sorted; of items at the same time the first
  stays; consecutive identical items are merged.
- If the persona fit failed, events the agent goes to and the plan misses are put in (as the
  day plan does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from agentsim.contracts import PlanCritiqueVars, PlanFrameVars, PlanRefineVars
from agentsim.llm.offline.clock import to_hhmm, to_min
from agentsim.llm.offline.events import attendance
from agentsim.llm.offline.planning import PLAN_MAX, Item, _already_planned, _insert_event

PLACES_EXIST = "places exist"
REACHABLE = "reachable in time"
COHERENT_TIMES = "coherent times"
FITS_PERSONA = "fits the persona"
COMPUTED = (PLACES_EXIST, REACHABLE, COHERENT_TIMES)
STEP = 5  # minutes: moved items land on a multiple of this


def _day(v: PlanFrameVars) -> tuple[int, int]:
    lo = to_min(v.day_start, 0)
    hi = to_min(v.day_end, 24 * 60 - 1)
    return lo, (hi if hi > lo else 24 * 60)


def _spans(plan: Sequence[Mapping[str, Any]], day_end: int) -> list[tuple[int, int]]:
    starts = [to_min(p.get("start")) for p in plan]
    return [(s, starts[k + 1] if k + 1 < len(starts) else day_end) for k, s in enumerate(starts)]


def _routine(v: PlanFrameVars) -> list[tuple[Mapping[str, Any], int, int]]:
    """The routine items that run within the plan's hours (a replan's are the rest of the
    day's), each with its start and end."""
    day_start, day_end = _day(v)
    routine = sorted(v.routine or [], key=lambda r: to_min(r.get("start")))
    out = []
    for k, r in enumerate(routine):
        start = to_min(r.get("start"))
        end = to_min(routine[k + 1].get("start")) if k + 1 < len(routine) else day_end
        if end > day_start and start < day_end:
            out.append((r, start, end))
    return out


def _work_item(v: PlanFrameVars) -> Mapping[str, Any] | None:
    home = str(v.home or "")
    day_start, _ = _day(v)
    away = [(end - max(start, day_start), -k, r)
            for k, (r, start, end) in enumerate(_routine(v)) if r.get("place") != home]
    return max(away, key=lambda a: a[:2])[2] if away else None  # longest, earliest of equals


def _attends(plan: Sequence[Mapping[str, Any]], spans: list[tuple[int, int]],
             ev: Mapping[str, Any]) -> bool:
    start, end = to_min(ev.get("start")), to_min(ev.get("end"))
    return any(p.get("place") == ev.get("place") and s < end and e > start
               for p, (s, e) in zip(plan, spans, strict=True))


def _persona_fit(v: PlanCritiqueVars, seed: int) -> tuple[float, str]:
    """(share of the persona parts that hold, the reason)."""
    plan = list(v.plan or [])
    _, day_end = _day(v)
    spans = _spans(plan, day_end)
    places = {p.get("place") for p in plan}
    good: list[str] = []
    bad: list[str] = []

    going = [ev for ev in v.events or [] if attendance(v, ev, seed) is not None]
    for ev in going:
        title = str(ev.get("title", "the event"))
        (good if _attends(plan, spans, ev) else bad).append(
            f"{'goes to' if _attends(plan, spans, ev) else 'misses'} {title}")

    work = _work_item(v)
    if work is not None:
        activity = str(work.get("activity", "")).lower()
        w_start = max(to_min(work.get("start")), _day(v)[0])
        kept = work.get("place") in places or any(
            activity and activity in str(p.get("activity", "")).lower() for p in plan)
        taken = any(_attends(plan, spans, {**ev, "start": to_hhmm(w_start),
                                           "end": to_hhmm(w_start + 1)}) for ev in going)
        (good if kept or taken else bad).append(
            f"{'keeps' if kept or taken else 'leaves out'} {work.get('activity')}")

    routine_places = {r.get("place") for r, _, _ in _routine(v)}
    if routine_places:
        share = len(routine_places & places) / len(routine_places)
        (good if share >= 0.5 else bad).append(
            f"covers {round(100 * share)} % of the usual places")

    parts = len(good) + len(bad)
    if bad:
        return len(good) / parts, "The plan " + "; ".join(bad) + "."
    return 1.0, ("The plan " + "; ".join(good) + "." if good else "Nothing in the plan is at "
                 "odds with the persona.")


def plan_critique(v: PlanCritiqueVars, seed: int) -> dict:
    checks = {str(c.get("criterion")): c for c in v.checks or []}
    n = max(1, len(v.plan or []))
    verdicts, scores = [], []
    for name in COMPUTED:
        c = checks.get(name)
        if c is None:
            continue
        problems = list(c.get("problems") or [])
        passed = bool(c.get("passed")) and not problems
        reason = str(problems[0].get("text")) if problems else f"all {n} items hold"
        bad = len({p.get("item") for p in problems})
        verdicts.append({"criterion": name, "passed": passed, "reason": reason})
        scores.append(1.0 if passed else max(0.0, 1.0 - bad / n))
    fit, reason = _persona_fit(v, seed)
    verdicts.append({"criterion": FITS_PERSONA, "passed": fit == 1.0, "reason": reason})
    scores.append(fit)
    failed = [x for x in verdicts if not x["passed"]]
    critique = " ".join(f"{x['criterion']}: {x['reason']}" for x in failed)
    return {"criteria": verdicts, "score": round(sum(scores) / len(scores), 4),
            "satisfied": not failed, "critique": critique}


# -- refine ---------------------------------------------------------------------------------
def _routine_place(v: PlanFrameVars, t: int) -> str | None:
    before = [r for r in v.routine or [] if to_min(r.get("start")) <= t]
    return str(before[-1].get("place")) if before else None


def plan_refine(v: PlanRefineVars, seed: int) -> dict:
    history = list(v.history or [])
    latest = list(v.plan or (history[-1].get("plan") if history else []) or [])
    last = history[-1] if history else {}
    checks = {str(c.get("criterion")): c for c in last.get("checks") or []}
    issues = set((last.get("feedback") or {}).get("issues") or [])
    day_start, day_end = _day(v)
    known = {str(p.get("id")) for p in v.places or []}
    home = str(v.home or "")
    origin = str((v.origin or {}).get("id") or home)

    starts = [to_min(p.get("start")) for p in latest]
    for pr in (checks.get(REACHABLE) or {}).get("problems") or []:
        k, walk = pr.get("item"), pr.get("walk_minutes")
        if not isinstance(k, int) or not 0 <= k < len(starts) or walk is None:
            continue
        missing = math.ceil(float(walk)) - int(pr.get("available_minutes") or 0)
        starts[k] += max(STEP, math.ceil(missing / STEP) * STEP)

    items: list[Item] = []
    for p, start in zip(latest, starts, strict=True):
        place = str(p.get("place", ""))
        if known and place not in known:
            place = _routine_place(v, start) or home
            if known and place not in known:
                place = home
        start = min(max(start, day_start), day_end - STEP)
        items.append(Item(start, str(p.get("activity", "")), place))
    if items and min(it.start for it in items) > day_start and starts and starts[0] > to_min(
            latest[0].get("start")):
        items.append(Item(day_start, "get up and get ready", origin))

    merged: list[Item] = []
    for it in sorted(items, key=lambda it: it.start):  # stable: the plan's order among equals
        if merged and (merged[-1].start == it.start or
                       (merged[-1].activity, merged[-1].place) == (it.activity, it.place)):
            continue
        merged.append(it)
    items = merged

    if FITS_PERSONA in issues:
        for ev in sorted(v.events or [], key=lambda e: to_min(e.get("start"))):
            role = attendance(v, ev, seed)
            if role is None or (known and ev.get("place") not in known):
                continue
            spans = _spans([it.out() for it in items], day_end)
            if _attends([it.out() for it in items], spans, ev) or _already_planned(items, ev):
                continue
            items = _insert_event(items, ev, role, floor=day_start, day_end=day_end)

    items = items[:PLAN_MAX]
    if not items:
        items = [Item(day_start, "rest", origin)]
    return {"items": [it.out() for it in items]}
