"""A finished run's event log as a sequence of moments, to step through without any LLM.

Moment `p` is the town after ticks 0 .. p-1 ran (moment 0: everyone at home, asleep), the same
moment a live view shows when the clock reads tick `p`.
"""

from __future__ import annotations

from datetime import timedelta

from agentsim.events import Event
from agentsim.tui.model import Frame, Tracker
from agentsim.world.loader import WorldDef


class Timeline:
    def __init__(self, events: list[Event], world: WorldDef):
        personas = world.personas
        self.names = {aid: p.name for aid, p in personas.items()}
        self.tick_minutes = world.spec.tick_minutes
        self.events = sorted(events, key=lambda e: e.tick)  # stable: keeps each tick's order
        start, step = world.spec.start, timedelta(minutes=self.tick_minutes)
        tracker = Tracker(self.names, {aid: p.home for aid, p in personas.items()})
        self.frames: list[Frame] = [tracker.frame(0, start)]
        self._ends = [0]  # events[:_ends[p]] happened before moment p
        last = self.events[-1].tick if self.events else -1
        i = 0
        for tick in range(last + 1):
            while i < len(self.events) and self.events[i].tick == tick:
                tracker.feed(self.events[i])
                i += 1
            self.frames.append(tracker.frame(tick + 1, start + (tick + 1) * step))
            self._ends.append(i)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def last(self) -> int:
        return len(self.frames) - 1

    @property
    def ticks_per_hour(self) -> int:
        return max(1, round(60 / self.tick_minutes))

    def clamp(self, position: int) -> int:
        return max(0, min(self.last, position))

    def events_before(self, position: int) -> int:
        """How many events happened before moment `position`."""
        return self._ends[position]

    def events_between(self, a: int, b: int) -> list[Event]:
        """The events that happened from moment a to moment b (a <= b)."""
        return self.events[self._ends[a]:self._ends[b]]
