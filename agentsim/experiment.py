"""The experiment facade: what a user, the CLI, the TUI and sweeps drive a simulation with.

`Simulation` is the core `Engine` (state, `astep`, the bus) plus the edges around it: loading
a world (`Simulation.load`), the one run loop (`arun`: hours, ticks or a predicate, the LLM
budget, stop reasons, the LLM giving up), a run directory with checkpoints, interventions
(`inject`, `whisper`, `read`), interviews, forks, metrics, and a synchronous bridge for
scripts and notebooks (every `a`-prefixed coroutine has a blocking twin).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from agentsim.cognition.interview import Answer, interview
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.read import Reading, read
from agentsim.engine import Engine
from agentsim.errors import LLMUnavailable, UserError
from agentsim.events import EventBus, RunResumed, RunStarted, Whispered, WorldEvent
from agentsim.gc_policy import running
from agentsim.memory.record import MemoryKind, ScoredMemory
from agentsim.options import RunOptions
from agentsim.rundir import RunDir

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.assemble import Parts
    from agentsim.cognition.context import Embed, Settings
    from agentsim.llm.base import LLM
    from agentsim.metrics import Metrics
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import SkillLibrary
    from agentsim.world.loader import WorldDef

Until = Callable[["Simulation"], bool]


class Simulation(Engine):
    """A simulation to experiment with. Build one with `Simulation.load(world, seed=...)`, or
    from a loaded world, an LLM and an embedding function (`Simulation(world, llm, embed)`).
    `embedder` (whose `name` a manifest records) and `options` (the RunOptions it was built
    from) are what `load` passes in; a fork keeps them."""

    def __init__(self, world: WorldDef, llm: LLM, embed: Embed, *, seed: int = 0,
                 settings: Settings | None = None, dim: int = 384,
                 knowledge: KnowledgeBase | None = None, skills: SkillLibrary | None = None,
                 embedder: Any = None, options: RunOptions | None = None,
                 checkpoint_every: int = 6, starting_skills: dict[str, Any] | None = None):
        super().__init__(world, llm, embed, seed=seed, settings=settings, dim=dim,
                         knowledge=knowledge, skills=skills)
        self.embedder = embedder
        self.options = options
        # the learned skills the run started from (source, count, sha256); None: the world's
        # seed skills only. The manifest records it as `skills_from`.
        self.starting_skills = starting_skills
        self.checkpoint_every = checkpoint_every
        self.run_dir: RunDir | None = None
        self.on_close: Callable[[], None] | None = None  # e.g. write the final manifest
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shares = False  # a fork shares its original's LLM client and event loop

    @classmethod
    def of(cls, parts: Parts, opts: RunOptions) -> Simulation:
        """A Simulation of assembled parts (`agentsim.assemble.build`)."""
        return cls(parts.world, parts.llm, parts.embed, seed=opts.seed, settings=parts.settings,
                   dim=parts.dim, knowledge=parts.knowledge, skills=parts.skills,
                   embedder=parts.embedder, options=opts,
                   checkpoint_every=opts.checkpoint_every,
                   starting_skills=parts.skills_from)

    @classmethod
    def load(cls, world: str, *, seed: int = 0, llm: str | LLM | None = None,
             embedder: str = "minilm", out: str | None = None,
             settings: Settings | Mapping[str, Any] | None = None,
             skills_from: str | None = None, **options: Any) -> Simulation:
        """A Simulation of `world`. `llm`: a spec ("offline", "ollama:llama3.1", ...), or any
        object with the LLM protocol (e.g. an `agentsim.llm.client.LLMClient`). `out`: a folder
        for a run directory (events, checkpoints, LLM record); None keeps everything in
        memory. `settings`: an `agentsim.Settings`, or a dict of its fields on top of the
        world's (validated either way). `skills_from`: a run directory or a skill library
        whose learned skills the run starts from (None: the world's seed skills only). Other
        options: the fields of `agentsim.options.RunOptions`."""
        from agentsim.assemble import build, inherit, keep_learned, start_from
        from agentsim.manifest import finish_manifest, first_manifest, manifest
        from agentsim.resources import resolve_world

        opts = RunOptions(world=world, seed=seed, embedder=embedder, out=out,
                          llm=llm if isinstance(llm, str) else None,
                          skills_from=skills_from, **options)
        world_path = resolve_world(world)
        start = start_from(opts) if out else None  # checked before a run directory exists
        run_dir = RunDir.create(out, Path(world).name, seed) if out else None
        if run_dir:
            run_dir.write_manifest(first_manifest(opts, world_path))
            inherit(start, run_dir)
        sim = cls.of(build(opts, run_dir, None, llm=None if isinstance(llm, str) else llm,
                           settings=settings), opts)
        if run_dir:
            run_dir.write_manifest(manifest(sim, opts, sim.embedder.name))
            sim.attach(run_dir)

            def finish() -> None:  # closing writes the final manifest, as a CLI run does
                finish_manifest(sim, run_dir, opts, sim.embedder.name, sim.clock.tick)
                keep_learned(sim.skills, opts, Path(sim.world.path))
            sim.on_close = finish
        return sim

    @classmethod
    def open(cls, path: str, llm: str | None = None, fallback: str | None = None) -> Simulation:
        """A finished or stopped run at its last checkpoint, for interviews and inspection.
        Nothing is written to the run. `fallback`: what answers a call the model could not
        (None: as the run was set up)."""
        from agentsim.assemble import build
        from agentsim.options import INHERITED

        rd = RunDir.open(path)
        saved = rd.read_manifest()["options"]
        opts = RunOptions.from_saved(saved, llm=llm or saved["llm"])
        sim = cls.of(build(opts, None, None, inherited=rd.path / INHERITED, fallback=fallback,
                           vectors_from=rd.embeddings), opts)
        found = rd.latest_checkpoint()
        if found is None:
            raise UserError("the run has no checkpoint yet", path=rd.path)
        sim.set_state(*found)
        return sim

    # -- the run loop -----------------------------------------------------------------------
    async def arun(self, *, hours: float | None = None, ticks: int | None = None,
                   until: Until | None = None,
                   pace: Callable[[], Awaitable[None]] | None = None,
                   after_tick: Callable[[], None] | None = None) -> str | None:
        """Run for some sim hours, some ticks, or until a predicate holds (none of them:
        until stopped). Before each tick `pace()` is awaited (a live view's pause and speed),
        then the LLM's budget is checked: spent, the run stops with its reason. After each
        tick `after_tick()` is called. An LLM that gives up (LLMUnavailable) halts the run
        mid-tick and is raised. Returns why the run stopped early, or None. While it runs,
        the garbage collector leaves what existed before alone (`agentsim.gc_policy`)."""
        with running():
            return await self._loop_ticks(hours, ticks, until, pace, after_tick)

    async def _loop_ticks(self, hours: float | None, ticks: int | None, until: Until | None,
                          pace: Callable[[], Awaitable[None]] | None,
                          after_tick: Callable[[], None] | None) -> str | None:
        if hours is not None:
            ticks = round(hours * 60 / self.world.spec.tick_minutes)
        end = self.clock.tick + ticks if ticks is not None else None
        while (end is None or self.clock.tick < end) and not (until and until(self)):
            if pace is not None:
                await pace()
            reason = self.llm.budget_exceeded()
            if reason:
                await self.forget_ahead()
                self.stop(reason)
                return reason
            try:
                # (another tick follows: the engine may foresee it beside this one's talks)
                await self.astep(ahead=end is None or self.clock.tick + 1 < end)
            except LLMUnavailable as e:
                self.halt(str(e))
                raise
            if after_tick is not None:
                try:
                    after_tick()
                except BaseException:
                    await self.forget_ahead()
                    raise
        await self.forget_ahead()  # (a run stopped by `until` foresaw a tick it will not run)
        if self.run_dir is not None:
            self.checkpoint()
        return None

    def run(self, *, hours: float | None = None, ticks: int | None = None,
            until: Until | None = None) -> str | None:
        return self._sync(self.arun(hours=hours, ticks=ticks, until=until))

    def step(self) -> None:
        self._sync(self.astep())

    # -- a run directory --------------------------------------------------------------------
    def attach(self, run_dir: RunDir, *, resumed: bool = False) -> None:
        """Log events to `run_dir` and checkpoint into it; on resume, restore the newest usable
        checkpoint first (the logs cut back to it)."""
        from agentsim.checkpoints import Checkpointer

        self.run_dir = run_dir
        checkpointer = Checkpointer(self, run_dir, lambda: self.checkpoint_every)
        if resumed:
            found = run_dir.resume_point()
            if found is not None:
                self.set_state(*found)
                self.events = run_dir.read_events()
                self.bus = EventBus()
                self.bus.subscribe(self.events.append)
                self.bus.subscribe(run_dir.append)
                self.bus.subscribe(checkpointer)
                self._watch_measures(run_dir)
                self._publish([RunResumed(tick=self.clock.tick, time=self.clock.now,
                                          from_tick=self.clock.tick)])
                return
        self.bus.subscribe(run_dir.append)
        self.bus.subscribe(checkpointer)
        self._watch_measures(run_dir)
        self._publish([RunStarted(tick=0, time=self.clock.now, world=self.world.spec.name,
                                  seed=self.seed, agents=sorted(self.agents))])

    def _watch_measures(self, run_dir: RunDir) -> None:
        """A world with a protocol keeps its measures in the run directory as it goes
        (measures.csv, measures.json: `agentsim.protocols.measures`)."""
        if self.protocol is not None:
            from agentsim.protocols.measures import MeasuresWriter

            self.bus.subscribe(MeasuresWriter(run_dir.path, self.protocol, self.events))

    def checkpoint(self) -> None:
        """Save the state now (refused, silently, for a half-stepped world)."""
        from agentsim.checkpoints import save_checkpoint

        assert self.run_dir is not None
        save_checkpoint(self, self.run_dir)

    # -- interventions and interviews --------------------------------------------------------
    @contextlib.contextmanager
    def _whole(self) -> Iterator[None]:
        """The residents whole here while an intervention or interview reads or changes them
        (a run over Ray shards keeps their memories on the shards; see agentsim.distributed)."""
        if self.shards is None:
            yield
        else:
            with self.shards.held():
                yield

    async def _awhisper(self, agent: str, text: str, importance: int = 8) -> None:
        a = self.agent(agent)
        await memorize(a, [Experience(MemoryKind.observation, text, importance=importance,
                                      source="whisper")], self._context())
        self._publish([Whispered(tick=self.clock.tick, time=self.clock.now, agent=a.id,
                                 text=text)])

    def whisper(self, agent: str, text: str, importance: int = 8) -> None:
        self._sync(self.awhisper(agent, text, importance))

    async def _ainject(self, text: str, place: str | None = None, importance: int = 7) -> None:
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

    async def _aread(self, agent: str, document: str, query: str | None = None,
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

    async def awhisper(self, agent: str, text: str, importance: int = 8) -> None:
        with self._whole():
            await self._awhisper(agent, text, importance)

    async def ainject(self, text: str, place: str | None = None, importance: int = 7) -> None:
        """Something happens in the world: everyone in `place`'s area (or everyone) notices."""
        with self._whole():
            await self._ainject(text, place, importance)

    async def aread(self, agent: str, document: str, query: str | None = None,
                    k: int = 1) -> Reading:
        """`agent` reads `document` ("knowledge/gazette.md"): the `k` chunks most relevant to
        `query` (by default to what it is doing), each remembered with its citation; a `read`
        event is published. The hook for a reading action outside the tick (e.g. a skill)."""
        with self._whole():
            return await self._aread(agent, document, query, k)

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
        with self._whole():
            return await self._ainterview(agent, question, remember=remember)

    async def _ainterview(self, agent: str | Sequence[str], question: str, *,
                          remember: bool) -> Answer | list[Answer]:
        if not self._seeded:
            await self._seed_memories()
        if isinstance(agent, str) and agent != "all":
            return await interview(self.agent(agent), question, self._context(),
                                   remember=remember)
        who = sorted(self.agents) if agent == "all" else [self.agent(a).id for a in agent]
        ctx = self._context()
        return list(await asyncio.gather(
            *(interview(self.agents[a], question, ctx, remember=remember) for a in who)))

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

    def retrieve(self, agent: str, query: str, k: int = 10) -> list[ScoredMemory]:
        """What `agent` would recall for `query` now, with each score part (no side effects)."""
        with self._whole():
            a = self.agent(agent)
            if len(a.memory) == 0:
                return []
        [vec] = self._sync(self.embed([query]))
        w, decay = self.settings.weights, self.settings.decay
        return a.memory.retrieve(vec, self.clock.now, k=k, weights=w, decay=decay, touch=False)

    # -- measuring and forking --------------------------------------------------------------
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
        twin = Simulation(self.world, self.llm, self.embed, seed=self.seed,
                          settings=self.settings, dim=self._dim, knowledge=self.knowledge,
                          skills=self.skills.fork() if self.skills is not None else None,
                          embedder=self.embedder, options=self.options,
                          checkpoint_every=self.checkpoint_every,
                          starting_skills=self.starting_skills)
        state, arrays = self.get_state()
        twin.set_state(copy.deepcopy(state), {k: v.copy() for k, v in arrays.items()})
        twin.events = list(self.events)
        twin.bus = EventBus()
        twin.bus.subscribe(twin.events.append)
        twin.stopped = self.stopped
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        twin._loop, twin._shares = self._loop, True
        return twin

    # -- closing ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        if not self._shares:  # a fork leaves the shared LLM open
            await self.llm.aclose()
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

    # -- the synchronous bridge -------------------------------------------------------------
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
