"""Sim time: a start, a tick length and a tick counter. No wall clock anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class SimClock:
    start: datetime
    tick_minutes: int
    tick: int = 0

    @property
    def tick_delta(self) -> timedelta:
        return timedelta(minutes=self.tick_minutes)

    @property
    def now(self) -> datetime:
        return self.at(self.tick)

    def at(self, tick: int) -> datetime:
        return self.start + tick * self.tick_delta

    def advance(self) -> datetime:
        self.tick += 1
        return self.now

    def get_state(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "tick_minutes": self.tick_minutes,
                "tick": self.tick}

    def set_state(self, state: dict[str, Any]) -> None:
        self.start = datetime.fromisoformat(state["start"])
        self.tick_minutes = state["tick_minutes"]
        self.tick = state["tick"]
