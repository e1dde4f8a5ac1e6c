"""Dialogue: two agents talk turn by turn; each speaker retrieves memories about the other person
and the topic; both keep the conversation (and anything they heard) as memories; their
relationship changes with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, event_vars, memorize, memory_vars, recall
from agentsim.cognition.plan import replan
from agentsim.cognition.react import event_key, news_for, news_vars, relationship_line
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.schemas import ConversationMemory, Turn
from agentsim.events import Conversation, Learned, Utterance
from agentsim.memory.record import MemoryKind, MemoryRecord


def _heard(speaker: Agent, shared: MemoryRecord, utterance: str, ctx: Context) -> Experience:
    """What the listener remembers of a piece of news, with the scheduled event if any."""
    ev = shared.event
    if ev is not None:
        host = "" if not ev.host else (f", hosted by {ev.host}" if ev.host_role == "hosting"
                                        else f" ({ev.host} is {ev.host_role} it)")
        text = (
            f"{ev.title} at {ctx.places.name(ev.place)} on {ev.start:%B} {ev.start.day}, "
            f"{ev.start:%H:%M}-{ev.end:%H:%M}{host} (I heard it from {speaker.name})"
        )
    else:
        text = f"{speaker.name} told me: {shared.text}"
    return Experience(MemoryKind.chat, text, about=(speaker.name,), source=speaker.name, event=ev)


async def converse(a: Agent, b: Agent, relationships: Relationships, ctx: Context) -> None:
    """Run one conversation between `a` (who started it) and `b`, then let both remember it."""
    transcript: list[dict[str, Any]] = []
    turns: list[Utterance] = []
    heard: dict[str, list[Experience]] = {a.id: [], b.id: []}
    place = ctx.places.describe(a.location)
    max_turns = ctx.settings.max_turns
    for turn in range(max_turns):
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        topic = transcript[-1]["text"] if transcript else ""
        memories = await recall(speaker, f"{listener.name}. {topic}", ctx, k=4)
        news = news_for(speaker, listener.name, ctx)
        rel = relationships.get(speaker.name, listener.name)
        out = await ctx.llm.ask(
            "converse_turn",
            {
                "persona": speaker.persona_vars(ctx.world_name),
                "now": ctx.now.strftime("%H:%M"),
                "place_name": place,
                "other": {"name": listener.name,
                          "activity": listener.action.activity if listener.action else ""},
                "relationship": relationship_line(speaker, listener.name, rel),
                "closeness": rel["closeness"] if rel else 0.0,
                "memories": memory_vars(memories, ctx.places),
                "news": news_vars(news, ctx),
                "transcript": transcript,
                "turn": turn,
                "max_turns": max_turns,
            },
            schema=Turn,
            agent=speaker.id,
        )
        shared = None
        if out.shares_memory_id is not None and 0 <= out.shares_memory_id < len(speaker.memory):
            shared = speaker.memory.get(out.shares_memory_id)
            speaker.told.setdefault(listener.name, set()).add(shared.id)
            heard[listener.id].append(_heard(speaker, shared, out.utterance, ctx))
        transcript.append(
            {
                "speaker": speaker.name,
                "text": out.utterance,
                "shared": {
                    "text": shared.text,
                    "event": event_vars(shared.event, ctx.places.name(shared.event.place))
                    if shared.event else None,
                } if shared else None,
            }
        )
        turns.append(Utterance(speaker=speaker.id, text=out.utterance,
                               shares_memory=shared.id if shared else None))
        if out.end_conversation:
            break
    ctx.emit(Conversation, participants=[a.id, b.id], place=a.location, turns=turns)
    await asyncio.gather(
        _remember(a, b, transcript, heard[a.id], relationships, ctx),
        _remember(b, a, transcript, heard[b.id], relationships, ctx),
    )


async def _remember(
    me: Agent,
    other: Agent,
    transcript: list[dict[str, Any]],
    heard: list[Experience],
    relationships: Relationships,
    ctx: Context,
) -> None:
    out = await ctx.llm.ask(
        "conversation_memory",
        {
            "persona": me.persona_vars(ctx.world_name),
            "other": other.name,
            "place_name": ctx.places.describe(me.location),
            "transcript": transcript,
        },
        schema=ConversationMemory,
        tier="fast",
        agent=me.id,
    )
    relationships.after_conversation(me.name, other.name, out.relationship, out.closeness_change)
    me.last_talk[other.name] = ctx.now
    summary = Experience(MemoryKind.chat, out.summary, about=(other.name,))
    # News I already knew is not a new memory: just note that we both know it.
    mine = {event_key(r): r.id for r in me.memory.records() if r.event}
    told = me.told.setdefault(other.name, set())
    fresh = []
    for exp in heard:
        key = (exp.event.title, exp.event.start) if exp.event else None
        if key is not None and key in mine:
            told.add(mine[key])
        else:
            fresh.append(exp)
    records = await memorize(me, [summary, *fresh], ctx)
    told.update(r.id for r in records[1:])  # what they told me, they know
    today = ctx.now.date()
    for rec in records[1:]:
        ev = rec.event
        if ev is None:
            continue
        ctx.emit(Learned, agent=me.id, title=ev.title, source=other.id)
        if ev.start.date() == today and ev.end > ctx.now and me.plan_date == today:
            await replan(me, ev, ctx)
