"""Reacting on seeing someone: start a conversation or not.

Never while I or they are asleep; always when I have news for them; otherwise a stable coin
with p = 0.15 + 0.5 * closeness, keyed on me, them and the time (so meeting again later can
go differently).
"""

from __future__ import annotations

from agentsim.contracts import ReactVars
from agentsim.llm.offline.common import asleep, bare, coin, my_name, topic

BASE_TALK_P = 0.15
CLOSENESS_TALK_P = 0.5


def react(v: ReactVars, seed: int) -> dict:
    me = my_name(v)
    other = v.other or {}
    them = str(other.get("name", "them"))
    if asleep(v.activity):
        return {"react": False, "reason": "I am asleep."}
    if asleep(other.get("activity")):
        return {"react": False, "reason": f"{them} is asleep; I won't disturb them."}
    news = v.news or []
    if news:
        return {"react": True, "reason": f"I want to tell {them} about {topic(news[0])}."}
    closeness = max(0.0, min(1.0, float(v.closeness or 0.0)))
    p = BASE_TALK_P + CLOSENESS_TALK_P * closeness
    if coin(p, seed, "react", me, them, v.now):
        why = "we are close" if closeness >= 0.6 else "it would be nice to chat"
        return {"react": True, "reason": f"I'd like to catch up with {them}; {why}."}
    doing = bare(str(v.activity or "what I am doing"))
    return {"react": False, "reason": f"I'll just say hello and get on with {doing}."}
