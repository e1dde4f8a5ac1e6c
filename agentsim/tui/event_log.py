"""The live log: one line (or a few) per event worth watching, stamped with sim time.

Lines are wrapped to the log's width; after a resize the last `REWRAP` entries are wrapped
again to the new width."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import date

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.timer import Timer
from textual.widgets import RichLog

from agentsim.events import (
    Conversation,
    Event,
    Learned,
    Moved,
    PlanMade,
    Read,
    Refined,
    Reflected,
    RunResumed,
    RunStopped,
    SkillLearned,
    SkillUsed,
    Whispered,
    WorldEvent,
)
from agentsim.tui.groups import is_group, speaker, who
from agentsim.tui.model import where
from agentsim.world.places import PlaceGraph

PLAN_ITEMS = 3  # of a day plan, in the log
REWRAP = 800  # entries wrapped again after a resize
REWRAP_DELAY = 0.1  # s: a resize by dragging sends many sizes; wrap once it settles


def _skill_line(e: SkillUsed | SkillLearned, name: Callable[[str], str]) -> list[Text]:
    """A skill use (a failed one is a warning) or a new skill kept."""
    who = name(e.agent)
    if isinstance(e, SkillLearned):
        return [Text.assemble((who, "bold"), " learns a skill: ", (e.skill, "bold"),
                              f" — {e.description}" if e.description else "", style="magenta")]
    if e.ok:
        return [Text.assemble((who, "bold"), " uses ", (e.skill, "bold"),
                              f" to {e.task}" if e.task else "", style="dim")]
    if e.error_kind == "forbidden":  # a forbidden action: said as such, in red
        return [Text.assemble(("⛔ ", "bold"), (who, "bold"), "'s skill ", (e.skill, "bold"),
                              " was stopped by the sandbox for a forbidden action",
                              f": {e.error}" if e.error else "", style="red")]
    return [Text.assemble(("⚠ ", "bold"), (who, "bold"), "'s skill ", (e.skill, "bold"),
                          " failed", f" ({e.task})" if e.task else "",
                          f" [{e.error_kind}]" if e.error_kind else "",
                          f": {e.error}" if e.error else "", style="yellow")]


def _refined_line(e: Refined, name: Callable[[str], str]) -> list[Text]:
    """A plan that took more than one round of self-refinement, and what the critic said."""
    if e.kind not in ("day_plan", "replan") or len(e.attempts) < 2:
        return []  # a skill's rounds show as its skill_used lines
    first = (e.attempts[0].get("feedback") or {}).get("critique", "")
    what = "day plan" if e.kind == "day_plan" else "change of plans"
    return [Text.assemble((name(e.agent), "bold"), f" refines the {what} in "
                          f"{len(e.attempts)} rounds", f": {first}" if first else "",
                          style="dim blue")]


def describe(e: Event, name: Callable[[str], str], places: PlaceGraph,
             group: str = "Group") -> list[Text]:
    """The log lines for an event; [] for the ones not worth a line (hourly plans, ...).
    `group`: what a conversation of more than two is called (`groups.group_name`)."""
    if isinstance(e, SkillUsed | SkillLearned):
        return _skill_line(e, name)
    if isinstance(e, Refined):
        return _refined_line(e, name)
    if isinstance(e, Moved):
        if e.dst != e.destination:
            return []
        return [Text.assemble((name(e.agent), "bold"), " arrives at ", where(places, e.dst),
                              style="cyan")]
    if isinstance(e, Conversation):
        verb = " at " if is_group(e) else " talk at "
        lines = [Text.assemble((who(e, name, group), "bold"), verb, where(places, e.place),
                               style="green")]
        for t in e.turns:
            lines.append(Text.assemble("  ", (speaker(e, t.speaker, name), "bold green"),
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

    def __init__(self, names: Callable[[str], str], places: PlaceGraph, group: str = "Group",
                 **kw):
        super().__init__(wrap=True, markup=False, min_width=20, max_lines=2000, **kw)
        self.name_of = names
        self.places = places
        self.group = group  # what a conversation of more than two is called
        self._day: date | None = None
        self._written: deque[RenderableType] = deque(maxlen=REWRAP)
        self._wrapped_at = 0  # the content width the lines were wrapped to
        self._rewrap_timer: Timer | None = None

    def show(self, events: Iterable[Event]) -> None:
        for e in events:
            lines = describe(e, self.name_of, self.places, self.group)
            if not lines:
                continue
            if e.time.date() != self._day:
                self._day = e.time.date()
                self._add(Text(f"── {e.time:%A %B %d} ──", style="dim"))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=5, style="dim", no_wrap=True)
            grid.add_column(ratio=1)
            for i, line in enumerate(lines):
                grid.add_row(f"{e.time:%H:%M}" if i == 0 else "", line)
            self._add(grid)

    def note(self, text: str, style: str = "bold") -> None:
        """A line that is not an event (an error, a finished run)."""
        self._add(Text(text, style=style))

    def _add(self, renderable: RenderableType) -> None:
        """Write `renderable`, and keep it to wrap again after a resize."""
        self._written.append(renderable)
        if self._size_known:  # wrap to the log's width (the console's may be wider)
            self._wrapped_at = self.scrollable_content_region.width
            self.write(renderable, width=self._wrapped_at)
        else:  # written once the size is known, and wrapped again then
            self._wrapped_at = 0
            self.write(renderable)

    def clear(self) -> EventLog:
        self._written.clear()
        super().clear()
        return self

    def reset(self) -> None:
        self.clear()
        self._day = None

    def on_resize(self, event: events.Resize) -> None:
        # (RichLog's own handler runs too: it writes what came before the size was known.)
        if self._rewrap_timer is not None:
            self._rewrap_timer.stop()
        self._rewrap_timer = self.set_timer(REWRAP_DELAY, self.rewrap)

    def rewrap(self) -> None:
        """Wrap the kept entries again if the width changed since they were wrapped."""
        self._rewrap_timer = None
        width = self.scrollable_content_region.width
        if not self._written or not self._size_known or width == self._wrapped_at:
            return
        at_end = self.is_vertical_scroll_end
        offset = self.max_scroll_y - self.scroll_y  # lines from the end
        kept = list(self._written)
        super().clear()
        for renderable in kept:
            super().write(renderable, width=width, scroll_end=False)
        self._wrapped_at = width
        if at_end:
            self.scroll_end(animate=False, immediate=True)
        else:
            self.scroll_to(y=max(0, self.max_scroll_y - offset), animate=False, immediate=True)
