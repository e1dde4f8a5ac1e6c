"""An agent's mutable state: persona, memory stream, plans, current action, whereabouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from agentsim.memory.stream import MemoryStream
from agentsim.world.schema import PersonaSpec


@dataclass
class Action:
    """What an agent is doing from `start` to `end`, optionally changing an object's state."""

    activity: str
    place: str
    start: datetime
    end: datetime
    object: str | None = None
    object_state: str | None = None
    skill: str | None = None  # the skill this action is a step of, if any
    say_to: str | None = None  # an agent id this step means to talk to
    document: str | None = None  # a document this step reads

    def to_dict(self) -> dict[str, Any]:
        d = {
            "activity": self.activity,
            "place": self.place,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "object": self.object,
            "object_state": self.object_state,
        }
        d.update({k: v for k in ("skill", "say_to", "document") if (v := getattr(self, k))})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(
            activity=d["activity"],
            place=d["place"],
            start=datetime.fromisoformat(d["start"]),
            end=datetime.fromisoformat(d["end"]),
            object=d.get("object"),
            object_state=d.get("object_state"),
            skill=d.get("skill"),
            say_to=d.get("say_to"),
            document=d.get("document"),
        )


@dataclass
class Learning:
    """What an agent keeps about skills: today's count of tasks done with skills, the last
    task tried (not tried again at once), and, for learning goals, the curriculum's progress."""

    day: str = ""  # the date the counts are for
    tasks: int = 0  # tasks done with skills today
    lessons: int = 0  # curriculum proposals today
    last_lesson: str = ""  # ISO time of the last proposal
    tried: str = ""  # key of the last plan step handed to the skill library
    progress: list[dict[str, Any]] = field(default_factory=list)  # {task, ok, skill, time}
    # tasks failed with nothing changed since, by key (`skill_use.unchanged_key`): ISO time
    failed: dict[str, str] = field(default_factory=dict)

    def today(self, day: str) -> None:
        if self.day != day:
            self.day, self.tasks, self.lessons = day, 0, 0

    def to_dict(self) -> dict[str, Any]:
        out = {"day": self.day, "tasks": self.tasks, "lessons": self.lessons,
               "last_lesson": self.last_lesson, "tried": self.tried,
               "progress": list(self.progress)}
        return out | ({"failed": dict(self.failed)} if self.failed else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Learning:
        d = d or {}
        return cls(d.get("day", ""), d.get("tasks", 0), d.get("lessons", 0),
                   d.get("last_lesson", ""), d.get("tried", ""), list(d.get("progress", [])),
                   dict(d.get("failed", {})))


@dataclass
class Agent:
    id: str
    persona: PersonaSpec
    memory: MemoryStream
    location: str
    awake: bool = False
    plan_date: date | None = None
    day_plan: list[Action] = field(default_factory=list)  # broad strokes for today
    hour_plan: list[Action] = field(default_factory=list)  # chunks of the current day item
    steps: list[Action] = field(default_factory=list)  # 5-15 minute actions of the current chunk
    action: Action | None = None
    route: list[tuple[str, float]] = field(default_factory=list)  # (place, minutes from start)
    route_started: datetime | None = None
    last_seen: set[str] = field(default_factory=set)  # what was perceived last tick
    last_talk: dict[str, datetime] = field(default_factory=dict)
    in_conversation_with: str | None = None
    yesterday: str = ""
    # the summary description (Park et al. 2023 Sec. 4.3), rebuilt from retrieved memories
    # once a sim day by `cognition.summary`, and the date it was rebuilt on
    summary: str = ""
    summary_date: date | None = None
    learning: Learning = field(default_factory=Learning)
    # ids of the lists (a plan's places) its `refined` traces have stored once; later traces
    # reference them (`cognition.refine.by_reference`)
    lists_kept: set[str] = field(default_factory=set)
    # (query, when, results) of the agent's latest recall: shown by the TUI, not checkpointed
    last_retrieval: tuple[str, datetime, list[Any]] | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.persona.name

    @property
    def destination(self) -> str | None:
        return self.route[-1][0] if self.route else None

    def persona_vars(self, world_name: str, *, summary: bool = True) -> dict[str, Any]:
        """The persona as prompt variables: the seed description, and (when it has one and
        `summary`) today's summary description, which `prompts/_persona.j2` shows after it.
        Before the first summary the key is absent, so prompts render as they always did."""
        p = self.persona
        out = {
            "id": self.id,
            "name": p.name,
            "age": p.age,
            "innate": list(p.innate),
            "background": p.background,
            "lifestyle": p.lifestyle,
            "occupation": p.occupation,
            "world": world_name,
        }
        if summary and self.summary:
            out["summary"] = self.summary
        return out

    # -- state -----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        mem_state, mem_arrays = self.memory.get_state()
        plan = [a.to_dict() for a in self.day_plan]
        state = {
            "id": self.id,
            "location": self.location,
            "awake": self.awake,
            "plan_date": self.plan_date.isoformat() if self.plan_date else None,
            "day_plan": plan,
            "hour_plan": [a.to_dict() for a in self.hour_plan],
            "steps": [a.to_dict() for a in self.steps],
            "action": self.action.to_dict() if self.action else None,
            "route": [[p, m] for p, m in self.route],
            "route_started": self.route_started.isoformat() if self.route_started else None,
            "last_seen": sorted(self.last_seen),
            "last_talk": {k: v.isoformat() for k, v in sorted(self.last_talk.items())},
            "yesterday": self.yesterday,
            "summary": self.summary,
            "summary_date": self.summary_date.isoformat() if self.summary_date else None,
            "learning": self.learning.to_dict(),
            "lists_kept": sorted(self.lists_kept),
            "memory": mem_state,
        }
        return state, mem_arrays

    @classmethod
    def from_state(
        cls, persona: PersonaSpec, state: dict[str, Any], arrays: dict[str, Any]
    ) -> Agent:
        return cls(
            id=state["id"],
            persona=persona,
            memory=MemoryStream.from_state(state["memory"], arrays),
            location=state["location"],
            awake=state["awake"],
            plan_date=date.fromisoformat(state["plan_date"]) if state["plan_date"] else None,
            day_plan=[Action.from_dict(a) for a in state["day_plan"]],
            hour_plan=[Action.from_dict(a) for a in state["hour_plan"]],
            steps=[Action.from_dict(a) for a in state["steps"]],
            action=Action.from_dict(state["action"]) if state["action"] else None,
            route=[(p, float(m)) for p, m in state["route"]],
            route_started=(
                datetime.fromisoformat(state["route_started"]) if state["route_started"] else None
            ),
            last_seen=set(state["last_seen"]),
            last_talk={k: datetime.fromisoformat(v) for k, v in state["last_talk"].items()},
            yesterday=state["yesterday"],
            summary=state.get("summary", ""),  # checkpoints from before summaries have none
            summary_date=(date.fromisoformat(state["summary_date"])
                          if state.get("summary_date") else None),
            learning=Learning.from_dict(state.get("learning")),
            lists_kept=set(state.get("lists_kept", [])),
        )

