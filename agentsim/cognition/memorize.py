"""Turn new experiences into memories: embed them and score their importance in one call."""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.contracts import IMPORTANCE, ImportanceVars
from agentsim.memory.record import MemoryKind, MemoryRecord
from agentsim.world.schema import ScheduledEvent


@dataclass(frozen=True)
class Experience:
    """Something to remember, before it has an importance score and an embedding."""

    kind: MemoryKind
    text: str
    about: tuple[str, ...] = ()
    source: str | None = None
    event: ScheduledEvent | None = None
    importance: int | None = None  # known already (seed memories, whispers)
    evidence: tuple[int, ...] = ()  # memory ids a reflection rests on


async def memorize(agent: Agent, experiences: list[Experience], ctx: Context) -> list[MemoryRecord]:
    """Add experiences to the agent's memory: one batched importance call, one embed batch."""
    return await store(agent, await scored(agent, experiences, ctx), ctx)


async def scored(agent: Agent, experiences: list[Experience], ctx: Context) -> list[Experience]:
    """`experiences` with an importance each: known ones kept, a text the agent has scored
    before reusing its score, the rest scored in one call. Changes nothing, so it may run
    beside other work on the same agent (`store` then adds them in a fixed order)."""
    # Seen this exact text before? Reuse its score rather than ask again.
    experiences = [
        e if e.importance is not None or (known := agent.memory.importance_of(e.text)) is None
        else replace(e, importance=known)
        for e in experiences
    ]
    unscored = [e.text for e in experiences if e.importance is None]
    if not unscored:
        return experiences
    # The seed persona, without the daily summary description: a poignancy score is asked
    # every tick, and this way its prompt starts the same every day (a server's prefix cache
    # keeps it) and costs a few hundred characters less each time (issue 17).
    answer = await IMPORTANCE.ask(ctx.llm, ImportanceVars(
        persona=agent.persona_vars(ctx.world_name, summary=False), observations=unscored),
        agent=agent.id)
    scores = list(answer.scores)
    scores += [3] * (len(unscored) - len(scores))  # (a replayed answer with too few: neutral)
    it = iter(scores)
    return [e if e.importance is not None else replace(e, importance=next(it))
            for e in experiences]


async def store(agent: Agent, experiences: list[Experience], ctx: Context) -> list[MemoryRecord]:
    """Embed `experiences` (scored, else scored now) and add them to the memory, in order."""
    if not experiences:
        return []
    if any(e.importance is None for e in experiences):
        experiences = await scored(agent, experiences, ctx)
    vectors = await ctx.embed([e.text for e in experiences])
    records = []
    for exp, vec in zip(experiences, vectors, strict=True):
        importance = exp.importance
        records.append(
            agent.memory.add(
                exp.kind,
                exp.text,
                created=ctx.now,
                importance=importance,
                embedding=vec,
                evidence=exp.evidence,
                source=exp.source,
                event=exp.event,
                about=exp.about,
            )
        )
    return records


async def recall(agent: Agent, query: str, ctx: Context, k: int = 6, touch: bool = True):
    """The paper's retrieval for a text query: top-k by recency, importance and relevance."""
    if len(agent.memory) == 0:
        return []
    [vec] = await ctx.embed([query])
    found = agent.memory.retrieve(
        vec,
        ctx.now,
        k=k,
        weights=ctx.settings.weights,
        decay=ctx.settings.decay,
        touch=touch,
    )
    agent.last_retrieval = (query, ctx.now, found)
    return found


def memory_vars(records, places=None) -> list[dict]:
    """Memories as prompt variables: id, text and the structure the offline mind reads."""
    out = []
    for r in records:
        rec = getattr(r, "record", r)
        out.append(
            {
                "id": rec.id,
                "text": rec.text,
                "kind": str(rec.kind),
                "importance": rec.importance,
                "about": list(rec.about),
                "source": rec.source,
                "event": event_vars(rec.event, places.name(rec.event.place) if places else None)
                if rec.event else None,
            }
        )
    return out


def event_vars(ev: ScheduledEvent, place_name: str | None = None) -> dict:
    return {
        "title": ev.title,
        "place": ev.place,
        "place_name": place_name or ev.place,
        "start": ev.start.strftime("%H:%M"),
        "end": ev.end.strftime("%H:%M"),
        "host": ev.host,
        "host_role": ev.host_role,
        "date_iso": ev.start.date().isoformat(),
        "date": ev.start.strftime("%B %-d"),
    }
