"""A shard: a Ray actor holding some of a simulation's residents and running their turns.

A shard is an `Engine` of its own (built from the run's options: the world, its own LLM
client, embedder, knowledge base and skill library) that keeps only its residents, whole:
memory stream, plans, whereabouts. The coordinator (`agentsim.distributed.cluster`) keeps
light copies of every resident (everything but the memory) for the world view and
resolution, and tells each shard, each tick, what it needs to know of the rest of the world:
the world view, relationship changes, skills the library took on. What a shard's step
produced (intents, the contexts' events, skill uses and new skills) goes back to the
coordinator, which publishes it in agent order, exactly as one process does.

Conversations run on the shard of the pair's first resident; the second, when it lives
elsewhere, is lent for the conversation and given back (`settle`, `converse`, `take`).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.perceive import WorldView
from agentsim.cognition.react import Opening
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.step import step
from agentsim.engine import Engine, _all
from agentsim.llm.accounting import Budget
from agentsim.llm.base import LLM
from agentsim.llm.record import Recorder
from agentsim.llm.wrappers import Recording
from agentsim.options import RunOptions

# what the coordinator keeps of a resident: all but its identity, persona and memory
LIGHT = tuple(f.name for f in fields(Agent)
              if f.name not in ("id", "persona", "memory", "last_retrieval"))

Edge = tuple[str, str, dict[str, Any]]
# a skill library's changes, as the coordinator's took them at the end of a tick:
# ("record", name, ok) and ("add", skill)
SkillOp = tuple[Any, ...]


def light(agent: Agent) -> dict[str, Any]:
    """A resident without its memory: what the world view and resolution read and change."""
    return {k: getattr(agent, k) for k in LIGHT}


def apply(agent: Agent, fields_: Mapping[str, Any]) -> None:
    for k, v in fields_.items():
        setattr(agent, k, v)


def owned(agents: Mapping[str, Agent]) -> dict[str, Agent]:
    """Residents as Ray handed them over, made writable: Ray reads numpy arrays without
    copying, read-only, and a memory stream writes into its arrays."""
    for agent in agents.values():
        for k, v in vars(agent.memory).items():
            if isinstance(v, np.ndarray) and not v.flags.writeable:
                setattr(agent.memory, k, v.copy())
    return dict(agents)


class Shard:
    """Some residents of one simulation and the means to move them (run as a Ray actor).

    `options`: the run's `RunOptions` as a dict (the world as an absolute path); the shard's
    LLM client is built from them, or by `make_llm()` when given (a picklable factory: tests,
    custom clients), then made to take the run's global slots (`ledger`)."""

    def __init__(self, name: str, options: dict[str, Any], settings: dict[str, Any],
                 ledger: Any, make_llm: Callable[[], LLM] | None = None):
        from agentsim.assemble import build
        from agentsim.distributed.ledger import share_ledger

        opts = RunOptions(**{**options, "out": None, "resume": None, "replay": None,
                             "skills_from": None, "skill_library": None})
        parts = build(opts, None, None, settings=Settings(**settings),
                      llm=make_llm() if make_llm is not None else None)
        share_ledger(parts.llm, ledger, name,
                     Budget(opts.budget_calls, opts.budget_tokens, opts.budget_usd))
        # what the shard's client answered, kept for the run's LLM record (llm.jsonl), which
        # the coordinator writes: a sharded run replays as a single-process one
        self.record = Lines()
        parts.llm.answerer = Recording(parts.llm.answerer, self.record)
        self.name = name
        self.engine = Engine(parts.world, parts.llm, parts.embed, seed=opts.seed,
                             settings=parts.settings, dim=parts.dim, knowledge=parts.knowledge,
                             skills=parts.skills)
        self.engine.agents = {}
        self._deferred: dict[str, Context] = {}  # this tick's step contexts with work deferred
        # CPU seconds spent in each kind of call (benchmarks/bench_shard.py reads them)
        self.busy: dict[str, float] = {"step": 0.0, "converse": 0.0}

    # -- residents in and out ---------------------------------------------------------------
    async def place(self, agents: dict[str, Agent], relationships: dict[str, Any],
                    skills: dict[str, Any] | None, usage: dict[str, Any],
                    seeded: bool) -> None:
        """Hold these residents (whole), with the run's relationships, skill library and
        this shard's part of the spend so far."""
        e = self.engine
        e.agents = owned(agents)
        e.relationships = Relationships.from_state(relationships)
        if skills is not None and e.skills is not None:
            e.skills.set_state(skills)
        e.llm.set_state({"usage": usage})
        e._seeded = seeded

    async def gather(self) -> dict[str, Agent]:
        """The residents, whole (for a checkpoint)."""
        return dict(self.engine.agents)

    async def seed(self) -> None:
        """The residents' seed memories, as the engine seeds them at the start."""
        await self.engine._seed_memories()

    # -- a tick -----------------------------------------------------------------------------
    async def step(self, tick: int, view: WorldView, edges: list[Edge],
                   skill_ops: list[SkillOp]) -> list[tuple[Any, ...]]:
        """Each resident's step, all at once: per resident in id order, (intent, events,
        skill uses, new skills, the resident's light state)."""
        e, t0 = self.engine, time.process_time()
        e.clock.tick = tick
        self._changes(edges, skill_ops)
        for c in self._deferred.values():  # a tick abandoned before it settled
            c.cancel_deferred()
        agents = [e.agents[a] for a in sorted(e.agents)]
        ctxs = [e._context() for _ in agents]
        intents = await _all(*(step(a, view, e.relationships, c)
                               for a, c in zip(agents, ctxs, strict=True)))
        # the work a step deferred runs on here, beside the conversations, until `finish`
        self._deferred = {a.id: c for a, c in zip(agents, ctxs, strict=True) if c.deferred}
        self.busy["step"] += time.process_time() - t0
        return [(i, c.events, c.uses, c.learned, light(a))
                for i, c, a in zip(intents, ctxs, agents, strict=True)]

    async def settle(self, resolved: dict[str, dict[str, Any]],
                     lend: list[str]) -> dict[str, Agent]:
        """Take the resolution's changes to the residents (where they are, what they do);
        lend the residents in `lend` to a conversation on another shard."""
        for aid, f in resolved.items():
            apply(self.engine.agents[aid], f)
        return {aid: self.engine.agents[aid] for aid in lend}

    async def converse(self, tick: int, pairs: list[tuple[str, str]],
                       guests: dict[str, Agent], openings: list[Opening | None],
                       ) -> tuple[list[tuple[Any, ...]], dict[str, Agent]]:
        """The conversations of these pairs, all at once (`guests`: residents lent by other
        shards; `openings`: each pair's first line, if its reaction said one): per pair,
        (events, the pair's relationship edges, both residents' light state); and the
        guests, to give back."""
        e, t0 = self.engine, time.process_time()
        e.clock.tick = tick
        everyone = {**e.agents, **owned(guests)}
        ctxs = [e._context() for _ in pairs]
        await _all(*(converse(everyone[a], everyone[b], e.relationships, c, o)
                     for (a, b), c, o in zip(pairs, ctxs, openings, strict=True)))
        out = []
        for (a, b), c in zip(pairs, ctxs, strict=True):
            out.append((c.events, self._edges(everyone[a], everyone[b]),
                        light(everyone[a]), light(everyone[b])))
        self.busy["converse"] += time.process_time() - t0
        return out, guests

    async def take(self, agents: dict[str, Agent]) -> tuple[dict[str, Any], str]:
        """Take back residents lent to a conversation; returns this shard's spend so far and
        its LLM record's lines since the last call. A returned resident's state goes into the
        object this shard holds (not a new one), so work its step deferred applies to it."""
        for aid, agent in owned(agents).items():
            vars(self.engine.agents[aid]).update(vars(agent))
        return self.engine.llm.get_state()["usage"], self.record.drain()

    async def finish(self) -> tuple[dict[str, tuple[list[Any], dict[str, Any]]],
                                    dict[str, Any], str]:
        """Apply the work this tick's steps deferred, in resident id order (as one process
        does): per resident that had some, (the events applying it emitted, its light state);
        then this shard's spend so far and its LLM record's lines since the last call."""
        t0 = time.process_time()
        out = {}
        for aid in sorted(self._deferred):
            events = await self._deferred[aid].settle()
            out[aid] = (events, light(self.engine.agents[aid]))
        self._deferred = {}
        self.busy["step"] += time.process_time() - t0
        return out, self.engine.llm.get_state()["usage"], self.record.drain()

    async def stats(self) -> dict[str, Any]:
        """CPU seconds in steps and conversations, and the process's CPU seconds so far."""
        return {**self.busy, "process": time.process_time()}

    async def close(self) -> None:
        """End this shard's warm skill workers (before the actor is killed)."""
        from agentsim.skills.pool import close_all

        close_all()

    # -- internals --------------------------------------------------------------------------
    def _changes(self, edges: list[Edge], skill_ops: list[SkillOp]) -> None:
        """What changed elsewhere since the last step: relationships after conversations on
        other shards, and the skill library as the coordinator's took it (uses counted and
        new skills kept, in the coordinator's order)."""
        graph = self.engine.relationships.graph
        for a, b, data in edges:
            graph.add_edge(a, b, **data)
        lib = self.engine.skills
        if lib is None:
            return
        for op in skill_ops:
            if op[0] == "record":
                lib.record(op[1], op[2])
            else:
                lib.extend([op[1]])

    def _edges(self, a: Agent, b: Agent) -> list[Edge]:
        rel = self.engine.relationships
        out = []
        for x, y in ((a.name, b.name), (b.name, a.name)):
            data = rel.get(x, y)
            if data is not None:
                out.append((x, y, dict(data)))
        return out


class Lines(Recorder):
    """A recorder that keeps its lines (those of `llm.jsonl`) until they are drained."""

    def __init__(self) -> None:
        self.path = Path("llm.jsonl")
        self._f = io.StringIO()

    def drain(self) -> str:
        text = self._f.getvalue()
        self._f = io.StringIO()
        return text


def world_path(options: RunOptions, fallback: str | Path) -> str:
    """The world as an absolute path, which a shard started in another folder still finds."""
    from agentsim.resources import resolve_world

    return str(Path(resolve_world(options.world or str(fallback))).resolve())
