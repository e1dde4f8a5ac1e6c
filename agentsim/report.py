"""A report of one run: Markdown (or HTML) with PNG figures, from its run directory alone.

    agentsim report runs/<id> [--agent NAME] [--about PHRASE ...] [--html] [-o DIR]

Figures: how far each piece of news spread over time (every scheduled event of the world, and
each --about phrase); the relationship graph at the end; its density over time; conversations
per resident; one resident's day (where they were, hour by hour). Tables: who came to each
scheduled event during its window, and what the LLM calls cost.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim.errors import UserError
from agentsim.metrics import Metrics, from_run
from agentsim.report_figures import (
    conversations_figure,
    density_figure,
    diffusion_figure,
    graph_figure,
    timeline_figure,
)

if TYPE_CHECKING:
    import pandas as pd


_COUNTED = (("conversation", "conversations"), ("learned", "pieces of news learned"),
            ("reflected", "reflections"), ("whispered", "whispers"),
            ("world_event", "world events"))


def _skills_md(m: Metrics) -> str:
    df = m.skills()
    if df.empty:
        return "No skill was used in this run.\n"
    learned = int((df["learned_by"] != "").sum())
    return (f"{len(df)} skills used, {int(df['uses'].sum())} runs, "
            f"{int(df['successes'].sum())} worked; {learned} learned in this run.\n\n"
            + _table_md(df))


def _table_md(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, datetime):
        return f"{v:%a %H:%M}"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v).replace("|", "\\|")


def _usage_md(m: Metrics, path: str | Path) -> str:
    """Who answered (the model's share, fallbacks, a warning under the run's minimum share),
    then the usage table with the share as a percentage."""
    from agentsim.llm.accounting import Usage, share_text, share_warning
    from agentsim.options import RunOptions, min_share
    from agentsim.rundir import RunDir

    usage = Usage()
    usage.restore(m.usage or {})
    t = usage.total
    options = RunDir.open(path).read_manifest().get("options") or {}
    minimum = min_share(RunOptions(min_model_share=options.get("min_model_share")))
    lines = []
    if t.model_share is None:
        if t.origins.get("offline"):
            lines.append("Every answer came from the built-in offline mind (rule-based), the "
                         "run's configured mind.")
    else:
        fell = t.origins.get("fallback", 0)
        lines.append(f"**Model share: {share_text(t.model_share)}.** The model answered "
                     f"{t.model_answers} of the {t.model_answers + fell} LLM calls meant for "
                     f"it ({t.origins.get('repaired', 0)} after a JSON repair, "
                     f"{t.origins.get('reasked', 0)} after a re-ask); {fell} were answered by "
                     "the built-in offline mind as a fallback.")
        warning = share_warning(usage, minimum)
        if warning:
            lines.append(f"**Warning: {warning}.**")
    table = m.llm_usage("template")
    table["model_share"] = [share_text(None if v is None or v != v else v)
                            for v in table["model_share"]]
    return "\n\n".join([*lines, _table_md(table)]) if lines else _table_md(table)


def write_report(path: str | Path, *, agent: str | None = None, about: list[str] | None = None,
                 as_html: bool = False, out: str | Path | None = None) -> Path:
    """Write the report of the run at `path`; returns the report file."""
    m = from_run(path)
    if not m.event_list:
        raise UserError("the run has no events yet", path=Path(path))
    folder = Path(out) if out else Path(path) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    end = m.event_list[-1].time
    world = m.world
    scheduled = {mem.event.title: (mem.event.start, mem.event.end)
                 for p in world.personas.values() for mem in p.memories if mem.event}
    events = sorted(scheduled, key=str.casefold)
    subjects = list(dict.fromkeys(events + list(about or [])))
    if agent is None:
        talks = m.conversations_per_agent()
        top = talks.index[0] if len(talks) else world.personas[m.agents[0]].name
        agent = next(a for a, p in world.personas.items() if p.name == top)
    else:
        p = world.persona_by_name(agent)
        if p is None and agent not in world.personas:
            raise UserError(f"no agent named {agent!r} in {world.spec.name}", field="--agent")
        agent = agent if agent in world.personas else next(
            a for a, q in world.personas.items() if q is p)

    figures: list[tuple[str, Path]] = []
    if subjects:
        figures.append(("News spread", diffusion_figure(m, subjects, folder / "diffusion.png",
                                                         scheduled)))
    figures += [
        ("Relationship graph", graph_figure(m, folder / "relationships.png")),
        ("Network density", density_figure(m, folder / "density.png")),
        ("Conversations", conversations_figure(m, folder / "conversations.png")),
        ("A resident's day", timeline_figure(m, agent, end, folder / "timeline.png")),
    ]
    start = world.spec.start
    counts: dict[str, int] = {}
    for e in m.event_list:
        counts[e.type] = counts.get(e.type, 0) + 1
    summary = [f"World **{world.spec.name}**, {len(world.personas)} residents, "
               f"{start:%a %b %d %H:%M} to {end:%a %b %d %H:%M}.",
               ", ".join(f"{counts[t]} {label}" for t, label in _COUNTED if counts.get(t))
               + "." if any(counts.get(t) for t, _ in _COUNTED) else "Nothing happened yet."]
    spread = []
    for s in subjects:
        d = m.diffusion(s)
        share = d["share"].iloc[-1] if len(d) else 0.0
        spread.append({"news": s, "share who know at the end": f"{share:.0%}",
                       "knowers": int(d["knowers"].iloc[-1]) if len(d) else 0})
    occupancy = []
    for p in world.personas.values():
        for mem in p.memories:
            ev = mem.event
            if ev and ev.start < end and ev.title not in {o["event"] for o in occupancy}:
                who = m.occupancy(ev.place, ev.start, ev.end)
                occupancy.append({"event": ev.title, "place": world.places.name(ev.place),
                                  "window": f"{ev.start:%b %d %H:%M}-{ev.end:%H:%M}",
                                  "came": len(who), "who": ", ".join(who["name"])})
    import pandas as pd

    sections = [("Summary", " ".join(summary) + "\n"),
                ("News", _table_md(pd.DataFrame(spread))),
                ("Who came", _table_md(pd.DataFrame(occupancy, columns=[
                    "event", "place", "window", "came", "who"])) if occupancy else
                 "No scheduled event has started yet within this run.\n"),
                ("Skills", _skills_md(m)),
                ("LLM usage", _usage_md(m, path))]
    if world.spec.protocol is not None:  # a protocol's measures: a table and their figure
        from agentsim.protocols import find_protocol
        from agentsim.protocols.measures import report_section

        measured = report_section(m.event_list, find_protocol(world.spec.protocol.name),
                                  folder)
        if measured is not None:
            sections.insert(1, (f"Measures ({world.spec.protocol.name})", measured[0]))
            figures[:0] = measured[1]
    title = f"agentsim report: {Path(path).name}"
    if as_html:
        return _write_html(folder, title, sections, figures)
    lines = [f"# {title}\n"]
    for head, body in sections:
        lines += [f"## {head}\n", body]
    for head, f in figures:
        lines += [f"## {head}\n", f"![{head}]({f.name})\n"]
    report = folder / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def _write_html(folder: Path, title: str, sections: list[tuple[str, str]],
                figures: list[tuple[str, Path]]) -> Path:
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
             "</style>", f"<h1>{html.escape(title)}</h1>"]
    for head, body in sections:
        parts.append(f"<h2>{html.escape(head)}</h2>{_md_table_html(body)}")
    for head, f in figures:
        parts.append(f'<h2>{html.escape(head)}</h2><img src="{html.escape(f.name)}" '
                     f'alt="{html.escape(head)}">')
    report = folder / "report.html"
    report.write_text("\n".join(parts), encoding="utf-8")
    return report


def _md_table_html(body: str) -> str:
    rows = [r for r in body.strip().splitlines() if r.startswith("|")]
    if not rows:
        return f"<p>{html.escape(body.strip()).replace('**', '')}</p>"
    text = "".join(f"<p>{html.escape(r.strip()).replace('**', '')}</p>"
                   for r in body.strip().splitlines() if r.strip() and not r.startswith("|"))
    cells = [[c.strip().replace("\\|", "|") for c in r.strip("|").split(" | ")]
             for r in rows if not r.startswith("|---")]
    head, *rest = cells
    out = ["<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rest]
    return text + "".join(out) + "</table>"
