"""What cognition needs from the world around it, passed in (never global)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from agentsim.events import Event
from agentsim.llm.base import LLM
from agentsim.world.places import PlaceGraph

if TYPE_CHECKING:
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import Skill, SkillLibrary

Embed = Callable[[Sequence[str]], Awaitable[np.ndarray]]


@dataclass(frozen=True)
class Settings:
    reflection_threshold: int = 150
    # reflection sizes, as in the paper (Sec. 4.2): the questions are asked of the most recent
    # memories, and each question's retrieved memories may yield up to this many insights
    reflection_recent: int = 100
    reflection_questions: int = 3
    reflection_insights: int = 5
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    decay: float = 0.995
    max_turns: int = 6
    talk_cooldown_minutes: int = 120
    attention: int = 6  # observations an agent can take in per tick
    knowledge_k: int = 4  # document chunks an interview is given
    fact_threshold: float = 0.5  # cosine similarity at which a conversation topic finds a fact
    refine_dialogue: int = 0  # drafts a turn of dialogue may go through (0: said as asked)
    skills: bool = True  # hand tasks to the skill library, when the world has one
    skill_k: int = 5  # skills retrieved for a task
    skill_rounds: int = 4  # attempts at writing a new skill (self-refine rounds)
    skill_tasks_per_day: int = 12  # tasks an agent does with skills a day
    skill_seconds: float = 2.0  # sandbox time limit for one run of a skill
    skill_memory_mb: int = 256  # sandbox memory limit
    # run skills a model wrote without the sandbox's operating-system wall, where this machine
    # has none (the Python layers and the system-call filter still apply)
    allow_unsandboxed_skills: bool = False
    refine_rounds: int = 3  # plans a day plan may go through (1: critique only; 0: no critic)
    # -- ablations (Park et al. 2023 Sec. 6; `agentsim evaluate`): all on is the full agent --
    observation: bool = True  # off: what the agent perceives is not stored in its memory
    reflection: bool = True  # off: the agent never reflects
    planning: bool = True  # off: no day plan, decomposition or replan (cognition.unplanned)


@dataclass
class Context:
    """One tick's view for one agent: the LLM, the embedder, the places, the time.

    `events` collects what the agent's step produced; the engine publishes them in a fixed
    agent order after all steps finish, so concurrency never reorders the log.
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
    # new skills written this tick, (agent id, skill, rounds): the engine adds them to the
    # library after every step is done, in agent order, so concurrency never changes it
    learned: list[tuple[str, Skill, int]] = field(default_factory=list)
    # uses of known skills this tick, (skill, ok): counted at tick end, so no agent's prompt
    # sees another's use from the same tick
    uses: list[tuple[str, bool]] = field(default_factory=list)

    def emit(self, cls: type[Event], **fields: Any) -> None:
        self.events.append(cls(tick=self.tick, time=self.now, **fields))
