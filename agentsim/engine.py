"""The simulation core: a clock, a seeded RNG, the agents, and the tick that moves them.

    tick(now):
        embed the texts the steps will need               one call (cognition.texts_ahead)
        intents  = gather(step(agent) for every agent)    perceive, remember, reflect, plan/react
                                                           (tasks done with skills, sandboxed)
        keep new skills and skill counts                   in agent order
        pairs    = resolve(intents)                        fixed agent order, seeded RNG
        (ahead) foresee the next tick on copies            beside the talks (agentsim.ahead)
        gather(converse(a, b) for a, b in pairs)           all conversations in flight together
        settle what the steps deferred                     in agent order (Context.settle)
        publish events, the last one TickEnded

Foreseeing the next tick (its steps, then its talks guessed from their intents) is
`agentsim.ahead`: a foreseen request is only a request sent early, and the next tick takes
its answer when it makes the very same request, so foresight never changes an event.

Everything else (the event log, checkpoints, the TUI, metrics) subscribes to typed events on
`bus`. This module knows no run directory, no CLI and no provider: the experiment facade
(`agentsim.experiment.Simulation`) builds on `Engine` and adds the run loop, interventions,
checkpoints and the synchronous API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agentsim.ahead import Ahead, Tally, can_foresee
from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Embed, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.perceive import WorldView
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.step import Intent, step
from agentsim.cognition.texts_ahead import tick_texts
from agentsim.errors import UserError
from agentsim.events import Event, EventBus, RunStopped, SkillLearned, TickEnded
from agentsim.llm.base import LLM
from agentsim.llm.foresight import Asker
from agentsim.memory.embed import prefetch, prefetches
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.protocols.base import Stage, load, protocol_seed
from agentsim.resolve import resolve, world_view
from agentsim.streams import Streams, streams
from agentsim.world.clock import SimClock
from agentsim.world.loader import WorldDef

if TYPE_CHECKING:
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import SkillLibrary


def world_settings(world: WorldDef) -> Settings:
    """The cognition settings a world asks for in its world.yaml."""
    return Settings(reflection_threshold=world.spec.reflection_threshold,
                    weights=tuple(world.spec.retrieval_weights))


class Engine:
    """Owns the clock, the seeded RNG, the agents and the event bus; `astep` moves them.

    `streams` are the seed's named random streams (`agentsim.streams`): `rng` is the
    resolution stream (the one RNG the tick draws from, checkpointed), and each tick's
    context carries the sandbox stream's seed to the skills it runs."""

    def __init__(
        self,
        world: WorldDef,
        llm: LLM,
        embed: Embed,
        *,
        seed: int = 0,
        settings: Settings | Mapping[str, Any] | None = None,
        dim: int = 384,
        knowledge: KnowledgeBase | None = None,
        skills: SkillLibrary | None = None,
    ):
        self.world = world
        self.knowledge = knowledge  # the world's knowledge/ documents (agentsim.rag)
        self.skills = skills  # the skill library (agentsim.skills), seeded from skills/
        self.llm = llm
        self.embed = embed
        self.seed = seed
        # a Settings as it is; a mapping of fields on top of the world's own (validated)
        self.settings = (settings if isinstance(settings, Settings)
                         else world_settings(world).replace(**dict(settings or {})))
        self.clock = SimClock(world.spec.start, world.spec.tick_minutes)
        self.streams: Streams = streams(seed)
        self.rng = self.streams.resolution()
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        self.objects: dict[str, str] = {o.id: o.state for o in world.places.all_objects()}
        self.relationships = Relationships.from_personas(world.personas)
        self.agents: dict[str, Agent] = {
            aid: Agent(
                id=aid,
                persona=p,
                memory=MemoryStream(aid, dim),
                location=p.home,
            )
            for aid, p in world.personas.items()
        }
        # the world's rules of interaction (`protocol:` in world.yaml), if it declares them
        self.protocol = load(world)
        self.stopped: str | None = None
        self.mid_tick = False  # a tick has begun and not ended: the state is not checkpointable
        self.halted = False  # stopped mid-tick because the LLM is gone
        self._seeded = False
        self._dim = dim
        # residents stepped on Ray actors (agentsim.distributed.Cluster), or None: here
        self.shards: Any = None
        self._ahead: Ahead | None = None  # the next tick, foreseen (`astep(ahead=True)`)
        self.tally = Tally()  # foreseen requests taken and wasted (benchmarks, tests)

    # -- the tick ---------------------------------------------------------------------------
    async def astep(self, *, ahead: bool = False) -> None:
        """Advance the world by one tick. Its last event, TickEnded, is published once the
        clock has moved on and the world is whole again (what a checkpoint may save).

        With `ahead` (another tick follows: `Simulation.arun` says so) the next tick is
        foreseen while this one's conversations go on (`agentsim.ahead`): its requests
        are sent early and the next tick takes the answers to the requests it really makes.
        Whether or how far that got never changes an event."""
        self.mid_tick = True
        first = len(self.events)  # what happens this tick, for the protocol to see
        if not self._seeded:
            await self._seed_memories()
        view = self.world_view()
        agents = [self.agents[a] for a in sorted(self.agents) if self.agents_step]
        foreseen, self._ahead = self._ahead, None  # what the last tick asked for this one
        llm = foreseen.asker() if foreseen is not None else self.llm
        ctxs = [self._context(llm) for _ in agents]
        nxt = Ahead(self) if ahead and can_foresee(self) else None
        ahead_texts = prefetches(self.embed)  # (the hash embedder has no calls to save)
        if ctxs and self.shards is None and ahead_texts:  # what the steps will embed, at once
            prefetch(self.embed, tick_texts(agents, view, ctxs[0]))
        try:
            intents: list[Intent] = await (  # (a foreseen tick's talks guessed from them)
                self.shards.step(agents, view, ctxs) if self.shards is not None else
                _all(*(step(a, view, self.relationships, c) if foreseen is None else
                       foreseen.stepping(a, step(a, view, self.relationships, c))
                       for a, c in zip(agents, ctxs, strict=True))))
            learned = [s for c in ctxs for _, s, _ in c.learned]
            if self.skills is not None and learned and ahead_texts:  # their descriptions
                prefetch(self.embed, self.skills.to_embed(learned))
            for c in ctxs:
                self._publish(c.events)
                await self._keep_skills(c)
            done = resolve(intents, self.agents, self.objects, self.world.places, self.clock,
                           self.rng)
            openings = {i.agent: i.opening for i in intents if i.opening is not None}
            if foreseen is not None:
                foreseen.resolved()
            self._publish(done.events)
            if nxt is not None:  # the next tick foreseen now, beside the talks (talks change
                # no view); those with deferred work (a plan may change) once it is applied
                nxt.steps(agents, self.world_view(), done.pairs,
                          later={a.id for a, c in zip(agents, ctxs, strict=True) if c.deferred})
            talks = [self._context(llm) for _ in done.pairs]
            opens = [openings.get(a.id) for a, _ in done.pairs]  # (`a` asked for `b`)
            await (self.shards.converse(done.pairs, talks, opens) if self.shards is not None
                   else _all(*(nxt.talk(a, b, c, o) if nxt is not None
                               else converse(a, b, self.relationships, c, o)
                               for (a, b), c, o in zip(done.pairs, talks, opens, strict=True))))
            for c in talks:
                self._publish(c.events)
            # the work the steps deferred (it ran beside the talks), each context's applied in
            # its own order, the contexts together (each changes its own agent); agent order
            settled = (await self.shards.settle(agents, ctxs) if self.shards is not None
                       else await _all(*(c.settle() for c in ctxs)))
            for events in settled:
                self._publish(events)
            if nxt is not None:
                nxt.settled(agents, self.world_view())  # (a settled plan may show in it)
            if self.protocol is not None:
                await self._protocol_tick(self.events[first:])
        except BaseException:
            for c in ctxs:
                c.cancel_deferred()
            if nxt is not None:
                await nxt.drop()
            raise
        finally:
            if foreseen is not None:
                await foreseen.drop()  # what was foreseen and not asked for this tick
                self.tally.add(foreseen.foresight)
        self._ahead = nxt
        awake = sum(a.awake for a in self.agents.values())
        ended = TickEnded(tick=self.clock.tick, time=self.clock.now, awake=awake,
                          conversations=sum(e.type == "conversation" for e in self.events[first:]))
        self.clock.advance()
        self.mid_tick = False
        try:
            self._publish([ended])
        except BaseException:  # (a subscriber stopped the run: the next tick will not come)
            await self.forget_ahead()
            raise

    async def forget_ahead(self) -> None:
        """Drop what was foreseen for a tick that will not run (the run stopped)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await ahead.drop()
            self.tally.add(ahead.foresight)

    @property
    def foreseen(self) -> int:
        """Requests the ticks took from a foresight (benchmarks, tests)."""
        return self.tally.taken.total()

    def stop(self, reason: str) -> None:
        """Stop between ticks (a budget, a replay's recorded stop): RunStopped is published."""
        self.stopped = reason
        self._publish([RunStopped(tick=self.clock.tick, time=self.clock.now, reason=reason)])

    def halt(self, reason: str) -> None:
        """Stop in the middle of a tick (the LLM server is gone): the half-stepped world is
        never checkpointed, so a resume starts from the last checkpoint."""
        self.halted = True
        self.stopped = reason
        self._publish([RunStopped(tick=self.clock.tick, time=self.clock.now, reason=reason)])

    @property
    def agents_step(self) -> bool:
        """Whether the agents live their day each tick (a protocol may say they do not)."""
        return self.protocol is None or self.protocol.agents_step

    async def _protocol_tick(self, happened: list[Event]) -> None:
        """The world's protocol takes its turn after the agents' (`agentsim.protocols`): its
        contexts' events are published in the order it asked for them, then its measures."""
        assert self.protocol is not None
        if self.protocol.finished:
            return
        ctxs: list[Context] = []

        def context() -> Context:
            ctxs.append(self._context())
            return ctxs[-1]

        stage = Stage(agents={a: self.agents[a] for a in sorted(self.agents)}, context=context,
                      tick=self.clock.tick, now=self.clock.now,
                      seed=protocol_seed(self.seed, self.protocol.name), events=[],
                      objects=self.objects, happened=happened)
        await self.protocol.tick(stage)
        for c in ctxs:
            await c.settle()  # any work a protocol's step deferred, applied before publishing
            self._publish(c.events)
        self._publish(stage.events)

    # -- reading the world ------------------------------------------------------------------
    def agent(self, name_or_id: str) -> Agent:
        if name_or_id in self.agents:
            return self.agents[name_or_id]
        for a in self.agents.values():
            if a.name.lower() == name_or_id.lower():
                return a
        raise UserError(f"no agent named {name_or_id!r} in {self.world.spec.name}", field="agent")

    def world_view(self) -> WorldView:
        """What the agents see of each other and of the objects now."""
        return world_view(self.agents, self.objects, self.world.places)

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.shards is not None:
            self.shards.gather()  # the residents, whole, from their shards
        state: dict[str, Any] = {
            "tick": self.clock.tick,
            "seeded": self._seeded,
            "rng": list(map(_jsonable, self.rng.getstate())),
            "objects": dict(sorted(self.objects.items())),
            "relationships": self.relationships.get_state(),
            "agents": {},
            "events": len(self.events),
        }
        if self.skills is not None:
            state["skills"] = self.skills.get_state()
        if self.protocol is not None:
            state["protocol"] = self.protocol.get_state()
        # the LLM client's spend, so a resumed run keeps its budget
        state["llm"] = self.llm.get_state()
        arrays: dict[str, Any] = {}
        for aid in sorted(self.agents):
            s, arr = self.agents[aid].get_state()
            state["agents"][aid] = s
            arrays.update({f"{aid}/{k}": v for k, v in arr.items()})
        return state, arrays

    def set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:
        if self._ahead is not None:  # (foreseen from a state that is gone)
            self._ahead.forget()
            self.tally.add(self._ahead.foresight)
            self._ahead = None
        self.clock.tick = state["tick"]
        self._seeded = state["seeded"]
        v, internal, gauss = state["rng"]
        self.rng.setstate((v, tuple(internal), gauss))
        self.objects = dict(state["objects"])
        self.relationships = Relationships.from_state(state["relationships"])
        if "skills" in state and self.skills is not None:
            self.skills.set_state(state["skills"])
        if "llm" in state:
            self.llm.set_state(state["llm"])
        if "protocol" in state and self.protocol is not None:
            self.protocol.set_state(state["protocol"])
        for aid, s in state["agents"].items():
            prefix = f"{aid}/"
            arr = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.agents[aid] = Agent.from_state(self.world.personas[aid], s, arr)
        if self.shards is not None:
            self.shards.place()

    # -- internals --------------------------------------------------------------------------
    def _context(self, llm: LLM | Asker | None = None) -> Context:
        return Context(
            llm=self.llm if llm is None else llm,  # type: ignore[arg-type]
            embed=self.embed,
            places=self.world.places,
            world_name=self.world.spec.name,
            now=self.clock.now,
            tick=self.clock.tick,
            settings=self.settings,
            tick_delta=timedelta(minutes=self.world.spec.tick_minutes),
            knowledge=self.knowledge,
            skills=self.skills,
            sandbox_seed=self.streams.sandbox,
        )

    async def _keep_skills(self, ctx: Context) -> None:
        """Skill use counts and new verified skills take effect once every step is done, in
        agent order, so what one agent's prompts show never depends on another's timing."""
        if self.skills is None:
            return
        for name, ok in ctx.uses:
            self.skills.record(name, ok)
        for agent, skill, rounds in ctx.learned:
            if await self.skills.aadd(skill) is not None:
                self._publish([SkillLearned(tick=self.clock.tick, time=self.clock.now,
                                            agent=agent, skill=skill.name,
                                            description=skill.description, rounds=rounds)])

    def _publish(self, events: list[Event]) -> None:
        for e in events:
            self.bus.publish(e)

    async def _seed_memories(self) -> None:
        """The personas' seed memories, embedded and scored together at the start: the
        persona's `memories`, and one memory per relationship it lists (the paper seeds each
        agent's relationships as memories too: "John Lin knows his neighbor, Sam Moore"), so
        that whom a resident knows is in its memory, where retrieval and interviews find it."""
        self._seeded = True
        if self.shards is not None:
            return await self.shards.seed()
        ctx = self._context()
        await asyncio.gather(*(memorize(a, _seeds(a), ctx) for a in self.agents.values()))


def _seeds(agent: Agent) -> list[Experience]:
    """An agent's seed memories. A relationship's importance follows its closeness (2 for a
    stranger-like 0, 8 for the closest), so no LLM call scores it; its source is
    "relationship"."""
    seeds = [Experience(MemoryKind.observation, m.text, importance=m.importance, event=m.event)
             for m in agent.persona.memories]
    seeds += [Experience(MemoryKind.observation, f"I know {r.name} ({r.relation})",
                         about=(r.name,), source="relationship",
                         importance=round(2 + 6 * r.closeness))
              for r in agent.persona.relationships]
    return seeds


async def _all(*coros: Any) -> list[Any]:
    """asyncio.gather, except that when one fails the others are cancelled (and awaited), so
    no part of an abandoned tick goes on running behind the caller's back."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _jsonable(x: Any) -> Any:
    return list(x) if isinstance(x, tuple) else x
