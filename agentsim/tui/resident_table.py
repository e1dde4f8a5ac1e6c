"""The residents, one row each (the row key is the agent id): where, doing what, with whom.

Columns share the table's width (recomputed on resize), and long cells end in '…', so the
table never needs a horizontal scroll."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import events
from textual.widgets import DataTable

from agentsim.tui.model import Resident, title, where
from agentsim.world.places import PlaceGraph

COLUMNS = (("resident", "resident"), ("where", "where"), ("doing", "doing"),
           ("with", "talking with"))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def short_name(name: str) -> str:
    """'Isabella Rodriguez' -> 'Isabella R.' (for narrow tables)."""
    first, _, rest = name.partition(" ")
    return f"{first} {rest[0]}." if rest else first


def fit(width: int, names: list[str]) -> tuple[bool, tuple[int, int, int, int]]:
    """For a table `width` cells wide (each column pads one cell each side): whether to shorten
    names, and the column widths."""
    free = max(40, width - 2 * len(COLUMNS) - 1)  # - 1: the vertical scrollbar
    short = free < 72
    name = min(20, max((len(short_name(n) if short else n) for n in names), default=12))
    talk = min(20, max(10, free // 7))
    place = max(8, min(26, (free - name - talk) * 2 // 5))
    return short, (name, place, max(10, free - name - talk - place), talk)


class ResidentTable(DataTable):
    def __init__(self, places: PlaceGraph, names: Callable[[str], str], **kw):
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.places = places
        self.name_of = names
        self._residents: list[Resident] = []
        self._widths: tuple[int, ...] | None = None
        self._short = False

    def show(self, residents: Iterable[Resident]) -> None:
        self._residents = list(residents)
        if self._widths is None:
            self._layout(self.size.width or 100)
            return
        for r in self._residents:
            for column, value in self._cells(r).items():
                if self.get_cell(r.id, column) != value:
                    self.update_cell(r.id, column, value)

    def _cells(self, r: Resident) -> dict[str, str]:
        assert self._widths is not None
        name, place, doing, talk = self._widths
        if r.place == r.home:
            short = "Home"
        else:  # 'Hobbs Cafe: counter', or 'Counter' if that is too long
            full = where(self.places, r.place)
            short = full if len(full) <= place else title(self.places.name(r.place))
        return {
            "resident": clip(short_name(r.name) if self._short else r.name, name),
            "where": clip(short, place),
            "doing": clip(r.doing, doing),
            "with": clip(", ".join(self.name_of(o).split()[0] for o in r.talking_with), talk),
        }

    def _layout(self, width: int) -> None:
        short, widths = fit(width, [r.name for r in self._residents])
        if widths == self._widths and short == self._short:
            return
        keep = self.selected
        self._short, self._widths = short, widths
        self.clear(columns=True)
        for (key, label), w in zip(COLUMNS, widths, strict=True):
            self.add_column(label if len(label) <= w else key, key=key, width=w)
        for r in self._residents:
            self.add_row(*self._cells(r).values(), key=r.id)
        if keep is not None and keep in self.rows:
            self.select(keep)

    def on_resize(self, event: events.Resize) -> None:
        if self._residents:
            self._layout(event.size.width)

    @property
    def selected(self) -> str | None:
        """The agent id of the highlighted row."""
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    def select(self, agent_id: str) -> None:
        self.move_cursor(row=self.get_row_index(agent_id))
