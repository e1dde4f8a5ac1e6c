"""The town as a tree: its areas, each with the residents in it (a leaf's data: the agent id)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from agentsim.tui.model import Resident, title
from agentsim.world.places import PlaceGraph


class TownTree(Tree[str]):
    def __init__(self, places: PlaceGraph, **kw):
        super().__init__(title(places.name(places.root)), **kw)
        self.places = places
        self.guide_depth = 2
        self.root.expand()
        self._areas: dict[str, TreeNode[str]] = {
            area: self.root.add(title(places.name(area)), expand=True) for area in places.areas()
        }
        self._shown: dict[str, tuple] = {}

    def show(self, residents: Iterable[Resident]) -> None:
        """Put everyone in their area; only areas whose people changed are redrawn."""
        by_area: dict[str, list[Resident]] = {a: [] for a in self._areas}
        for r in sorted(residents, key=lambda r: r.name):
            if r.place in self.places:
                by_area.setdefault(self.places.area_of(r.place), []).append(r)
        for area, people in by_area.items():
            node = self._areas.get(area)
            key = tuple((r.id, r.doing == "sleeping", bool(r.talking_with)) for r in people)
            if node is None or self._shown.get(area) == key:
                continue
            self._shown[area] = key
            name = title(self.places.name(area))
            node.set_label(Text.assemble((f"{len(people)} ", "bold yellow"), name) if people
                           else Text(f"· {name}", style="dim"))
            node.allow_expand = bool(people)
            node.remove_children()
            for r in people:
                node.add_leaf(self._label(r), data=r.id)

    @staticmethod
    def _label(r: Resident) -> Text:
        """The name: green while talking, dim while asleep (the room is in the table)."""
        if r.talking_with:
            return Text.assemble((r.name, "bold green"), (" ⇄", "green"))
        return Text(r.name, style="dim" if r.doing == "sleeping" else "")
