"""Dialogue: two agents talk turn by turn; each speaker retrieves memories about the other person
and what was just said; both keep the conversation as memories; their relationship changes.

Information travels only through what is said (issue 14): the listener remembers each line
the other said to it, as the words with who said them ('Tom Moreno said to me: "..."'), and
what it later believes, plans or repeats comes from retrieving those memories. Which memory
a turn drew on (`shares_memory_id`) and which passage it cited (`cites`) stay in the
`Conversation` event for analysis (provenance); they write nothing into the listener.

A speaker who has read a document passage (a reading memory) that bears on what was just said
(it scores at least `settings.fact_threshold`) is shown it and may draw on it; passages it
has not read are the world's library, not its mind, and are never shown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memory_vars, recall, scored, store
from agentsim.cognition.react import Opening, relationship_line
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.turn import speak
from agentsim.contracts import CONVERSATION_MEMORY, ConversationMemoryVars, ConverseTurnVars
from agentsim.contracts.outputs import Turn
from agentsim.events import Conversation, Utterance
from agentsim.memory.record import MemoryKind
from agentsim.rag.store import Hit


def heard(speaker: str, utterance: str) -> str:
    """The text a listener keeps of one line said to it."""
    return f'{speaker} said to me: "{" ".join(utterance.split())}"'


def read_passages(agent: Agent) -> set[str]:
    """The passage ids (\"knowledge/x.md#4\") the agent has read."""
    return {r.source for r in agent.memory.records({MemoryKind.reading})
            if r.source and "#" in r.source}


async def fact_for(speaker: Agent, topic: str, cited: set[str], ctx: Context) -> Hit | None:
    """The passage the speaker has read that is closest to what was just said, if close
    enough and not yet cited in this conversation."""
    read = read_passages(speaker) - cited
    if ctx.knowledge is None or not topic.strip() or not read:
        return None
    docs = {r.split("#", 1)[0] for r in read}
    hits = await ctx.knowledge.asearch(topic, k=3, documents=docs, exclude=cited)
    hits = [h for h in hits if h.chunk.id in read]
    return hits[0] if hits and hits[0].score >= ctx.settings.fact_threshold else None


async def converse(a: Agent, b: Agent, relationships: Relationships, ctx: Context,
                   opening: Opening | None = None) -> None:
    """Run one conversation between `a` (who started it) and `b`, then let both remember it.
    `opening`: what `a`'s reaction said it says first (`react.Opening`), its first turn (the
    turn is not asked again; with `refine_dialogue` it is the first draft that is refined)."""
    transcript: list[dict[str, Any]] = []
    turns: list[Utterance] = []
    place = ctx.places.describe(a.location)
    max_turns = ctx.settings.max_turns
    cited: set[str] = set()
    for turn in range(max_turns):
        speaker, listener = (a, b) if turn % 2 == 0 else (b, a)
        first = Turn(utterance=opening.text, shares_memory_id=opening.shares_memory) \
            if turn == 0 and opening is not None else None
        if first is not None and ctx.settings.refine_dialogue < 1:
            transcript.append({"speaker": a.name, "text": first.utterance, "cites": None})
            turns.append(Utterance(speaker=a.id, text=first.utterance,
                                   shares_memory=first.shares_memory_id))
            continue
        topic = transcript[-1]["text"] if transcript else ""
        memories = await recall(speaker, f"{listener.name}. {topic}", ctx, k=4)
        rel = relationships.get(speaker.name, listener.name)
        fact = await fact_for(speaker, topic, cited, ctx)
        out = await speak(speaker, ConverseTurnVars(
            persona=speaker.persona_vars(ctx.world_name),
            now=ctx.now.strftime("%H:%M"),
            place_name=place,
            other={"name": listener.name,
                   "activity": listener.action.activity if listener.action else ""},
            relationship=relationship_line(speaker, listener.name, rel),
            closeness=rel["closeness"] if rel else 0.0,
            memories=memory_vars(memories, ctx.places),
            transcript=transcript,
            turn=turn,
            max_turns=max_turns,
            fact=fact.to_vars() if fact else None,
        ), ctx, draft=first)
        drew = out.shares_memory_id
        drew = drew if drew is not None and drew in {m.record.id for m in memories} else None
        cites = out.cites if fact is not None and out.cites == fact.chunk.id else None
        if cites is not None:
            cited.add(cites)
        transcript.append({"speaker": speaker.name, "text": out.utterance,
                           "cites": {"id": fact.chunk.id, "title": fact.chunk.title}
                           if cites else None})
        turns.append(Utterance(speaker=speaker.id, text=out.utterance, shares_memory=drew,
                               cites=cites))
        if out.end_conversation:
            break
    ctx.emit(Conversation, participants=[a.id, b.id], place=a.location, turns=turns)
    await asyncio.gather(
        _remember(a, b, transcript, relationships, ctx),
        _remember(b, a, transcript, relationships, ctx),
    )


async def _remember(
    me: Agent,
    other: Agent,
    transcript: list[dict[str, Any]],
    relationships: Relationships,
    ctx: Context,
) -> None:
    """What I keep of a conversation: its summary in my words, and each line the other said
    to me, with who said it. Nothing else: no structured fact from the other's memory.

    The lines are scored while the summary is asked for, and the summary's importance comes
    with it (`ConversationMemory.importance`), so remembering is one model call in a row."""
    lines = [Experience(MemoryKind.chat, heard(other.name, t["text"]), about=(other.name,),
                        source=other.name)
             for t in transcript if t["speaker"] == other.name and t["text"].strip()]
    out, lines = await asyncio.gather(CONVERSATION_MEMORY.ask(ctx.llm, ConversationMemoryVars(
        persona=me.persona_vars(ctx.world_name),
        other=other.name,
        place_name=ctx.places.describe(me.location),
        transcript=transcript,
    ), agent=me.id), scored(me, lines, ctx))
    relationships.after_conversation(me.name, other.name, out.relationship, out.closeness_change)
    me.last_talk[other.name] = ctx.now
    summary = Experience(MemoryKind.chat, out.summary, about=(other.name,),
                         importance=out.importance)
    await store(me, [summary, *lines], ctx)
