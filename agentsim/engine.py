"""The simulation: a clock, a seeded RNG, the agents, and the tick that moves them.

    tick(now):
        intents  = gather(step(agent) for every agent)    perceive, remember, reflect, plan/react
                                                           (tasks done with skills, sandboxed)
        keep new skills and skill counts                   in agent order
        pairs    = resolve(intents)                        fixed agent order, seeded RNG
        gather(converse(a, b) for a, b in pairs)           all conversations in flight together
        publish events; checkpoint when due

Everything else (the event log, the TUI, metrics, checkpoints) subscribes to typed events.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Embed, Settings
from agentsim.cognition.converse import converse
from agentsim.cognition.interview import Answer, interview
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.read import Reading, read
from agentsim.cognition.relationships import Relationships
from agentsim.cognition.step import Intent, step
from agentsim.errors import LLMUnavailable, UserError
from agentsim.events import (
    Event,
    EventBus,
    RunResumed,
    RunStarted,
    RunStopped,
    SkillLearned,
    TickEnded,
    Whispered,
    WorldEvent,
)
from agentsim.llm.base import LLM
from agentsim.memory.record import MemoryKind, ScoredMemory
from agentsim.memory.stream import MemoryStream
from agentsim.resolve import Resolver, world_view
from agentsim.rundir import RunDir
from agentsim.world.clock import SimClock
from agentsim.world.loader import WorldDef

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.metrics import Metrics
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import SkillLibrary


class Simulation:
    """Owns the clock, the seeded RNG, the agents and the event bus.

    Build one with `Simulation.load(world_path, seed=...)` (see `agentsim.session`), or directly
    from a loaded world, an LLM and an embedding function.
    """

    def __init__(
        self,
        world: WorldDef,
        llm: LLM,
        embed: Embed,
        *,
        seed: int = 0,
        settings: Settings | None = None,
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
        self.settings = settings or Settings(
            reflection_threshold=world.spec.reflection_threshold,
            weights=tuple(world.spec.retrieval_weights),
        )
        self.clock = SimClock(world.spec.start, world.spec.tick_minutes)
        self.rng = random.Random(seed)
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
                rng=random.Random(f"{seed}:{aid}"),
            )
            for aid, p in world.personas.items()
        }
        self.run_dir: RunDir | None = None
        self.checkpoint_every = 6
        self.stopped: str | None = None
        self.mid_tick = False  # a tick has begun and not ended: the state is not checkpointable
        self.halted = False  # stopped mid-tick because the LLM is gone
        self._seeded = False
        self._resolver = Resolver(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shares = False  # a fork shares its original's LLM client and event loop
        self.on_close: Callable[[], None] | None = None  # e.g. write the final manifest
        self._dim = dim

    # -- the tick ---------------------------------------------------------------------------
    async def astep(self) -> None:
        """Advance the world by one tick."""
        self.mid_tick = True
        if not self._seeded:
            await self._seed_memories()
        view = world_view(self)
        agents = [self.agents[a] for a in sorted(self.agents)]
        ctxs = [self._context() for _ in agents]
        intents: list[Intent] = await _all(
            *(step(a, view, self.relationships, c) for a, c in zip(agents, ctxs, strict=True))
        )
        for c in ctxs:
            self._publish(c.events)
            await self._keep_skills(c)
        pairs = self._resolver.resolve(intents)
        talks = [self._context() for _ in pairs]
        await _all(
            *(converse(a, b, self.relationships, c) for (a, b), c in zip(pairs, talks, strict=True))
        )
        for c in talks:
            self._publish(c.events)
        awake = sum(a.awake for a in agents)
        self._publish([TickEnded(tick=self.clock.tick, time=self.clock.now, awake=awake,
                                 conversations=len(pairs))])
        self.clock.advance()
        self.mid_tick = False
        if self.run_dir is not None:
            self.run_dir.flush()
            if self.clock.tick % self.checkpoint_every == 0:
                self.checkpoint()

    async def arun(
        self,
        *,
        hours: float | None = None,
        ticks: int | None = None,
        until: Callable[[Simulation], bool] | None = None,
        budget_check: Callable[[], str | None] | None = None,
    ) -> None:
        """Run for some sim hours, some ticks, or until a predicate holds."""
        if hours is not None:
            ticks = round(hours * 60 / self.world.spec.tick_minutes)
        end = self.clock.tick + ticks if ticks is not None else None
        while (end is None or self.clock.tick < end) and not (until and until(self)):
            reason = budget_check() if budget_check else None
            if reason:
                self.stop(reason)
                return
            try:
                await self.astep()
            except LLMUnavailable as e:
                self.halt(str(e))
                raise
        if self.run_dir is not None:
            self.checkpoint()

    def stop(self, reason: str) -> None:
        self.stopped = reason
        self._publish([RunStopped(tick=self.clock.tick, time=self.clock.now, reason=reason)])
        if self.run_dir is not None:
            self.checkpoint()

    def halt(self, reason: str) -> None:
        """Stop in the middle of a tick (the LLM server is gone): the half-stepped world is
        never checkpointed, so a resume starts from the last checkpoint."""
        self.halted = True
        self.stopped = reason
        self._publish([RunStopped(tick=self.clock.tick, time=self.clock.now, reason=reason)])

    # -- interventions ----------------------------------------------------------------------
    async def awhisper(self, agent: str, text: str, importance: int = 8) -> None:
        a = self.agent(agent)
        await memorize(a, [Experience(MemoryKind.observation, text, importance=importance,
                                      source="whisper")], self._context())
        self._publish([Whispered(tick=self.clock.tick, time=self.clock.now, agent=a.id,
                                 text=text)])

    async def ainject(self, text: str, place: str | None = None, importance: int = 7) -> None:
        """Something happens in the world: everyone in `place`'s area (or everyone) notices."""
        places = self.world.places
        if place is not None and place not in places:
            raise UserError(f"no place {place!r} in {self.world.spec.name}", field="place")
        area = places.area_of(place) if place else None
        who = [a for a in self.agents.values()
               if area is None or places.area_of(a.location) == area]
        ctx = self._context()
        await asyncio.gather(*(
            memorize(a, [Experience(MemoryKind.observation, text, importance=importance,
                                    source="world")], ctx) for a in who))
        self._publish([WorldEvent(tick=self.clock.tick, time=self.clock.now, place=place,
                                  text=text)])

    def inject(self, text: str, place: str | None = None, importance: int = 7) -> None:
        self._sync(self.ainject(text, place, importance))

    async def aread(self, agent: str, document: str, query: str | None = None,
                    k: int = 1) -> Reading:
        """`agent` reads `document` ("knowledge/gazette.md"): the `k` chunks most relevant to
        `query` (by default to what it is doing), each remembered with its citation; a `read`
        event is published. The hook for a reading action outside the tick (e.g. a skill)."""
        a = self.agent(agent)
        if self.knowledge is None or document not in self.knowledge:
            known = ", ".join(self.knowledge.documents()) if self.knowledge else "none"
            raise UserError(f"no document {document!r} in {self.world.spec.name} "
                            f"(documents: {known})", field="document")
        if not self._seeded:
            await self._seed_memories()
        ctx = self._context()
        found = await read(a, [document], ctx, query=query, k=k)
        self._publish(ctx.events)
        assert found is not None  # a known document has at least one chunk
        return found

    def read(self, agent: str, document: str, query: str | None = None, k: int = 1) -> Reading:
        return self._sync(self.aread(agent, document, query, k))

    @overload
    async def ainterview(self, agent: Literal["all"] | list[str] | tuple[str, ...],
                         question: str, *, remember: bool = False) -> list[Answer]: ...
    @overload
    async def ainterview(self, agent: str, question: str, *,
                         remember: bool = False) -> Answer: ...

    async def ainterview(self, agent: str | Sequence[str], question: str, *,
                         remember: bool = False) -> Answer | list[Answer]:
        """Ask one agent (a name or id), a list of them, or "all"; a list answers with a list,
        every interview in flight together."""
        if not self._seeded:
            await self._seed_memories()
        if isinstance(agent, str) and agent != "all":
            return await interview(self.agent(agent), question, self._context(),
                                   remember=remember)
        who = sorted(self.agents) if agent == "all" else [self.agent(a).id for a in agent]
        ctx = self._context()
        return list(await asyncio.gather(
            *(interview(self.agents[a], question, ctx, remember=remember) for a in who)))

    def agent(self, name_or_id: str) -> Agent:
        if name_or_id in self.agents:
            return self.agents[name_or_id]
        for a in self.agents.values():
            if a.name.lower() == name_or_id.lower():
                return a
        raise UserError(f"no agent named {name_or_id!r} in {self.world.spec.name}", field="agent")

    def retrieve(self, agent: str, query: str, k: int = 10) -> list[ScoredMemory]:
        """What `agent` would recall for `query` now, with each score part (no side effects)."""
        a = self.agent(agent)
        if len(a.memory) == 0:
            return []
        [vec] = self._sync(self.embed([query]))
        w, decay = self.settings.weights, self.settings.decay
        return a.memory.retrieve(vec, self.clock.now, k=k, weights=w, decay=decay, touch=False)

    # -- synchronous API (scripts and notebooks; coroutines: the a* methods) ---------------
    def _sync(self, coro: Any) -> Any:
        """Run `coro` to the end on the simulation's own event loop. Called where a loop is
        already running (a Jupyter cell), that loop is left alone and ours runs in a helper
        thread while the caller waits, so `sim.run(hours=1)` works in a notebook too."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return self._loop.run_until_complete(coro)
        if running is self._loop or self._loop.is_running():
            coro.close()
            raise UserError("a blocking call from inside the running simulation (e.g. an "
                            "event handler): use the coroutine (await sim.arun(...), "
                            "sim.ainterview(...))", field="Simulation")
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="agentsim-sync") as pool:
            return pool.submit(self._loop.run_until_complete, coro).result()

    def step(self) -> None:
        self._sync(self.astep())

    def run(self, *, hours: float | None = None, ticks: int | None = None,
            until: Callable[[Simulation], bool] | None = None) -> None:
        self._sync(self.arun(hours=hours, ticks=ticks, until=until))

    @overload
    def interview(self, agent: Literal["all"] | list[str] | tuple[str, ...], question: str, *,
                  remember: bool = False) -> list[Answer]: ...
    @overload
    def interview(self, agent: str, question: str, *, remember: bool = False) -> Answer: ...

    def interview(self, agent: str | Sequence[str], question: str, *,
                  remember: bool = False) -> Answer | list[Answer]:
        """`interview("Tom Moreno", q)` -> an Answer; `interview("all", q)` or a list of
        names -> a list of Answers (`agentsim.metrics.answers_frame` makes a table)."""
        return self._sync(self.ainterview(agent, question, remember=remember))

    # -- experiments ------------------------------------------------------------------------
    @property
    def metrics(self) -> Metrics:
        """Measures of the run so far (diffusion, relationships, occupancy, LLM usage)."""
        from agentsim.metrics import of_simulation

        return of_simulation(self)

    def events_frame(self) -> pd.DataFrame:
        """`events` as a pandas DataFrame, one row per event."""
        from agentsim.metrics import events_frame

        return events_frame(self.events)

    def fork(self) -> Simulation:
        """An independent copy at the current state, for control and treatment: its own
        agents, memories, relationships, objects, RNG and event list (no run directory). It
        shares the LLM client (and its usage counters) and the embedder; with the same LLM
        answers, a fork left alone produces the same events as the original."""
        import copy

        twin = Simulation(self.world, self.llm, self.embed, seed=self.seed,
                          settings=self.settings, dim=self._dim, knowledge=self.knowledge,
                          skills=self.skills.fork() if self.skills is not None else None)
        state, arrays = self.get_state()
        twin.set_state(copy.deepcopy(state), {k: v.copy() for k, v in arrays.items()})
        twin.events = list(self.events)
        twin.bus = EventBus()
        twin.bus.subscribe(twin.events.append)
        twin.checkpoint_every = self.checkpoint_every
        twin.stopped = self.stopped
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        twin._loop, twin._shares = self._loop, True
        for name in ("embedder", "options"):  # what `agentsim.session` attaches
            if hasattr(self, name):
                setattr(twin, name, getattr(self, name))
        return twin

    def whisper(self, agent: str, text: str, importance: int = 8) -> None:
        self._sync(self.awhisper(agent, text, importance))

    async def aclose(self) -> None:
        aclose = getattr(self.llm, "aclose", None)
        if aclose is not None and not self._shares:  # a fork leaves the shared LLM open
            await aclose()
        if self.run_dir is not None:
            if self.on_close is not None:
                self.on_close()
                self.on_close = None
            self.run_dir.close()

    def close(self) -> None:
        self._sync(self.aclose())
        if self._loop is not None and not self._shares:
            self._loop.close()
            self._loop = None

    @classmethod
    def load(cls, world: str, *, seed: int = 0, **options: Any) -> Simulation:
        """Load a world folder with an LLM (`llm="offline"` by default, or a spec such as
        `"ollama:llama3.1"`) and an embedder; see `agentsim.session.load` for the options."""
        from agentsim.session import load

        return load(world, seed=seed, **options)

    # -- checkpoints ------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
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
        llm_state = getattr(self.llm, "get_state", None)
        if llm_state is not None:  # the LLM client's spend, so a resumed run keeps its budget
            state["llm"] = llm_state()
        arrays: dict[str, Any] = {}
        for aid in sorted(self.agents):
            s, arr = self.agents[aid].get_state()
            state["agents"][aid] = s
            arrays.update({f"{aid}/{k}": v for k, v in arr.items()})
        return state, arrays

    def set_state(self, state: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.clock.tick = state["tick"]
        self._seeded = state["seeded"]
        v, internal, gauss = state["rng"]
        self.rng.setstate((v, tuple(internal), gauss))
        self.objects = dict(state["objects"])
        self.relationships = Relationships.from_state(state["relationships"])
        if "skills" in state and self.skills is not None:
            self.skills.set_state(state["skills"])
        if "llm" in state and hasattr(self.llm, "set_state"):
            self.llm.set_state(state["llm"])
        for aid, s in state["agents"].items():
            prefix = f"{aid}/"
            arr = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.agents[aid] = Agent.from_state(self.world.personas[aid], s, arr)

    def checkpoint(self) -> None:
        assert self.run_dir is not None
        if self.mid_tick:  # a half-stepped world (Ctrl-C, a halt): the last checkpoint stands
            return
        state, arrays = self.get_state()
        # events.jsonl and llm.jsonl flushed to disk and their sizes kept: the checkpoint and
        # the two logs are one unit, which a resume cuts back to (RunDir.resume_point)
        state.update(self.run_dir.sync_logs())
        self.run_dir.save_checkpoint(self.clock.tick, state, arrays)
        if self.skills is not None:  # the run's library, readable by `agentsim skills RUN`
            self.skills.write_jsonl(self.run_dir.path / "skills.jsonl")

    def attach(self, run_dir: RunDir, *, resumed: bool = False) -> None:
        """Log events to `run_dir`; on resume, restore the newest usable checkpoint first (the
        logs cut back to it)."""
        self.run_dir = run_dir
        if resumed:
            found = run_dir.resume_point()
            if found is not None:
                state, arrays = found
                self.set_state(state, arrays)
                self.events = run_dir.read_events()
                self.bus = EventBus()
                self.bus.subscribe(self.events.append)
                self.bus.subscribe(run_dir.append)
                self._publish([RunResumed(tick=self.clock.tick, time=self.clock.now,
                                          from_tick=self.clock.tick)])
                return
        self.bus.subscribe(run_dir.append)
        self._publish([RunStarted(tick=0, time=self.clock.now, world=self.world.spec.name,
                                  seed=self.seed, agents=sorted(self.agents))])

    # -- internals --------------------------------------------------------------------------
    def _context(self) -> Context:
        return Context(
            llm=self.llm,
            embed=self.embed,
            places=self.world.places,
            world_name=self.world.spec.name,
            now=self.clock.now,
            tick=self.clock.tick,
            settings=self.settings,
            tick_delta=timedelta(minutes=self.world.spec.tick_minutes),
            knowledge=self.knowledge,
            skills=self.skills,
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
        """The personas' seed memories, embedded and scored together at the start."""
        self._seeded = True
        ctx = self._context()
        await asyncio.gather(
            *(
                memorize(
                    a,
                    [Experience(MemoryKind.observation, m.text, importance=m.importance,
                                event=m.event) for m in a.persona.memories],
                    ctx,
                )
                for a in self.agents.values()
            )
        )


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


