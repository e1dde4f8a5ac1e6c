"""The town as a map: one box per area, laid out on a grid, each listing who is there and in
which of its rooms. Works for any world: the areas come from its place graph, in the order
of their map positions when the world gives them (top to bottom, left to right, so the grid
keeps the town's rough geography) and in the world's own order otherwise. No tiles.

Inside a box, each occupied room is one entry, 'counter: Isabella Klaus' (a room named for
its owner, "Isabella Rodriguez's apartment", shows as 'apartment'); when that does not fit
the box, the names without their rooms, then initials with and without rooms ('IR GR CG'),
and what still does not fit ends in '+N more'. The selected resident is drawn reversed,
talkers green, sleepers dim.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.containers import Grid
from textual.widget import Widget

from agentsim.tui.model import Resident, title
from agentsim.world.places import PlaceGraph

BOX_WIDTH = 20  # the narrowest box worth drawing (with its border)


def map_order(places: PlaceGraph) -> list[str]:
    """The areas in reading order of their map positions (world order if any lacks one)."""
    areas = places.areas()
    spots = [places.position(a) for a in areas]
    if any(s is None for s in spots):
        return areas
    return [a for _, a in sorted(zip(spots, areas, strict=True),
                                 key=lambda t: (t[0][1], t[0][0]))]  # type: ignore[index]


def columns_for(n: int, width: int) -> int:
    """How many boxes a row holds: about square, never narrower than BOX_WIDTH."""
    return max(1, min(n, math.ceil(math.sqrt(n)), width // BOX_WIDTH))


def room_label(places: PlaceGraph, place: str, area: str) -> str:
    """'counter'; 'apartment' for "Isabella Rodriguez's apartment"; '' for the area itself."""
    if place == area or place not in places:
        return ""
    name = places.name(place)
    return name.rsplit("'s ", 1)[-1] if "'s " in name else name


def initials(r: Resident) -> str:
    return "".join(part[0] for part in r.name.split() if part[:1].isalpha()).upper()


def first_name(r: Resident) -> str:
    return r.name.split()[0]


def box_lines(area_name: str, groups: list[tuple[str, list[Resident]]], width: int,
              height: int, selected: str | None) -> list[Text]:
    """An area's box content, at most `height` lines of at most `width` cells."""
    width = max(4, width)
    head = [Text(line, style="bold underline") for line in
            textwrap.wrap(area_name, width, max_lines=2, placeholder="…")] or [Text("")]
    if not groups:
        return [*head, Text("·", style="dim")][:max(1, height)]
    room = height - len(head)
    everyone = [("", [r for _, people in groups for r in people])]
    for short, grouped in ((first_name, groups), (first_name, everyone),
                           (initials, groups), (initials, everyone)):
        body = _entries(grouped, width, short, selected)
        if len(body) <= room:
            return head + [line for line, _ in body]
    shown = body[:max(0, room - 1)]
    hidden = sum(len(g) for _, g in groups) - sum(n for _, n in shown)
    return head + [line for line, _ in shown] + [Text(f"+{hidden} more", style="dim")]


def _entries(groups: list[tuple[str, list[Resident]]], width: int,
             short: Callable[[Resident], str], selected: str | None
             ) -> list[tuple[Text, int]]:
    """One entry per room, wrapped to `width`, each name styled by what they are doing; with
    each line, how many names it holds."""
    out: list[tuple[Text, int]] = []
    for label, people in groups:
        line, names = Text(), 0
        if label:
            line.append(f"{label}: ", style="dim")
        for r in people:
            word = short(r)[:width - 1]
            if names and line.cell_len + len(word) + 1 > width:
                out.append((line, names))
                line, names = Text(" "), 0
            elif names:
                line.append(" ")
            elif line.cell_len + len(word) > width:  # the label leaves no room: a line of its own
                out.append((line, 0))
                line = Text(" ")
            style = ("reverse bold" if r.id == selected else "bold green" if r.talking_with
                     else "dim italic" if r.doing == "sleeping" else "bold")
            line.append(word, style=style)
            names += 1
        out.append((line, names))
    return out


class AreaBox(Widget):
    """One area on the map; its content is drawn for the size it gets."""

    DEFAULT_CSS = """
    AreaBox {
        border: round $primary-darken-2;
        height: 1fr;
        padding: 0 0;
    }
    AreaBox.-occupied {
        border: round $accent;
    }
    """

    def __init__(self, area: str, name: str, **kw):
        super().__init__(**kw)
        self.area, self.area_name = area, name
        self.groups: list[tuple[str, list[Resident]]] = []
        self.selected: str | None = None

    def show(self, groups: list[tuple[str, list[Resident]]], selected: str | None) -> None:
        self.groups, self.selected = groups, selected
        self.set_class(bool(groups), "-occupied")
        self.refresh()

    def render(self) -> Text:
        lines = box_lines(self.area_name, self.groups, self.size.width, self.size.height,
                          self.selected)
        return Text("\n").join(lines)


class TownMap(Grid):
    """Every area of `places` as a box, on a grid whose column count follows the width."""

    DEFAULT_CSS = """
    TownMap {
        grid-gutter: 0 0;
        height: 1fr;
    }
    """

    def __init__(self, places: PlaceGraph, **kw):
        super().__init__(**kw)
        self.places = places
        self.boxes = {a: AreaBox(a, title(places.name(a))) for a in map_order(places)}
        self.residents: list[Resident] = []
        self.selected: str | None = None

    def compose(self):
        yield from self.boxes.values()

    def on_resize(self) -> None:
        self.styles.grid_size_columns = columns_for(len(self.boxes), self.size.width)

    def show(self, residents: Iterable[Resident], selected: str | None = None) -> None:
        """Put everyone in their area's box, grouped by room (rooms in the world's order)."""
        self.residents, self.selected = list(residents), selected
        order = {p: i for i, p in enumerate(self.places.ids())}
        by_area: dict[str, dict[str, list[Resident]]] = {a: {} for a in self.boxes}
        for r in sorted(self.residents, key=lambda r: (order.get(r.place, -1), r.name)):
            if r.place not in self.places:
                continue
            area = self.places.area_of(r.place)
            label = room_label(self.places, r.place, area)
            by_area.setdefault(area, {}).setdefault(label, []).append(r)
        for area, box in self.boxes.items():
            box.show(list(by_area.get(area, {}).items()), selected)

    def where_is(self, agent_id: str) -> str | None:
        """The area whose box shows `agent_id` (for tests and the selection)."""
        for area, box in self.boxes.items():
            if any(r.id == agent_id for _, people in box.groups for r in people):
                return area
        return None
