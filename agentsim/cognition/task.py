"""A task for the skill library: what a plan step or the curriculum wants done."""

from __future__ import annotations

from dataclasses import dataclass

from agentsim.cognition.agent import Action


@dataclass(frozen=True)
class Task:
    """Something to get done: a sentence, where, and the object state it should leave."""

    text: str
    place: str
    object: str | None = None
    state: str | None = None
    minutes: int = 10
    source: str = "plan"  # "plan" | "curriculum"

    @classmethod
    def from_action(cls, a: Action) -> Task:
        minutes = max(1, int((a.end - a.start).total_seconds() // 60))
        return cls(a.activity, a.place, a.object, a.object_state, minutes)
