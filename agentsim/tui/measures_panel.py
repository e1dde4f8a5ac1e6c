"""The scenario's measures, live: what a world's protocol has measured so far.

A world with a protocol (a debate, a classroom, a studio) measures what its agents do as
`Measured` events; the run directory digests them into `measures.json` with the protocol's
`summarise` (`agentsim.protocols.measures.summary`). The panel shows that same digest as the
events arrive, laid out as `agentsim report` lays it out:

    Debate · 15 measures
    questions          1
    answered by        model + fallbacks   who gave the answers (see agentsim.protocols.measures)
    model share        0.75
    single agent       0.50 · model's only 0.33   with fallbacks: the model's answers' figure
    debate             1.00
    round  one agent (model)  majority (model)    every `*_by_round` series, a column each
    0      0.50 (0.33)        1.00 (1.00)
    ...
    by student         before after every other table (keys that are agent ids: names)
    latest (tick 2)    the last measure's values

A world without a protocol has no panel (`MeasuresPanel.active` is False)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from agentsim.events import Event, Measured
from agentsim.protocols.measures import measured_rows, model_key, summary, table_groups

SKIP = {"protocol", "rows"}  # in the heading
ROUNDS_SHOWN = 8  # the last rounds of a series


def fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, float):
        return f"{v:.2f}"
    return "–" if v is None else str(v)


def label(key: str) -> str:
    return key.removesuffix("_by_round").replace("_", " ")


def _columns(first: str, series: dict[str, dict[Any, Any]], key_name: Callable[[str], str],
             last: int | None = None) -> Table:
    """Dicts side by side: a row per key (any dict's), a column per dict."""
    keys = list(dict.fromkeys(str(k) for v in series.values() for k in v))
    if all(k.lstrip("-").isdigit() for k in keys):
        keys.sort(key=int)
    if last is not None:
        keys = keys[-last:]
    table = Table(box=None, padding=(0, 1, 0, 0), show_edge=False, header_style="bold")
    table.add_column(first, no_wrap=True, overflow="ellipsis", max_width=16)
    for name in series:
        table.add_column(name, justify="right", no_wrap=True)
    for k in keys:
        cells = [fmt(v.get(k, v.get(int(k)) if k.lstrip("-").isdigit() else None))
                 for v in series.values()]
        table.add_row(key_name(k) or k, *cells)
    return table


def measures_view(protocol: str, s: dict[str, Any], latest: Measured | None,
                  name: Callable[[str], str]) -> RenderableType:
    """The summary `s` of a protocol's measures (see `summary`), and its latest row."""
    parts: list[RenderableType] = [Text.assemble(
        (protocol.replace("_", " ").capitalize(), "bold cyan"),
        (f" · {s.get('rows', 0)} measures", "dim"))]
    if not s.get("rows"):
        parts.append(Text("nothing measured yet", style="dim italic"))
        return Group(*parts)
    scalars = Table.grid(padding=(0, 1))
    scalars.add_column(style="dim", no_wrap=True, overflow="ellipsis", max_width=18)
    scalars.add_column(style="bold")
    paired = {model_key(k) for k in s} & set(s)  # figures over the model's answers only
    s = {k: v for k, v in s.items() if not _quiet(k, v)}
    for k, v in s.items():
        if k not in SKIP and k not in paired and not isinstance(v, dict | list):
            scalars.add_row(label(k), fmt(v) + (f" · model's only {fmt(s[model_key(k)])}"
                                                if model_key(k) in paired else ""))
    parts.append(scalars)
    series = {label(k) + (" (model)" if model_key(k) in paired else ""):
              _beside(v, s.get(model_key(k))) for k, v in s.items()
              if k.endswith("_by_round") and k not in paired and isinstance(v, dict) and v}
    if series:
        what, series = _common_word(series)
        parts += [Text(""), Text(f"{what} by round".strip(), style="bold"),
                  _columns("round", series, str, ROUNDS_SHOWN)]
        if paired:
            parts.append(Text("(model): the model's own answers only",
                              style="dim"))
    tables = {label(k): v for k, v in s.items()
              if isinstance(v, dict) and v and not k.endswith("_by_round")}
    for group in _by_stem(tables):  # by student before | after: one table, a column each
        parts += [Text(""), _columns(group[0], group[1], name)]
    if latest is not None:
        values = ", ".join(f"{k} {name(v) if k == 'agent' else fmt(v)}"
                           for k, v in latest.values.items())
        parts += [Text(""), Text.assemble((f"latest (tick {latest.tick}) ", "dim bold"),
                                          (values, "dim"))]
    return Group(*parts)


def _quiet(key: str, value: Any) -> bool:
    """Who-answered figures that say nothing `answered by` does not: no share (no answer was
    meant for a model), no fallback, one origin only."""
    return (key == "model_share" and value is None) or (key == "fallback_answers" and not value) \
        or (key == "answers_by_origin" and len(value) < 2)


def _beside(every: dict[Any, Any], model: dict[Any, Any] | None) -> dict[Any, Any]:
    """A series over all answers with the model's-answers-only one beside it in each cell:
    '0.25 (0.00)'; the series as it is when there is none."""
    if model is None:
        return every
    return {k: f"{fmt(v)} ({fmt(model.get(k, model.get(str(k))))})" for k, v in every.items()}


def _common_word(series: dict[str, dict]) -> tuple[str, dict[str, dict]]:
    """The last word all the series' names share, and the series without it: 'one agent
    accuracy' and 'majority accuracy' -> ('accuracy', {'one agent', 'majority'}), so the
    columns fit a narrow panel."""
    tail = " (model)"
    bare = {k.removesuffix(tail): k.endswith(tail) for k in series}
    words = {k.rpartition(" ")[2] for k in bare}
    if len(series) < 2 or len(words) != 1 or any(" " not in k for k in bare):
        return "", series
    return words.pop(), {k.removesuffix(tail).rpartition(" ")[0] + (tail if k.endswith(tail)
                                                                    else ""): v
                         for k, v in series.items()}


def _by_stem(tables: dict[str, dict[Any, Any]]) -> list[tuple[str, dict[str, dict]]]:
    """Tables that share their keys' kind, one table each kind, a column each (see
    `table_groups`): 'by student before' and 'by student after' -> ('student', {before,
    after})."""
    return [(kind, {name: tables[k] for k, name in group.items()})
            for kind, group in table_groups(tables)]


class MeasuresPanel(Static):
    """The protocol's measures so far; hidden for a world without a protocol."""

    def __init__(self, protocol: Any, name: Callable[[str], str], **kw):
        super().__init__("", **kw)
        self.protocol = protocol  # the run's protocol object (its `name`, its `summarise`)
        self.name_of = name
        self.rows: list[dict[str, Any]] = []
        self.latest: Measured | None = None

    @property
    def active(self) -> bool:
        return self.protocol is not None

    def feed(self, events: Iterable[Event]) -> bool:
        """Take the measures among `events`; True if there were any."""
        new = [e for e in events if isinstance(e, Measured)]
        if new:
            self.rows.extend(measured_rows(new))
            self.latest = new[-1]
        return bool(new)

    def reset(self) -> None:
        self.rows, self.latest = [], None

    def summary(self) -> dict[str, Any]:
        return summary(self.protocol, self.rows)

    def redraw(self) -> None:
        if self.active:
            self.update(measures_view(self.protocol.name, self.summary(), self.latest,
                                      self.name_of))
