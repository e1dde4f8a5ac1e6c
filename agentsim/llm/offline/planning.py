"""Day plans and replans from the persona's routine and the events the agent knows of.

Rules:
- The day follows the routine, in order. More than 8 routine items: merge adjacent pairs
  (same place first, then the shortest pair; the first item, where the agent wakes, is merged
  into one elsewhere only if nothing else can be) until 8 are left. Fewer than 5: take a lunch
  (12:00-13:00) or dinner (18:00-19:00) break out of a long item that spans it.
- Events: those the agent's own memories tell of: `events` (the structured ones it was seeded
  with or had whispered) and, for a day plan given retrieved memories (`recalled`) and for a replan,
  every event the words of those memories (and of the observation) tell of
  (`hearsay.memory_events`). The host goes to what it hosts; a guest goes by the stated,
  seed-dependent rule of `events.attendance` (persona, invited by the host in person, work
  at that time), so it can decline. An attended event replaces what the plan had from its
  start to its end ("attend the X" / "host the X" at the event's place); the item that was
  running at the event's end resumes then. The host also prepares at the event's place
  from an hour before.
- A replan applies the same rule to the events of today found in the observation and the
  memories retrieved for it, from `now` on, and otherwise keeps the remaining plan as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentsim.contracts import DayPlanVars, ReplanVars
from agentsim.llm.offline.clock import DAY_MINUTES, to_hhmm, to_min
from agentsim.llm.offline.events import attendance, event_key
from agentsim.llm.offline.hearsay import events_in, memory_events, said_by
from agentsim.llm.offline.wording import the_title

ROUTINE_MAX = 8
ROUTINE_MIN = 5
PLAN_MAX = 12  # the schema's limit
PREP_MINUTES = 60
MEALS = [(12 * 60, 13 * 60, "have lunch", ("lunch", "eat", "meal")),
         (18 * 60, 19 * 60, "have dinner", ("dinner", "supper", "eat", "meal"))]


@dataclass(frozen=True)
class Item:
    start: int  # minutes since midnight
    activity: str
    place: str
    fixed: bool = False  # belongs to an event: never merged away

    def out(self) -> dict[str, str]:
        return {"start": to_hhmm(self.start), "activity": self.activity, "place": self.place}


def _end_of(items: list[Item], i: int, day_end: int) -> int:
    return items[i + 1].start if i + 1 < len(items) else day_end


def _merge_down(items: list[Item], limit: int, day_end: int) -> list[Item]:
    """Merge adjacent unfixed pairs, same place first, then the shortest, until <= limit."""
    items = list(items)
    while len(items) > limit:
        # The day's first item is where the agent wakes up: merging it into an item elsewhere
        # would put them there the minute they wake, so that pair comes last of its kind.
        pairs = [
            (items[i].place != items[i + 1].place,
             i == 0 and items[i].place != items[i + 1].place,
             _end_of(items, i + 1, day_end) - items[i].start, i)
            for i in range(len(items) - 1)
            if not items[i].fixed and not items[i + 1].fixed
        ]
        if not pairs:
            break
        *_, i = min(pairs)
        a, b = items[i], items[i + 1]
        longer = a if (b.start - a.start) >= (_end_of(items, i + 1, day_end) - b.start) else b
        items[i : i + 2] = [Item(a.start, f"{a.activity}, then {b.activity}", longer.place)]
    return items


def _add_meals(items: list[Item], day_end: int) -> list[Item]:
    """Too few items: break a long item for a meal, the way people's days actually go."""
    for m_start, m_end, activity, words in MEALS:
        if len(items) >= ROUTINE_MIN:
            break
        if any(any(w in it.activity.lower() for w in words) for it in items):
            continue
        for i, it in enumerate(items):
            end = _end_of(items, i, day_end)
            if it.start < m_start and end > m_end and end - it.start >= 180:
                items[i + 1 : i + 1] = [Item(m_start, activity, it.place),
                                        Item(m_end, it.activity, it.place)]
                break
    return items


def _running_at(items: list[Item], t: int) -> Item | None:
    before = [it for it in items if it.start <= t]
    return before[-1] if before else None


def _insert_event(
    items: list[Item], ev: Mapping[str, Any], role: str, *, floor: int, day_end: int
) -> list[Item]:
    """Put an attended event into the plan (see the module rules)."""
    start, end = to_min(ev.get("start"), 0), to_min(ev.get("end"), 0)
    if end <= start:
        end = min(DAY_MINUTES - 1, start + 60)
    place, title = str(ev.get("place")), str(ev.get("title", "event"))
    begin = max(start, floor)
    prep = max(start - PREP_MINUTES, floor) if role == "host" else begin
    resume = _running_at(items, end)
    kept = [it for it in items if not (min(prep, begin) <= it.start < end)]
    verb = "host" if role == "host" else "attend"
    added = [Item(begin, f"{verb} {the_title(title)}", place, fixed=True)]
    if prep < begin:
        added.append(Item(prep, f"prepare for {the_title(title)}", place, fixed=True))
    if resume is not None and resume.start < end < day_end:
        added.append(Item(end, resume.activity, resume.place, resume.fixed))
    taken = {it.start for it in added}
    return sorted([it for it in kept if it.start not in taken] + added, key=lambda it: it.start)


def _already_planned(items: list[Item], ev: Mapping[str, Any]) -> bool:
    title = str(ev.get("title", "")).strip().lower()
    return bool(title) and any(title in it.activity.lower() for it in items)


def _fallback(v: DayPlanVars | ReplanVars, start: int) -> dict:
    places = v.places or []
    place = places[0]["id"] if places else "home"
    return {"items": [{"start": to_hhmm(start), "activity": "rest", "place": place}]}


def day_plan(v: DayPlanVars, seed: int) -> dict:
    wake = to_min(v.wake, 7 * 60)
    sleep = to_min(v.sleep, 22 * 60)
    day_end = sleep if sleep > wake else DAY_MINUTES
    items: list[Item] = []
    for r in sorted(v.routine or [], key=lambda r: to_min(r.get("start"))):
        start = to_min(r.get("start"))
        if start >= day_end or (items and items[-1].start == start):
            continue
        items.append(Item(start, str(r.get("activity", "")), str(r.get("place", ""))))
    items = _merge_down(items, ROUTINE_MAX, day_end)
    items = _add_meals(items, day_end)

    today = v.date_iso
    known = {str(p.get("id")) for p in v.places or []}
    year = int(today[:4]) if today[:4].isdigit() else 2000
    # the memories retrieved for the day (`recalled`, when the day plan's contract has them)
    recalled = getattr(v, "recalled", None) or getattr(v, "memories", None) or []
    heard = [e for e, _ in memory_events(recalled, v.places, year)]
    for ev in _distinct([*(v.events or []), *heard]):
        if today and ev.get("date_iso") and ev["date_iso"] != today:
            continue
        if known and ev.get("place") not in known:
            continue  # cannot go to a place that is not on the map
        role = attendance(v, ev, seed)
        if role is None or _already_planned(items, ev):
            continue
        items = _insert_event(items, ev, role, floor=0, day_end=day_end)

    items = _merge_down(items, PLAN_MAX, day_end)[:PLAN_MAX]
    if not items:
        return _fallback(v, wake)
    return {"items": [it.out() for it in items]}


def _distinct(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One of each event (by title and date), the first told of, in start-time order."""
    seen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for ev in events:
        seen.setdefault(event_key(ev), ev)
    return sorted(seen.values(), key=lambda e: to_min(e.get("start")))


def replan(v: ReplanVars, seed: int) -> dict:
    now = to_min(v.now, 0)
    items = [
        Item(max(now, to_min(r.get("start"))), str(r.get("activity", "")), str(r.get("place", "")))
        for r in v.remaining or []
    ]
    items = sorted({it.start: it for it in reversed(items)}.values(), key=lambda it: it.start)
    today = str(v.date_iso)
    year = int(today[:4]) if today[:4].isdigit() else 2000
    who, said = said_by(v.observation)
    found = events_in(said, v.places, year, speaker=who)
    found += [e for e, _ in memory_events(v.memories or [], v.places, year)]
    for ev in _distinct(found):
        if ev.get("date_iso") != today or to_min(ev.get("end"), 0) <= now:
            continue
        role = attendance(v, ev, seed)
        if role is None or _already_planned(items, ev) or not event_key(ev)[0]:
            continue
        items = _insert_event(items, ev, role, floor=now, day_end=DAY_MINUTES)
    items = _merge_down(items, PLAN_MAX, DAY_MINUTES)[:PLAN_MAX]
    if not items:
        return _fallback(v, now)
    return {"items": [it.out() for it in items]}
