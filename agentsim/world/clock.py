"""Sim time: a start, a tick length and a tick counter. No wall clock anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class SimClock:
    """Tick `n` is at `start + n * tick_minutes`. Only `advance` and `set_state` change it."""

    start: datetime
    tick_minutes: int
    tick: int = 0

    def __post_init__(self) -> None:
        if self.tick_minutes < 1:
            raise ValueError(f"tick_minutes must be at least 1, not {self.tick_minutes}")
        if self.tick < 0:
            raise ValueError(f"tick must not be negative, not {self.tick}")

    @property
    def tick_delta(self) -> timedelta:
        return timedelta(minutes=self.tick_minutes)

    @property
    def now(self) -> datetime:
        return self.at(self.tick)

    def at(self, tick: int) -> datetime:
        """The sim time of any tick (past or future); does not move the clock."""
        return self.start + tick * self.tick_delta

    def advance(self) -> datetime:
        """Move on one tick and return the new time."""
        self.tick += 1
        return self.now

    def get_state(self) -> dict[str, Any]:
        """A plain, JSON-ready dict for checkpoints."""
        return {"start": self.start.isoformat(), "tick_minutes": self.tick_minutes,
                "tick": self.tick}

    def set_state(self, state: dict[str, Any]) -> None:
        self.start = datetime.fromisoformat(state["start"])
        self.tick_minutes = int(state["tick_minutes"])
        self.tick = int(state["tick"])
