"""A protocol's measures in the run directory: `measures.csv` (one row per `Measured` event,
with its tick and time) and `measures.json` (the protocol's summary, from its `summarise`).

`MeasuresWriter` subscribes to the event bus and rewrites both files at the end of every tick
that measured something (the tables are small: a row per answer or turn), so a run stopped at
any tick leaves them whole. `measured_rows` reads the rows back from any event list, which is
what `agentsim report` does: the event log stays the record, the files are its digest."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentsim.events import Event, Measured, RunStopped, TickEnded

CSV, JSON = "measures.csv", "measures.json"


def measured_rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every `Measured` event as a row: tick, time, protocol, then its values."""
    return [{"tick": e.tick, "time": e.time.isoformat(), "protocol": e.protocol, **e.values}
            for e in events if isinstance(e, Measured)]


def summary(protocol: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The protocol's summary of its rows (`summarise`), or just their count."""
    summarise = getattr(protocol, "summarise", None)
    out = summarise(rows) if callable(summarise) else {}
    return {"protocol": getattr(protocol, "name", ""), "rows": len(rows), **out}


def write_measures(folder: Path, protocol: Any, rows: list[dict[str, Any]]) -> None:
    """Write measures.csv and measures.json into `folder`."""
    columns: list[str] = list(dict.fromkeys(k for r in rows for k in r))
    with open(folder / CSV, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    (folder / JSON).write_text(json.dumps(summary(protocol, rows), indent=2,
                                          ensure_ascii=False) + "\n", encoding="utf-8")


class MeasuresWriter:
    """An event subscriber keeping a run directory's measures files up to date."""

    def __init__(self, folder: Path, protocol: Any, earlier: Iterable[Event] = ()) -> None:
        self.folder = folder
        self.protocol = protocol
        self.rows = measured_rows(earlier)
        self.dirty = bool(self.rows)

    def __call__(self, e: Event) -> None:
        if isinstance(e, Measured):
            self.rows.extend(measured_rows([e]))
            self.dirty = True
        elif isinstance(e, TickEnded | RunStopped) and self.dirty:
            write_measures(self.folder, self.protocol, self.rows)
            self.dirty = False
