"""Reacting to an observation (the paper's question: react, and how?).

- Never while I am asleep, nor to a person who is asleep.
- A person seen: start a conversation by a stable coin with p = 0.15 + 0.5 * closeness,
  keyed on the seed, me, them and the time (meeting again later can go differently); what I
  say first is the conversation's first turn by its rules (`conversation.opening`), from the
  memories the reaction retrieved.
- Anything else (an object, a world event, a whisper, something said to me): react (and so
  revise the plan) when the observation tells of an event today, still to come, at a place I
  can name, that the rest of my plan does not already have; otherwise carry on. Whether I
  then go is the replan's rule (`events.attendance`), not this one.
"""

from __future__ import annotations

from datetime import date

from agentsim.contracts import ReactVars
from agentsim.llm.offline.clock import to_min
from agentsim.llm.offline.coins import coin
from agentsim.llm.offline.conversation import opening
from agentsim.llm.offline.hearsay import events_in, said_by
from agentsim.llm.offline.people import asleep, my_name
from agentsim.llm.offline.wording import bare, the_title

BASE_TALK_P = 0.15
CLOSENESS_TALK_P = 0.5


def react(v: ReactVars, seed: int) -> dict:
    me = my_name(v)
    if asleep(v.activity):
        return {"react": False, "reason": "I am asleep."}
    if v.other:
        return _person(v, me, seed)
    who, said = said_by(v.observation)
    today = _today(v)
    planned = " ".join(str(r.get("activity", "")).lower() for r in v.plan or [])
    for ev in events_in(said, None, today.year if today else 2000, speaker=who):
        if today and ev["date_iso"] != today.isoformat():
            continue
        if to_min(ev["end"]) <= to_min(v.now) or ev["title"].lower() in planned:
            continue
        return {"react": True, "reason": f"I should think about going to "
                                         f"{the_title(ev['title'])} at {ev['place_name']}."}
    doing = bare(str(v.activity or "what I am doing"))
    return {"react": False, "reason": f"I'll carry on with {doing}."}


def _today(v: ReactVars) -> date | None:
    try:
        return date.fromisoformat(str(v.date_iso))
    except ValueError:
        return None


def _person(v: ReactVars, me: str, seed: int) -> dict:
    other = v.other or {}
    them = str(other.get("name", "them"))
    if asleep(other.get("activity")):
        return {"react": False, "reason": f"{them} is asleep; I won't disturb them."}
    closeness = max(0.0, min(1.0, float(v.closeness or 0.0)))
    p = BASE_TALK_P + CLOSENESS_TALK_P * closeness
    if coin(p, seed, "react", me, them, v.now):
        why = "we are close" if closeness >= 0.6 else "it would be nice to chat"
        return {"react": True, "reason": f"I'd like to catch up with {them}; {why}.",
                **opening(v, seed)}
    doing = bare(str(v.activity or "what I am doing"))
    return {"react": False, "reason": f"I'll just say hello and get on with {doing}."}
