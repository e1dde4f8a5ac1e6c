"""What the live view and the replay share: the layout and choosing a resident.

    header, status bar
    town tree | resident table over the event log | inspector
    footer with the keys
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Tree

from agentsim.events import Conversation
from agentsim.tui.event_log import EventLog
from agentsim.tui.inspector import Inspector
from agentsim.tui.resident_table import ResidentTable
from agentsim.tui.status import StatusBar
from agentsim.tui.town_tree import TownTree
from agentsim.world.places import PlaceGraph


class TownApp(App[None]):
    CSS_PATH = "agentsim.tcss"
    AUTO_FOCUS = None  # the resident table takes focus on mount; dialogs focus their input
    BINDINGS: ClassVar = [
        Binding("j", "select(1)", "Next resident", show=False),
        Binding("k", "select(-1)", "Previous resident", show=False),
    ]

    def __init__(self, places: PlaceGraph, names: Callable[[str], str]):
        super().__init__()
        self.places = places
        self.name_of = names
        # The widgets, kept at hand: `query_one` would search a dialog when one is open.
        self.status_bar = StatusBar(id="status")
        self.town = TownTree(places, id="town")
        self.table = ResidentTable(places, names, id="residents")
        self.event_log = EventLog(names, places, id="log")
        self.inspector = Inspector(id="inspector")

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield self.status_bar
        with Horizontal(id="main"):
            yield self.town
            with Vertical(id="middle"):
                yield self.table
                yield self.event_log
            with VerticalScroll(id="inspector-box"):
                yield self.inspector
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()

    def action_select(self, delta: int) -> None:
        t = self.table
        t.move_cursor(row=max(0, min(t.row_count - 1, t.cursor_row + delta)))

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
                                                 self.places))

    @on(DataTable.RowHighlighted, "#residents")
    def _row_highlighted(self) -> None:
        if self.table.is_attached:
            self.refresh_inspector()

    @on(Tree.NodeSelected, "#town")
    def _tree_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:
            self.table.select(event.node.data)
