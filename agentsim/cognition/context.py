"""What cognition needs from the world around it, passed in (never global)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentsim.errors import UserError, invalid
from agentsim.events import Event
from agentsim.llm.base import LLM
from agentsim.world.places import PlaceGraph

if TYPE_CHECKING:
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import Skill, SkillLibrary

Embed = Callable[[Sequence[str]], Awaitable[np.ndarray]]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Settings(BaseModel):
    """The cognition settings of a run: retrieval, reflection, conversation, planning, skills
    and the paper's ablation switches. Validated when built: a bad value raises a one-line
    `UserError` naming the field (`Settings.decay: ...`). Frozen: change one with
    `settings.replace(decay=0.99)` (validated too), or pass a dict or a Settings to
    `Simulation.load(world, settings=...)`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reflection_threshold: int = Field(150, ge=1)  # importance summed before a reflection
    # reflection sizes, as in the paper (Sec. 4.2): the questions are asked of the most recent
    # memories, and each question's retrieved memories may yield up to this many insights
    reflection_recent: int = Field(100, ge=1)
    reflection_questions: int = Field(3, ge=1)
    reflection_insights: int = Field(5, ge=1)
    # retrieval's (recency, importance, relevance) weights
    weights: tuple[Weight, Weight, Weight] = (1.0, 1.0, 1.0)
    decay: float = Field(0.995, gt=0, le=1)  # recency's decay per sim hour
    max_turns: int = Field(6, ge=1)
    talk_cooldown_minutes: int = Field(120, ge=0)
    attention: int = Field(6, ge=1)  # observations an agent can take in per tick
    # cosine similarity at which a conversation topic finds a fact
    fact_threshold: float = Field(0.5, ge=-1, le=1)
    refine_dialogue: int = Field(0, ge=0)  # drafts a turn of dialogue may go through (0: as asked)
    skills: bool = True  # hand tasks to the skill library, when the world has one
    skill_k: int = Field(5, ge=0)  # skills retrieved for a task
    skill_rounds: int = Field(4, ge=0)  # attempts at writing a new skill (self-refine rounds)
    skill_tasks_per_day: int = Field(12, ge=0)  # tasks an agent does with skills a day
    skill_seconds: float = Field(2.0, gt=0, allow_inf_nan=False)  # sandbox time limit per run
    skill_memory_mb: int = Field(256, ge=32)  # sandbox memory limit
    # run skills a model wrote without the sandbox's operating-system wall, where this machine
    # has none (the Python layers and the system-call filter still apply)
    allow_unsandboxed_skills: bool = False
    refine_rounds: int = Field(3, ge=0)  # plans a day plan may go through (1: critique; 0: none)
    # -- ablations (Park et al. 2023 Sec. 6; `agentsim evaluate`): all on is the full agent --
    observation: bool = True  # off: what the agent perceives is not stored in its memory
    reflection: bool = True  # off: the agent never reflects
    planning: bool = True  # off: no day plan, decomposition or replan (cognition.unplanned)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise invalid(e, "Settings") from None

    @field_validator("weights", mode="before")
    @classmethod
    def _three_weights(cls, value: Any) -> Any:
        """Three finite numbers >= 0, with one message for anything else."""
        ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3
              and all(isinstance(x, int | float) and not isinstance(x, bool)
                      and math.isfinite(x) and x >= 0 for x in value))
        if not ok:
            raise ValueError("3 numbers >= 0 (recency, importance, relevance), e.g. 1:1:3")
        return value

    @classmethod
    def of(cls, value: Settings | Mapping[str, Any]) -> Settings:
        """A Settings from a Settings (as it is) or a mapping of its fields."""
        if isinstance(value, Settings):
            return value
        if not isinstance(value, Mapping):
            raise UserError(f"settings must be a Settings or a dict, not {type(value).__name__}",
                            field="settings")
        return cls(**value)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated (unlike pydantic's `model_copy(update=...)`)."""
        return type(self)(**{**self.model_dump(), **changes})


@dataclass
class Context:
    """One tick's view for one agent: the LLM, the embedder, the places, the time.

    `events` collects what the agent's step produced; the engine publishes them in a fixed
    agent order after all steps finish, so concurrency never reorders the log.

    Work that need not hold up the tick (a plan's critique and refinement) is started with
    `defer(work, apply)`: it runs while the tick goes on (the other steps, the conversations),
    and `settle()`, which the engine calls once the conversations are over, awaits it and
    runs the `apply`s in the order they were deferred, agents in id order. What a result
    changes therefore takes effect at the same point of the tick whatever the timing, and the
    log stays the same run to run (issue 17: a tick waits on fewer model latencies in a row).
    """

    llm: LLM
    embed: Embed
    places: PlaceGraph
    world_name: str
    now: datetime
    tick: int
    settings: Settings
    tick_delta: timedelta = timedelta(minutes=10)
    events: list[Event] = field(default_factory=list)
    knowledge: KnowledgeBase | None = None  # the world's documents, if it has any
    skills: SkillLibrary | None = None  # the skill library, if skills are on
    sandbox_seed: int = 0  # the run's sandbox stream (agentsim.streams): salts a skill's random
    # new skills written this tick, (agent id, skill, rounds): the engine adds them to the
    # library after every step is done, in agent order, so concurrency never changes it
    learned: list[tuple[str, Skill, int]] = field(default_factory=list)
    # uses of known skills this tick, (skill, ok): counted at tick end, so no agent's prompt
    # sees another's use from the same tick
    uses: list[tuple[str, bool]] = field(default_factory=list)

    # (running work, what to do with its result), in the order deferred; see `defer`
    deferred: list[tuple[asyncio.Future[Any], Callable[[Any], Awaitable[None]]]] = field(
        default_factory=list)

    def emit(self, cls: type[Event], **fields: Any) -> None:
        self.events.append(cls(tick=self.tick, time=self.now, **fields))

    def defer(self, work: Awaitable[Any], apply: Callable[[Any], Awaitable[None]]) -> None:
        """Start `work` now; `apply(its result)` runs at `settle()`. `work` must not emit
        events or change the agent (it runs while others do); `apply` may."""
        self.deferred.append((asyncio.ensure_future(work), apply))

    def branch(self) -> Context:
        """A context for one of several concurrent parts of a step: its own events and
        deferred work, merged back in a fixed order with `join` (never by timing)."""
        return replace(self, events=[], deferred=[])

    def join(self, *parts: Context) -> None:
        for part in parts:
            self.events += part.events
            self.deferred += part.deferred

    async def settle(self) -> list[Event]:
        """Await the deferred work and apply each result in the order deferred; returns the
        events the applying emitted. On failure the rest is cancelled."""
        start = len(self.events)
        try:
            while self.deferred:
                work, apply = self.deferred.pop(0)
                await apply(await work)
        except BaseException:
            self.cancel_deferred()
            raise
        return self.events[start:]

    def cancel_deferred(self) -> None:
        """Cancel the work not yet settled (the tick is abandoned)."""
        for work, _ in self.deferred:
            work.cancel()
        self.deferred.clear()
