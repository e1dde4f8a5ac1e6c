"""Events the offline mind knows of (a party, a talk): their key, date, time and place in
words, and whether an agent goes, the host to what it hosts and a guest by a stable coin whose
chance depends on its persona, on how it heard of the event and on what else it has to do then.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from agentsim.llm.offline.clock import to_min
from agentsim.llm.offline.coins import coin
from agentsim.llm.offline.people import HasPersona, my_name, persona, same_person

# Whether a guest goes to an event it knows of: a stable coin whose chance is stated here and
# depends on the persona, on how the agent heard of it and on what else it has to do then.
ATTEND_BASE = 0.35
ATTEND_INVITED = 0.25  # heard it from the host in person (or was seeded knowing it)
ATTEND_SOCIABLE = 0.15  # innate traits or background read as sociable
ATTEND_RESERVED = -0.15  # ... or as reserved
ATTEND_BUSY = -0.2  # the plan has work during the event
ATTEND_MIN, ATTEND_MAX = 0.05, 0.9
_SOCIABLE = re.compile(r"\b(friendly|outgoing|sociable|social|warm|cheerful|kind|curious|"
                       r"generous|talkative|caring|people)\b", re.IGNORECASE)
_RESERVED = re.compile(r"\b(shy|reserved|quiet|introvert\w*|private|solitary|grumpy|"
                       r"aloof|anxious)\b", re.IGNORECASE)
WORK = re.compile(r"\b(work\w*|shift|serv\w*|teach\w*|class\w*|lectur\w*|open\w* the|"
                  r"run\w* the|manag\w*|study\w*|shop keep\w*)\b", re.IGNORECASE)


def event_date(ev: Mapping[str, Any]) -> str:
    """'February 14', from the event's `date` or its `date_iso`."""
    if ev.get("date"):
        return str(ev["date"])
    try:
        d = date.fromisoformat(str(ev.get("date_iso")))
    except ValueError:
        return ""
    return f"{d:%B} {d.day}"


def event_when(ev: Mapping[str, Any]) -> str:
    """'on February 14 from 17:00 to 19:00'."""
    day = event_date(ev)
    on = f"on {day} " if day else ""
    return f"{on}from {ev.get('start', '?')} to {ev.get('end', '?')}"


def event_where(ev: Mapping[str, Any]) -> str:
    return str(ev.get("place_name") or ev.get("place") or "somewhere in town")


def event_key(ev: Mapping[str, Any]) -> tuple[str, str]:
    return (str(ev.get("title", "")).strip().casefold(), str(ev.get("date_iso", "")))


def busy_during(v: Any, ev: Mapping[str, Any]) -> bool:
    """Whether the plan at hand (`remaining` of a replan, else the `routine`) has work (the
    WORK words) running at the event's start or starting while it runs."""
    entries = getattr(v, "remaining", None) or getattr(v, "routine", None) or []
    start, end = to_min(ev.get("start"), 0), to_min(ev.get("end"), 0)
    entries = sorted(entries, key=lambda r: to_min(r.get("start")))
    running = [r for r in entries if to_min(r.get("start")) <= start][-1:]
    during = [r for r in entries if start < to_min(r.get("start")) < end]
    return any(WORK.search(str(r.get("activity", ""))) for r in [*running, *during])


def attend_chance(v: Any, ev: Mapping[str, Any]) -> float:
    """The chance a guest goes (see the ATTEND_* constants): persona, invitation, conflict."""
    p = persona(v)
    traits = " ".join([*map(str, p.get("innate") or []), str(p.get("background") or "")])
    invited = same_person(ev.get("heard_from"), ev.get("host"))
    chance = ATTEND_BASE + ATTEND_INVITED * invited + ATTEND_BUSY * busy_during(v, ev)
    chance += ATTEND_SOCIABLE * bool(_SOCIABLE.search(traits))
    chance += ATTEND_RESERVED * bool(_RESERVED.search(traits))
    return max(ATTEND_MIN, min(ATTEND_MAX, chance))


def attendance(v: HasPersona, ev: Mapping[str, Any], seed: int) -> str | None:
    """'host', 'attend' or None. The host goes to what it hosts (its own plan); a guest by a
    stable coin with `attend_chance` (persona, whether the host told it in person, whether
    its plan has work then), so it can decline.

    The coin is keyed on ("attend", persona, event title, event date) and not on the template,
    so a day plan, its critic and a replan on the same facts agree; the seed changes every
    decision.
    """
    name = my_name(v)
    if same_person(ev.get("host"), name):
        return "host"
    title, day = event_key(ev)
    return "attend" if coin(attend_chance(v, ev), seed, "attend", name, title, day) else None
