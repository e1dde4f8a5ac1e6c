"""What an agent makes of its recent life each morning, before it plans the day.

The summary description (Park et al. 2023, Sec. 4.3 and Appendix A): for each of three
aspects, the agent's core characteristics, its current daily occupation and its feeling about
its recent progress in life, the memories relevant to the aspect's query are retrieved (the
paper's score: recency, importance, relevance) and the LLM sums them up in a sentence or two
(`prompts/summary.j2`). The statements are cached on the agent (`Agent.summary`,
checkpointed) and rebuilt once a sim day, when the agent wakes; every prompt's persona header
shows them (`prompts/_persona.j2`). The seed description is given to the summary prompt without
yesterday's summary, so the summary is rebuilt from memory, never from itself.

The day's look back (`recall_yesterday`): the memories and reflections of the previous day
most relevant to today's plan and to the recent events of the agent's life, the two focal
points the paper's code (`revise_identity`) retrieves for before each new day plan.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import memory_vars, recall
from agentsim.contracts import SUMMARY, SummaryVars
from agentsim.contracts.summary import Aspect
from agentsim.memory.record import ScoredMemory

# The paper's three queries (Appendix A), with "their" for its "his".
ASPECTS: tuple[tuple[Aspect, str], ...] = (
    ("core", "{name}'s core characteristics"),
    ("occupation", "{name}'s current daily occupation"),
    ("feeling", "{name}'s feeling about their recent progress in life"),
)
SUMMARY_K = 30  # memories retrieved per aspect: the paper's code retrieves 30 per focal point
YESTERDAY_K = 8  # memories of yesterday retrieved per focal point for the day plan


async def describe(agent: Agent, ctx: Context) -> str:
    """Rebuild the agent's summary description from its memories, once per sim day (a second
    call on the same day keeps the cached one). An aspect with no memories to retrieve gets no
    statement (the seed description already says what there is)."""
    today = ctx.now.date()
    if agent.summary_date == today:
        return agent.summary
    seed = agent.persona_vars(ctx.world_name, summary=False)
    asks = []
    for aspect, query in ASPECTS:  # retrieval in turn (it marks what it finds as accessed)
        question = query.format(name=agent.name)
        found = await recall(agent, question, ctx, k=SUMMARY_K)
        if found:
            asks.append(SUMMARY.ask(ctx.llm, SummaryVars(
                persona=seed, aspect=aspect, question=question,
                memories=memory_vars(found, ctx.places)), agent=agent.id))
    answers = await asyncio.gather(*asks)  # the aspects' statements, asked together
    agent.summary = " ".join(" ".join(out.statement.split()) for out in answers)
    agent.summary_date = today
    return agent.summary


async def recall_since(agent: Agent, query: str, since: datetime, ctx: Context,
                       k: int) -> list[ScoredMemory]:
    """The k best memories made at or after `since`, by the paper's score over all memories.

    Unlike `recall`, this does not count as an access: the stream's retrieval has no time
    filter, so every memory is scored and those made before `since` are dropped afterwards;
    touching the whole ranking would make all of them look fresh."""
    if len(agent.memory) == 0:
        return []
    [vec] = await ctx.embed([query])
    ranked = agent.memory.retrieve(vec, ctx.now, k=len(agent.memory),
                                   weights=ctx.settings.weights, decay=ctx.settings.decay,
                                   touch=False)
    return [s for s in ranked if s.record.created >= since][:k]


async def recall_yesterday(agent: Agent, ctx: Context) -> list[ScoredMemory]:
    """Yesterday's memories (reflections among them) for today's plan: the best for each of the
    paper code's two focal points, taken in turn, without repeats, best first."""
    since = datetime.combine(ctx.now.date() - timedelta(days=1), time(0), tzinfo=ctx.now.tzinfo)
    date = f"{ctx.now:%A, %B} {ctx.now.day}"
    lists = [await recall_since(agent, q, since, ctx, YESTERDAY_K) for q in (
        f"{agent.name}'s plan for {date}", f"Important recent events for {agent.name}'s life")]
    out: dict[int, ScoredMemory] = {}
    for n in range(YESTERDAY_K):
        for found in lists:
            if n < len(found):
                out.setdefault(found[n].record.id, found[n])
    return list(out.values())
