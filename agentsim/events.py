"""Typed events: everything that happens in a simulation, one record each.

Events are what `events.jsonl` holds (one a line), what the TUI and the metrics subscribe to,
and what a replay reads. They carry sim time only, never wall-clock time, so the same seed and
the same LLM answers give byte-identical logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`, one encoder for every event
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tick: int
    time: datetime

    def to_json(self) -> str:
        return _dumps(self.model_dump(mode="json"))


class RunStarted(Event):
    type: Literal["run_started"] = "run_started"
    world: str
    seed: int
    agents: list[str]


class RunResumed(Event):
    type: Literal["run_resumed"] = "run_resumed"
    from_tick: int


class WokeUp(Event):
    type: Literal["woke_up"] = "woke_up"
    agent: str


class FellAsleep(Event):
    type: Literal["fell_asleep"] = "fell_asleep"
    agent: str


class PlanMade(Event):
    type: Literal["plan_made"] = "plan_made"
    agent: str
    level: Literal["day", "hour", "minutes", "revised"]
    items: list[str]  # "HH:MM activity @ place"


class ActionStarted(Event):
    type: Literal["action_started"] = "action_started"
    agent: str
    activity: str
    place: str
    until: datetime


class Moved(Event):
    type: Literal["moved"] = "moved"
    agent: str
    src: str
    dst: str
    destination: str  # where the agent is heading


class ObjectChanged(Event):
    type: Literal["object_changed"] = "object_changed"
    object: str
    place: str
    old: str
    new: str
    agent: str | None = None


class Utterance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    speaker: str
    text: str
    shares_memory: int | None = None
    cites: str | None = None  # a document passage it passed a fact from, "knowledge/x.md#3"


class Conversation(Event):
    type: Literal["conversation"] = "conversation"
    participants: list[str]
    place: str
    turns: list[Utterance]


class Reflected(Event):
    type: Literal["reflected"] = "reflected"
    agent: str
    question: str
    insight: str
    evidence: list[int]


class Learned(Event):
    """An agent came to know of a scheduled event. agentsim no longer writes it (what an agent
    knows comes from what it heard or read: see `agentsim.metrics`); kept so that the logs of
    older runs still parse."""

    type: Literal["learned"] = "learned"
    agent: str
    title: str
    source: str


class Read(Event):
    """An agent read part of a document and remembered it with its citation."""

    type: Literal["read"] = "read"
    agent: str
    document: str  # "knowledge/hobbs_cafe_menu.md"
    title: str
    chunks: list[str]  # cited chunk ids, "knowledge/hobbs_cafe_menu.md#4"
    memory: int | None = None  # id of the `reading` memory it left


class Refined(Event):
    """One self-refine loop: what was asked, every attempt with its feedback, why it stopped.

    `request` holds the generating template's id and variables, so the pair (request, final)
    can be rendered again as a fine-tuning example (`agentsim export RUN --refinements`)."""

    type: Literal["refined"] = "refined"
    agent: str
    kind: str  # "day_plan", "skill", ...
    request: dict[str, Any]  # {"template": id, "variables": {...}}
    attempts: list[dict[str, Any]]  # [{"output": ..., "feedback": {score, satisfied, ...}}]
    stopped: str  # "satisfied" | "max_rounds" | "unchanged" (`cognition.refine`)
    final: Any


class SkillUsed(Event):
    """An agent ran a skill for a task: whether it worked, and if not, why (the sandbox's
    error or the self-verification's critique)."""

    type: Literal["skill_used"] = "skill_used"
    agent: str
    skill: str
    task: str
    ok: bool
    args: dict[str, Any] = Field(default_factory=dict)
    steps: int = 0  # primitive steps it produced
    new: bool = False  # written for this task (not retrieved)
    error: str | None = None
    error_kind: str | None = None  # forbidden | timeout | memory | action | exception | ...


class SkillSkipped(Event):
    """An agent's task was done without a skill, with no skill chosen, run or written: the
    same agent failed the same task before with nothing changed since (the task, what the
    skill would see around it, the library), so trying again would fail again
    (`agentsim.cognition.skill_use`)."""

    type: Literal["skill_skipped"] = "skill_skipped"
    agent: str
    task: str
    reason: str
    failed_at: str  # the ISO time of the failed attempt it repeats


class SkillLearned(Event):
    """A new skill was verified and joined the library."""

    type: Literal["skill_learned"] = "skill_learned"
    agent: str
    skill: str
    description: str
    rounds: int  # attempts it took (self-refine rounds)


class Whispered(Event):
    type: Literal["whispered"] = "whispered"
    agent: str
    text: str


class WorldEvent(Event):
    type: Literal["world_event"] = "world_event"
    place: str | None
    text: str


class GameMasterDecided(Event):
    """The game master decided what an action caused (no rule of the world could): its
    narration, and the object change it asked for, `applied` when the world allowed it (an
    `object_changed` event follows)."""

    type: Literal["game_master_decided"] = "game_master_decided"
    agent: str
    activity: str
    place: str
    outcome: str
    object: str | None = None
    state: str | None = None
    applied: bool = False
    why_not: str | None = None  # why a change asked for was not applied


class Measured(Event):
    """A protocol's measure of what the agents did (a debater's answer and whether the judge
    found it right, ...): `values` is one row of the run's measures table (`measures.csv`)."""

    type: Literal["measured"] = "measured"
    protocol: str
    values: dict[str, Any]


class TickEnded(Event):
    type: Literal["tick_ended"] = "tick_ended"
    awake: int
    conversations: int


class RunStopped(Event):
    type: Literal["run_stopped"] = "run_stopped"
    reason: str


AnyEvent = Annotated[
    RunStarted
    | RunResumed
    | WokeUp
    | FellAsleep
    | PlanMade
    | ActionStarted
    | Moved
    | ObjectChanged
    | Conversation
    | Reflected
    | Learned
    | Read
    | Refined
    | SkillUsed
    | SkillSkipped
    | SkillLearned
    | Whispered
    | WorldEvent
    | Measured
    | GameMasterDecided
    | TickEnded
    | RunStopped,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(line: str) -> Event:
    return _ADAPTER.validate_json(line)


Subscriber = Callable[[Event], None]


class EventBus:
    """Publishes events to subscribers in order. Subscribers must not raise."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    def publish(self, event: Event) -> None:
        for fn in list(self._subscribers):
            fn(event)
