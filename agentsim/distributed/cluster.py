"""One simulation over several Ray actors: the coordinator's side.

`distribute(sim, shards=2, address=None)` splits a simulation's residents over `shards`
actors (`agentsim.distributed.shard.Shard`), round robin in id order, and hooks the engine's
tick (`Engine.shards`): the engine still computes the world view, resolves the intents,
publishes every event and runs the protocol and checkpoints; the `Cluster` runs the agents'
steps and conversations on the shards:

    view (coordinator) ─▶ each shard: its residents' steps ─▶ intents, events, light state
    resolve (coordinator, on light copies of the residents) ─▶ each shard: where they are now
    each pair's conversation on its first resident's shard (the other lent if elsewhere)
    ─▶ events, relationship edges ─▶ the residents given back, each shard's spend

Why conversations run on a shard and not on the coordinator: the coordinator keeps no
memories (they are most of a resident's state, and grow), and a conversation reads and writes
both residents' memories. Lending the second resident moves one resident per cross-shard pair
and tick; running it on the coordinator would move two, and make the coordinator an LLM
client of its own outside the shards' ledger. A pair's conversation touches only its two
residents and the two relationship edges between them, so pairs never interfere, wherever
they run, and each shard is told the changed edges before its next step.

Events stay byte-identical to one process: the offline mind and the hash embedder answer by
content, not by order; every resident steps with the same view, relationships and skill
library as in one process; the coordinator publishes the contexts' events in the same agent
(and pair) order; the skill library changes on every shard as on the coordinator, in its
order, at the start of the next step.

The run's LLM traffic takes its slots and budget from one `Ledger` actor
(`agentsim.distributed.ledger`), and the coordinator's client reports the sum of the shards'
spend, so a between-tick budget check, the manifest and checkpoints see the run's whole spend.
A checkpoint gathers the residents whole (`Engine.get_state`), so it opens as a normal run;
restoring a state (`Engine.set_state`, a resume) places the residents on the shards again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.react import Opening
from agentsim.cognition.step import Intent
from agentsim.distributed.ledger import Ledger, merged, totals
from agentsim.distributed.shard import Edge, Shard, SkillOp, apply, owned, world_path
from agentsim.errors import UserError
from agentsim.llm.base import LLM

if TYPE_CHECKING:
    from agentsim.engine import Engine

RESOLVED = ("location", "action", "route", "route_started")  # what resolution changes


class Cluster:
    """The coordinator's handle on the shards of one simulation (see the module doc)."""

    def __init__(self, engine: Engine, shards: Sequence[Any], ledger: Any):
        self.engine = engine
        self.shards = list(shards)
        self.ledger = ledger
        ids = sorted(engine.agents)
        self.home = {aid: i % len(self.shards) for i, aid in enumerate(ids)}
        self._edges: list[Edge] = []  # relationship edges changed since the shards' last step
        self._last: list[Context] = []  # the last step's contexts, for the skill library's ops

    def residents(self, shard: int) -> list[str]:
        return sorted(a for a, s in self.home.items() if s == shard)

    # -- the engine's hooks -----------------------------------------------------------------
    async def seed(self) -> None:
        await asyncio.gather(*(s.seed.remote() for s in self.shards))

    async def step(self, agents: Sequence[Agent], view: Any,
                   ctxs: Sequence[Context]) -> list[Intent]:
        """The residents' steps on their shards. Each context gets its resident's events,
        skill uses and new skills, and the coordinator's copy of each resident its state
        after the step: as if the steps had run here."""
        e = self.engine
        ops = self._skill_ops()
        edges, self._edges = self._edges, []
        answers = await asyncio.gather(*(s.step.remote(e.clock.tick, view, edges, ops)
                                         for s in self.shards))
        by_id: dict[str, tuple[Any, ...]] = {}
        for i, rows in enumerate(answers):
            by_id.update(zip(self.residents(i), rows, strict=True))
        intents = []
        for agent, ctx in zip(agents, ctxs, strict=True):
            intent, events, uses, learned, state = by_id[agent.id]
            ctx.events.extend(events)
            ctx.uses.extend(uses)
            ctx.learned.extend(learned)
            apply(agent, state)
            intents.append(intent)
        self._last = list(ctxs)
        return intents

    async def converse(self, pairs: Sequence[tuple[Agent, Agent]], ctxs: Sequence[Context],
                       openings: Sequence[Opening | None]) -> None:
        """Tell the shards where their residents are now (the resolution's changes), then
        run each pair's conversation (with its first line, if its reaction said one) on its
        first resident's shard."""
        e, n = self.engine, len(self.shards)
        lend: list[list[str]] = [[] for _ in range(n)]
        for a, b in pairs:
            if self.home[b.id] != self.home[a.id]:
                lend[self.home[b.id]].append(b.id)
        resolved = [{aid: {k: getattr(e.agents[aid], k) for k in RESOLVED}
                     for aid in self.residents(i)} for i in range(n)]
        lent = await asyncio.gather(*(s.settle.remote(resolved[i], lend[i])
                                      for i, s in enumerate(self.shards)))
        guests: dict[str, Agent] = {k: v for d in lent for k, v in d.items()}
        mine: list[list[int]] = [[] for _ in range(n)]  # pair indices by the shard they run on
        for k, (a, _) in enumerate(pairs):
            mine[self.home[a.id]].append(k)
        runs = [(i, s.converse.remote(e.clock.tick, [(pairs[k][0].id, pairs[k][1].id)
                                                     for k in mine[i]],
                                      {pairs[k][1].id: guests[pairs[k][1].id] for k in mine[i]
                                       if pairs[k][1].id in guests},
                                      [openings[k] for k in mine[i]]))
                for i, s in enumerate(self.shards) if mine[i]]
        back: list[dict[str, Agent]] = [{} for _ in range(n)]
        for (i, _), (results, returned) in zip(runs, await asyncio.gather(*(r for _, r in runs)),
                                               strict=True):
            for k, (events, edges, state_a, state_b) in zip(mine[i], results, strict=True):
                a, b = pairs[k]
                ctxs[k].events.extend(events)
                apply(a, state_a)
                apply(b, state_b)
                for x, y, data in edges:
                    e.relationships.graph.add_edge(x, y, **data)
                self._edges += edges
            for aid, agent in returned.items():
                back[self.home[aid]][aid] = agent
        taken = await asyncio.gather(*(s.take.remote(back[i])
                                       for i, s in enumerate(self.shards)))
        e.llm.set_state({"usage": merged(spent for spent, _ in taken)})
        self._record("".join(lines for _, lines in taken))

    async def settle(self, agents: Sequence[Agent],
                     ctxs: Sequence[Context]) -> list[list[Any]]:
        """The work the steps deferred, applied on the shards in agent order: per context,
        the events applying it emitted (the engine publishes them in this order)."""
        answers = await asyncio.gather(*(s.finish.remote() for s in self.shards))
        done: dict[str, tuple[list[Any], dict[str, Any]]] = {}
        for results, _, _ in answers:
            done.update(results)
        out: list[list[Any]] = []
        for agent, ctx in zip(agents, ctxs, strict=True):
            events, state = done.get(agent.id, ([], None))
            ctx.events.extend(events)
            if state is not None:
                apply(agent, state)
            out.append(list(events))
        self.engine.llm.set_state({"usage": merged(spent for _, spent, _ in answers)})
        self._record("".join(lines for _, _, lines in answers))
        return out

    def gather(self) -> None:
        """The residents, whole, from their shards into the engine (for a checkpoint)."""
        import ray

        for found in ray.get([s.gather.remote() for s in self.shards]):
            self.engine.agents.update(owned(found))

    def place(self) -> None:
        """The engine's residents, relationships, skill library and spend onto the shards (at
        the start, and after a state is restored). The first shard carries the spend so far,
        so the shards' sum is the run's."""
        import ray

        e = self.engine
        usage = e.llm.get_state().get("usage", {})
        skills = e.skills.get_state() if e.skills is not None else None
        rel = e.relationships.get_state()
        ray.get([s.place.remote({a: e.agents[a] for a in self.residents(i)}, rel, skills,
                                usage if i == 0 else {}, e._seeded)
                 for i, s in enumerate(self.shards)])
        ray.get(self.ledger.reset.remote({"shard0": totals(usage)} if usage else {}))
        self._edges, self._last = [], []

    @contextmanager
    def held(self) -> Iterator[None]:
        """The residents whole on the coordinator for a while, then back on the shards:
        for what reads or changes them between ticks outside the tick. `Simulation.inject`,
        `whisper`, `interview`, `read` and `retrieve` hold them so themselves; code that reads
        `sim.agents` directly between ticks uses `with sim.shards.held(): ...`."""
        self.gather()
        try:
            yield
        finally:
            self.place()

    def close(self) -> None:
        """End the shards and the ledger (the engine runs on its own again)."""
        import ray

        self.gather()
        ray.get([s.close.remote() for s in self.shards])
        for actor in [*self.shards, self.ledger]:
            ray.kill(actor)
        self.engine.shards = None

    # -- internals --------------------------------------------------------------------------
    def _record(self, lines: str) -> None:
        """The shards' answers into the run's LLM record (llm.jsonl), if it keeps one."""
        run_dir = getattr(self.engine, "run_dir", None)
        if not lines or run_dir is None:
            return
        with open(run_dir.llm_log, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(lines)

    # -- the skill library's changes -----------------------------------------------------
    def _skill_ops(self) -> list[SkillOp]:
        """What the coordinator's skill library took from the last step, in its order: each
        context's uses, then the new skills it kept (those now in the library as sent)."""
        lib = self.engine.skills
        if lib is None:
            return []
        ops: list[SkillOp] = []
        for c in self._last:
            ops += [("record", name, ok) for name, ok in c.uses]
            ops += [("add", skill) for _, skill, _ in c.learned
                    if lib.skills.get(skill.name) is skill]
        return ops


def distribute(sim: Engine, shards: int = 2, *, address: str | None = None,
               make_llm: Callable[[], LLM] | None = None,
               max_in_flight: int | None = None) -> Cluster:
    """Split `sim`'s residents over `shards` Ray actors and run its ticks on them (see the
    module doc). Ray is started locally unless it is running already or `address` names a
    cluster. `make_llm`: a picklable factory of each shard's LLM client (default: built from
    the simulation's options, as the coordinator's was). `max_in_flight`: the run's global
    limit (default: the options' `max_in_flight`, else the coordinator client's limit).

    On a cluster (`address`), every node needs the same agentsim installed and the world at
    the same path as here (a shared folder, or the same checkout); the run directory stays
    with the coordinator. Shards take a CPU each where the cluster has enough, spread over
    the nodes."""
    import ray

    if shards < 1:
        raise UserError(f"shards must be >= 1, not {shards}", field="--shards")
    if getattr(sim, "protocol", None) is not None:
        raise UserError("a world with a protocol runs in one process (no --shards)",
                        field="--shards")
    options = getattr(sim, "options", None)
    if options is None:
        raise UserError("a sharded simulation needs its run options (Simulation.load)",
                        field="--shards")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    limit = (max_in_flight or options.max_in_flight
             or getattr(sim.llm, "max_in_flight", None) or 64)
    budget = (options.budget_calls, options.budget_tokens, options.budget_usd)
    ledger = ray.remote(num_cpus=0)(Ledger).remote(limit, budget)
    opts = options.model_dump()
    opts["world"] = world_path(options, sim.world.path)
    cpus = 1 if ray.cluster_resources().get("CPU", 0) >= shards else 0
    actor = ray.remote(num_cpus=cpus, scheduling_strategy="SPREAD")(Shard)
    handles = [actor.remote(f"shard{i}", opts, sim.settings.model_dump(), ledger, make_llm)
               for i in range(shards)]
    cluster = Cluster(sim, handles, ledger)
    cluster.place()
    sim.shards = cluster
    return cluster
