"""Dialogue: two agents talk turn by turn; each speaker retrieves memories about the other person
and the topic; both keep the conversation (and anything they heard) as memories; their
relationship changes with it.

When what was just said touches a fact in the world's documents (a passage scores at least
`settings.fact_threshold`), the speaker is shown that passage and may pass the fact on, citing
it; the listener remembers it with the passage's id as its source.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.dialogue import speak
from agentsim.cognition.memorize import Experience, event_vars, memorize, memory_vars, recall
from agentsim.cognition.plan import replan
from agentsim.cognition.react import event_key, news_for, news_vars, relationship_line
from agentsim.cognition.relationships import Relationships
from agentsim.contracts import CONVERSATION_MEMORY, ConversationMemoryVars, ConverseTurnVars
from agentsim.events import Conversation, Learned, Utterance
from agentsim.memory.record import MemoryKind, MemoryRecord
from agentsim.rag.chunk import Chunk, best_units
from agentsim.rag.store import Hit


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


def _heard_fact(speaker: Agent, chunk: Chunk, utterance: str) -> Experience:
    """What the listener remembers of a cited fact: the line of the passage it passed on."""
    quote = " ".join(best_units(chunk.text, utterance, 1))
    return Experience(MemoryKind.chat, f"{speaker.name} told me: {quote} (from {chunk.title})",
                      about=(speaker.name,), source=chunk.id)


async def fact_for(topic: str, cited: set[str], ctx: Context) -> Hit | None:
    """The document passage closest to what was just said, if close enough and not yet cited."""
    if ctx.knowledge is None or not topic.strip():
        return None
    hits = await ctx.knowledge.asearch(topic, k=1, exclude=cited)
    return hits[0] if hits and hits[0].score >= ctx.settings.fact_threshold else None


async def converse(a: Agent, b: Agent, relationships: Relationships, ctx: Context) -> None:
    """Run one conversation between `a` (who started it) and `b`, then let both remember it."""
    transcript: list[dict[str, Any]] = []
    turns: list[Utterance] = []
    heard: dict[str, list[Experience]] = {a.id: [], b.id: []}
    place = ctx.places.describe(a.location)
    max_turns = ctx.settings.max_turns
    cited: set[str] = set()
    for turn in range(max_turns):
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        topic = transcript[-1]["text"] if transcript else ""
        memories = await recall(speaker, f"{listener.name}. {topic}", ctx, k=4)
        news = news_for(speaker, listener.name, ctx)
        rel = relationships.get(speaker.name, listener.name)
        fact = await fact_for(topic, cited, ctx)
        out = await speak(speaker, ConverseTurnVars(
            persona=speaker.persona_vars(ctx.world_name),
            now=ctx.now.strftime("%H:%M"),
            place_name=place,
            other={"name": listener.name,
                   "activity": listener.action.activity if listener.action else ""},
            relationship=relationship_line(speaker, listener.name, rel),
            closeness=rel["closeness"] if rel else 0.0,
            memories=memory_vars(memories, ctx.places),
            news=news_vars(news, ctx),
            transcript=transcript,
            turn=turn,
            max_turns=max_turns,
            fact=fact.to_vars() if fact else None,
        ), ctx)
        shared = None
        if out.shares_memory_id is not None and 0 <= out.shares_memory_id < len(speaker.memory):
            shared = speaker.memory.get(out.shares_memory_id)
            speaker.told.setdefault(listener.name, set()).add(shared.id)
            heard[listener.id].append(_heard(speaker, shared, out.utterance, ctx))
        cites = out.cites if fact is not None and out.cites == fact.chunk.id else None
        if cites is not None:
            cited.add(cites)
            heard[listener.id].append(_heard_fact(speaker, fact.chunk, out.utterance))
        transcript.append(
            {
                "speaker": speaker.name,
                "text": out.utterance,
                "shared": {
                    "text": shared.text,
                    "event": event_vars(shared.event, ctx.places.name(shared.event.place))
                    if shared.event else None,
                } if shared else None,
                "cites": {"id": fact.chunk.id, "title": fact.chunk.title} if cites else None,
            }
        )
        turns.append(Utterance(speaker=speaker.id, text=out.utterance,
                               shares_memory=shared.id if shared else None, cites=cites))
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
    out = await CONVERSATION_MEMORY.ask(ctx.llm, ConversationMemoryVars(
        persona=me.persona_vars(ctx.world_name),
        other=other.name,
        place_name=ctx.places.describe(me.location),
        transcript=transcript,
    ), agent=me.id)
    relationships.after_conversation(me.name, other.name, out.relationship, out.closeness_change)
    me.last_talk[other.name] = ctx.now
    summary = Experience(MemoryKind.chat, out.summary, about=(other.name,))
    # News I already knew is not a new memory: just note that we both know it.
    mine = {event_key(r): r.id for r in me.memory.records() if r.event}
    told = me.told.setdefault(other.name, set())
    # A cited fact I already have from the same passage (read or heard) is not new either.
    passages = {r.source for r in me.memory.records({MemoryKind.reading, MemoryKind.chat})
                if r.source and "#" in r.source}
    fresh = []
    for exp in heard:
        key = (exp.event.title, exp.event.start) if exp.event else None
        if key is not None and key in mine:
            told.add(mine[key])
        elif exp.event is None and exp.source in passages:
            continue
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
        if ev.start.date() == today and ev.end > ctx.now and me.plan_date == today \
                and ctx.settings.planning:  # no planning (an ablation): no replan
            await replan(me, ev, ctx)
