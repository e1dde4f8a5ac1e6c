"""Reacting, as in the paper: for an observation new this tick, "should the agent react to the
observation, and if so, what would be an appropriate reaction?"; a reaction to a person starts
a conversation, a reaction to anything else regenerates the plan from now on (`replan`).

Which observations are considered, to keep the prompt count per tick small (at most one
`react` call per agent per tick, and one `replan` when it reacts):

- new this tick: what was perceived this tick (people, objects in use), whispers and world
  events delivered since the last tick, and what was said to the agent in last tick's
  conversations (heard after its step had run);
- anything other than a person seen (a whisper, a world event, something heard) at importance
  >= `REACT_MIN_IMPORTANCE` first, the most important first, so routine sights ("the coffee
  machine is brewing") cost no call; its importance is known already (it was remembered
  before this tick);
- else a person newly seen (awake, not on their way, not talked with within
  `talk_cooldown_minutes`): the paper's conversations start there; the one the agent is
  closer to first, then id order. Nothing about what the agent could tell someone enters
  this choice.

So the choice needs nothing scored this tick, and what the reaction retrieves is what the
agent remembered before it (the observation itself is in the prompt): the reaction is asked
beside the importance of what was seen (`consider`, then `react_to`, in `step`), and a tick's
talk waits on one model call before it starts, not two (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import memory_vars, recall
from agentsim.cognition.perceive import Percept, Seen, WorldView
from agentsim.cognition.plan import replan
from agentsim.contracts import REACT, ReactVars
from agentsim.contracts.answer import says_words
from agentsim.contracts.outputs import Reaction
from agentsim.memory.record import MemoryKind, MemoryRecord

REACT_MIN_IMPORTANCE = 5  # a non-person observation below this is not reacted to


@dataclass(frozen=True)
class Opening:
    """The first line of a conversation a reaction starts: said as its first turn
    (`converse`), with the memory whose news it passes on, if it names one it was given."""

    text: str
    shares_memory: int | None = None


@dataclass(frozen=True)
class Reacted:
    """The outcome of a reaction: talk to someone (with what is said first, when the answer
    gave it in words), or a plan revised (replanned)."""

    talk_to: str | None = None
    opening: Opening | None = None
    replanned: bool = False
    # with `react_to(..., revise=False)`: the replan to make, (observation, reaction,
    # memories), left to the caller
    revise: tuple[str, str, list] | None = None


def relationship_line(agent: Agent, other_name: str, rel: dict | None) -> str:
    if not rel:
        return f"You do not know {other_name} well."
    return f"{other_name} is your {rel.get('relation', 'acquaintance')}. {rel.get('summary', '')}"


def new_observations(agent: Agent, ctx: Context) -> list[MemoryRecord]:
    """Memories new this tick (see the module docstring): observations made now, and what
    was said to the agent since its last step."""
    since = ctx.now - ctx.tick_delta
    out = []
    for rec in agent.memory.recent(64):
        seen_now = rec.kind is MemoryKind.observation and rec.created == ctx.now
        heard = rec.kind is MemoryKind.chat and rec.source and since <= rec.created < ctx.now
        if seen_now or heard:
            out.append(rec)
    return sorted(out, key=lambda r: r.id)


def _talkable(agent: Agent, other: Seen | None, ctx: Context) -> bool:
    if other is None or not other.awake or other.moving:
        return False
    last = agent.last_talk.get(other.name)
    cooldown = timedelta(minutes=ctx.settings.talk_cooldown_minutes)
    return last is None or ctx.now - last >= cooldown


def choose(agent: Agent, new: list[Percept], view: WorldView, relationships,
           ctx: Context) -> tuple[MemoryRecord | str, Seen | None] | None:
    """The one observation to consider this tick, and the person it is about (if any); see
    the module docstring. Reads nothing this tick's remembering is still to score."""
    me = view.agents[agent.id]
    people = {view.agents[p.about].name: view.agents[p.about] for p in new
              if p.about and p.about in view.agents}
    seen = {p.text for p in new}  # what is seen now is remembered (and scored) this tick
    options: list[tuple] = []
    for rec in new_observations(agent, ctx):
        if rec.text in seen or rec.importance < REACT_MIN_IMPORTANCE:
            continue
        about = people.get(rec.about[0]) if rec.about else None
        other = about if rec.kind is MemoryKind.chat and _talkable(agent, about, ctx) \
            and not me.moving else None
        options.append((-rec.importance, rec.id, rec, other))
    if options:
        *_, observed, other = min(options, key=lambda o: o[:2])
        return observed, other
    met = []
    for p in new:  # people seen (also without observation memories: an ablation)
        other = view.agents.get(p.about) if p.about else None
        if me.moving or not _talkable(agent, other, ctx):
            continue
        rel = relationships.get(agent.name, other.name)
        met.append((-(rel["closeness"] if rel else 0.0), other.id, p.text, other))
    if not met:
        return None
    *_, text, other = min(met, key=lambda o: o[:2])
    return text, other


def _plan_vars(agent: Agent, ctx: Context) -> list[dict[str, str]]:
    return [{"start": max(a.start, ctx.now).strftime("%H:%M"), "activity": a.activity,
             "place": a.place} for a in agent.day_plan if a.end > ctx.now]


@dataclass(frozen=True)
class Considered:
    """The observation a reaction is asked about, and what was retrieved for it."""

    text: str
    other: Seen | None
    rel: dict | None
    memories: list


async def consider(agent: Agent, new: list[Percept], view: WorldView, relationships,
                   ctx: Context) -> Considered | None:
    """The observation to react to (`choose`) and the memories retrieved for it, or None.
    Retrieval runs here, before this tick's observations are remembered (see the module
    docstring); it marks nothing as accessed."""
    if agent.action is None:
        return None
    chosen = choose(agent, new, view, relationships, ctx)
    if chosen is None:
        return None
    observed, other = chosen
    text = observed if isinstance(observed, str) else observed.text
    rel = relationships.get(agent.name, other.name) if other else None
    query = f"{other.name}. {text}" if other else text
    memories = await recall(agent, query, ctx, k=4, touch=False)
    return Considered(text, other, rel, memories)


async def react_to(agent: Agent, considered: Considered | None, ctx: Context, *,
                   revise: bool = True) -> Reacted:
    """The reaction question about `considered` (`consider`). With `revise` False a
    reaction that would revise the plan returns what to replan with (`Reacted.revise`)
    instead, so that the step can replan once what runs beside the reaction is done."""
    if considered is None or agent.action is None:
        return Reacted()
    text, other, rel, memories = (considered.text, considered.other, considered.rel,
                                  considered.memories)
    answer = await REACT.ask(ctx.llm, ReactVars(
        persona=agent.persona_vars(ctx.world_name),
        now=ctx.now.strftime("%H:%M"),
        date=f"{ctx.now:%A, %B} {ctx.now.day}",
        date_iso=ctx.now.date().isoformat(),
        activity=agent.action.activity,
        observation=text,
        other={"name": other.name, "activity": other.activity} if other else None,
        relationship=relationship_line(agent, other.name, rel) if other else "",
        closeness=rel["closeness"] if rel else 0.0,
        plan=_plan_vars(agent, ctx),
        memories=memory_vars(memories, ctx.places),
    ), agent=agent.id)
    if not answer.react:
        return Reacted()
    if other is not None:
        return Reacted(talk_to=other.id, opening=_opening(answer, memories))
    if not ctx.settings.planning or agent.plan_date != ctx.now.date():
        return Reacted()  # no planning (an ablation): nothing to revise
    if not revise:
        return Reacted(revise=(text, answer.reason, memories))
    await replan(agent, text, answer.reason, memories, ctx)
    return Reacted(replanned=True)


def _opening(answer: Reaction, memories: list) -> Opening | None:
    """The conversation's first line from the answer, if it says one in words (else the
    conversation asks for its first turn as for any other); a memory id only if given."""
    if not says_words(answer.opening):
        return None
    given = {m.record.id for m in memories}
    drew = answer.shares_memory_id
    return Opening(" ".join(answer.opening.split()), drew if drew in given else None)


async def maybe_react(agent: Agent, new: list[Percept], view: WorldView, relationships,
                      ctx: Context, *, revise: bool = True) -> Reacted:
    """At most one reaction per tick: `consider`, then `react_to`."""
    return await react_to(agent, await consider(agent, new, view, relationships, ctx), ctx,
                          revise=revise)
