"""What the live view and the replay share: the layout and choosing a resident.

    header, status bar
    town tree | (a line while the run starts) resident table over the event log | inspector
    footer with the keys

`m` swaps the town tree and the resident table for the town map (`TownMap`) and back; the
selection (j/k) and the inspector work the same in both.

A world with a protocol (a debate, a class, a studio) has its measures so far over the town
tree (`MeasuresPanel`; `v` hides and shows them; in map mode they keep the left column), and
its group conversations named after the protocol's group ("Debate panel (4): ..."). A world
without one looks as it always did: no panel, no `v` key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static, Tree

from agentsim.events import Conversation, Event
from agentsim.tui.event_log import EventLog
from agentsim.tui.groups import group_name
from agentsim.tui.inspector import Inspector
from agentsim.tui.measures_panel import MeasuresPanel
from agentsim.tui.model import Resident
from agentsim.tui.resident_table import ResidentTable
from agentsim.tui.status import StatusBar
from agentsim.tui.town_map import TownMap
from agentsim.tui.town_tree import TownTree
from agentsim.world.places import PlaceGraph


class TownApp(App[None]):
    CSS_PATH = "agentsim.tcss"
    AUTO_FOCUS = None  # the resident table takes focus on mount; dialogs focus their input
    RESIDENT = Binding.Group("Resident", compact=True)  # j k side by side in the footer
    BINDINGS: ClassVar = [
        Binding("j", "select(1)", "Next resident", group=RESIDENT),
        Binding("k", "select(-1)", "Previous resident", group=RESIDENT),
        Binding("m", "toggle_map", "Map"),
        Binding("v", "toggle_measures", "Measures"),
    ]

    def __init__(self, places: PlaceGraph, names: Callable[[str], str], protocol: Any = None):
        """`protocol`: the world's protocol object (its `name`, its `summarise`), or None."""
        super().__init__()
        self.places = places
        self.name_of = names
        self.group = group_name(protocol.name if protocol is not None else None)
        # The widgets, kept at hand: `query_one` would search a dialog when one is open.
        self.status_bar = StatusBar(id="status")
        self.town = TownTree(places, id="town")
        self.measures = MeasuresPanel(protocol, names, id="measures")
        self.table = ResidentTable(places, names, id="residents")
        self.event_log = EventLog(names, places, self.group, id="log")
        self.inspector = Inspector(id="inspector")
        self.map = TownMap(places, id="map")
        self.banner = Static("", id="banner")  # what the run is busy with before it shows

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield self.status_bar
        with Horizontal(id="main"):
            if self.measures.active:
                with Vertical(id="left"):
                    yield self.measures
                    yield self.town
            else:
                yield self.town
            with Vertical(id="middle"):
                yield self.banner
                yield self.table
                yield self.map
                yield self.event_log
            with VerticalScroll(id="inspector-box"):
                yield self.inspector
        # every key in view at 120 columns (with the measures' key, ctrl+p's hint gives way)
        yield Footer(compact=True, show_command_palette=not self.measures.active)

    def on_mount(self) -> None:
        self.table.focus()

    def action_select(self, delta: int) -> None:
        t = self.table
        t.move_cursor(row=max(0, min(t.row_count - 1, t.cursor_row + delta)))

    @property
    def map_mode(self) -> bool:
        return bool(self.screen_stack) and self.screen_stack[0].has_class("map-mode")

    def action_toggle_map(self) -> None:
        """The town map in place of the tree and the table, or back."""
        screen = self.screen_stack[0]
        screen.toggle_class("map-mode")
        if screen.has_class("map-mode"):
            self.map.show(self.map.residents, self.selected())

    def action_toggle_measures(self) -> None:
        """Hide the measures panel, or show it again."""
        self.screen_stack[0].toggle_class("-no-measures")

    @property
    def measures_shown(self) -> bool:
        return (self.measures.active and bool(self.screen_stack)
                and not self.screen_stack[0].has_class("-no-measures"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_measures":
            return self.measures.active  # no key in the footer without a protocol
        return True

    def show_measures(self, events: Iterable[Event]) -> None:
        """Take the measures among `events` into the panel, and redraw it if there were."""
        if self.measures.active and self.measures.feed(events):
            self.measures.redraw()

    def show_residents(self, residents: list[Resident]) -> None:
        """Everyone where they are now, in the tree, the table and the map."""
        self.town.show(residents)
        self.table.show(residents)
        self.map.show(residents, self.selected())

    def show_banner(self, line: str | None) -> None:
        """A line over the table while the run is busy before its first tick, or none."""
        self.banner.display = bool(line)
        if line:
            self.banner.update(line)

    def selected(self) -> str | None:
        """The agent id of the selected resident."""
        return self.table.selected

    def refresh_inspector(self) -> None:
        """Show the selected resident in the inspector."""

    def conversations_so_far(self) -> list[Conversation]:
        """Every conversation up to the moment shown."""
        return []

    def action_conversations(self) -> None:
        from agentsim.tui.dialogs import ConversationsScreen

        aid = self.selected()
        if aid is not None:
            self.push_screen(ConversationsScreen(self.conversations_so_far(), aid, self.name_of,
                                                 self.places, self.group))

    @on(DataTable.RowHighlighted, "#residents")
    def _row_highlighted(self) -> None:
        if self.table.is_attached:
            self.refresh_inspector()
            if self.map.residents:
                self.map.show(self.map.residents, self.selected())

    @on(Tree.NodeSelected, "#town")
    def _tree_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:
            self.table.select(event.node.data)
