"""A protocol's measures in the run directory: `measures.csv` (one row per `Measured` event,
with its tick and time) and `measures.json` (the protocol's summary, from its `summarise`).

`MeasuresWriter` subscribes to the event bus and rewrites both files at the end of every tick
that measured something (the tables are small: a row per answer or turn), so a run stopped at
any tick leaves them whole. `measured_rows` reads the rows back from any event list, which is
what `agentsim report` does: the event log stays the record, the files are its digest.

Who answered. A row that counts an LLM's answer carries its `origin` (see
`agentsim.contracts.Answered`): the model's own words (model, repaired, reasked), a
`fallback` (the offline mind answered a call the model could not, `--fallback offline`), or
`offline` (the whole run is the offline mind: a scripted baseline). `answer_origins` digests
them for a summary (`answered_by`, `model_share`, the count of each), and `accuracy` gives a
share of rows right over all of them or over the model's answers only: a model run's accuracy
must never count the offline mind's scripted answers as the model's."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentsim.events import Event, Measured, RunStopped, TickEnded
from agentsim.llm.accounting import MODEL_ORIGINS

CSV, JSON = "measures.csv", "measures.json"

SCRIPTED = "scripted baseline"  # a run whose mind is the offline mind


def from_model(origin: Any) -> bool:
    """Whether an answer with this origin is the model's own words."""
    return origin in MODEL_ORIGINS


def answer_origins(rows: Iterable[dict[str, Any]], field: str = "origin") -> dict[str, Any]:
    """Who gave the answers the rows count (rows without `field` are not answers):
    `answered_by` in plain words (model | scripted baseline | model + fallbacks | fallbacks only |
    ...), the answers by origin, `fallback_answers`, and `model_share`: of the
    answers meant for a model, the model's (None when none was: an offline-mind run)."""
    counts: dict[str, int] = {}
    for r in rows:
        o = r.get(field)
        if o not in (None, ""):
            counts[str(o)] = counts.get(str(o), 0) + 1
    mine = sum(n for o, n in counts.items() if from_model(o))
    fallbacks = counts.get("fallback", 0)
    kinds = {"model" if from_model(o) else o for o in counts}
    if kinds == {"offline"}:
        who = SCRIPTED
    elif kinds == {"model", "fallback"}:
        who = "model + fallbacks"
    elif kinds == {"fallback"}:
        who = "fallbacks only"  # the model gave none: every answer is the offline mind's
    else:
        who = " + ".join(sorted(kinds)) or None
    return {"answered_by": who, "model_share": mine / (mine + fallbacks)
            if mine + fallbacks else None, "fallback_answers": fallbacks,
            "answers_by_origin": dict(sorted(counts.items()))}


def model_key(key: str) -> str:
    """The key of a summary's figure over the model's answers only, beside the figure over
    all answers: `single_agent` -> `single_agent_model`, `one_agent_accuracy_by_round` ->
    `one_agent_accuracy_model_by_round` (a summary has them when some answers were
    fallbacks)."""
    if key.endswith("_by_round"):
        return key.removesuffix("_by_round") + "_model_by_round"
    return key + "_model"


def accuracy(rows: Iterable[dict[str, Any]], *, model_only: bool = False,
             field: str = "origin") -> float | None:
    """The share of `rows` with `correct` true (None: no row); `model_only`: of the rows
    whose answer is the model's own."""
    marks = [truth(r["correct"]) for r in rows if not model_only or from_model(r.get(field))]
    return sum(marks) / len(marks) if marks else None


def truth(v: Any) -> bool:
    """A boolean measure, as an event holds it (True) or as measures.csv does ("True")."""
    return v is True or str(v) == "True"


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


def report_section(events: Iterable[Event], protocol: Any,
                   folder: Path) -> tuple[str, list[tuple[str, Path]]] | None:
    """The report's view of the measures: a Markdown table of the summary (scalars, then
    every `*_by_round` series as a column by round) and a figure of those series; None when
    the run measured nothing."""
    rows = measured_rows(events)
    if not rows:
        return None
    s = summary(protocol, rows)
    series = {k.removesuffix("_by_round").replace("_", " "): v for k, v in s.items()
              if k.endswith("_by_round") and isinstance(v, dict) and v}
    scalars = {k: v for k, v in s.items() if not isinstance(v, dict | list)}
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {_fmt(v)} |" for k, v in scalars.items()]
    body = "\n".join(lines) + "\n"
    if series:
        body += "\n" + _columns("round", series, sort=lambda k: int(k))
    tables = {k.replace("_", " "): v for k, v in s.items()
              if isinstance(v, dict) and v and not k.endswith("_by_round")}
    for _, group in table_groups(tables):  # e.g. each student's score before and after
        body += "\n" + _columns("", {k: tables[k] for k in group}, sort=str)
    figures: list[tuple[str, Path]] = []
    if series:
        figures.append(("Measures by round", _figure(series, folder / "measures.png")))
    return body, figures


def table_groups(tables: dict[str, dict[Any, Any]]) -> list[tuple[str, dict[str, str]]]:
    """Tables (by label) that share their keys' kind, grouped to be shown side by side, a
    column each: (kind, {label: column name}). 'messages by role' and 'words by role' ->
    ('role', {messages, words}); 'by student before', 'by student after' and 'fallbacks by
    student' -> ('student', {before, after, fallbacks}); 'answers by origin' alone."""
    out: dict[str, dict[str, str]] = {}
    for k in tables:
        if " by " in k:
            what, _, kind = k.partition(" by ")
        else:
            kind, _, what = k.removeprefix("by ").rpartition(" ")
        out.setdefault(kind or what, {})[k] = what or k
    return list(out.items())


def _columns(first: str, series: dict[str, dict[Any, Any]], sort: Any) -> str:
    """Dicts side by side: a row per key (any dict's), a column per dict."""
    keys = sorted({str(k) for v in series.values() for k in v}, key=sort)
    lines = ["| " + " | ".join([first or "key", *series]) + " |",
             "|" + "---|" * (len(series) + 1)]
    for k in keys:
        cells = [_fmt(v.get(k, v.get(int(k)) if k.lstrip("-").isdigit() else None))
                 for v in series.values()]
        lines.append("| " + " | ".join([k, *cells]) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, float) else ("" if v is None else str(v))


def _figure(series: dict[str, dict[Any, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    colours: dict[str, Any] = {}
    for label, values in series.items():
        xs = sorted(int(k) for k in values)
        base = label.removesuffix(" model")  # a model-only series: dashed, its figure's colour
        mine = base != label
        line, = ax.plot(xs, [values.get(x, values.get(str(x))) for x in xs],
                        marker="s" if mine else "o", markerfacecolor="none" if mine else None,
                        markersize=9 if mine else 6, color=colours.get(base),
                        label=f"{base} (model's answers only)" if mine else label,
                        linestyle="--" if mine else "-")
        colours.setdefault(base, line.get_color())
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
