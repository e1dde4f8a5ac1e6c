"""Reacting: on seeing someone, decide whether to start a conversation."""

from __future__ import annotations

from datetime import timedelta

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import event_vars, memory_vars, recall
from agentsim.cognition.perceive import Percept, WorldView
from agentsim.contracts import REACT, ReactVars
from agentsim.memory.record import MemoryKind, MemoryRecord


def _passable(rec: MemoryRecord) -> bool:
    """Facts that can be passed on: things seen or read, and things heard from someone."""
    if rec.kind is MemoryKind.reading:
        return True
    if rec.kind is MemoryKind.observation:
        # News from outside (a whisper, a world event), not someone's routine or my own
        # private thoughts from my persona.
        return rec.source is not None and not rec.about
    return rec.kind is MemoryKind.chat and rec.source is not None


def event_key(rec: MemoryRecord) -> tuple | None:
    return (rec.event.title, rec.event.start) if rec.event else None


def news_for(agent: Agent, other_name: str, ctx: Context, limit: int = 3) -> list[MemoryRecord]:
    """What the agent knows that is worth passing on and that `other` has not had from it:
    upcoming events (one memory per event), and recent memories of high importance. Nothing
    that `other` told the agent, nor anything about `other`'s own event."""
    told = agent.told.get(other_name, set())
    records = agent.memory.notable()
    known = {event_key(r) for r in records
             if r.event and (r.id in told or r.source == other_name)}
    since = ctx.now - timedelta(days=2)
    found, seen = [], set()
    for rec in records:
        if rec.id in told or rec.source == other_name:
            continue
        key = event_key(rec)
        if key is not None:
            if key in known or key in seen or rec.event.host == other_name \
                    or rec.event.end <= ctx.now:
                continue
            seen.add(key)
            found.append(rec)
        elif rec.importance >= 7 and rec.created >= since and _passable(rec):
            found.append(rec)
    found.sort(key=lambda r: (r.event is None, -r.importance, r.id))
    return found[:limit]


def news_vars(records: list[MemoryRecord], ctx: Context) -> list[dict]:
    return [
        {
            "id": r.id,
            "text": r.text,
            "event": event_vars(r.event, ctx.places.name(r.event.place)) if r.event else None,
        }
        for r in records
    ]


def relationship_line(agent: Agent, other_name: str, rel: dict | None) -> str:
    if not rel:
        return f"You do not know {other_name} well."
    return f"{other_name} is your {rel.get('relation', 'acquaintance')}. {rel.get('summary', '')}"


async def maybe_react(
    agent: Agent,
    new: list[Percept],
    view: WorldView,
    relationships,
    ctx: Context,
) -> str | None:
    """At most one decision per tick: talk to someone newly seen in the same area?"""
    me = view.agents[agent.id]
    if me.moving or agent.action is None:
        return None
    cooldown = timedelta(minutes=ctx.settings.talk_cooldown_minutes)
    candidates = []
    for p in new:
        other = view.agents.get(p.about) if p.about else None
        if other is None or not other.awake or other.moving:
            continue
        last = agent.last_talk.get(other.name)
        if last is not None and ctx.now - last < cooldown:
            continue
        candidates.append(other)
    if not candidates:
        return None
    with_news = [(not news_for(agent, o.name, ctx, 1), o.id, o) for o in candidates]
    _, _, other = min(with_news, key=lambda t: (t[0], t[1]))
    rel = relationships.get(agent.name, other.name)
    memories = await recall(agent, f"{other.name}", ctx, k=3, touch=False)
    answer = await REACT.ask(ctx.llm, ReactVars(
        persona=agent.persona_vars(ctx.world_name),
        now=ctx.now.strftime("%H:%M"),
        activity=agent.action.activity,
        other={"name": other.name, "activity": other.activity},
        relationship=relationship_line(agent, other.name, rel),
        closeness=rel["closeness"] if rel else 0.0,
        news=news_vars(news_for(agent, other.name, ctx), ctx),
        memories=memory_vars(memories, ctx.places),
    ), agent=agent.id)
    return other.id if answer.react else None
