"""The town as a tree: its areas, each with the residents in it (a leaf's data: the agent id)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from agentsim.tui.model import Resident, title
from agentsim.world.places import PlaceGraph

LABEL = 28  # cells for an area's name: the width the layout gives the tree, less its guides


def fit_name(name: str, width: int = LABEL) -> str:
    """`name` whole if it fits, else its first words, '…', and its last word, which often says
    what the place is ('The Willows Market…Pharmacy'), rather than a name cut mid-word."""
    if len(name) <= width:
        return name
    words = name.split()
    last = words[-1]
    head = ""
    for w in words[:-1]:
        if len(head) + len(w) + 1 + 1 + len(last) > width:
            break
        head = f"{head} {w}" if head else w
    if not head:
        return name[: width - 1] + "…"
    return f"{head}…{last}"


class TownTree(Tree[str]):
    """The areas (the town's own name is the header's), each with a count and its people."""

    def __init__(self, places: PlaceGraph, **kw):
        super().__init__(title(places.name(places.root)), **kw)
        self.places = places
        self.show_root = False
        self.guide_depth = 2
        self.root.expand()
        self._areas: dict[str, TreeNode[str]] = {
            area: self.root.add(fit_name(title(places.name(area))), expand=True)
            for area in places.areas()
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
            name = fit_name(title(self.places.name(area)), LABEL - len(str(len(people))) + 1)
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
