"""Step through a finished run, from its event log alone (no LLM, no checkpoint needed).

The same town tree, resident table and log as the live view, at any moment of the run:
left/right move one tick, shift+left/right one hour, home/end to the start and the end.
A world with a protocol shows its measures as they stood at that moment.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding

from agentsim.events import Conversation, Event
from agentsim.protocols.base import load
from agentsim.tui.event_log import describe
from agentsim.tui.inspector import resident_card
from agentsim.tui.layout import TownApp
from agentsim.tui.model import Frame
from agentsim.tui.status import SEP, clock_text
from agentsim.tui.timeline import Timeline
from agentsim.world.loader import WorldDef

REWIND_LINES = 300  # events redrawn in the log after moving back


class ReplayApp(TownApp):
    BINDINGS: ClassVar = [  # priority: the table and the tree use these keys themselves
        Binding("left", "move(-1)", "Tick back", priority=True, key_display="←"),
        Binding("right", "move(1)", "Tick on", priority=True, key_display="→"),
        Binding("shift+left", "move_hours(-1)", "Hour back", priority=True,
                key_display="⇧←"),
        Binding("shift+right", "move_hours(1)", "Hour on", priority=True, key_display="⇧→"),
        Binding("home", "go(0)", "Start", priority=True),
        Binding("end", "go(-1)", "End", priority=True),
        Binding("c", "conversations", "Talks"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, events: list[Event], world: WorldDef, *, position: int = 0):
        timeline = Timeline(events, world)
        super().__init__(world.places, lambda aid: timeline.names.get(aid, aid), load(world))
        self.timeline = timeline
        self.world = world
        self.position = self.timeline.clamp(position)
        self._logged = [i for i, e in enumerate(self.timeline.events)
                        if describe(e, self.name_of, world.places, self.group)]
        self.title = f"agentsim replay · {world.spec.name}"

    @property
    def frame(self) -> Frame:
        return self.timeline.frames[self.position]

    def on_mount(self) -> None:
        super().on_mount()
        self._redraw_log()
        self.refresh_views()

    # -- moving in time ---------------------------------------------------------------------
    def go_to(self, position: int) -> None:
        old, new = self.position, self.timeline.clamp(position)
        if new == old:
            return
        self.position = new
        if new > old:
            self.event_log.show(self.timeline.events_between(old, new))
        else:
            self._redraw_log()
        self.refresh_views()

    def action_move(self, delta: int) -> None:
        self.go_to(self.position + delta)

    def action_move_hours(self, hours: int) -> None:
        self.go_to(self.position + hours * self.timeline.ticks_per_hour)

    def action_go(self, position: int) -> None:
        self.go_to(self.timeline.last if position < 0 else position)

    def conversations_so_far(self) -> list[Conversation]:
        end = self.timeline.events_before(self.position)
        return [e for e in self.timeline.events[:end] if isinstance(e, Conversation)]

    # -- drawing ----------------------------------------------------------------------------
    def _redraw_log(self) -> None:
        """The log up to now: its last REWIND_LINES events worth a line."""
        end = self.timeline.events_before(self.position)
        n = bisect_left(self._logged, end)
        start = self._logged[n - REWIND_LINES] if n > REWIND_LINES else 0
        self.event_log.reset()
        self.event_log.show(self.timeline.events[start:end])

    def refresh_views(self) -> None:
        frame = self.frame
        self.show_residents(list(frame.residents.values()))
        status = clock_text(frame.time, frame.tick, self.timeline.last)
        status.append(*SEP)
        status.append("replay", style="bold magenta")
        status.append(*SEP)
        status.append(Text("←/→ one tick · shift+←/→ one hour · home/end", style="dim"))
        self.status_bar.update(status)
        self.refresh_inspector()
        if self.measures.active:  # the measures up to now, counted again (a few hundred rows)
            self.measures.reset()
            self.measures.feed(self.timeline.events[:self.timeline.events_before(self.position)])
            self.measures.redraw()

    def refresh_inspector(self) -> None:
        aid = self.selected()
        if aid is None:
            return
        frame = self.frame
        self.inspector.show(aid, resident_card(
            frame.residents[aid], self.world.places, frame.conversations.get(aid), self.name_of,
            frame.skills.get(aid, ())))
