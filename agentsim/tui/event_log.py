"""The live log: one line (or a few) per event worth watching, stamped with sim time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from rich.table import Table
from rich.text import Text
from textual.widgets import RichLog

from agentsim.events import (
    Conversation,
    Event,
    Learned,
    Moved,
    PlanMade,
    Read,
    Reflected,
    RunResumed,
    RunStopped,
    Whispered,
    WorldEvent,
)
from agentsim.tui.model import where
from agentsim.world.places import PlaceGraph

PLAN_ITEMS = 3  # of a day plan, in the log


def describe(e: Event, name: Callable[[str], str], places: PlaceGraph) -> list[Text]:
    """The log lines for an event; [] for the ones not worth a line (hourly plans, ...)."""
    if isinstance(e, Moved):
        if e.dst != e.destination:
            return []
        return [Text.assemble((name(e.agent), "bold"), " arrives at ", where(places, e.dst),
                              style="cyan")]
    if isinstance(e, Conversation):
        who = " and ".join(name(p) for p in e.participants)
        lines = [Text.assemble((who, "bold"), " talk at ", where(places, e.place),
                               style="green")]
        for t in e.turns:
            lines.append(Text.assemble("  ", (name(t.speaker).split()[0], "bold green"),
                                       ": ", t.text,
                                       (f"  [{t.cites}]" if t.cites else "", "italic cyan")))
        return lines
    if isinstance(e, Read):
        return [Text.assemble((name(e.agent), "bold"), " reads ", (e.title, "italic"),
                              (f"  [{', '.join(e.chunks)}]", "dim"))]
    if isinstance(e, Reflected):
        return [Text.assemble((name(e.agent), "bold"), " reflects: ", (e.insight, "italic"),
                              style="magenta")]
    if isinstance(e, PlanMade) and e.level in ("day", "revised"):
        items = [i.split(" @ ")[0] for i in e.items]
        more = " …" if len(items) > PLAN_ITEMS else ""
        verb = " plans the day: " if e.level == "day" else " changes plans: "
        return [Text.assemble((name(e.agent), "bold"), verb,
                              "; ".join(items[:PLAN_ITEMS]) + more, style="blue")]
    if isinstance(e, Learned):
        return [Text.assemble((name(e.agent), "bold"), " hears of the ", (e.title, "bold"),
                              " from ", name(e.source), style="yellow")]
    if isinstance(e, Whispered):
        return [Text.assemble("whispered to ", (name(e.agent), "bold"), ": ", e.text,
                              style="bright_green")]
    if isinstance(e, WorldEvent):
        at = f" at {where(places, e.place)}" if e.place else ""
        return [Text.assemble((f"world event{at}", "bold"), ": ", e.text, style="red")]
    if isinstance(e, RunStopped):
        return [Text(f"run stopped: {e.reason}", style="bold red")]
    if isinstance(e, RunResumed):
        return [Text(f"resumed from the checkpoint at tick {e.from_tick}", style="dim")]
    return []


class EventLog(RichLog):
    """A RichLog of described events, with a line for each new day."""

    def __init__(self, names: Callable[[str], str], places: PlaceGraph, **kw):
        super().__init__(wrap=True, markup=False, min_width=20, max_lines=2000, **kw)
        self.name_of = names
        self.places = places
        self._day: date | None = None

    def show(self, events: Iterable[Event]) -> None:
        for e in events:
            lines = describe(e, self.name_of, self.places)
            if not lines:
                continue
            if e.time.date() != self._day:
                self._day = e.time.date()
                self.write(Text(f"── {e.time:%A %B %d} ──", style="dim"))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=5, style="dim", no_wrap=True)
            grid.add_column(ratio=1)
            for i, line in enumerate(lines):
                grid.add_row(f"{e.time:%H:%M}" if i == 0 else "", line)
            self.write(grid)

    def note(self, text: str, style: str = "bold") -> None:
        """A line that is not an event (an error, a finished run)."""
        self.write(Text(text, style=style))

    def reset(self) -> None:
        self.clear()
        self._day = None
