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

if TYPE_CHECKING:
    import pandas as pd


_COUNTED = (("conversation", "conversations"), ("learned", "pieces of news learned"),
            ("reflected", "reflections"), ("whispered", "whispers"),
            ("world_event", "world events"))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _time_axis(ax: Any) -> None:
    """Ticks as 'Mon 06:00' (sim time), slanted."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M"))
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def diffusion_figure(m: Metrics, subjects: list[str], path: Path) -> Path:
    """One panel per piece of news (curves that coincide would hide each other in one),
    sharing the axes: the share of residents who know it, tick by tick."""
    plt = _plt()
    cols = 1 if len(subjects) == 1 else 2
    rows = -(-len(subjects) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 if cols == 2 else 7, 0.6 + 2.4 * rows),
                             sharex=True, sharey=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, s in enumerate(subjects):
        ax = axes[i // cols][i % cols]
        d = m.diffusion(s)
        ax.plot(d["time"], d["share"] * 100, linewidth=2, color=colours[i % len(colours)])
        ax.fill_between(d["time"], d["share"] * 100, alpha=0.15,
                        color=colours[i % len(colours)])
        end = d["share"].iloc[-1] if len(d) else 0.0
        ax.set_title(f"{s}: {end:.0%} at the end", fontsize=9)
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel("know it (%)", fontsize=8)
        _time_axis(ax)
        ax.tick_params(labelsize=7)
    for j in range(len(subjects), rows * cols):  # an empty slot in the last row
        axes[j // cols][j % cols].axis("off")
        above = axes[j // cols - 1][j % cols]
        above.xaxis.set_tick_params(labelbottom=True)
        _time_axis(above)
    fig.suptitle("How the news spread: residents who know, over time", fontsize=11)
    return _save(fig, path)


def graph_figure(m: Metrics, path: Path) -> Path:
    import networkx as nx
    from matplotlib.lines import Line2D

    plt = _plt()
    g = m.relationship_graph()
    talks = m.conversations_per_agent()
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    u = g.to_undirected()
    # spring layout: numpy only (kamada_kawai would load scipy and its own BLAS)
    pos = nx.spring_layout(u, seed=0, k=1.6 / max(1, len(u)) ** 0.5, iterations=200)
    most = max([int(v) for v in talks.values] + [1])
    sizes = [250 + 1100 * int(talks.get(n, 0)) / most for n in g.nodes]
    talked = [(a, b) for a, b, d in u.edges(data=True)
              if d.get("conversations") or g.get_edge_data(b, a, {}).get("conversations")]
    known = [e for e in u.edges if e not in set(talked)]
    nx.draw_networkx_edges(u, pos, edgelist=known, ax=ax, edge_color="#bbbbbb", width=1.0)
    nx.draw_networkx_edges(u, pos, edgelist=talked, ax=ax, edge_color="#c44e52", width=1.4,
                           alpha=0.8)
    nx.draw_networkx_nodes(u, pos, ax=ax, node_size=sizes, node_color="#4c72b0", alpha=0.9)
    for n, (x, y) in pos.items():
        ax.annotate(n, (x, y), xytext=(0, -13 - 0.012 * sizes[list(g.nodes).index(n)]),
                    textcoords="offset points", ha="center", va="top", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})
    ax.legend(handles=[Line2D([], [], color="#c44e52", lw=1.6, label="talked during the run"),
                       Line2D([], [], color="#bbbbbb", lw=1.2, label="knew each other before"),
                       Line2D([], [], marker="o", ls="", color="#4c72b0", markersize=9,
                              label="size: conversations")],
              loc="lower left", fontsize=8, frameon=False)
    ax.set_title(f"Relationships at the end: {len(g)} residents, {len(u.edges)} ties, "
                 f"{len(talked)} of them talked", fontsize=10)
    ax.margins(0.08)
    ax.axis("off")
    return _save(fig, path)


def density_figure(m: Metrics, path: Path) -> Path:
    plt = _plt()
    d = m.density_over_time()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(d["time"], d["density"], marker="o", markersize=3)
    ax.set_ylabel("network density")
    ax.set_title("Relationship network density (edges / n(n-1))")
    ax.grid(alpha=0.3)
    _time_axis(ax)
    return _save(fig, path)


def conversations_figure(m: Metrics, path: Path) -> Path:
    plt = _plt()
    s = m.conversations_per_agent().sort_values(kind="stable")
    fig, ax = plt.subplots(figsize=(7, max(3, 0.25 * len(s))))
    ax.barh(s.index, s.values, color="#55a868")
    ax.set_xlabel("conversations")
    ax.set_title("Conversations per resident")
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)


def timeline_figure(m: Metrics, agent: str, end: datetime, path: Path) -> Path:
    plt = _plt()
    places = m.world.places
    w = m.whereabouts()
    w = w[w["agent"] == agent].sort_values("time", kind="stable")
    areas = [places.name(places.area_of(p) or p) for p in w["place"]]
    order = list(dict.fromkeys(areas))
    times = [*w["time"], end]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.4))
    for i, area in enumerate(areas):
        y = order.index(area)
        ax.plot([times[i], times[i + 1]], [y, y], linewidth=8, solid_capstyle="butt",
                color="#8172b2")
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_title(f"{m.world.personas[agent].name}'s day: where, when")
    ax.grid(axis="x", alpha=0.3)
    _time_axis(ax)
    return _save(fig, path)


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
    events = sorted({mem.event.title for p in world.personas.values() for mem in p.memories
                     if mem.event}, key=str.casefold)
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
        figures.append(("News spread", diffusion_figure(m, subjects, folder / "diffusion.png")))
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
